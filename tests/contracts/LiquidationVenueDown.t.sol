// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TradingFixture} from "./utils/TradingFixture.sol";
import {deployDydx} from "./utils/VenueDeployment.sol";
import {DydxAdapter} from "../../contracts/adapters/DydxAdapter.sol";
import {MockPriceFeed} from "../../contracts/devnet/mocks/MockPriceFeed.sol";
import {DydxStyleVenue} from "../../contracts/devnet/venues/DydxStyleVenue.sol";
import {IDydxStyleVenue} from "../../contracts/interfaces/venues/IDydxStyleVenue.sol";
import {IVenueAdapter} from "../../contracts/interfaces/IVenueAdapter.sol";
import {PrimeVaultLens} from "../../contracts/periphery/PrimeVaultLens.sol";
import {GasBurner} from "./utils/mocks/GasBurner.sol";

/// @dev Code for an adapter that "succeeds" on every call and answers nothing: an upgradeable adapter whose
///      implementation lost its code (a delegatecall to an empty account succeeds with no data), or any broken
///      upgrade with a silent fallback.
contract AnswersNothing {
    fallback() external {
        assembly {
            return(0, 0)
        }
    }
}

/// @notice Liquidating an account with positions never asks a venue to trade (the backstop takes them at the
///         vault's mark), so a venue that cannot answer its views must not stop it: its funding index (its own
///         oracle stale, paused, the market delisted) counts no funding since the position's last booking, and its
///         size step counts as none. Before, `liquidate` skipped such an account on every call, however far
///         under water. The same holds for one that answers its views with nothing, or with an absurd size step:
///         with `try ... returns`, whose decoding of an empty answer reverts in the caller's frame uncaught, every
///         account with a position there was skipped, the write-off counted every venue as nothing (suppliers bore a
///         shortfall reserves covered) and the lens reverted.
contract LiquidationVenueDownTest is TradingFixture {
    uint8 internal constant VENUE2 = 2;
    DydxStyleVenue internal venue2;
    MockPriceFeed internal venueBtcFeed; // the venue's own oracle, not the vault's

    function setUp() public override {
        super.setUp();
        venueBtcFeed = new MockPriceFeed("venue BTC", 8, BTC_PRICE, address(this));
        MockPriceFeed venueEthFeed = new MockPriceFeed("venue ETH", 8, ETH_PRICE, address(this));
        venue2 = deployDydx(usdc, address(venueBtcFeed), address(venueEthFeed), address(this));
        uint32[] memory pairs = new uint32[](2);
        (pairs[0], pairs[1]) = (0, 1);
        DydxAdapter adapter2 = new DydxAdapter(address(trading), venue2, usdc, pairs);
        vm.prank(admin);
        trading.addVenue(adapter2);
        vm.prank(keeper);
        trading.depositMargin(VENUE2, 100_000e6);

        _deposit(alice, alice, weth, 10e18); // 30,000 of collateral
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), VENUE2, 3e18);
    }

    function _one(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    /// The venue's oracle stops while the vault's BTC feed stays fresh and falls: the account goes under water,
    /// and one call moves its long to the backstop and takes its collateral.
    function test_aVenueWhoseOracleIsStale() public {
        uint256 t0 = block.timestamp;
        for (uint256 h = 1; h <= 48; ++h) {
            vm.warp(t0 + h * 1 hours);
            btcFeed.setAnswer(60_000e8 - int256(h) * 100e8);
            ethFeed.setAnswer(ETH_PRICE);
            if (h <= 20) venueBtcFeed.setAnswer(60_000e8 - int256(h) * 100e8); // the venue's stops at 20 h
        }
        vm.expectRevert();
        trading.perpRisk(alice); // the health views still need the venue: an owner's action waits for it
        btcFeed.setAnswer(50_000e8);
        _setEthPrice(2000e8); // 3 BTC bought near 60,000 now at 50,000; 10 WETH at 2,000: under water
        (int256 pnl,, uint256 maintenance,) = trading.liquidationRisk(alice);
        assertLt(pnl, -29_000e6, "the loss at the vault's mark, no funding counted");
        assertGt(maintenance, 0);

        vm.prank(bob);
        assertEq(vault.liquidate(_one(alice)), 1, "liquidated in one call");
        assertEq(trading.position(alice, BTC_MARKET, VENUE2).size, 0, "the long moved to the backstop whole");
        assertEq(trading.backstopPosition(BTC_MARKET, VENUE2).size, 3e18);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 0, "under water: all its collateral taken");
    }

    /// The batch that liquidates an account on the unreadable venue writes its shortfall off against reserves,
    /// valued by `venueAssets`, which reverted on that venue: every venue's account (300,000 of margin at three
    /// venues) then counted as nothing, and the shortfall went to suppliers although reserves covered it. Now only
    /// the unreadable venue's own 100,000 counts as nothing (it cannot say what it holds), and reserves of 150,000
    /// cover the shortfall.
    function test_aShortfallIsCoveredByReservesWhileAVenueCannotAnswer() public {
        usdc.mint(address(vault), 150_000e6); // reserves
        btcFeed.setAnswer(50_000e8);
        venueBtcFeed.setRoundData(50_000e8, block.timestamp - 1 days - 1); // the venue's oracle misses its heartbeat
        _setEthPrice(2000e8); // alice under water
        uint256 index = vault.supplyIndex();
        vm.prank(bob);
        assertEq(vault.liquidate(_one(alice)), 1);
        assertEq(
            vault.supplyIndex(), index, "reserves cover the shortfall: nothing written off against suppliers"
        );
        assertEq(
            trading.venueAssets(), 200_000e6, "the two venues that answer still count, the other as nothing"
        );
    }

    /// A venue whose margin answers but whose funding index does not counts as one that cannot answer at all: its
    /// margin holds the funding it paid the vault for its clients, which would go uncounted against it. Before, its
    /// account (about 100,000) counted whole with no funding owed on it, which could overstate reserves.
    function test_aVenueWhoseFundingIndexCannotBeReadCountsAsOneThatCannotAnswer() public {
        address adapter2 = trading.venues()[VENUE2];
        int256 answering = trading.venueAssets();
        vm.mockCallRevert(
            adapter2, abi.encodeWithSelector(IVenueAdapter.fundingIndex.selector), "VenuePaused"
        );
        int256 fundingUnreadable = trading.venueAssets();
        vm.mockCallRevert(adapter2, abi.encodeWithSelector(IVenueAdapter.margin.selector), "VenuePaused");
        assertEq(fundingUnreadable, trading.venueAssets(), "valued as a venue that cannot answer");
        assertApproxEqRel(answering - fundingUnreadable, 100_000e6, 0.01e18, "its account counts as nothing");
    }

    /// The keeper's read flags the venue's slot, not the market: the vault still liquidates at its own mark.
    function test_theLensFlagsTheVenueNotTheMarket() public {
        PrimeVaultLens lens = new PrimeVaultLens();
        vm.warp(block.timestamp + 2 days); // past the venue oracle's staleness; the vault's feeds updated below
        btcFeed.setAnswer(BTC_PRICE);
        ethFeed.setAnswer(ETH_PRICE);
        PrimeVaultLens.RiskState memory s = lens.riskState(vault);
        assertTrue(s.marksUsable[BTC_MARKET], "the market still reads at the vault's mark");
        assertEq(s.fundingIndexes[BTC_MARKET * lens.VENUE_SLOTS() + VENUE2], lens.FUNDING_UNREADABLE());
        assertEq(
            s.fundingIndexes[BTC_MARKET * lens.VENUE_SLOTS() + DYDX],
            IVenueAdapter(trading.venues()[DYDX]).fundingIndex(BTC_MARKET),
            "the other venues' slots as the module reads them"
        );
    }

    /// A paused venue (its `marketParams` reverts) no longer stops the absorption: without its step, the fraction
    ///  asked goes, rounded up to the unit (taking all of it would over-liquidate the owner, and unhedge a portfolio
    ///  book), and the account is back at its target.
    function test_aVenueThatCannotAnswerItsMarketParams() public {
        int256 price = 61_000e8;
        while (!vault.isLiquidatable(alice)) {
            // just below maintenance: a small fraction restores it
            price -= 100e8;
            btcFeed.setAnswer(price);
            venueBtcFeed.setAnswer(price);
        }
        vm.mockCallRevert(
            address(venue2), abi.encodeWithSelector(IDydxStyleVenue.marketParams.selector), "VenuePaused"
        );
        vm.prank(bob);
        assertEq(vault.liquidate(_one(alice)), 1);
        int256 left = trading.position(alice, BTC_MARKET, VENUE2).size;
        assertGt(left, 0, "part of the long stays the account's");
        assertLt(left, 3e18, "and part of it was absorbed");
        assertEq(trading.backstopPosition(BTC_MARKET, VENUE2).size + left, 3e18, "the rest is the backstop's");
        assertFalse(vault.isLiquidatable(alice), "restored to its target");
    }

    /// Under water with the step unreadable: the position taken whole (the fraction is 1) leaves none, and the same
    /// call takes the collateral (whether positions are left is what the trading module told the vault).
    function test_underWaterWithTheStepUnreadableTheCollateralGoesInTheSameCall() public {
        btcFeed.setAnswer(45_000e8);
        venueBtcFeed.setAnswer(45_000e8);
        _setEthPrice(2500e8); // 3 BTC bought near 61,000 now at 45,000; 10 WETH at 2,500: under water
        vm.mockCallRevert(
            address(venue2), abi.encodeWithSelector(IDydxStyleVenue.marketParams.selector), "VenuePaused"
        );
        vm.prank(bob);
        assertEq(vault.liquidate(_one(alice)), 1);
        assertEq(trading.position(alice, BTC_MARKET, VENUE2).size, 0, "all of the long absorbed");
        assertEq(
            vault.collateralBalanceOf(alice, address(weth)), 0, "and all of its collateral, in the same call"
        );
        assertFalse(vault.isLiquidatable(alice));
    }

    /// A venue adapter that burns all the gas it is given (a broken upgrade) counts as one that cannot answer: its
    /// views get bounded gas, so the account trading there is liquidated and the batch goes on to the next account.
    /// Unbounded, the first view took 63/64 of the transaction's gas and nothing was left for the batch.
    function test_aVenueThatBurnsItsGasDoesNotStopABatch() public {
        address carol = makeAddr("carol");
        _openBorrower(carol, 2_300e6);
        int256 price = 61_000e8;
        while (!vault.isLiquidatable(alice)) {
            price -= 100e8;
            btcFeed.setAnswer(price);
            venueBtcFeed.setAnswer(price);
        }
        _setEthPrice(2_600e8);
        assertTrue(vault.isLiquidatable(carol));
        vm.etch(trading.venues()[VENUE2], address(new GasBurner()).code);
        address[] memory batch = new address[](2);
        (batch[0], batch[1]) = (alice, carol);
        vm.prank(bob);
        assertEq(vault.liquidate{gas: 30_000_000}(batch), 2, "both liquidated in one call");
        assertLt(trading.position(alice, BTC_MARKET, VENUE2).size, 3e18, "the long cut");
        assertGt(trading.backstopPosition(BTC_MARKET, VENUE2).size, 0);
        assertFalse(vault.isLiquidatable(carol));
    }

    /// With the venue answering, both reads agree to the unit.
    function test_theLiquidationReadIsPerpRiskWhileTheVenueAnswers() public {
        vm.warp(block.timestamp + 5 hours);
        btcFeed.setAnswer(58_000e8);
        venueBtcFeed.setAnswer(58_000e8);
        ethFeed.setAnswer(ETH_PRICE);
        (int256 pnl, uint256 initial, uint256 maintenance, bool has) = trading.perpRisk(alice);
        (int256 pnl2, uint256 initial2, uint256 maintenance2, bool has2) = trading.liquidationRisk(alice);
        assertEq(pnl, pnl2);
        assertEq(initial, initial2);
        assertEq(maintenance, maintenance2);
        assertTrue(has && has2);
    }

    function _underWater() internal {
        btcFeed.setAnswer(50_000e8);
        _setEthPrice(2000e8); // 3 BTC bought near 60,000 now at 50,000; 10 WETH at 2,000
        assertTrue(vault.isLiquidatable(alice));
    }

    function test_aVenueThatAnswersNothingDoesNotStopLiquidation() public {
        _underWater();
        vm.etch(trading.venues()[VENUE2], address(new AnswersNothing()).code);

        vm.prank(bob);
        assertEq(vault.liquidate(_one(alice)), 1, "liquidated, the venue counted as one that cannot answer");
        assertEq(trading.position(alice, BTC_MARKET, VENUE2).size, 0, "the long moved to the backstop");
        assertLt(vault.collateralBalanceOf(alice, address(weth)), 10e18, "collateral taken");

        // The lens reads on and flags the venue's funding as unreadable.
        PrimeVaultLens lens = new PrimeVaultLens();
        PrimeVaultLens.RiskState memory s = lens.riskState(vault);
        assertEq(s.fundingIndexes[BTC_MARKET * lens.VENUE_SLOTS() + VENUE2], lens.FUNDING_UNREADABLE());
        assertTrue(s.fundingIndexes[BTC_MARKET * lens.VENUE_SLOTS() + DYDX] != lens.FUNDING_UNREADABLE());
    }

    function test_aSilentVenueCountsAsNothingInTheWriteOffNotEveryVenue() public {
        usdc.mint(address(vault), 150_000e6); // reserves
        address carol = makeAddr("carol");
        _openBorrower(carol, 2_300e6); // 1 WETH at 3,000, 2,300 borrowed
        _setEthPrice(1500e8); // under water: about 875 of shortfall, which reserves cover
        btcFeed.setAnswer(BTC_PRICE);
        uint256 index = vault.supplyIndex();
        int256 before = trading.venueAssets();

        vm.etch(trading.venues()[VENUE2], address(new AnswersNothing()).code);
        int256 silent = trading.venueAssets();
        assertLt(silent, before, "the silent venue's account counts as nothing");
        assertGt(silent, 0, "the other venues' accounts still count");
        vm.prank(bob);
        assertEq(vault.liquidate(_one(carol)), 1);
        assertEq(vault.supplyIndex(), index, "covered by reserves: suppliers untouched");
    }

    /// @dev A step past any size (round 4's step of 0 was the other wrong answer) made the cut's arithmetic
    ///      overflow, `absorbPositions` panic and the account be skipped at every call.
    function test_anAbsurdSizeStepCountsAsNoStep() public {
        _executeOn(_submit(alice, alice, ETH_MARKET, 1e18, 3_100e18), DYDX, 1e18);
        _underWater();
        IVenueAdapter.MarketParams memory p = IVenueAdapter(trading.venues()[DYDX]).marketParams(ETH_MARKET);
        p.stepSize = 2 ** 200;
        vm.mockCall(
            trading.venues()[DYDX],
            abi.encodeWithSelector(IVenueAdapter.marketParams.selector, ETH_MARKET),
            abi.encode(p)
        );
        vm.prank(bob);
        assertEq(vault.liquidate(_one(alice)), 1, "liquidated");
        assertLt(trading.position(alice, ETH_MARKET, DYDX).size, 1e18, "cut on a step of one unit");
    }
}
