// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PrimeVaultBundler} from "../../../contracts/periphery/PrimeVaultBundler.sol";
import {BundleFixture} from "./BundleFixture.sol";

/// @notice The one-signature flows in the gas snapshot, for a depositor who already holds the asset in the vault
///         (a `...GasTest`, so that `make gas` writes them).
contract BundleGasTest is BundleFixture {
    function test_gas_permitAndDeposit() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(weth, address(vault), 1e18, deadline);
        vm.prank(trader);
        vault.depositWithPermit(trader, address(weth), 1e18, deadline, v, r, s);
        uint256 used = vm.snapshotGasLastCall("PrimeVault", "permit + deposit (later)");
        assertLe(used, 120_000, "permit + deposit");
    }

    function test_gas_permitDepositAndSubmit() public {
        PrimeVaultBundler.Permit memory p = _bundlePermit(1e18);
        PrimeVaultBundler.OrderParams memory buy = _ethBuy();
        vm.prank(trader);
        bundler.depositBorrowAndSubmit(trader, address(weth), 1e18, p, 0, buy);
        uint256 used = vm.snapshotGasLastCall("PrimeVault", "bundle: permit + deposit + submit");
        assertLe(used, 300_000, "permit + deposit + submit an order");
    }

    function test_gas_permitDepositBorrowAndSubmit() public {
        PrimeVaultBundler.Permit memory p = _bundlePermit(1e18);
        PrimeVaultBundler.OrderParams memory buy = _ethBuy();
        vm.prank(trader);
        bundler.depositBorrowAndSubmit(trader, address(weth), 1e18, p, 1_000e6, buy);
        vm.snapshotGasLastCall("PrimeVault", "bundle: permit + deposit + borrow + submit");
    }
}
