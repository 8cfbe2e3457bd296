// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {PrimeVaultLens} from "../../contracts/periphery/PrimeVaultLens.sol";

/// @notice The lens's figure in the gas snapshot (`snapshots/PrimeVault.json`). A `...GasTest` contract, so
///         that `make gas` (`--match-contract GasTest`) writes the same snapshot as the whole suite does.
contract LensGasTest is VaultFixture {
    PrimeVaultLens internal lens;

    /// @dev Deployed here, not in the test, so that the measured call finds the lens cold, as an eth_call does.
    function setUp() public override {
        super.setUp();
        lens = new PrimeVaultLens();
    }

    function test_gas_pageOf500() public {
        for (uint256 i; i < 499; ++i) {
            address a = address(uint160(0x100000 + i * 0x100));
            _deposit(a, a, weth, 1e18);
        }
        uint256 before = gasleft();
        (PrimeVaultLens.AccountSnapshot[] memory page,) = lens.accounts(vault, 0, 500);
        uint256 used = before - gasleft();
        assertEq(page.length, 500);
        vm.snapshotValue("PrimeVault", "lens: page of 500 accounts", used);
        assertLt(used, 15_000_000, "a page fits an eth_call gas cap with room to spare");
    }
}
