// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {ISessionKeys} from "../../../contracts/interfaces/ISessionKeys.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {LeakedKeyHandler} from "./LeakedKeyHandler.sol";
import {SessionFixture} from "./SessionFixture.sol";

/// @notice Whatever a leaked session key signs or sends, collateral does not move, its notional stays within the
///         scope, its orders end by its expiry, and none stays open after revocation.
contract SessionKeysInvariantsTest is SessionFixture {
    LeakedKeyHandler internal handler;
    ISessionKeys.Scope internal scope;
    uint256 internal constant RELAYER_FUNDS = 50e6; // what alice puts up for relayers of the key's signed orders

    function setUp() public override {
        super.setUp();
        _grant();
        scope = sessions.session(bot).scope;
        MockPriceFeed[] memory feeds = new MockPriceFeed[](2);
        (feeds[0], feeds[1]) = (ethFeed, btcFeed);
        handler = new LeakedKeyHandler(sessions, vault, botKey, alice, address(weth), feeds);
        _fund(alice, usdc, RELAYER_FUNDS);
        vm.startPrank(alice);
        usdc.approve(address(sessions), RELAYER_FUNDS);
        sessions.fundRelayer(bot, RELAYER_FUNDS);
        vm.stopPrank();
        targetContract(address(handler));
        // The handler refreshes the feeds when it moves time: their staleness is not what is tested.
        ethFeed.transferOwnership(address(handler));
        btcFeed.transferOwnership(address(handler));
    }

    function invariant_collateralNeverMoves() public view {
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 10e18);
        assertEq(weth.balanceOf(bot), 0);
        assertGe(vault.baseBalanceOf(alice), 0, "nothing borrowed");
    }

    function invariant_notionalWithinTheScope() public view {
        assertLe(handler.ghostLargestOrder(), scope.maxNotionalPerOrder);
        assertLe(handler.ghostNotional(), scope.maxNotionalTotal);
        assertEq(sessions.session(bot).notionalUsed, handler.ghostNotional());
    }

    /// @dev The most a leaked key can give away is the relayer funds the owner put up, and they are all accounted
    ///      for: paid to the accomplice, or still held (returned to alice when she revokes).
    function invariant_relayerPayoutsStayWithinTheFunds() public view {
        assertLe(handler.ghostRelayerPaid(), RELAYER_FUNDS);
        assertEq(usdc.balanceOf(handler.accomplice()), handler.ghostRelayerPaid());
        assertEq(
            sessions.relayerFunds(bot) + handler.ghostRelayerPaid() + usdc.balanceOf(alice), RELAYER_FUNDS
        );
        assertEq(usdc.balanceOf(address(sessions)), sessions.relayerFunds(bot));
    }

    function invariant_ordersEndByTheExpiry() public view {
        assertLe(handler.ghostLatestDeadline(), scope.expiry);
    }

    function invariant_nothingOpenAfterRevocation() public view {
        if (!handler.revoked()) return;
        assertEq(handler.acceptedCount(), handler.revokedAt(), "no order got in after revocation");
        for (uint256 i; i < handler.acceptedCount(); ++i) {
            assertTrue(trading.order(handler.accepted(i)).status != ITradingModule.OrderStatus.Open);
        }
    }
}
