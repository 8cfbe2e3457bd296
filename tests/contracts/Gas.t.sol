// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";

/// @notice The gas snapshot (`snapshots/PrimeVault.json`) and the issue's gas targets. Each figure is one call run
///         as its own transaction (`isolate`): what a chain charges, with the 21,000 intrinsic gas and the calldata
///         included and the refunds for cleared slots deducted (EIP-3529), measured like Aave v3's
///         `snapshots/Pool.Operations.json`. Regenerate with `make gas`.
contract GasTest is VaultFixture {
    string internal constant GROUP = "PrimeVault";

    function test_gas_deposit() public {
        _fund(alice, weth, 2e18);
        vm.prank(alice);
        vault.deposit(alice, address(weth), 1e18);
        vm.snapshotGasLastCall(GROUP, "deposit: first");
        vm.prank(alice);
        vault.deposit(alice, address(weth), 1e18);
        uint256 later = vm.snapshotGasLastCall(GROUP, "deposit: later");
        assertLe(later, 80_000, "deposit after the first");
    }

    function test_gas_withdraw() public {
        _deposit(alice, alice, weth, 2e18);
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 1e18, alice);
        vm.snapshotGasLastCall(GROUP, "withdraw: partial");
    }

    function test_gas_borrowAndRepay() public {
        _deposit(alice, alice, weth, 2e18);
        vm.prank(alice);
        vault.withdraw(alice, address(usdc), 1000e6, alice);
        uint256 first = vm.snapshotGasLastCall(GROUP, "borrow: first");
        assertLe(first, 120_000, "borrow");
        vm.warp(block.timestamp + 1 days);
        _setEthPrice(ETH_PRICE);
        vm.prank(alice);
        vault.withdraw(alice, address(usdc), 1000e6, alice);
        uint256 later = vm.snapshotGasLastCall(GROUP, "borrow: later");
        assertLe(later, 120_000, "borrow");

        _fund(alice, usdc, 10_000e6);
        vm.prank(alice);
        vault.repay(alice, type(uint256).max);
        vm.snapshotGasLastCall(GROUP, "repay: full");
    }

    function test_gas_liquidate1() public {
        _liquidateBatch(1);
    }

    function test_gas_liquidate10() public {
        _liquidateBatch(10);
    }

    /// @dev Partial liquidation (one collateral asset, base debt, no positions): at most 30,000 per account in
    ///      a batch of 50, so a 30,000,000-gas block holds 1,000 (Aave v4's single liquidation: 339,880).
    function test_gas_liquidate50() public {
        uint256 gasUsed = _liquidateBatch(50);
        assertLe(gasUsed / 50, 30_000, "partial liquidation gas per account in a batch of 50");
    }

    /// @dev Absorbed whole with a write-off (ETH at 2,000: 1 WETH against 2,400 of debt): all collateral goes, the
    ///      debt it does not cover is written off, which also values reserves (every asset's balance, read once a
    ///      batch, and price). At most 14,000 an account after refunds (Compound III's absorb, the issue's target).
    function test_gas_liquidate50Whole() public {
        _deposit(keeper, keeper, usdc, 1e6);
        address[] memory list = new address[](50);
        for (uint256 i; i < 50; ++i) {
            list[i] = _borrower(i);
            _openBorrower(list[i], 2400e6);
        }
        _setEthPrice(2000e8);
        vm.prank(keeper);
        assertEq(vault.liquidate(list), 50);
        uint256 gasUsed = vm.snapshotGasLastCall(GROUP, "liquidate: 50 accounts absorbed whole");
        int64 refunded = vm.lastCallGas().gasRefunded;
        for (uint256 i; i < 50; ++i) {
            assertEq(vault.collateralBalanceOf(list[i], address(weth)), 0, "absorbed whole");
        }
        vm.snapshotValue(GROUP, "liquidate: per account in 50, absorbed whole", gasUsed / 50);
        // The figure above is net of the refund a chain gives for each collateral slot cleared (4,800 gas, at most
        // a fifth of the transaction's gas: EIP-3529); before it:
        vm.snapshotValue(
            GROUP,
            "liquidate: per account in 50, absorbed whole, before refunds",
            (gasUsed + uint256(int256(refunded))) / 50
        );
        assertLe(gasUsed / 50, 14_000, "absorbed whole: gas per account in a batch of 50");
    }

    /// @dev A borrower's address as a wallet's is: twenty bytes, none of them zero, so that calldata costs what it
    ///      does on a chain (16 gas a nonzero byte, 4 a zero one: 368 an address in the batch).
    function _borrower(uint256 i) internal pure returns (address who) {
        who = address(
            uint160(uint256(keccak256(abi.encode("borrower", i))))
                | uint160(0x0101010101010101010101010101010101010101)
        );
    }

    /// @dev What the core/module split costs: an empty batch is the delegatecall to the liquidation module
    ///      (a cold account, calldata and returndata copies) plus accrual and the batch's allocations.
    function test_gas_liquidateEmptyBatch() public {
        vm.prank(keeper);
        vault.liquidate(new address[](0));
        vm.snapshotGasLastCall(GROUP, "liquidate: empty batch");
    }

    /// @dev The keeper has been paid before, as a running keeper has: its first reward lists its account and
    ///      writes a fresh balance slot (about 40,000 gas once), which is not a cost per account liquidated.
    function _liquidateBatch(uint256 n) internal returns (uint256 gasUsed) {
        _deposit(keeper, keeper, usdc, 1e6);
        address[] memory list = new address[](n);
        for (uint256 i; i < n; ++i) {
            list[i] = _borrower(i);
            _openBorrower(list[i], 2400e6);
        }
        _setEthPrice(2700e8); // partial: each account keeps about 57% of its WETH
        vm.prank(keeper);
        uint256 count = vault.liquidate(list);
        gasUsed = vm.snapshotGasLastCall(GROUP, string.concat("liquidate: ", vm.toString(n), " accounts"));
        assertEq(count, n);
        vm.snapshotValue(GROUP, string.concat("liquidate: per account in ", vm.toString(n)), gasUsed / n);
    }
}
