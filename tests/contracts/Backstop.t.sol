// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {TradingFixture} from "./utils/TradingFixture.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";
import {IVenueAdapter} from "../../contracts/interfaces/IVenueAdapter.sol";

/// @notice Liquidation of accounts with perp positions: positions move to the backstop book at the oracle
///         mark less a discount, whatever the venues do; the executor then unwinds the book at the venues.
///         Each test reproduces part of the review's high finding, which today's code fails.
contract BackstopTest is TradingFixture {
    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18); // 30,000
    }

    function _list(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function _liquidate(address[] memory l) internal returns (uint256) {
        vm.prank(bob);
        return vault.liquidate(l);
    }

    /// @dev (d) `liquidate` used to skip every account with positions, and (a) `deleverage` had to close each
    ///      position in one venue fill within 5% of the oracle. Now the account is restored in one call
    ///      without touching the venue, and keeps most of its position and all its collateral.
    function test_accountWithPositionsIsLiquidatedInOneCall() public {
        // Built in small clips: the venue's impact grows with order size only, so one closing fill is dearer.
        for (uint256 i; i < 6; ++i) {
            _executeOn(_submit(alice, alice, BTC_MARKET, 0.5e18, 61_000e18), DYDX, 0.5e18);
        }
        btcFeed.setAnswer(54_000e8); // about -18,000 on 3 BTC
        assertTrue(vault.isLiquidatable(alice));
        int256 venueBefore = dydxAdapter.position(BTC_MARKET);

        assertEq(_liquidate(_list(alice)), 1, "liquidated, not skipped");

        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertFalse(h.liquidatable, "healthy in the same block");
        int256 kept = trading.position(alice, BTC_MARKET, DYDX).size;
        assertGt(kept, 2e18, "most of the position stays");
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 3e18 - kept, "the rest is the backstop's");
        assertEq(uint256(kept) % 1e14, 0, "on the venue's 0.0001 BTC step, so both parts stay tradable");
        assertEq(dydxAdapter.position(BTC_MARKET), venueBefore, "the venue was not asked to fill anything");
        assertEq(trading.netPosition(BTC_MARKET, DYDX), venueBefore, "books still equal the venue");
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 10e18, "collateral untouched");
        assertGt(vault.baseBalanceOf(bob), 0, "the caller earns part of the penalty");
    }

    /// @dev A venue adapter reporting a size step of 0 (misconfigured, or a venue without one) must not stop the
    ///      liquidation: the backstop takes the exact amount.
    function test_aVenueReportingNoSizeStepDoesNotStopTheLiquidation() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
        btcFeed.setAnswer(54_000e8);
        IVenueAdapter.MarketParams memory params = dydxAdapter.marketParams(BTC_MARKET);
        params.stepSize = 0;
        vm.mockCall(
            address(dydxAdapter), abi.encodeCall(IVenueAdapter.marketParams, (BTC_MARKET)), abi.encode(params)
        );
        assertEq(_liquidate(_list(alice)), 1, "liquidated, not skipped");
        assertFalse(vault.isLiquidatable(alice));
        assertGt(trading.backstopPosition(BTC_MARKET, DYDX).size, 0);
    }

    /// @dev (b) A colluding long/short pair at one venue nets to zero there, so closing the losing leg at the
    ///      venue would grow the netted position past the venue margin posted. Taking it into the backstop
    ///      leaves the venue's position where it is, so nothing can refuse it.
    function test_collidingPairAtOneVenueIsLiquidatedWithoutTheVenue() public {
        _deposit(bob, bob, weth, 10e18);
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
        _executeOn(_submit(bob, bob, BTC_MARKET, -3e18, 59_000e18), DYDX, 3e18);
        assertEq(dydxAdapter.position(BTC_MARKET), 0, "netted to zero at the venue");

        btcFeed.setAnswer(50_000e8); // alice: -30,000 on 3 BTC, bob: +30,000
        assertTrue(vault.isLiquidatable(alice));
        assertEq(_liquidate(_list(alice)), 1);

        assertEq(dydxAdapter.position(BTC_MARKET), 0, "still zero at the venue");
        assertEq(trading.netPosition(BTC_MARKET, DYDX), 0);
        assertFalse(trading.hasOpenPositions(alice), "all of it went");
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 3e18, "the backstop holds the losing leg");
        // What the vault holds, is owed and its venue accounts are worth, with the absorbed WETH at its sale
        // price (3,000 less 2.5%), still covers what it owes suppliers after the write-off.
        IPrimeVault.MarketState memory s = vault.marketState();
        int256 unsold = int256(vault.collateralReserves(address(weth)) * 2925e6 / 1e18);
        int256 assets =
            int256(usdc.balanceOf(address(vault))) + trading.venueAssets() + int256(s.totalBorrow) + unsold;
        assertGe(assets, int256(s.totalSupply), "solvent");
    }

    /// @dev (c) One account that cannot be liquidated used to revert the whole batch.
    function test_oneStuckAccountDoesNotBlockTheBatch() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
        _deposit(carol(), carol(), weth, 10e18);
        _executeOn(_submit(carol(), carol(), ETH_MARKET, 40e18, 3100e18), RABBIT, 40e18);
        btcFeed.setAnswer(50_000e8);
        _setEthPrice(2550e8); // carol: -18,000 on 40 ETH; her collateral is worth 25,500
        assertTrue(vault.isLiquidatable(carol()));
        btcFeed.setAnswer(0); // alice's market feed breaks: her liquidation cannot be priced

        vm.recordLogs();
        address[] memory batch = new address[](2);
        (batch[0], batch[1]) = (alice, carol());
        assertEq(_liquidate(batch), 1);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 3e18, "alice skipped");
        assertFalse(vault.isLiquidatable(carol()), "carol restored");
    }

    function test_liquidationPaysReservesThePenalty() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
        btcFeed.setAnswer(54_000e8);
        int256 reservesBefore = vault.marketState().reserves;
        vm.recordLogs();
        _liquidate(_list(alice));
        // The account sold to the backstop below the mark; that gain counts in reserves once the book is unwound,
        // paying the unwind's fees and spread first (counted at the mark, a write-off in between used it up and
        // left those to reserves): until then reserves have only paid the caller's reward.
        assertLt(vault.marketState().reserves, reservesBefore, "the book's gain not counted yet");
        int256 book = trading.backstopPosition(BTC_MARKET, DYDX).size; // the part absorbed
        assertGt(book, 0);
        vm.prank(keeper);
        trading.unwindBackstop(BTC_MARKET, DYDX, uint256(book), 51_300e18);
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 0);
        assertGt(
            vault.marketState().reserves, reservesBefore, "reserves gain the penalty, less the unwind's costs"
        );
    }

    function test_executorUnwindsTheBackstopInSlicesWithinTheBand() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
        btcFeed.setAnswer(50_000e8);
        _liquidate(_list(alice));
        int256 book = trading.backstopPosition(BTC_MARKET, DYDX).size;
        assertEq(book, 3e18);

        // Selling below the band is refused, even to the executor.
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.PriceOutsideBand.selector, 47_000e18, 50_000e18, 500)
        );
        vm.prank(keeper);
        trading.unwindBackstop(BTC_MARKET, DYDX, 1e18, 47_000e18);
        // More than the book holds is refused.
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.BackstopTooSmall.selector, BTC_MARKET, DYDX, 4e18, 3e18)
        );
        vm.prank(keeper);
        trading.unwindBackstop(BTC_MARKET, DYDX, 4e18, 48_000e18);
        // Not the executor: refused.
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, bob, trading.EXECUTOR_ROLE()
            )
        );
        vm.prank(bob);
        trading.unwindBackstop(BTC_MARKET, DYDX, 1e18, 48_000e18);

        for (uint256 i; i < 3; ++i) {
            vm.expectEmit(true, true, false, false, address(trading));
            emit IPrimeVaultEvents.BackstopUnwound(BTC_MARKET, DYDX, -1e18, 0, 0, 0);
            vm.prank(keeper);
            trading.unwindBackstop(BTC_MARKET, DYDX, 1e18, 47_500e18);
            vm.roll(block.number + 1);
        }
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 0);
        assertEq(dydxAdapter.position(BTC_MARKET), 0, "closed at the venue");
    }

    function testFuzz_liquidationRestoresAccountsWithPositions(uint256 drop, uint256 size) public {
        size = bound(size, 1, 40) * 0.1e18;
        _executeOn(_submit(alice, alice, BTC_MARKET, int256(size), 61_000e18), DYDX, size);
        uint256 price = 60_000e8 - bound(drop, 0, 30_000) * 1e8;
        btcFeed.setAnswer(int256(price));
        bool due = vault.isLiquidatable(alice);
        IPrimeVault.AccountHealth memory before = vault.accountHealth(alice);
        assertEq(_liquidate(_list(alice)), due ? 1 : 0, "liquidate agrees with isLiquidatable");
        IPrimeVault.AccountHealth memory afterwards = vault.accountHealth(alice);
        assertFalse(afterwards.liquidatable, "no account stays below maintenance");
        // Never a larger shortfall below maintenance, in base units.
        int256 gapBefore = int256(before.maintenanceRequirement) - before.equity;
        int256 gapAfter = int256(afterwards.maintenanceRequirement) - afterwards.equity;
        if (due) assertLt(gapAfter, gapBefore);
        else assertEq(gapAfter, gapBefore, "a healthy account is not touched");
    }

    function carol() internal pure returns (address) {
        return address(0xCA201);
    }
}
