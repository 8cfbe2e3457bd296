// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Vm} from "forge-std/Vm.sol";

import {TradingFixture} from "./utils/TradingFixture.sol";
import {IPrimeVault, PERMISSION_TRADE} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";
import {ITradingModule} from "../../contracts/interfaces/ITradingModule.sol";
import {IVenueErrors} from "../../contracts/devnet/venues/IVenueErrors.sol";
import {MockPriceFeed} from "../../contracts/devnet/mocks/MockPriceFeed.sol";
import {DydxAdapter} from "../../contracts/adapters/DydxAdapter.sol";
import {IVenueAdapter} from "../../contracts/interfaces/IVenueAdapter.sol";

contract TradingTest is TradingFixture {
    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18); // 30,000 of WETH, nothing else
    }

    function _cancelReason(uint256 id) internal returns (bytes memory reason) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (
                logs[i].topics[0] == IPrimeVaultEvents.OrderCancelled.selector
                    && uint256(logs[i].topics[1]) == id
            ) {
                (reason) = abi.decode(logs[i].data, (bytes));
            }
        }
    }

    /// @dev A size, limit or deadline the order's record cannot hold is refused by name (each used to fail a
    ///      SafeCast); type(uint256).max as "no deadline" is one of them.
    function test_anOrderOutOfRangeIsRefusedByName() public {
        uint256 dl = block.timestamp + 1 hours;
        int256[3] memory sizes = [int256(2 ** 127), type(int256).min, 1e18];
        uint256[3] memory limits = [uint256(3000e18), 3000e18, 2 ** 128];
        for (uint256 i; i < 3; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IPrimeVaultErrors.OrderOutOfRange.selector, sizes[i], limits[i], dl)
            );
            vm.prank(alice);
            trading.submitOrder(alice, ETH_MARKET, sizes[i], limits[i], dl, false);
        }
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OrderOutOfRange.selector, 1e18, 3000e18, type(uint256).max
            )
        );
        vm.prank(alice);
        trading.submitOrder(alice, ETH_MARKET, 1e18, 3000e18, type(uint256).max, false);
        // The bounds themselves are orders.
        vm.prank(alice);
        uint256 id = trading.submitOrder(
            alice, ETH_MARKET, type(int128).min, type(uint128).max, type(uint64).max, false
        );
        assertEq(trading.order(id).size, type(int128).min);
        assertEq(trading.order(id).deadline, type(uint64).max);
    }

    function test_wethOnlyAccountShortsBtcAcrossBothVenues() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, -2e18, 59_000e18);
        _executeSplit(id, 1.2e18, 0.8e18);
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Executed));
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, -1.2e18);
        assertEq(trading.position(alice, BTC_MARKET, RABBIT).size, -0.8e18);
        // The venues hold exactly the vault's netted positions.
        assertEq(dydxAdapter.position(BTC_MARKET), -1.2e18);
        assertEq(rabbitAdapter.position(BTC_MARKET), -0.8e18);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        // Initial: WETH 20% of 30,000 + BTC 10% of 120,000.
        assertEq(h.initialRequirement, 6000e6 + 12_000e6);
        assertLt(h.baseBalance, 0, "fees are charged to the account");
        assertLt(h.unrealizedPnl, 0, "fills were below the mark for a short");
    }

    function test_nettingOfALongAndAShortAtOneVenue() public {
        _deposit(bob, bob, weth, 10e18);
        _executeOn(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18);
        _executeOn(_submit(bob, bob, BTC_MARKET, -1e18, 59_000e18), DYDX, 1e18);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 1e18);
        assertEq(trading.position(bob, BTC_MARKET, DYDX).size, -1e18);
        assertEq(trading.netPosition(BTC_MARKET, DYDX), 0);
        assertEq(dydxAdapter.position(BTC_MARKET), 0, "the venue sees only the net");
    }

    function test_closingRealizesPnlIntoTheBaseBalance() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18);
        int256 afterOpen = vault.baseBalanceOf(alice);
        btcFeed.setAnswer(66_000e8);
        uint256 id = _submit(alice, alice, BTC_MARKET, -1e18, 60_000e18);
        _executeOn(id, DYDX, 1e18);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0);
        assertFalse(trading.hasOpenPositions(alice));
        // Bought at 60,021, sold at 65,976.9: 5,955.9 less the closing fee.
        assertApproxEqAbs(vault.baseBalanceOf(alice) - afterOpen, 5_955.9e6 - 32.99e6, 0.02e6);
    }

    function test_fundingAccrualMovesEquity() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), RABBIT, 1e18);
        int256 before = vault.accountHealth(alice).equity;
        rabbit.setFundingRate(0, int256(uint256(1e18) / 100 / 1 days)); // longs pay 1% a day
        vm.warp(block.timestamp + 1 days);
        btcFeed.setAnswer(60_000e8);
        ethFeed.setAnswer(ETH_PRICE);
        int256 afterwards = vault.accountHealth(alice).equity;
        assertApproxEqAbs(before - afterwards, 600e6, 2e6);
    }

    function test_limitCrossedCancelsWithTheReason() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 60_000e18);
        vm.recordLogs();
        _executeOn(id, DYDX, 1e18);
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Cancelled));
        assertEq(
            _cancelReason(id),
            abi.encodeWithSelector(IVenueErrors.VenuePriceLimitExceeded.selector, 60_021e18, 60_000e18)
        );
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0, "nothing filled");
    }

    /// @dev A split part larger than the order cancels it as InvalidSplit (two parts of type(uint256).max used to
    ///      overflow the sum, and the order was cancelled with Panic 0x11 as its reason).
    function test_aSplitPartLargerThanTheOrderCancelsItAsInvalidSplit() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        vm.recordLogs();
        _executeSplit(id, type(uint256).max, type(uint256).max);
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Cancelled));
        assertEq(_cancelReason(id), abi.encodeWithSelector(IPrimeVaultErrors.InvalidSplit.selector, id));
    }

    function test_expiredOrderIsCancelledAndAnyoneMayCancelIt() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        vm.warp(block.timestamp + 2 hours);
        btcFeed.setAnswer(60_000e8);
        vm.recordLogs();
        _executeOn(id, DYDX, 1e18);
        assertEq(
            _cancelReason(id),
            abi.encodeWithSelector(IPrimeVaultErrors.OrderExpired.selector, id, block.timestamp - 1 hours)
        );
        uint256 other = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bob, alice, PERMISSION_TRADE)
        );
        vm.prank(bob);
        trading.cancelOrder(other);
        vm.warp(block.timestamp + 2 hours);
        vm.prank(bob);
        trading.cancelOrder(other);
        assertEq(uint8(_status(other)), uint8(ITradingModule.OrderStatus.Cancelled));
    }

    function test_ownerCancelsAnyTime() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        vm.prank(alice);
        trading.cancelOrder(id);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OrderNotOpen.selector, id));
        vm.prank(alice);
        trading.cancelOrder(id);
    }

    function test_tradeThatBreaksTheInitialRequirementIsCancelled() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 5e18, 61_000e18); // 300,000 notional on 30,000 WETH
        vm.recordLogs();
        _executeOn(id, DYDX, 5e18);
        assertEq(bytes4(_cancelReason(id)), IPrimeVaultErrors.InsufficientEquity.selector);
        assertEq(dydxAdapter.position(BTC_MARKET), 0, "the venue fill was unwound");
    }

    function test_reduceOnlyCannotGrow() public {
        vm.prank(alice);
        uint256 id = trading.submitOrder(alice, BTC_MARKET, 1e18, 61_000e18, block.timestamp + 1 hours, true);
        vm.recordLogs();
        _executeOn(id, DYDX, 1e18);
        assertEq(
            _cancelReason(id), abi.encodeWithSelector(IPrimeVaultErrors.ReduceOnlyIncreases.selector, id)
        );
    }

    function test_badSplitsAreCancelled() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        vm.recordLogs();
        _executeSplit(id, 0.5e18, 0.4e18);
        assertEq(_cancelReason(id), abi.encodeWithSelector(IPrimeVaultErrors.InvalidSplit.selector, id));
        uint256 offStep = _submit(alice, alice, BTC_MARKET, 1.00005e18, 61_000e18);
        vm.recordLogs();
        _executeOn(offStep, RABBIT, 1.00005e18);
        assertEq(
            _cancelReason(offStep),
            abi.encodeWithSelector(IVenueErrors.VenueInvalidSize.selector, 1.00005e18, 1e14)
        );
    }

    function test_submissionChecks() public {
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownMarket.selector, 7));
        vm.prank(alice);
        trading.submitOrder(alice, 7, 1e18, 1, block.timestamp + 1, false);
        vm.expectRevert(IPrimeVaultErrors.ZeroAmount.selector);
        vm.prank(alice);
        trading.submitOrder(alice, BTC_MARKET, 0, 1, block.timestamp + 1, false);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bob, alice, PERMISSION_TRADE)
        );
        vm.prank(bob);
        trading.submitOrder(alice, BTC_MARKET, 1e18, 1, block.timestamp + 1, false);
    }

    function test_operatorWithTradePermissionTrades() public {
        vm.prank(alice);
        vault.setOperator(alice, bob, PERMISSION_TRADE);
        uint256 id = _submit(bob, alice, ETH_MARKET, 3e18, 3100e18);
        _executeOn(id, RABBIT, 3e18);
        assertEq(trading.position(alice, ETH_MARKET, RABBIT).size, 3e18);
    }

    function test_onlyExecutorsExecute() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        ITradingModule.Execution[] memory batch = new ITradingModule.Execution[](1);
        batch[0] = ITradingModule.Execution(id, new uint8[](0), new uint256[](0));
        vm.expectRevert();
        vm.prank(alice);
        trading.executeOrders(batch);
        vm.expectRevert(IPrimeVaultErrors.OnlyTradingModuleItself.selector);
        trading.executeOrder(batch[0]);
    }

    function test_accountWithPositionsCannotWithdrawPastTheRequirement() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 2e18, 61_000e18), DYDX, 2e18);
        // Requirement 6,000 (WETH) + 12,000 (BTC); equity about 30,000 less costs.
        vm.expectRevert();
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 5e18, alice);
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 2e18, alice);
    }

    function test_marginMovesKeepReservesWhole() public {
        int256 before = vault.marketState().reserves;
        vm.prank(keeper);
        trading.requestMarginWithdrawal(DYDX, 40_000e6);
        vm.prank(keeper);
        trading.requestMarginWithdrawal(RABBIT, 30_000e6);
        assertEq(vault.marketState().reserves, before, "pending withdrawals still count");
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);
        btcFeed.setAnswer(BTC_PRICE);
        ethFeed.setAnswer(ETH_PRICE);
        vm.prank(keeper);
        assertEq(trading.claimMarginWithdrawals(RABBIT), 30_000e6);
        assertEq(usdc.balanceOf(address(trading)), 0, "the module holds nothing");
    }

    /// @dev What the vault posted at each venue: the fixture's deposits, less what came back to the vault, whenever
    ///      it came back (an instant venue's withdrawal at once, a delayed one's at its claim).
    function test_theMarginPostedAtAVenueIsWhatWasSentLessWhatCameBack() public {
        assertEq(trading.venueMarginSent(DYDX), 100_000e6);
        assertEq(trading.venueMarginSent(RABBIT), 100_000e6);
        vm.prank(keeper);
        trading.requestMarginWithdrawal(RABBIT, 30_000e6);
        assertEq(trading.venueMarginSent(RABBIT), 100_000e6, "asked back, not yet come back");
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);
        btcFeed.setAnswer(BTC_PRICE);
        ethFeed.setAnswer(ETH_PRICE);
        vm.prank(keeper);
        trading.claimMarginWithdrawals(RABBIT);
        assertEq(trading.venueMarginSent(RABBIT), 70_000e6);
        vm.prank(keeper);
        trading.depositMargin(DYDX, 5_000e6);
        assertEq(trading.venueMarginSent(DYDX), 105_000e6);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownVenue.selector, uint256(7)));
        trading.venueMarginSent(7);
    }

    /// @dev Anyone may send the trading module tokens: the next margin move swept them to the vault as margin come back
    ///      from that venue, so its margin posted read lower and its gain higher by the gift, for good.
    function test_tokensSentToTheModuleAreNotMarginComeBackFromAVenue() public {
        usdc.mint(address(trading), 1_000e6);
        uint256 before = usdc.balanceOf(address(vault));
        vm.prank(keeper);
        trading.requestMarginWithdrawal(DYDX, 40_000e6);
        assertEq(trading.venueMarginSent(DYDX), 60_000e6, "only the venue's 40,000 came back from it");
        assertEq(usdc.balanceOf(address(vault)) - before, 41_000e6, "the gift goes to the vault all the same");
        assertEq(usdc.balanceOf(address(trading)), 0, "the module holds nothing");
    }

    function test_marketListingRefusesBadParametersByName() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.InvalidMarginFractions.selector, 1000, 0));
        trading.addMarket("SOL-USD", address(ethFeed), STALENESS, 1000, 0);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.InvalidMarginFractions.selector, 500, 1000));
        trading.addMarket("SOL-USD", address(ethFeed), STALENESS, 500, 1000);
        // 5.5%: a fill at the band's edge with the largest fee would take all of it.
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.InvalidMarginFractions.selector, 550, 300));
        trading.addMarket("SOL-USD", address(ethFeed), STALENESS, 550, 300);
        vm.expectRevert(IPrimeVaultErrors.InvalidStaleness.selector);
        trading.addMarket("SOL-USD", address(ethFeed), 0, 1000, 500);
        vm.expectRevert(IPrimeVaultErrors.ZeroAddress.selector);
        trading.addMarket("SOL-USD", address(0), STALENESS, 1000, 500);
        address nothing = makeAddr("nothing");
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAContract.selector, nothing));
        trading.addMarket("SOL-USD", nothing, STALENESS, 1000, 500);
        vm.stopPrank();
    }

    /// @dev An adapter address with no code, or an adapter built for another trading module, is refused by name.
    function test_venueListingRefusesAnAdapterItCannotUse() public {
        address nothing = makeAddr("nothing");
        uint32[] memory pairs = new uint32[](1);
        DydxAdapter elsewhere = new DydxAdapter(makeAddr("another module"), dydx, usdc, pairs);
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAContract.selector, nothing));
        trading.addVenue(IVenueAdapter(nothing));
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.AdapterNotForThisModule.selector, address(elsewhere))
        );
        trading.addVenue(elsewhere);
        vm.stopPrank();
    }

    /// @dev A mark is a WAD: a feed with more than 18 decimals would make every mark of the market underflow,
    ///      and with it the health check of every account trading it.
    function test_marketListingRefusesAFeedWithMoreThan18Decimals() public {
        MockPriceFeed wide = new MockPriceFeed("SOL / USD", 24, 150e24, address(this));
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.UnsupportedFeedDecimals.selector, address(wide), 24)
        );
        vm.prank(admin);
        trading.addMarket("SOL-USD", address(wide), STALENESS, 1000, 500);
    }
}
