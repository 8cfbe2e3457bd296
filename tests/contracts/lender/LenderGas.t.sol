// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {LenderFixture} from "./LenderFixture.sol";

/// @notice The lender's figures in the gas snapshot (`snapshots/PrimeVault.json`; a `...GasTest`, so that
///         `make gas` writes them too).
contract LenderGasTest is LenderFixture {
    function test_gas_lenderDeposit() public {
        _fund(alice, usdc, 2_000e6);
        vm.startPrank(alice);
        usdc.approve(address(lenderVault), type(uint256).max);
        lenderVault.deposit(1_000e6, alice);
        vm.snapshotGasLastCall("PrimeVault", "lender: deposit (first)");
        lenderVault.deposit(1_000e6, alice);
        uint256 later = vm.snapshotGasLastCall("PrimeVault", "lender: deposit (later)");
        lenderVault.redeem(lenderVault.balanceOf(alice) / 2, alice, alice);
        vm.snapshotGasLastCall("PrimeVault", "lender: redeem");
        vm.stopPrank();
        assertLe(later, 100_000, "a later deposit");
    }
}
