// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {ISessionKeys} from "../../../contracts/interfaces/ISessionKeys.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {SessionKeys} from "../../../contracts/periphery/SessionKeys.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";

/// @notice A leaked session key doing whatever it likes: orders of any size, market, sub-account and deadline
///         through the session contract, and direct withdrawals, transfers and orders on the core; and, now and
///         then, the owner revoking it or time passing. Ghost variables record what got through.
contract LeakedKeyHandler is Test {
    SessionKeys internal immutable SESSIONS;
    IPrimeVault internal immutable VAULT;
    ITradingModule internal immutable TRADING;
    address internal immutable KEY;
    address internal immutable OWNER;
    address internal immutable ASSET;
    MockPriceFeed[] internal feeds;

    uint256[] public accepted; // order ids the key got in
    uint256 public ghostNotional; // sum of their notionals
    uint256 public ghostLargestOrder;
    uint256 public ghostLatestDeadline;
    bool public revoked;
    uint256 public revokedAt; // how many orders had been accepted at revocation
    uint256 public ghostRelayerPaid; // base paid out to relayers of the key's signed orders
    uint256 internal immutable KEY_PRIVATE_KEY; // leaked too: the key also signs orders for a relayer it picks
    uint256 internal nextNonce;
    address internal constant ACCOMPLICE = address(0xACC0); // the relayer a leaked key pays

    constructor(
        SessionKeys sessions,
        IPrimeVault vault,
        uint256 keyPrivateKey,
        address owner,
        address asset,
        MockPriceFeed[] memory feeds_
    ) {
        feeds = feeds_;
        SESSIONS = sessions;
        VAULT = vault;
        TRADING = sessions.TRADING();
        KEY = vm.addr(keyPrivateKey);
        KEY_PRIVATE_KEY = keyPrivateKey;
        OWNER = owner;
        ASSET = asset;
    }

    function accomplice() external pure returns (address) {
        return ACCOMPLICE;
    }

    /// @dev The key signs an order with any fee and its accomplice relays it.
    function relaySigned(uint8 market, int256 size, uint256 limit, uint256 fee) external {
        size = bound(size, -100e18, 100e18);
        limit = bound(limit, 1, 10_000e18);
        fee = bound(fee, 0, 20e6);
        ISessionKeys.SignedOrder memory order = ISessionKeys.SignedOrder({
            key: KEY,
            subAccount: 0,
            market: market % 3,
            size: size,
            limitPrice: limit,
            deadline: block.timestamp + 1 hours,
            reduceOnly: false,
            nonce: nextNonce++,
            relayerFee: fee
        });
        bytes32 structHash = keccak256(
            abi.encode(
                SESSIONS.SIGNED_ORDER_TYPEHASH(),
                order.key,
                order.subAccount,
                order.market,
                order.size,
                order.limitPrice,
                order.deadline,
                order.reduceOnly,
                order.nonce,
                order.relayerFee
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", SESSIONS.domainSeparator(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(KEY_PRIVATE_KEY, digest);
        vm.prank(ACCOMPLICE);
        try SESSIONS.submitSigned(order, abi.encodePacked(r, s, v)) returns (uint256 id) {
            accepted.push(id);
            uint256 notional = SESSIONS.session(KEY).notionalUsed - ghostNotional;
            ghostNotional += notional;
            if (notional > ghostLargestOrder) ghostLargestOrder = notional;
            uint256 deadline = TRADING.order(id).deadline;
            if (deadline > ghostLatestDeadline) ghostLatestDeadline = deadline;
            ghostRelayerPaid += fee;
        } catch {}
    }

    function acceptedCount() external view returns (uint256) {
        return accepted.length;
    }

    function submit(uint8 subAccount, uint8 market, int256 size, uint256 limit, uint256 ttl, bool reduceOnly)
        external
    {
        size = bound(size, -100e18, 100e18);
        limit = bound(limit, 1, 10_000e18);
        ttl = bound(ttl, 1, 30 days);
        vm.prank(KEY);
        try SESSIONS.submit(
            subAccount % 4, market % 3, size, limit, block.timestamp + ttl, reduceOnly
        ) returns (
            uint256 id
        ) {
            accepted.push(id);
            ITradingModule.Order memory o = TRADING.order(id);
            uint256 notional = SESSIONS.session(KEY).notionalUsed - ghostNotional;
            ghostNotional += notional;
            if (notional > ghostLargestOrder) ghostLargestOrder = notional;
            if (o.deadline > ghostLatestDeadline) ghostLatestDeadline = o.deadline;
        } catch {}
    }

    function withdraw(uint256 amount, uint8 subAccount) external {
        amount = bound(amount, 1, 100e18);
        vm.prank(KEY);
        try VAULT.withdraw(address(uint160(OWNER) ^ (subAccount % 4)), ASSET, amount, KEY) {} catch {}
    }

    function transfer(uint256 amount) external {
        amount = bound(amount, 1, 100e18);
        vm.prank(KEY);
        try VAULT.transfer(OWNER, address(uint160(OWNER) ^ 1), ASSET, amount) {} catch {}
    }

    function submitDirectly(int256 size) external {
        size = bound(size, -10e18, 10e18);
        vm.prank(KEY);
        try TRADING.submitOrder(OWNER, 1, size, 3_000e18, block.timestamp + 1 hours, false) {} catch {}
    }

    function revoke() external {
        if (revoked) return;
        vm.prank(OWNER);
        SESSIONS.revoke(KEY);
        revoked = true;
        revokedAt = accepted.length;
    }

    /// @dev Time passes; the feeds answer again, so that the key's orders are judged by the scope, not refused
    ///      for a stale price.
    function passTime(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 6 hours));
        for (uint256 i; i < feeds.length; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            feeds[i].setAnswer(answer);
        }
    }
}
