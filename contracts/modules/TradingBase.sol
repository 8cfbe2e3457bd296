// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IPrimeVault, PERMISSION_TRADE} from "../interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../interfaces/IPrimeVaultEvents.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {MAX_AMOUNT, WAD} from "../libraries/ConstantsLib.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {PerpMathLib} from "../libraries/PerpMathLib.sol";
import {VenueViewLib} from "../libraries/VenueViewLib.sol";

/// @title TradingBase
/// @notice Storage and shared internals of the trading module and the module it delegate-calls.
/// @dev The vault's pattern (`VaultBase`, after Euler v2's EVault): `TradingModule` and `AsyncOrderModule`,
///      which it runs by delegatecall, inherit this one contract, so they share one storage layout by
///      construction. Never add state variables anywhere else in their inheritance trees. Immutables are
///      set by each contract's own constructor from the same arguments, so they agree.
abstract contract TradingBase is
    AccessControl,
    ReentrancyGuardTransient,
    IPrimeVaultErrors,
    IPrimeVaultEvents
{
    using SafeCast for uint256;
    using SafeCast for int256;

    bytes32 public constant EXECUTOR_ROLE = keccak256("EXECUTOR_ROLE");
    uint256 internal constant _MAX_MARKETS = 4;
    uint256 internal constant _MAX_VENUES = 4;
    /// @dev Gas a venue's per-market view (`fundingIndex`, `marketParams`) gets where its failure is tolerated (a
    ///      liquidation, `venueAssets`, a step): the devnet's venues need about 31,000; bounded so that an adapter
    ///      burning all it is given cannot leave a liquidation batch too little to finish.
    uint256 internal constant _VENUE_VIEW_GAS = 200_000;

    /// @dev Sums kept per (market, venue) so that the module knows the vault's netted position and what it
    ///      owes its clients there without looping over clients.
    struct VenueBook {
        int128 netSize; // sum of client sizes, base WAD
        int128 costBasis; // sum of size x entry price, USD WAD
        int256 fundingBasis; // sum of size x funding index at entry, USD WAD
    }

    /// @dev Per account, in one slot: which (market, venue) slots hold a position, the order epoch (orders
    ///      submitted under an older epoch are dead, see `cancelAllOrders`), and the asynchronous orders'
    ///      part: the first child id that can still be the account's (a liquidation cancels every open child
    ///      below it), the number of its live open children and the initial margin they still reserve.
    struct Trader {
        uint16 openSlots;
        uint32 orderEpoch;
        uint40 childrenLiveFrom;
        uint16 openChildren;
        uint96 reservedMargin; // base units
    }

    /// @dev Per account and (market, venue) slot: how much of its position the open reduce-only children there may
    ///      still take, and the account's `childrenLiveFrom` when they were committed (a liquidation cancels every
    ///      open child, and with them this record).
    struct Reducing {
        uint40 liveFrom;
        uint216 size; // base WAD
    }

    struct FillData {
        uint256 orderId;
        address account;
        uint8 market;
        uint8 venue;
        int256 size; // signed, base WAD
        uint256 price; // set by the fill
        uint256 fee; // set by the fill
        int256 fundingNow; // set by the fill
    }

    IPrimeVault internal immutable _vault;
    IERC20 internal immutable _base;
    /// @dev USD WAD per base unit: 10^(18 - base decimals).
    uint256 internal immutable _baseUnit;

    // Markets, venues, orders and child orders have ids from 0 up to their counts below. They live in fixed
    // arrays and mappings rather than dynamic arrays, and the four counts share one slot: an entry point reads
    // one word to check or add ids instead of one array length each, and an id stored on chain (a child's order,
    // an order's market, a child's venue) is read without a bounds check.
    // slither-disable-next-line uninitialized-state (listed by TradingModule; the module runs on its storage)
    ITradingModule.PerpMarket[_MAX_MARKETS] internal _markets;
    // slither-disable-next-line uninitialized-state (added by TradingModule; the module runs on its storage)
    IVenueAdapter[_MAX_VENUES] internal _venues;
    // slither-disable-next-line uninitialized-state (submitted in TradingModule; the module runs on its storage)
    mapping(uint256 orderId => ITradingModule.Order) internal _orders;
    mapping(address account => mapping(uint256 slot => ITradingModule.Position)) internal _positions;
    mapping(address account => Trader) internal _traders;
    mapping(uint256 slot => VenueBook) internal _books;
    mapping(uint256 slot => ITradingModule.Position) internal _backstop;

    // ---- asynchronous orders (v2)
    /// @dev Every child order ever committed, by id.
    // slither-disable-next-line uninitialized-state (written by AsyncOrderModule, which runs on this storage by delegatecall)
    mapping(uint256 childId => ITradingModule.ChildOrder) internal _children;
    /// @dev Venue fill ids already booked: each is booked once, ever.
    // slither-disable-next-line uninitialized-state (written by AsyncOrderModule, which runs on this storage by delegatecall)
    mapping(bytes32 venueFillId => bool) internal _fillIdUsed;

    // ---- the counts, in one slot
    // slither-disable-next-line uninitialized-state (listed by TradingModule; the module runs on its storage)
    uint8 internal _marketCount;
    // slither-disable-next-line uninitialized-state (added by TradingModule; the module runs on its storage)
    uint8 internal _venueCount;
    // slither-disable-next-line uninitialized-state (written by both; the module runs on this storage by delegatecall)
    uint40 internal _orderCount;
    // slither-disable-next-line uninitialized-state (written by AsyncOrderModule, which runs on this storage by delegatecall)
    uint40 internal _childCount;

    /// @dev What open reduce-only children may still take of each slot's position (see `Reducing`).
    // slither-disable-next-line uninitialized-state (written by AsyncOrderModule, which runs on this storage by delegatecall)
    mapping(address account => mapping(uint256 slot => Reducing)) internal _reducing;

    /// @dev Venue id -> the margin sent to the venue less what came back from it to the vault, base units
    ///      (`ITradingModule.venueMarginSent`).
    int256[_MAX_VENUES] internal _venueMarginSent;

    constructor(IPrimeVault vault_) {
        _vault = vault_;
        _base = IERC20(vault_.baseAsset());
        _baseUnit = 10 ** (18 - IERC20Metadata(address(_base)).decimals());
    }

    /// @dev Settles the position's funding up to `fundingNow`, then applies the fill: it grows the position at
    ///      a blended entry price or closes part of it, realizing PnL against the entry price. Keeps the
    ///      venue's book (netted size, cost and funding bases) in step. Returns the cash to settle, USD WAD.
    function _book(FillData memory f) internal returns (int256 cashWad) {
        uint256 slot = _slot(f.market, f.venue);
        ITradingModule.Position memory old = _positions[f.account][slot];
        (int256 newSize, uint256 newEntry, int256 realizedWad) =
            PerpMathLib.applyFill(old.size, old.entryPrice, f.size, f.price);
        cashWad = realizedWad - PerpMathLib.fundingOwed(old.size, old.fundingIndex, f.fundingNow);
        _positions[f.account][slot] =
            ITradingModule.Position(newSize.toInt128(), newEntry.toUint128(), f.fundingNow);

        VenueBook storage b = _books[slot];
        b.netSize = (int256(b.netSize) + f.size).toInt128();
        int256 oldCost = int256(old.size) * uint256(old.entryPrice).toInt256() / int256(WAD);
        b.costBasis = (int256(b.costBasis) + newSize * newEntry.toInt256() / int256(WAD) - oldCost).toInt128();
        b.fundingBasis += newSize * f.fundingNow - int256(old.size) * old.fundingIndex;
        _setSlot(f.account, slot, newSize != 0);
    }

    /// @dev The backstop takes `size` at `price`; its realized PnL is already in the venue account.
    function _addToBackstop(uint256 slot, int256 size, uint256 price, int256 fundingNow) internal {
        ITradingModule.Position memory b = _backstop[slot];
        // slither-disable-next-line unused-return (realized PnL is the venue account's, so the reserves')
        (int256 newSize, uint256 newEntry,) = PerpMathLib.applyFill(b.size, b.entryPrice, size, price);
        _backstop[slot] = ITradingModule.Position(newSize.toInt128(), newEntry.toUint128(), fundingNow);
    }

    /// @dev Reverts unless `o` (order `orderId`) may still trade: an order dies with the permission that
    ///      placed it, and with its owner's cancel-all.
    function _requireOrderAuthority(uint256 orderId, ITradingModule.Order memory o) internal view {
        if (
            o.epoch != _traders[o.account].orderEpoch
                || (o.operator != address(0)
                    && _vault.operatorPermissions(o.account, o.operator) & PERMISSION_TRADE == 0)
        ) {
            revert OrderAuthorityRevoked(orderId);
        }
    }

    /// @dev Whether a fill of signed `size` grows or flips `account`'s position in `slot`: margin is charged
    ///      per (market, venue) slot, so risk and reduce-only are judged per slot too. A flip ends on the other
    ///      side: closing to zero is none (0 XOR a short's negative size is negative too).
    function _increases(address account, uint256 slot, int256 size) internal view returns (bool) {
        int256 before = _positions[account][slot].size;
        int256 afterwards = before + size;
        return
            SignedMath.abs(afterwards) > SignedMath.abs(before)
                || (afterwards != 0 && (afterwards ^ before) < 0);
    }

    /// @dev A venue must not margin a market more loosely than the vault does, or the vault's netted
    ///      position could be closed by the venue while its clients look healthy.
    function _requireNotLooser(uint256 market, uint256 venue) internal view {
        IVenueAdapter.MarketParams memory p = _venues[venue].marketParams(uint8(market));
        ITradingModule.PerpMarket storage m = _markets[market];
        if (
            p.initialMarginPpm > uint256(m.initialMarginBps) * 100
                || p.maintenanceMarginPpm > uint256(m.maintenanceMarginBps) * 100
        ) {
            revert VenueMarginLooserThanVault(market, venue);
        }
    }

    function _mark(uint8 market) internal view returns (uint256) {
        ITradingModule.PerpMarket storage m = _markets[market];
        return OracleLib.readWad(m.feed, m.maxStaleness, m.feedDecimals);
    }

    /// @dev The venue's size step for `market` (base WAD), 1 where it reports none or cannot answer: a liquidation's
    ///      cut and a reduce-only hold never depend on the venue answering. A step past `MAX_AMOUNT` is no step a
    ///      position can be on (and would overflow a cut's arithmetic): it counts as no answer.
    function _stepOf(uint8 venue, uint8 market) internal view returns (uint256) {
        // `MarketParams` is eight static words, the step the first.
        (, bytes32 step) =
            _venueWord(venue, abi.encodeCall(IVenueAdapter.marketParams, (market)), _VENUE_VIEW_GAS, 8 * 32);
        return uint256(step) > 1 && uint256(step) <= MAX_AMOUNT ? uint256(step) : 1;
    }

    /// @dev The first word of venue `venue`'s answer to the view `data`, and whether it answered at all (at least
    ///      `minLength` bytes within `gasLimit`): see `VenueViewLib.firstWord`.
    function _venueWord(uint256 venue, bytes memory data, uint256 gasLimit, uint256 minLength)
        internal
        view
        returns (bool answered, bytes32 word)
    {
        return VenueViewLib.firstWord(address(_venues[venue]), data, gasLimit, minLength);
    }

    function _venue(uint8 venue) internal view returns (IVenueAdapter) {
        if (venue >= _venueCount) revert UnknownVenue(venue);
        return _venues[venue];
    }

    /// @dev Whether `account` holds a position or an open child order: what the vault records (`setTrading`).
    function _isTrading(address account) internal view returns (bool) {
        Trader storage t = _traders[account];
        return t.openSlots != 0 || t.openChildren != 0;
    }

    /// @dev Tells the vault if `account` started or stopped trading since it was `wasTrading`. Called after
    ///      every change of its slots or open children and before the vault settles it, whose health check
    ///      reads the record.
    function _syncTrading(address account, bool wasTrading) internal {
        bool trading = _isTrading(account);
        if (trading != wasTrading) _vault.setTrading(account, trading);
    }

    function _setSlot(address account, uint256 slot, bool open) internal {
        uint16 bit = uint16(1 << slot);
        uint16 current = _traders[account].openSlots;
        uint16 next = open ? current | bit : current & ~bit;
        if (next != current) _traders[account].openSlots = next;
    }

    function _slot(uint256 market, uint256 venue) internal pure returns (uint256) {
        return market * _MAX_VENUES + venue;
    }

    function _unslot(uint256 slot) internal pure returns (uint8 market, uint8 venue) {
        return (uint8(slot / _MAX_VENUES), uint8(slot % _MAX_VENUES));
    }
}
