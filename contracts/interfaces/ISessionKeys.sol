// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ISessionKeys
/// @notice Scoped session keys for trading bots (after dYdX's authenticators, GMX's subaccounts and Hyperliquid's
///         agent wallets): an owner grants a key the right to submit orders for some of its sub-accounts, in some
///         markets, up to a notional per order and in total, until an expiry. The key never withdraws or
///         transfers: the session contract holds only PERMISSION_TRADE on those sub-accounts and has no code that
///         moves collateral.
/// @dev Caveats. The owner must make this contract an operator with PERMISSION_TRADE of each sub-account in a
///      scope (`IPrimeVault.setOperator`); removing that permission kills every order it placed (the trading
///      module's operator rule). Notional is |size| x the larger of the order's limit price and the market's
///      oracle price at submission, so a sell cannot understate it then; the caps bound notional at submission,
///      and a sell that executes after the price has risen fills at more (as a buy's position grows in value
///      after its fill). The total counts every order submitted, filled or not: one the trading module cancels
///      at execution (the account could not carry it) still used its share, and a key at its total cannot submit
///      even a reduce-only order; the owner grants another key. A key's orders live at most until its
///      expiry (their deadlines are clamped to it), and revoking the key cancels the ones still open; one already
///      routed to an asynchronous venue (its children placed) finishes or expires with its children. A key
///      can still lose money within its scope by trading badly: the caps bound how much it can trade, not PnL.
interface ISessionKeys {
    /// @notice What a key may do: sub-accounts as a bitmap of the owner's sub-account ids, markets as a bitmap
    ///         of market ids, notional caps in USD WAD, expiry as a unix time.
    struct Scope {
        uint256 subAccounts;
        uint256 markets;
        uint128 maxNotionalPerOrder;
        uint128 maxNotionalTotal;
        uint64 expiry;
    }

    /// @notice A key's grant and how much of its total it has used.
    struct Session {
        address owner;
        Scope scope;
        uint128 notionalUsed;
        bool revoked;
    }

    /// @notice An order a key signed for a relayer to submit (EIP-712).
    struct SignedOrder {
        address key;
        uint8 subAccount;
        uint8 market;
        int256 size;
        uint256 limitPrice;
        uint256 deadline;
        bool reduceOnly;
        uint256 nonce;
        uint256 relayerFee; // base units paid to whoever relays it, from the key's relayer funds (0: none)
    }

    /// @notice `owner` granted `key` the right to trade within `scope` (the key accepted it by its signature).
    event SessionGranted(address indexed owner, address indexed key, Scope scope);
    /// @notice `owner` revoked `key`; `ordersCancelled` of its orders were still open and are cancelled.
    event SessionRevoked(address indexed owner, address indexed key, uint256 ordersCancelled);
    /// @notice `key` submitted order `orderId` for `account`, counting `notional` (USD WAD) against its caps.
    event SessionOrder(
        address indexed key, uint256 indexed orderId, address indexed account, uint256 notional
    );
    /// @notice `key` cancelled every signed order with a nonce below `below`.
    event NoncesCancelled(address indexed key, uint256 below);
    /// @notice `from` set `amount` (base units) aside to pay the relayers of `key`'s signed orders.
    event RelayerFunded(address indexed key, address indexed from, uint256 amount);
    /// @notice `amount` (base units) of `key`'s relayer funds went back to `owner`.
    event RelayerFundsReturned(address indexed key, address indexed owner, uint256 amount);
    /// @notice `relayer` was paid `fee` (base units) from `key`'s relayer funds for submitting order `orderId`.
    event RelayerPaid(address indexed key, address indexed relayer, uint256 orderId, uint256 fee);

