// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ISessionKeys} from "../interfaces/ISessionKeys.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {SubAccountLib} from "../libraries/SubAccountLib.sol";

/// @title SessionKeys
/// @notice Scoped session keys over the trading module: see `ISessionKeys`. An operator of the owner's
///         sub-accounts with PERMISSION_TRADE only, so whatever a key signs or sends, collateral cannot leave.
contract SessionKeys is ISessionKeys, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Open orders a key may have through this contract at once (revocation cancels them in one call).
    uint256 public constant MAX_OPEN_ORDERS = 16;

    bytes32 public constant SIGNED_ORDER_TYPEHASH = keccak256(
        "SignedOrder(address key,uint8 subAccount,uint8 market,int256 size,uint256 limitPrice,uint256 deadline,"
        "bool reduceOnly,uint256 nonce,uint256 relayerFee)"
    );

    /// @notice What a key signs to accept `owner`'s grant (EIP-712): without it anyone could copy an owner's
    ///         pending grant and take the key first. It names the key too: a contract key (ERC-1271) whose
    ///         signer serves other keys would otherwise accept for all of them at once.
    bytes32 public constant SESSION_ACCEPT_TYPEHASH = keccak256("SessionAccept(address key,address owner)");

    /// @notice The trading module orders go to.
    ITradingModule public immutable TRADING;

    /// @notice The vault's base asset, in which relayers are paid.
    IERC20 public immutable BASE;

    mapping(address key => Session) private _sessions;
    mapping(address key => uint256[]) private _openOrders;
    mapping(address key => uint256) private _minNonce;
    mapping(address key => mapping(uint256 nonce => bool)) private _nonceUsed;
    mapping(address key => uint256) private _relayerFunds;

    constructor(ITradingModule trading) EIP712("PrimeVault SessionKeys", "1") {
        TRADING = trading;
        BASE = IERC20(trading.vault().baseAsset());
    }

    /// @inheritdoc ISessionKeys
    function grant(address key, Scope calldata scope, bytes calldata keySignature) external {
        if (_sessions[key].owner != address(0)) revert SessionAlreadyGranted(key);
        if (
            key == address(0) || scope.subAccounts == 0 || scope.markets == 0
                || scope.expiry <= block.timestamp
        ) {
            revert SessionBadScope();
        }
        if (!SignatureChecker.isValidSignatureNow(key, acceptDigest(key, msg.sender), keySignature)) {
            revert SessionNotAccepted(key, msg.sender);
        }
        _sessions[key] = Session({owner: msg.sender, scope: scope, notionalUsed: 0, revoked: false});
        emit SessionGranted(msg.sender, key, scope);
    }

    /// @inheritdoc ISessionKeys
    function revoke(address key) external nonReentrant {
        Session storage s = _sessions[key];
        if (s.owner == address(0)) revert SessionUnknown(key);
        if (msg.sender != s.owner) revert SessionNotOwner(msg.sender, s.owner);
        s.revoked = true;
        uint256[] memory orders = _openOrders[key];
        delete _openOrders[key];
        uint256 cancelled = 0;
        for (uint256 i; i < orders.length; ++i) {
            if (TRADING.order(orders[i]).status != ITradingModule.OrderStatus.Open) continue;
            TRADING.cancelOrder(orders[i]);
            ++cancelled;
        }
        emit SessionRevoked(s.owner, key, cancelled);
        // Revoking is the answer to a leaked key, so it never depends on a transfer (anyone may fund a key, and
        // the token may refuse to pay the owner: a blacklist, a pause): funds it cannot return stay for
        // `withdrawRelayerFunds`, and no signed order can spend them any more.
        uint256 funds = _relayerFunds[key];
        if (funds == 0) return;
        _relayerFunds[key] = 0; // before the transfer; put back if the token refuses it
        if (BASE.trySafeTransfer(s.owner, funds)) {
            emit RelayerFundsReturned(key, s.owner, funds);
        } else {
            // slither-disable-next-line reentrancy-no-eth (nonReentrant; BASE is the base asset)
            _relayerFunds[key] = funds;
        }
    }

    /// @inheritdoc ISessionKeys
    function fundRelayer(address key, uint256 amount) external nonReentrant {
        if (_sessions[key].owner == address(0)) revert SessionUnknown(key);
        // A revoked key relays nothing more: funds put up for it could only wait for its owner's withdrawal.
        if (_sessions[key].revoked) revert SessionIsRevoked(key);
        // Pulled first: what arrives fits the sum (no token has more than 2^256 - 1 in all), so an amount the caller
        // does not hold is the token's refusal, not an overflow of the key's funds.
        BASE.safeTransferFrom(msg.sender, address(this), amount);
        // slither-disable-next-line reentrancy-benign,reentrancy-events (nonReentrant; BASE is the vault's base asset)
        _relayerFunds[key] += amount;
        emit RelayerFunded(key, msg.sender, amount);
    }

    /// @inheritdoc ISessionKeys
    function withdrawRelayerFunds(address key, uint256 amount) external nonReentrant {
        address owner = _sessions[key].owner;
        if (owner == address(0)) revert SessionUnknown(key);
        if (msg.sender != owner) revert SessionNotOwner(msg.sender, owner);
        uint256 available = _relayerFunds[key];
        if (amount > available) revert SessionRelayerFundsShort(key, available, amount);
        _returnFunds(key, owner, amount);
    }

    /// @inheritdoc ISessionKeys
    function submit(
        uint8 subAccount,
        uint8 market,
        int256 size,
        uint256 limitPrice,
        uint256 deadline,
        bool reduceOnly
    ) external nonReentrant returns (uint256 orderId) {
        return _submit(msg.sender, subAccount, market, size, limitPrice, deadline, reduceOnly);
    }

    /// @inheritdoc ISessionKeys
    function submitSigned(SignedOrder calldata order, bytes calldata signature)
        external
        nonReentrant
        returns (uint256 orderId)
    {
        if (order.nonce < _minNonce[order.key] || _nonceUsed[order.key][order.nonce]) {
            revert SessionNonceUsed(order.key, order.nonce);
        }
        if (order.deadline <= block.timestamp) revert SessionSignatureExpired(order.deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SIGNED_ORDER_TYPEHASH,
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
            )
        );
        if (!SignatureChecker.isValidSignatureNow(order.key, digest, signature)) {
            revert SessionBadSignature(order.key);
        }
        uint256 funds = _relayerFunds[order.key];
        if (order.relayerFee > funds) revert SessionRelayerFundsShort(order.key, funds, order.relayerFee);
        _nonceUsed[order.key][order.nonce] = true;
        _relayerFunds[order.key] = funds - order.relayerFee;
        orderId = _submit(
            order.key,
            order.subAccount,
            order.market,
            order.size,
            order.limitPrice,
            order.deadline,
            order.reduceOnly
        );
        if (order.relayerFee != 0) {
            emit RelayerPaid(order.key, msg.sender, orderId, order.relayerFee);
            BASE.safeTransfer(msg.sender, order.relayerFee);
        }
    }

    /// @inheritdoc ISessionKeys
    function cancelNonces(uint256 below) external {
        if (below > _minNonce[msg.sender]) _minNonce[msg.sender] = below;
        emit NoncesCancelled(msg.sender, below);
    }

    /// @inheritdoc ISessionKeys
    function session(address key) external view returns (Session memory) {
        return _sessions[key];
    }

    /// @inheritdoc ISessionKeys
    function openOrders(address key) external view returns (uint256[] memory) {
        return _openOrders[key];
    }

    /// @inheritdoc ISessionKeys
    function minNonce(address key) external view returns (uint256) {
        return _minNonce[key];
    }

    /// @inheritdoc ISessionKeys
    function relayerFunds(address key) external view returns (uint256) {
        return _relayerFunds[key];
    }

    /// @inheritdoc ISessionKeys
    function acceptDigest(address key, address owner) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SESSION_ACCEPT_TYPEHASH, key, owner)));
    }

    /// @notice The EIP-712 domain separator (chain id and this contract's address).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _submit(
        address key,
        uint8 subAccount,
        uint8 market,
        int256 size,
        uint256 limitPrice,
        uint256 deadline,
        bool reduceOnly
    ) private returns (uint256 orderId) {
        Session storage s = _sessions[key];
        Scope memory scope = s.scope;
        if (s.owner == address(0)) revert SessionUnknown(key);
        if (s.revoked) revert SessionIsRevoked(key);
        if (block.timestamp >= scope.expiry) revert SessionExpired(key, scope.expiry);
        if ((scope.subAccounts >> subAccount) & 1 == 0) revert SessionSubAccountNotInScope(key, subAccount);
        if ((scope.markets >> market) & 1 == 0) revert SessionMarketNotInScope(key, market);
        uint256 notional = _notional(market, size, limitPrice);
        if (notional > scope.maxNotionalPerOrder) {
            revert SessionOrderNotionalTooLarge(key, notional, scope.maxNotionalPerOrder);
        }
        uint256 used = s.notionalUsed + notional;
        if (used > scope.maxNotionalTotal) {
            revert SessionTotalNotionalExceeded(key, used, scope.maxNotionalTotal);
        }
        s.notionalUsed = uint128(used); // <= maxNotionalTotal, a uint128
        _prune(key);
        if (_openOrders[key].length >= MAX_OPEN_ORDERS) {
            revert SessionTooManyOpenOrders(key, MAX_OPEN_ORDERS);
        }
        address account = SubAccountLib.subAccount(s.owner, subAccount);
        // The order dies with the session: its deadline is at most the key's expiry.
        // slither-disable-next-line reentrancy-no-eth (every entry point is nonReentrant; the id comes from the call)
        orderId = TRADING.submitOrder(
            account, market, size, limitPrice, Math.min(deadline, scope.expiry), reduceOnly
        );
        _openOrders[key].push(orderId);
        emit SessionOrder(key, orderId, account, notional);
    }

    function _returnFunds(address key, address owner, uint256 amount) private {
        _relayerFunds[key] -= amount;
        emit RelayerFundsReturned(key, owner, amount);
        BASE.safeTransfer(owner, amount);
    }

    /// @dev |size| x max(limit price, oracle price), rounded up: a sell's limit is a floor, so the oracle bounds
    ///      what it can really trade at, and a buy's limit is what it may pay. A product past 2^256 reads as
    ///      type(uint256).max, above any cap (a uint128), so it is refused as SessionOrderNotionalTooLarge.
    function _notional(uint8 market, int256 size, uint256 limitPrice) private view returns (uint256) {
        ITradingModule.PerpMarket[] memory markets = TRADING.markets();
        if (market >= markets.length) revert SessionMarketNotInScope(address(0), market);
        ITradingModule.PerpMarket memory m = markets[market];
        uint256 mark = OracleLib.readWad(m.feed, m.maxStaleness, m.feedDecimals);
        (bool fits, uint256 product) = Math.tryMul(SignedMath.abs(size), Math.max(limitPrice, mark));
        return fits ? Math.ceilDiv(product, 1e18) : type(uint256).max;
    }

    /// @dev Keeps in the key's list only the orders that can still execute or have children at a venue: drops
    ///      the done ones (executed or cancelled), and cancels and drops the open ones that are past their deadline
    ///      or voided by the owner's `cancelAllOrders`. Those stay open until someone cancels them, which the key
    ///      cannot do itself, and they held its places; cancelled here, none is left open after a revocation.
    function _prune(address key) private {
        uint256[] storage orders = _openOrders[key];
        for (uint256 i = orders.length; i > 0; --i) {
            uint256 id = orders[i - 1];
            ITradingModule.Order memory o = TRADING.order(id);
            if (o.status == ITradingModule.OrderStatus.Routed) continue;
            if (o.status == ITradingModule.OrderStatus.Open) {
                if (block.timestamp <= o.deadline && o.epoch == TRADING.orderEpoch(o.account)) continue;
                TRADING.cancelOrder(id);
            }
            orders[i - 1] = orders[orders.length - 1];
            orders.pop();
        }
    }
}
