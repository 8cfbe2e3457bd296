// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {PrimeVaultLens} from "../../contracts/periphery/PrimeVaultLens.sol";

/// @notice The lens's figures in the gas snapshot (`snapshots/PrimeVault.json`, written by `make gas`).
contract LensGasTest is VaultFixture {
    PrimeVaultLens internal lens;

    /// @dev Deployed here, not in the test, so that the measured call finds the lens cold, as an eth_call does.
    function setUp() public override {
        super.setUp();
        lens = new PrimeVaultLens();
    }

    /// @dev What one `eth_call` of a page costs the node (the call alone: its returndata is not copied or decoded
    ///      in the measure), per account, for pages of lending accounts (the lender and depositors of one asset each).
    function test_gas_pages() public {
        _depositors(4999);
        uint256 small = _pageGas(500);
        uint256 large = _pageGas(3000);
        uint256 largest = _pageGas(5000);
        vm.snapshotValue("PrimeVault", "lens: page of 500 accounts", small);
        vm.snapshotValue("PrimeVault", "lens: per account in a page of 500", small / 500);
        vm.snapshotValue("PrimeVault", "lens: per account in a page of 3,000", large / 3000);
        vm.snapshotValue("PrimeVault", "lens: per account in a page of 5,000", largest / 5000);
        assertLt(large / 3000, 9000, "an account costs well under 10,000 gas in a page of 3,000");
        assertLt(large, 27_000_000, "3,000 accounts fit a 30,000,000 eth_call gas cap with room to spare");
        // The keeper's page under the 50,000,000 nodes cap calls at by default (`keeper.client.lens`).
        assertLt(largest, 50_000_000, "5,000 accounts fit a 50,000,000 eth_call gas cap");
    }

    /// @dev Unmetered: 5,000 deposits would take most of the test's own gas limit.
    function _depositors(uint256 count) internal {
        vm.pauseGasMetering();
        for (uint256 i; i < count; ++i) {
            address a = address(uint160(0x100000 + i * 0x100));
            _deposit(a, a, weth, 1e18);
        }
        vm.resumeGasMetering();
    }

    function _pageGas(uint256 size) internal returns (uint256 used) {
        bytes memory request = abi.encodeCall(PrimeVaultLens.accounts, (vault, 0, size));
        address target = address(lens);
        bool ok;
        bytes memory page;
        // The call measured alone: an eth_call does not pay for copying its returndata into a caller's memory.
        assembly ("memory-safe") {
            let before := gas()
            ok := staticcall(gas(), target, add(request, 0x20), mload(request), 0, 0)
            used := sub(before, gas())
            page := mload(0x40)
            mstore(page, returndatasize())
            returndatacopy(add(page, 0x20), 0, returndatasize())
            mstore(0x40, add(add(page, 0x20), returndatasize()))
        }
        assertTrue(ok, "the page is read");
        (PrimeVaultLens.AccountSnapshot[] memory rows,) =
            abi.decode(page, (PrimeVaultLens.AccountSnapshot[], uint256));
        assertEq(rows.length, size);
        assertEq(rows[size - 1].collateral[0], 1e18, "the last account's deposit");
    }
}
