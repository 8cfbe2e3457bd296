// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {PrimeVaultLens} from "../../contracts/periphery/PrimeVaultLens.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";

contract LensTest is VaultFixture {
    PrimeVaultLens internal lens;

    function setUp() public override {
        super.setUp();
        lens = new PrimeVaultLens();
    }

    /// @dev A vault address without code, or a contract that is not a vault, is refused by name by every entry point (each call to it used to revert
    ///      with no data).
    function test_aVaultWithoutCodeIsRefusedByName() public {
        IPrimeVault nothing = IPrimeVault(makeAddr("not a vault"));
        bytes memory refused = abi.encodeWithSelector(PrimeVaultLens.NotAVault.selector, address(nothing));
        vm.expectRevert(refused);
        lens.accounts(nothing, 0, 10);
        vm.expectRevert(refused);
        lens.follow(nothing, new address[](0), 0, 10);
        vm.expectRevert(refused);
        lens.riskState(nothing);
        vm.expectRevert(refused);
        lens.portfolioRule(nothing);
        vm.expectRevert(refused);
        lens.prices(nothing);
        vm.expectRevert(abi.encodeWithSelector(PrimeVaultLens.NotAVault.selector, address(0)));
        lens.riskState(IPrimeVault(address(0)));
        // A contract that is not a vault (a token) was a revert without data.
        vm.expectRevert(abi.encodeWithSelector(PrimeVaultLens.NotAVault.selector, address(usdc)));
        lens.riskState(IPrimeVault(address(usdc)));
        vm.expectRevert(abi.encodeWithSelector(PrimeVaultLens.NotAVault.selector, address(usdc)));
        lens.accounts(IPrimeVault(address(usdc)), 0, 10);
    }

    function test_aVaultWithoutAPortfolioRuleIsRefused() public {
        vm.expectRevert(abi.encodeWithSelector(PrimeVaultLens.NoPortfolioRule.selector, address(vault)));
        lens.portfolioRule(vault);
    }

    function test_pageHoldsBalancesInAssetOrder() public {
        _deposit(alice, alice, wbtc, 0.5e8);
        _openBorrower(bob, 1000e6);
        (PrimeVaultLens.AccountSnapshot[] memory page, uint256 total) = lens.accounts(vault, 0, 10);
        assertEq(total, 3, "lender, alice, bob");
        assertEq(page.length, 3);
        assertEq(page[1].account, alice);
        assertEq(page[1].collateral[1], 0.5e8);
        assertEq(page[2].account, bob);
        assertEq(page[2].collateral[0], 1e18);
        assertEq(page[2].baseBalance, -1000e6);
        for (uint256 k; k < page.length; ++k) {
            assertEq(page[k].portfolio, vault.portfolioMode(page[k].account), "portfolio mode");
        }
    }

    function test_pagesAreStableAndEndCleanly() public {
        for (uint256 i; i < 7; ++i) {
            _deposit(address(uint160(0x5000 + i * 0x100)), address(uint160(0x5000 + i * 0x100)), weth, 1e18);
        }
        (PrimeVaultLens.AccountSnapshot[] memory first,) = lens.accounts(vault, 0, 5);
        (PrimeVaultLens.AccountSnapshot[] memory second, uint256 total) = lens.accounts(vault, 5, 5);
        assertEq(first.length, 5);
        assertEq(second.length, 3);
        assertEq(total, 8);
        (PrimeVaultLens.AccountSnapshot[] memory past,) = lens.accounts(vault, 50, 5);
        assertEq(past.length, 0);
        (past, total) = lens.accounts(vault, type(uint256).max, 5);
        assertEq(past.length, 0, "any offset past the end is an empty page");
        assertEq(total, 8);
    }

    /// @dev The list is read from the vault's storage: any window of it equals `listedAccounts`'s.
    function testFuzz_anyWindowEqualsTheList(uint256 offset, uint256 limit) public {
        for (uint256 i; i < 6; ++i) {
            _deposit(
                address(uint160(0x7000 + i)), address(uint160(0x7000 + i)), i % 2 == 0 ? weth : wbtc, 1e8
            );
        }
        offset = bound(offset, 0, 10);
        limit = bound(limit, 1, 10);
        (PrimeVaultLens.AccountSnapshot[] memory page, uint256 total) = lens.accounts(vault, offset, limit);
        (address[] memory listed, uint256 listedTotal) = vault.listedAccounts(offset, limit);
        assertEq(total, listedTotal);
        assertEq(page.length, listed.length);
        for (uint256 k; k < page.length; ++k) {
            assertEq(page[k].account, listed[k]);
            assertEq(page[k].portfolio, vault.portfolioMode(listed[k]));
            assertEq(
                page[k].collateral[0] + page[k].collateral[1], k + offset == 0 ? 0 : 1e8, "one deposit each"
            );
        }
    }

    function test_pageSizeIsBounded() public {
        vm.expectRevert(abi.encodeWithSelector(PrimeVaultLens.InvalidPageSize.selector, 0, 5000));
        lens.accounts(vault, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(PrimeVaultLens.InvalidPageSize.selector, 5001, 5000));
        lens.accounts(vault, 0, 5001);
    }

    function test_pricesAndTheirChecks() public {
        (uint256[] memory p, bool[] memory usable) = lens.prices(vault);
        assertEq(p[0], uint256(ETH_PRICE));
        assertEq(p[1], uint256(BTC_PRICE));
        assertTrue(usable[0] && usable[1]);
    }

    /// @dev Finding (low): one bad feed used to revert the whole read and stop the keeper's scan.
    function test_aBadFeedIsReportedNotReverted() public {
        ethFeed.setAnswer(0);
        (uint256[] memory p, bool[] memory usable) = lens.prices(vault);
        assertEq(p[0], 0);
        assertFalse(usable[0], "the bad feed is flagged");
        assertEq(p[1], uint256(BTC_PRICE), "the others are still read");
        assertTrue(usable[1]);
        vm.warp(block.timestamp + STALENESS + 1);
        (, usable) = lens.prices(vault);
        assertFalse(usable[1], "stale");
    }
}