    /// @notice No session was ever granted to `key`.
    error SessionUnknown(address key);
    /// @notice Only the session's `owner` may do this; `caller` is not it.
    error SessionNotOwner(address caller, address owner);
    /// @notice `key` holds a session already (revoked ones included): a key is granted once, ever.
    error SessionAlreadyGranted(address key);
    /// @notice `key`'s session ended at `expiry` (unix time).
    error SessionExpired(address key, uint256 expiry);
    /// @notice `key`'s session was revoked.
    error SessionIsRevoked(address key);
    /// @notice `subAccount` is not in `key`'s scope.
    error SessionSubAccountNotInScope(address key, uint8 subAccount);
    /// @notice `market` is not in `key`'s scope (or is no market at all; then `key` is zero).
    error SessionMarketNotInScope(address key, uint8 market);
    /// @notice The order's `notional` (USD WAD) is above `key`'s cap per order.
    error SessionOrderNotionalTooLarge(address key, uint256 notional, uint256 cap);
    /// @notice The order would bring `key`'s total notional to `used`, above its cap.
    error SessionTotalNotionalExceeded(address key, uint256 used, uint256 cap);
    /// @notice `key` has `max` orders open already.
    error SessionTooManyOpenOrders(address key, uint256 max);
    /// @notice The signed order was not signed by `key`.
    error SessionBadSignature(address key);
    /// @notice `key`'s `nonce` was used or cancelled.
    error SessionNonceUsed(address key, uint256 nonce);
    /// @notice The signed order's `deadline` (unix time) has passed.
    error SessionSignatureExpired(uint256 deadline);
    /// @notice A grant with no key, no sub-account, no market or an expiry that has passed.
    error SessionBadScope();
    /// @notice `key` did not sign its acceptance of `owner`'s grant.
    error SessionNotAccepted(address key, address owner);
    /// @notice `key`'s relayer funds hold `available` (base units), less than the `needed`.
    error SessionRelayerFundsShort(address key, uint256 available, uint256 needed);

    /// @notice Grants `key` the scope, for the caller's sub-accounts. One grant per key, ever; `revoke` ends it.
    /// @param keySignature The key's EIP-712 signature of `SessionAccept(key, owner)` with the caller as owner
    ///        (`acceptDigest`), or what its `isValidSignature` accepts if the key is a contract (ERC-1271): a grant
    ///        copied from the mempool by anyone else names another owner and is refused, so no one can take a key
    ///        first.
    function grant(address key, Scope calldata scope, bytes calldata keySignature) external;

    /// @notice The EIP-712 digest `key` signs to accept a grant from `owner`.
    function acceptDigest(address key, address owner) external view returns (bytes32);

    /// @notice Ends `key`'s session, cancels its open orders and returns its relayer funds to the owner. Caller: the
    ///         key's owner.
    /// @dev Never reverts for the refund: funds the token refuses to pay the owner stay for `withdrawRelayerFunds`.
    function revoke(address key) external;

    /// @notice Submits an order as session key `msg.sender` for its owner's sub-account `subAccount`.
    /// @return orderId The trading module's order id.
    function submit(
        uint8 subAccount,
        uint8 market,
        int256 size,
        uint256 limitPrice,
        uint256 deadline,
        bool reduceOnly
    ) external returns (uint256 orderId);

    /// @notice Submits an order that session key `order.key` signed (EIP-712); anyone may relay it. Each nonce of a
    ///         key is used once, and every nonce below `minNonce(key)` is void. The relayer (`msg.sender`) is paid
    ///         `order.relayerFee` of the base asset from the key's relayer funds once the order is submitted.
    function submitSigned(SignedOrder calldata order, bytes calldata signature)
        external
        returns (uint256 orderId);

    /// @notice Adds `amount` of the base asset (from the caller) to the funds `key`'s signed orders pay relayers from.
    /// @dev Caveat: whatever a key signs may spend these funds (a signed order names its own fee), so a leaked key
    ///      can give them all to a relayer of its choice: fund only what relaying should cost. The funds are the
    ///      owner's: `withdrawRelayerFunds` and `revoke` return them to the owner, never to the key. A revoked key
    ///      takes no more.
    function fundRelayer(address key, uint256 amount) external;

    /// @notice Returns `amount` of `key`'s relayer funds to its owner. Caller: the key's owner.
    function withdrawRelayerFunds(address key, uint256 amount) external;

    /// @notice What `key`'s signed orders can still pay relayers, base units.
    function relayerFunds(address key) external view returns (uint256);

    /// @notice Voids every nonce of key `msg.sender` below `below` (signed orders not yet relayed die).
    function cancelNonces(uint256 below) external;

    /// @notice The key's session.
    function session(address key) external view returns (Session memory);

    /// @notice The key's open orders placed through this contract (those not yet known to be done).
    function openOrders(address key) external view returns (uint256[] memory);

    /// @notice Nonces below this are void for `key`.
    function minNonce(address key) external view returns (uint256);
}
