// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Vm} from "forge-std/Vm.sol";

import {TradingFixture} from "./utils/TradingFixture.sol";
import {IPrimeVault, PERMISSION_TRADE, PAUSE_TRADE} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";
import {ITradingModule} from "../../contracts/interfaces/ITradingModule.sol";

/// @notice The review's order findings: risk and reduce-only decided per (market, venue) slot, orders that
///         die with their permission or their owner's cancel-all, and no execution while trading is paused.
contract OrderSafetyTest is TradingFixture {
    address internal bot = makeAddr("bot");

    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18); // 30,000 of WETH
    }

    function _executeAndReason(uint256 id, uint8 venue, uint256 size) internal returns (bytes memory reason) {
        vm.recordLogs();
        _executeOn(id, venue, size);
        reason = _cancelReason(id);
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

    /// @dev Finding (medium): reduce-only was decided on the net size across venues, so a reduce-only sell
    ///      routed to a venue where the account holds nothing opened a new short there.
    function test_reduceOnlyCannotOpenAPositionAtAnotherVenue() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18);
        vm.prank(alice);
        uint256 id = trading.submitOrder(alice, BTC_MARKET, -1e18, 59_000e18, block.timestamp + 1 hours, true);
        bytes memory reason = _executeAndReason(id, RABBIT, 1e18);
        assertEq(reason, abi.encodeWithSelector(IPrimeVaultErrors.ReduceOnlyIncreases.selector, id));
        assertEq(trading.position(alice, BTC_MARKET, RABBIT).size, 0, "no short opened at RabbitX");
        // Where the position is held, the same order closes it.
        vm.prank(alice);
        id = trading.submitOrder(alice, BTC_MARKET, -1e18, 59_000e18, block.timestamp + 1 hours, true);
        _executeOn(id, DYDX, 1e18);
        assertEq(uint8(trading.order(id).status), uint8(ITradingModule.OrderStatus.Executed));
        assertFalse(trading.hasOpenPositions(alice));
    }

    /// @dev Finding (high, a newcomer's run): closing a short to exactly zero counted as flipping it (0 XOR a
    ///      negative size is negative), so a reduce-only buy that closed a short was refused, and so was a plain
    ///      close by an account below its initial requirement. Closing a long was never affected.
    function test_aShortClosesToZeroReduceOnly() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, -1e18, 59_000e18), DYDX, 1e18);
        vm.prank(alice);
        uint256 id = trading.submitOrder(alice, BTC_MARKET, 1e18, 61_000e18, block.timestamp + 1 hours, true);
        _executeOn(id, DYDX, 1e18);
        assertEq(uint8(trading.order(id).status), uint8(ITradingModule.OrderStatus.Executed));
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0);
        assertFalse(trading.hasOpenPositions(alice));
    }

    function test_aShortBelowItsInitialRequirementClosesToZero() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, -2.4e18, 59_000e18), DYDX, 2.4e18);
        _executeOn(_submit(alice, alice, BTC_MARKET, -0.1e18, 59_000e18), RABBIT, 0.1e18);
        btcFeed.setAnswer(64_500e8); // the shorts lose about 11,000: below initial, above maintenance
        uint256 id = _submit(alice, alice, BTC_MARKET, 0.1e18, 66_000e18);
        _executeOn(id, RABBIT, 0.1e18);
        assertEq(
            uint8(trading.order(id).status), uint8(ITradingModule.OrderStatus.Executed), "the close executes"
        );
        assertEq(trading.position(alice, BTC_MARKET, RABBIT).size, 0);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertLt(
            h.equity,
            int256(h.initialRequirement),
            "below initial after the close too: a close is not held to it"
        );
        assertFalse(h.liquidatable);
    }

    /// @dev Finding (medium): a closing order split across venues opened an offsetting leg elsewhere with no
    ///      initial-margin check, because the net size shrank. Each leg is now judged on its own slot.
    function test_splitCloseThatOpensALegElsewhereNeedsInitialMargin() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
        btcFeed.setAnswer(57_000e8); // equity about 20,800: below initial 23,100, above maintenance 13,050
        assertFalse(vault.isLiquidatable(alice));
        uint256 id = _submit(alice, alice, BTC_MARKET, -3e18, 55_000e18);
        vm.recordLogs();
        _executeSplit(id, 1.5e18, 1.5e18); // dYdX 3 -> 1.5 long, RabbitX 0 -> 1.5 short: same notional
        bytes memory reason = _cancelReason(id);
        assertEq(bytes4(reason), IPrimeVaultErrors.InsufficientEquity.selector);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 3e18, "nothing executed");
        assertEq(trading.position(alice, BTC_MARKET, RABBIT).size, 0);
    }

    /// @dev Finding (low): pausing trading did not stop pending orders from executing.
    function test_pausedTradingExecutesNothingAndKeepsOrdersOpen() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        vm.prank(guardian);
        vault.setPaused(PAUSE_TRADE);
        ITradingModule.Execution[] memory batch = new ITradingModule.Execution[](1);
        batch[0] = ITradingModule.Execution(id, new uint8[](1), new uint256[](1));
        (batch[0].venues[0], batch[0].sizes[0]) = (DYDX, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.Paused.selector, PAUSE_TRADE));
        vm.prank(keeper);
        trading.executeOrders(batch);
        assertEq(uint8(trading.order(id).status), uint8(ITradingModule.OrderStatus.Open));

        vm.prank(guardian);
        vault.setPaused(0);
        vm.prank(keeper);
        trading.executeOrders(batch);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 1e18);
    }

    /// @dev Finding (low): revoking an operator left its pending orders executable.
    function test_revokingAnOperatorKillsItsPendingOrders() public {
        vm.prank(alice);
        vault.setOperator(alice, bot, PERMISSION_TRADE);
        uint256 byBot = _submit(bot, alice, BTC_MARKET, 1e18, 61_000e18);
        uint256 byOwner = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        assertEq(trading.order(byBot).operator, bot);
        assertEq(trading.order(byOwner).operator, address(0));
        vm.prank(alice);
        vault.setOperator(alice, bot, 0);

        bytes memory reason = _executeAndReason(byBot, DYDX, 1e18);
        assertEq(reason, abi.encodeWithSelector(IPrimeVaultErrors.OrderAuthorityRevoked.selector, byBot));
        _executeOn(byOwner, DYDX, 1e18);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 1e18, "the owner's own order still runs");
    }

    function test_ownerCancelsEveryPendingOrderAtOnce() public {
        uint256 first = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        uint256 second = _submit(alice, alice, ETH_MARKET, 1e18, 3100e18);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bob, alice, 0));
        vm.prank(bob);
        trading.cancelAllOrders(alice);

        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.AllOrdersCancelled(alice, 1);
        vm.prank(alice);
        trading.cancelAllOrders(alice);
        assertEq(
            _executeAndReason(first, DYDX, 1e18),
            abi.encodeWithSelector(IPrimeVaultErrors.OrderAuthorityRevoked.selector, first)
        );
        assertEq(
            _executeAndReason(second, DYDX, 1e18),
            abi.encodeWithSelector(IPrimeVaultErrors.OrderAuthorityRevoked.selector, second)
        );
        uint256 later = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        _executeOn(later, DYDX, 1e18);
        assertEq(uint8(trading.order(later).status), uint8(ITradingModule.OrderStatus.Executed));
    }
}
