// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {LenderFixture} from "./LenderFixture.sol";

/// @notice ERC-4626 properties, fuzzed over amounts and over a pool that has earned interest: round trips never
///         profit, previews never promise more than the action gives, conversions do not depend on the caller,
///         the max functions can be used to the unit, and one holder's actions never cost another.
contract LenderPropertiesTest is LenderFixture {
    address internal carol = makeAddr("carol");

    function setUp() public override {
        super.setUp();
        _lend(carol, 250_000e6); // an existing holder whose value is watched
        _deposit(bob, bob, weth, 1_000e18);
        _borrow(bob, bob, 600_000e6);
        vm.warp(block.timestamp + 97 days);
        _setEthPrice(ETH_PRICE);
        btcFeed.setAnswer(BTC_PRICE);
    }

    function _carolsValue() internal view returns (uint256) {
        return lenderVault.convertToAssets(lenderVault.balanceOf(carol));
    }

    function testFuzz_depositThenRedeemNeverProfits(uint256 assets) public {
        assets = bound(assets, 1, 1e13);
        uint256 carolBefore = _carolsValue();
        uint256 shares = _lend(alice, assets);
        vm.prank(alice);
        uint256 back = lenderVault.redeem(shares, alice, alice);
        assertLe(back, assets, "no profit from a round trip");
        assertGe(_carolsValue(), carolBefore, "and no cost to another holder");
    }

    function testFuzz_mintThenWithdrawNeverProfits(uint256 shares) public {
        shares = bound(shares, 1, 1e19);
        uint256 assets = lenderVault.previewMint(shares);
        _fund(alice, usdc, assets);
        vm.startPrank(alice);
        usdc.approve(address(lenderVault), assets);
        uint256 paid = lenderVault.mint(shares, alice);
        uint256 out = lenderVault.maxWithdraw(alice);
        if (out > 0) lenderVault.withdraw(out, alice, alice);
        vm.stopPrank();
        assertEq(paid, assets, "mint pulls what previewMint said");
        assertLe(out, paid, "no profit from a round trip");
    }

    function testFuzz_previewsNeverOverPromise(uint256 assets, uint256 shares) public {
        assets = bound(assets, 1, 1e13);
        shares = bound(shares, 1, 1e19);
        uint256 preview = lenderVault.previewDeposit(assets);
        assertGe(_lend(alice, assets), preview, "deposit mints at least previewDeposit");

        uint256 owed = lenderVault.previewMint(shares);
        _fund(alice, usdc, owed);
        vm.startPrank(alice);
        usdc.approve(address(lenderVault), owed);
        assertLe(lenderVault.mint(shares, alice), owed, "mint pulls at most previewMint");

        uint256 out = lenderVault.maxWithdraw(alice) / 2;
        if (out > 0) {
            uint256 burnt = lenderVault.previewWithdraw(out);
            assertLe(lenderVault.withdraw(out, alice, alice), burnt, "withdraw burns at most previewWithdraw");
        }
        uint256 redeemable = lenderVault.balanceOf(alice) / 2;
        uint256 promised = lenderVault.previewRedeem(redeemable);
        assertGe(lenderVault.redeem(redeemable, alice, alice), promised, "redeem pays at least previewRedeem");
        vm.stopPrank();
    }

    function testFuzz_conversionsDoNotDependOnTheCaller(uint256 amount, address caller) public {
        amount = bound(amount, 0, 1e20);
        uint256 shares = lenderVault.convertToShares(amount);
        uint256 assets = lenderVault.convertToAssets(amount);
        vm.prank(caller);
        assertEq(lenderVault.convertToShares(amount), shares);
        vm.prank(caller);
        assertEq(lenderVault.convertToAssets(amount), assets);
    }

    function testFuzz_roundingIsAgainstTheCaller(uint256 assets) public view {
        assets = bound(assets, 1, 1e13);
        uint256 shares = lenderVault.previewDeposit(assets);
        assertLe(
            lenderVault.convertToAssets(shares), assets, "shares for assets are worth at most the assets"
        );
        uint256 burnt = lenderVault.previewWithdraw(assets);
        assertGe(
            lenderVault.convertToAssets(burnt),
            assets,
            "shares burnt for assets are worth at least the assets"
        );
    }

    function testFuzz_maxFunctionsAreHonoured(uint256 assets) public {
        assets = bound(assets, 2, 1e13);
        _lend(alice, assets);
        uint256 carolBefore = _carolsValue();
        vm.startPrank(alice);
        uint256 max = lenderVault.maxWithdraw(alice);
        vm.expectRevert();
        lenderVault.withdraw(max + 1, alice, alice);
        if (max > 0) lenderVault.withdraw(max, alice, alice);
        uint256 left = lenderVault.maxRedeem(alice);
        assertLe(left, lenderVault.balanceOf(alice));
        if (lenderVault.previewRedeem(left) > 0) lenderVault.redeem(left, alice, alice);
        vm.stopPrank();
        assertGe(_carolsValue(), carolBefore, "another holder never pays for a withdrawal");
    }

    /// @dev (totalAssets + 1) / (totalSupply + 10^6), the price OpenZeppelin's conversions use, compared by
    ///      cross-multiplication: no action may lower it, or the other holders pay for that action.
    function _assertPriceHeld(uint256 assetsBefore, uint256 supplyBefore, string memory action)
        internal
        view
    {
        uint256 assetsAfter = lenderVault.totalAssets();
        uint256 supplyAfter = lenderVault.totalSupply();
        assertGe((assetsAfter + 1) * (supplyBefore + 1e6), (assetsBefore + 1) * (supplyAfter + 1e6), action);
    }

    /// @dev With interest accrued PrimeVault re-stores the whole position on each action and may lose two
    ///      units, not one: a deposit of 4,872,722.816357 USDC here adds 4,872,722.816355 to the position
    ///      (the previews charged one unit, so the holders paid the other), and a withdrawal of 0.847166 takes
    ///      0.847168. The previews must price what the position actually gains or loses.
    function test_holdersDoNotPayForATwoUnitRounding() public {
        uint256 assetsBefore = lenderVault.totalAssets();
        uint256 supplyBefore = lenderVault.totalSupply();
        uint256 preview = lenderVault.previewDeposit(4_872_722_816_357);
        uint256 shares = _lend(alice, 4_872_722_816_357);
        assertEq(shares, preview, "deposit mints previewDeposit");
        _assertPriceHeld(assetsBefore, supplyBefore, "a deposit credited two units short");

        (assetsBefore, supplyBefore) = (lenderVault.totalAssets(), lenderVault.totalSupply());
        preview = lenderVault.previewWithdraw(847_166);
        vm.prank(carol);
        assertEq(lenderVault.withdraw(847_166, carol, carol), preview, "withdraw burns previewWithdraw");
        _assertPriceHeld(assetsBefore, supplyBefore, "a withdrawal costing two units more");
        assertEq(usdc.balanceOf(carol), 847_166);
    }

    function testFuzz_noActionLowersTheSharePrice(uint256 assets, uint256 shares, uint256 elapsed) public {
        assets = bound(assets, 1, 1e13);
        shares = bound(shares, 1, 1e19);
        vm.warp(block.timestamp + bound(elapsed, 0, 3 * 365 days)); // a supply index well above its scale
        uint256 assetsBefore = lenderVault.totalAssets();
        uint256 supplyBefore = lenderVault.totalSupply();
        _lend(alice, assets);
        _assertPriceHeld(assetsBefore, supplyBefore, "deposit");

        uint256 owed = lenderVault.previewMint(shares);
        _fund(alice, usdc, owed);
        vm.startPrank(alice);
        usdc.approve(address(lenderVault), owed);
        (assetsBefore, supplyBefore) = (lenderVault.totalAssets(), lenderVault.totalSupply());
        assertEq(lenderVault.mint(shares, alice), owed);
        _assertPriceHeld(assetsBefore, supplyBefore, "mint");

        uint256 out = lenderVault.maxWithdraw(alice) / 3;
        if (out > 0) {
            (assetsBefore, supplyBefore) = (lenderVault.totalAssets(), lenderVault.totalSupply());
            lenderVault.withdraw(out, alice, alice);
            _assertPriceHeld(assetsBefore, supplyBefore, "withdraw");
        }
        (assetsBefore, supplyBefore) = (lenderVault.totalAssets(), lenderVault.totalSupply());
        lenderVault.redeem(lenderVault.maxRedeem(alice), alice, alice);
        _assertPriceHeld(assetsBefore, supplyBefore, "redeem");
        vm.stopPrank();
    }
}
