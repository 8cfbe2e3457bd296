// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {ISessionKeys} from "../../../contracts/interfaces/ISessionKeys.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {PERMISSION_TRADE} from "../../../contracts/interfaces/IPrimeVault.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {SessionFixture} from "./SessionFixture.sol";

/// @notice A bot trades within its scope, is refused outside it, and dies with its orders at revocation or expiry.
contract SessionKeysTest is SessionFixture {
    function test_theBotTradesWithinItsScope() public {
        _grant();
        uint256 id = _botBuys(1e18, 3_100e18);
        ITradingModule.Order memory o = trading.order(id);
        assertEq(o.account, alice);
        assertEq(o.operator, address(sessions), "placed by the session contract as operator");
        assertEq(o.deadline, block.timestamp + 1 hours);
        _executeOn(id, DYDX, 1e18);
        (, ITradingModule.Position[] memory held) = trading.positionsOf(alice);
        assertEq(held.length, 1);
        assertEq(sessions.session(bot).notionalUsed, 3_100e18, "|size| x the limit, above the mark");
    }

    function test_outsideTheScopeIsRefused() public {
        _grant();
        vm.startPrank(bot);
        vm.expectRevert(
            abi.encodeWithSelector(ISessionKeys.SessionMarketNotInScope.selector, bot, BTC_MARKET)
        );
        sessions.submit(0, BTC_MARKET, 0.1e18, 61_000e18, block.timestamp + 1 hours, false);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionSubAccountNotInScope.selector, bot, 1));
        sessions.submit(1, ETH_MARKET, 1e18, 3_100e18, block.timestamp + 1 hours, false);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISessionKeys.SessionOrderNotionalTooLarge.selector, bot, 12_400e18, 10_000e18
            )
        );
        sessions.submit(0, ETH_MARKET, 4e18, 3_100e18, block.timestamp + 1 hours, false);
        // A sell with a tiny limit is valued at the oracle price, not its limit.
        vm.expectRevert(
            abi.encodeWithSelector(
                ISessionKeys.SessionOrderNotionalTooLarge.selector, bot, 12_000e18, 10_000e18
            )
        );
        sessions.submit(0, ETH_MARKET, -4e18, 1e18, block.timestamp + 1 hours, false);
        sessions.submit(0, ETH_MARKET, 3e18, 3_100e18, block.timestamp + 1 hours, false);
        sessions.submit(0, ETH_MARKET, 3e18, 3_100e18, block.timestamp + 1 hours, false);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISessionKeys.SessionTotalNotionalExceeded.selector, bot, 27_900e18, 25_000e18
            )
        );
        sessions.submit(0, ETH_MARKET, 3e18, 3_100e18, block.timestamp + 1 hours, false);
        vm.stopPrank();
    }

    function test_theKeyCannotMoveCollateral() public {
        _grant();
        vm.startPrank(bot);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bot, alice, 1));
        vault.withdraw(alice, address(weth), 1e18, bot);
        vm.expectRevert();
        vault.transfer(alice, address(uint160(alice) ^ 1), address(weth), 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bot, alice, 4));
        trading.submitOrder(alice, ETH_MARKET, 1e18, 3_100e18, block.timestamp + 1 hours, false);
        vm.stopPrank();
    }

    function test_revocationCancelsTheOpenOrders() public {
        _grant();
        uint256 first = _botBuys(1e18, 3_100e18);
        uint256 second = _botBuys(1e18, 3_100e18);
        _executeOn(first, DYDX, 1e18);
        vm.prank(alice);
        sessions.revoke(bot);
        assertEq(uint8(trading.order(second).status), uint8(ITradingModule.OrderStatus.Cancelled));
        assertEq(uint8(trading.order(first).status), uint8(ITradingModule.OrderStatus.Executed));
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionIsRevoked.selector, bot));
        _botBuys(1e18, 3_100e18);
    }

    /// @dev An owner who first pulls the session contract's permission (the quickest reaction to a leak) can
    ///      still revoke the key, and its orders die for good: they would run again once the permission came
    ///      back, for a new key, and the leaked key would trade again.
    function test_revocationWorksAfterThePermissionWasPulled() public {
        _grant();
        uint256 open = _botBuys(1e18, 3_100e18);
        vm.startPrank(alice);
        vault.setOperator(alice, address(sessions), 0);
        sessions.revoke(bot);
        vault.setOperator(alice, address(sessions), PERMISSION_TRADE);
        vm.stopPrank();
        assertTrue(sessions.session(bot).revoked);
        assertEq(uint8(trading.order(open).status), uint8(ITradingModule.OrderStatus.Cancelled));
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionIsRevoked.selector, bot));
        vm.prank(bot);
        sessions.submit(0, ETH_MARKET, 1e18, 3_100e18, block.timestamp + 1 hours, false);
    }

    /// @dev Anyone may fund a key, and a token may refuse to pay the owner (a blacklist, a pause): the revocation
    ///      of a leaked key went through that refund and reverted with it, so the key kept trading. Now the funds
    ///      stay for a later withdrawal and the key dies.
    function test_aRefusedRefundDoesNotStopTheRevocation() public {
        _grant();
        uint256 open = _botBuys(1e18, 3_100e18);
        address stranger = makeAddr("stranger");
        _fund(stranger, usdc, 1);
        vm.startPrank(stranger);
        usdc.approve(address(sessions), 1);
        sessions.fundRelayer(bot, 1);
        vm.stopPrank();
        vm.mockCallRevert(address(usdc), abi.encodeCall(IERC20.transfer, (alice, 1)), "blacklisted");
        vm.prank(alice);
        sessions.revoke(bot);
        assertTrue(sessions.session(bot).revoked);
        assertEq(uint8(trading.order(open).status), uint8(ITradingModule.OrderStatus.Cancelled));
        assertEq(sessions.relayerFunds(bot), 1, "kept for a withdrawal");
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionIsRevoked.selector, bot));
        sessions.fundRelayer(bot, 1); // nothing more for a revoked key
        vm.stopPrank();
        vm.clearMockedCalls();
        vm.prank(alice);
        sessions.withdrawRelayerFunds(bot, 1);
        assertEq(usdc.balanceOf(alice), 1);
    }

    /// @dev Orders voided by the owner's `cancelAllOrders` or past their deadline stay open until someone cancels
    ///      them, which the key cannot: they held the key's sixteen places, so it could not trade.
    function test_deadOrdersDoNotHoldTheKeysPlaces() public {
        ISessionKeys.Scope memory s = _scope();
        s.maxNotionalPerOrder = 1_000e18;
        s.maxNotionalTotal = 100_000e18;
        bytes memory accepted = _accept(botKey, bot, alice);
        vm.prank(alice);
        sessions.grant(bot, s, accepted);
        uint256[] memory voided = new uint256[](16);
        for (uint256 i; i < 16; ++i) {
            voided[i] = _botBuys(0.1e18, 3_000e18);
        }
        vm.prank(alice);
        trading.cancelAllOrders(alice);
        assertEq(uint8(trading.order(voided[0]).status), uint8(ITradingModule.OrderStatus.Open), "still open");
        uint256 expiring = _botBuys(0.1e18, 3_000e18);
        for (uint256 i; i < 15; ++i) {
            vm.prank(bot);
            sessions.submit(0, ETH_MARKET, 0.1e18, 3_000e18, block.timestamp + 1 hours, false);
        }
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionTooManyOpenOrders.selector, bot, 16));
        _botBuys(0.1e18, 3_000e18);
        for (uint256 i; i < 16; ++i) {
            assertEq(uint8(trading.order(voided[i]).status), uint8(ITradingModule.OrderStatus.Cancelled));
        }
        vm.warp(block.timestamp + 1 hours + 1);
        _setEthPrice(ETH_PRICE);
        _botBuys(0.1e18, 3_000e18); // every one of the sixteen is past its deadline
        assertEq(uint8(trading.order(expiring).status), uint8(ITradingModule.OrderStatus.Cancelled));
    }

    function test_onlyTheOwnerRevokes() public {
        _grant();
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNotOwner.selector, bot, alice));
        vm.prank(bot);
        sessions.revoke(bot);
    }

    function test_ordersDieAtTheExpiry() public {
        _grant();
        vm.prank(bot);
        uint256 id = sessions.submit(0, ETH_MARKET, 1e18, 3_100e18, block.timestamp + 7 days, false);
        assertEq(trading.order(id).deadline, block.timestamp + 1 days, "clamped to the session's expiry");
        vm.warp(block.timestamp + 1 days);
        _setEthPrice(ETH_PRICE);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionExpired.selector, bot, block.timestamp));
        _botBuys(1e18, 3_100e18);
    }

    function test_aSignedOrderIsRelayedOnceByAnyone() public {
        _grant();
        ISessionKeys.SignedOrder memory order = ISessionKeys.SignedOrder({
            key: bot,
            subAccount: 0,
            market: ETH_MARKET,
            size: 1e18,
            limitPrice: 3_100e18,
            deadline: block.timestamp + 1 hours,
            reduceOnly: false,
            nonce: 7,
            relayerFee: 0
        });
        bytes memory signature = _sign(order);
        vm.prank(makeAddr("relayer"));
        uint256 id = sessions.submitSigned(order, signature);
        assertEq(trading.order(id).account, alice);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNonceUsed.selector, bot, 7));
        sessions.submitSigned(order, signature);
        order.nonce = 3;
        signature = _sign(order);
        vm.prank(bot);
        sessions.cancelNonces(5);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNonceUsed.selector, bot, 3));
        sessions.submitSigned(order, signature);
        order.nonce = 9;
        signature = _sign(order);
        order.size = 2e18; // tampered after signing
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionBadSignature.selector, bot));
        sessions.submitSigned(order, signature);
    }

    function _signedOrder(uint256 nonce, uint256 relayerFee)
        internal
        view
        returns (ISessionKeys.SignedOrder memory)
    {
        return ISessionKeys.SignedOrder({
            key: bot,
            subAccount: 0,
            market: ETH_MARKET,
            size: 1e18,
            limitPrice: 3_100e18,
            deadline: block.timestamp + 1 hours,
            reduceOnly: false,
            nonce: nonce,
            relayerFee: relayerFee
        });
    }

    function _fundRelayer(uint256 amount) internal {
        _fund(alice, usdc, amount);
        vm.startPrank(alice);
        usdc.approve(address(sessions), amount);
        sessions.fundRelayer(bot, amount);
        vm.stopPrank();
    }

    function test_theRelayerIsPaidTheSignedFeeFromTheKeysFunds() public {
        _grant();
        _fundRelayer(10e6);
        address relayer = makeAddr("relayer");
        ISessionKeys.SignedOrder memory order = _signedOrder(1, 2e6);
        bytes memory signature = _sign(order);
        vm.expectEmit(address(sessions));
        emit ISessionKeys.RelayerPaid(bot, relayer, trading.orderCount(), 2e6);
        vm.prank(relayer);
        sessions.submitSigned(order, signature);
        assertEq(usdc.balanceOf(relayer), 2e6);
        assertEq(sessions.relayerFunds(bot), 8e6);
        assertEq(usdc.balanceOf(address(sessions)), 8e6);
    }

    function test_aFeeAboveTheFundsIsRefusedAndUsesNothing() public {
        _grant();
        _fundRelayer(1e6);
        ISessionKeys.SignedOrder memory order = _signedOrder(1, 2e6);
        bytes memory signature = _sign(order);
        uint256 orders = trading.orderCount();
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionRelayerFundsShort.selector, bot, 1e6, 2e6));
        sessions.submitSigned(order, signature);
        assertEq(trading.orderCount(), orders);
        assertEq(sessions.relayerFunds(bot), 1e6);
        order.relayerFee = 1e6; // a relayer raising or lowering the fee breaks the signature
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionBadSignature.selector, bot));
        sessions.submitSigned(order, signature);
    }

    function test_fundsGoBackToTheOwnerOnlyOnWithdrawalOrRevocation() public {
        _grant();
        _fundRelayer(5e6);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNotOwner.selector, bot, alice));
        vm.prank(bot);
        sessions.withdrawRelayerFunds(bot, 1e6);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionRelayerFundsShort.selector, bot, 5e6, 6e6));
        vm.prank(alice);
        sessions.withdrawRelayerFunds(bot, 6e6);
        vm.prank(alice);
        sessions.withdrawRelayerFunds(bot, 1e6);
        assertEq(usdc.balanceOf(alice), 1e6);
        vm.prank(alice);
        sessions.revoke(bot);
        assertEq(usdc.balanceOf(alice), 5e6);
        assertEq(sessions.relayerFunds(bot), 0);
        assertEq(usdc.balanceOf(address(sessions)), 0);
    }

    /// @dev An amount no one holds is the token's refusal: the key's funds used to be added to first, so a second
    ///      funding of type(uint256).max overflowed them (Panic 0x11).
    function test_fundingMoreThanTheCallerHoldsIsTheTokensRefusal() public {
        _grant();
        _fundRelayer(5e6);
        vm.prank(alice);
        usdc.approve(address(sessions), type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, alice, 0, type(uint256).max
            )
        );
        vm.prank(alice);
        sessions.fundRelayer(bot, type(uint256).max);
        assertEq(sessions.relayerFunds(bot), 5e6);
    }

    /// @dev A size and price whose product passes 2^256 is a notional above the cap, refused by name (the
    ///      mulDiv used to overflow: Panic 0x11).
    function test_aNotionalPastAnyCapIsRefusedByName() public {
        _grant();
        vm.expectRevert(
            abi.encodeWithSelector(
                ISessionKeys.SessionOrderNotionalTooLarge.selector, bot, type(uint256).max, 10_000e18
            )
        );
        vm.prank(bot);
        sessions.submit(0, ETH_MARKET, type(int256).max, 3100e18, block.timestamp + 1 hours, false);
    }

    function test_fundingAnUnknownKeyIsRefused() public {
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionUnknown.selector, bot));
        sessions.fundRelayer(bot, 1e6);
    }

    function _sign(ISessionKeys.SignedOrder memory o) internal view returns (bytes memory) {
        bytes32 typehash = keccak256(
            "SignedOrder(address key,uint8 subAccount,uint8 market,int256 size,uint256 limitPrice,uint256 deadline,"
            "bool reduceOnly,uint256 nonce,uint256 relayerFee)"
        );
        bytes32 structHash = keccak256(
            abi.encode(
                typehash,
                o.key,
                o.subAccount,
                o.market,
                o.size,
                o.limitPrice,
                o.deadline,
                o.reduceOnly,
                o.nonce,
                o.relayerFee
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", sessions.domainSeparator(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(botKey, digest);
        return abi.encodePacked(r, s, v);
    }
}
