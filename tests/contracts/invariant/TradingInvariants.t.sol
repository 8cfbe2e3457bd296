// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {TradingHandler} from "./TradingHandler.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {PerpExchange} from "../../../contracts/devnet/venues/PerpExchange.sol";

/// @dev Actors switch between the standard and the portfolio rule as they go (`switchMargin`), so every property
///      holds in both modes.
contract TradingInvariantsTest is PortfolioFixture {
    TradingHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new TradingHandler(
            vault,
            trading,
            usdc,
            weth,
            [btcFeed, ethFeed],
            [PerpExchange(address(dydx)), PerpExchange(address(rabbit))],
            keeper,
            admin
        );
        btcFeed.transferOwnership(address(handler));
        ethFeed.transferOwnership(address(handler));
        dydx.transferOwnership(address(handler));
        rabbit.transferOwnership(address(handler));
        targetContract(address(handler));
    }

    /// @dev Each venue holds exactly the vault's netted position: the sum of the sub-accounts' and the
    ///      backstop book's.
    function invariant_venuePositionsEqualTheSumOfSubAccounts() public view {
        IVenueAdapter[2] memory adapters =
            [IVenueAdapter(address(dydxAdapter)), IVenueAdapter(address(rabbitAdapter))];
        for (uint8 m; m < 2; ++m) {
            for (uint8 v; v < 2; ++v) {
                int256 sum;
                for (uint256 a; a < handler.actorCount(); ++a) {
                    sum += trading.position(handler.actors(a), m, v).size;
                }
                sum += trading.backstopPosition(m, v).size;
                assertEq(trading.netPosition(m, v), sum, "books");
                assertEq(adapters[v].position(m), sum, "venue");
            }
        }
    }

    /// @dev What the vault holds, what borrowers owe and what its venue accounts are worth to it (net of
    ///      what it owes its traders there) cover what it owes suppliers.
    function invariant_solventCountingVenueMargin() public view {
        IPrimeVault.MarketState memory s = vault.marketState();
        int256 assets = int256(usdc.balanceOf(address(vault))) + trading.venueAssets() + int256(s.totalBorrow);
        assertGe(assets + 10, int256(s.totalSupply));
        assertEq(handler.reservesOverdrawn(), 0, "a reserve withdrawal");
    }

    /// @dev An account's reserved margin is the sum of its open children's remaining reservations,
    ///      ceil(reservation x unfilled / size) each, and its open-children count is theirs.
    function invariant_reservedMarginIsTheSumOfOpenChildren() public view {
        for (uint256 a; a < handler.actorCount(); ++a) {
            address actor = handler.actors(a);
            (uint256 expected, uint256 open) = handler.openReservations(actor);
            (uint256 reserved, uint256 openChildren,) = trading.reservation(actor);
            assertEq(reserved, expected, "reserved margin");
            assertEq(openChildren, open, "open children");
        }
    }

    /// @dev A routed order counts its open children (late ones too, which a liquidation cancelled but no one has
    ///      closed yet), and is done exactly when none is left; its children point back at it with its direction.
    function invariant_aRoutedOrderCountsItsOpenChildren() public view {
        uint256[] memory open = new uint256[](trading.orderCount());
        bool[] memory routed = new bool[](open.length);
        for (uint256 id; id < trading.childOrderCount(); ++id) {
            ITradingModule.ChildOrder memory c = trading.childOrder(id);
            routed[c.orderId] = true;
            if (c.status == ITradingModule.ChildStatus.Open) ++open[c.orderId];
            assertEq(c.buy, trading.order(c.orderId).size > 0, "a child's direction is its order's");
        }
        for (uint256 id; id < open.length; ++id) {
            if (!routed[id]) continue;
            ITradingModule.Order memory o = trading.order(id);
            assertEq(o.openChildren, open[id], "open children");
            assertEq(
                o.status == ITradingModule.OrderStatus.Routed, open[id] != 0, "routed while a child is open"
            );
        }
    }

    /// @dev The vault's record of who trades, which its health checks and liquidation read instead of the
    ///      trading module, is the trading module's own state.
    function invariant_theVaultKnowsWhoTrades() public view {
        for (uint256 a; a < handler.actorCount(); ++a) {
            address actor = handler.actors(a);
            assertEq(_vaultRecordsTrading(actor), trading.hasOpenPositions(actor), "trading record");
        }
    }

    /// @dev A sequence a run found, shrunk and kept. A long of 0.086 BTC on 0.33 WETH, funding at 8.6% a day for a day, BTC -10%: under water, its positions
    ///      absorbed at a 1% discount and its shortfall written off against reserves that counted the backstop's
    ///      position at the mark, the discount included. The backstop's unwind then cost its fees and spread, 3.68
    ///      USDC, which nothing was left to pay: the vault's assets fell below what it owes suppliers. The backstop's
    ///      gain over its entry now counts only once unwound.
    function test_aWriteOffLeavesTheBackstopsDiscountToPayItsUnwind() public {
        handler.deposit(24043, 333333333333333333);
        handler.trade(
            16211, 2400000000000000000, 405972676984092799704510178914248592238720086, true, 5000000000
        );
        handler.setFunding(876702004049, 17487163166435318997768981719786493520, 2260768392887706091485);
        handler.warp(1203138180748792711153596685313401608);
        handler.movePrice(71268017862422122480, 2);
        handler.warp(172800);
        handler.liquidateAll();
        invariant_solventCountingVenueMargin();
    }

    /// @dev The handler's asynchronous actions do what they say: a commit, a fill on the account, a
    ///      rejection and a late fill to the backstop, an expiry.
    function test_handlerRunsTheAsynchronousLifecycle() public {
        handler.deposit(0, 20e18);
        handler.commitAsync(0, 0, 100, true, 5000, false); // 0.1 BTC: 0.05 at each venue
        assertEq(handler.childCount(), 2);
        handler.fillChild(0, 5000);
        assertEq(trading.position(handler.actors(0), 0, 0).size, 0.025e18);
        handler.rejectChild(0);
        handler.fillChild(0, 10_000);
        assertEq(handler.lateFills(), 1);
        assertEq(
            trading.position(handler.actors(0), 0, 0).size, 0.025e18, "the late fill is not the account's"
        );
        handler.expireChild(1, true); // not yet
        handler.warp(1 hours);
        handler.expireChild(1, false); // not yet for anyone but the executor
        (, uint256 stillOpen,) = trading.reservation(handler.actors(0));
        assertEq(stillOpen, 1, "within the grace, only the executor expires");
        handler.expireChild(1, true);
        (uint256 reserved, uint256 open,) = trading.reservation(handler.actors(0));
        assertEq(reserved + open, 0);
        invariant_reservedMarginIsTheSumOfOpenChildren();
        invariant_venuePositionsEqualTheSumOfSubAccounts();
    }

    /// @dev The handler's store front and committed unwind do what they say: a portfolio account's WETH hedged by an
    ///      ETH short, under water on a BTC long, is liquidated; part of its WETH sells at the pair discount while the
    ///      short is held, the short is unwound through a committed child half filled, the admin takes all the
    ///      reserves, and a batch re-sending a fill books it once.
    function test_handlerSellsAHedgedPairAndCommitsTheUnwind() public {
        handler.deposit(0, 1e18);
        handler.switchMargin(0, true);
        assertTrue(vault.portfolioMode(handler.actors(0)));
        handler.trade(0, 1, 100, false, 5000); // 1 ETH short, half at each venue
        handler.trade(0, 0, 100, true, 10_000); // 0.1 BTC long at dYdX
        handler.trade(0, 0, 100, true, 0); // and 0.1 at RabbitX
        assertEq(trading.position(handler.actors(0), 0, 1).size, 0.1e18);
        for (uint256 i; i < 3; ++i) {
            handler.movePrice(0, 9000);
        }
        assertTrue(vault.isLiquidatable(handler.actors(0)));
        handler.liquidateAndSellAsPair(5000, 5000);
        assertEq(handler.pairSales(), 1, "sold at the pair discount");
        assertGt(handler.committedUnwindFills(), 0, "a committed unwind filled");
        assertLt(vault.collateralReserves(address(weth)), 1e9, "the rest sold, but for rounding dust");
        handler.withdrawReserves(10_000);
        assertGt(usdc.balanceOf(admin), 0, "the admin took the reserves");
        handler.commitAsync(1, 0, 10, true, 10_000, false);
        handler.deposit(1, 20e18);
        handler.commitAsync(1, 0, 10, true, 10_000, false);
        handler.fillChildBatched(0, 5000, true);
        assertEq(trading.position(handler.actors(1), 0, 0).size, 0.005e18, "booked once");
        invariant_eachFillIdBooksOnce();
        invariant_theStoreFrontSellsReservesAtItsDiscount();
        invariant_aCommittedUnwindShrinksTheBook();
        invariant_venuePositionsEqualTheSumOfSubAccounts();
        invariant_solventCountingVenueMargin();
    }

    /// @dev The handler's switch does switch: both rules are exercised.
    function test_handlerSwitchesTheRule() public {
        handler.deposit(0, 20e18);
        handler.switchMargin(0, true);
        assertTrue(vault.portfolioMode(handler.actors(0)));
        handler.trade(0, 1, 100, false, 5000); // 1 ETH short against the WETH: a hedge
        handler.switchMargin(0, false);
        assertFalse(vault.portfolioMode(handler.actors(0)));
    }

    /// @dev Each venue fill id books once, in a batch or across batches.
    function invariant_eachFillIdBooksOnce() public view {
        assertEq(handler.fillsNotBookedOnce(), 0);
    }

    /// @dev The store front sells reserves only (never depositors' collateral), for exactly what it is paid, at a
    ///      discount between the pair's and the asset's own, and at the asset's own when no short covers them.
    function invariant_theStoreFrontSellsReservesAtItsDiscount() public view {
        assertEq(handler.storeFrontMispriced(), 0, "price");
        assertEq(handler.reservesMovedWrongly(), 0, "reserves");
    }

    /// @dev A committed unwind's fill moves the backstop book toward zero by exactly its size.
    function invariant_aCommittedUnwindShrinksTheBook() public view {
        assertEq(handler.unwindOvershoots(), 0);
    }

    /// @dev Neither a trade nor collateral taken out (withdrawn or moved to a sibling sub-account) leaves an account
    ///      below its initial requirement, and taking it out is refused only for that.
    /// @dev An order its owner cancelled (alone or with all its orders), or whose operator lost its permission,
    ///      never runs: no child is committed for it and no position moves.
    function invariant_deadOrdersNeverRun() public view {
        assertEq(handler.deadOrdersRan(), 0);
    }

    function invariant_noTradeLeavesAnAccountBelowInitial() public view {
        assertEq(handler.tradesBelowInitial(), 0, "trade");
        assertEq(handler.outflowsBelowInitial(), 0, "withdrawal or transfer");
        assertEq(handler.unreadableRefusals(), 0, "refusal");
    }
}
