// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {MAX_AMOUNT} from "../libraries/ConstantsLib.sol";
import {VenueAdapterBase} from "./VenueAdapterBase.sol";

/// @title SeatAdapterBase
/// @notice What every seat at an off-chain venue shares: the vault's account there is reached through the venue's
///         API by the keeper, orders reach it only as the trading module's child orders (order protocol v2) and
///         `trade` refuses, and what only the venue knows (the account's positions, margin and funding index) is
///         reported by an executor (`report`) and served by the views. Each seat moves margin its venue's way
///         (`_sendMargin`); what comes back is paid to the seat and forwarded by `claimWithdrawal`.
/// @dev A funding-index step is capped per second since the market's previous step, over at most
///      MAX_FUNDING_WINDOW, so a wrong report cannot move accounts' funding by more than the cap allows, however long
///      the index stood still; every step is logged (`SeatFundingMoved`). Margin sent but not yet credited by the venue counts in
///      `margin()` until a report says it was credited. The trading module's admin caps the margin the seat may
///      hold and the vault's net margin sent it (`setMarginCap`): the venue, not the vault, controls what sits there,
///      and the executor's reports, which the first counts from, cannot move the second.
///      Caveats: the views are as fresh as the last report (`reportedAt`); a report made after a withdrawal's request
///      but before the venue debits it counts the amount both in the venue's collateral and in `pendingWithdrawals`
///      until the next report; only a payment lowers `pendingWithdrawals`, so a withdrawal the venue cancels, or a fee
///      it keeps, stays pending until the admin writes it off (`writeOffPendingWithdrawals`); a deposit the venue
///      never credits (a bridge message lost, a transfer the venue refused and kept) stays in flight until the admin
///      writes it off (`writeOffDepositsInFlight`), and a report crediting it after all undoes the write-off.
abstract contract SeatAdapterBase is VenueAdapterBase {
    /// @notice The trading module's role whose holders trade for this account and report its state.
    bytes32 public constant EXECUTOR_ROLE = keccak256("EXECUTOR_ROLE");
    /// @notice The longest time a funding-index step is capped over: a step after the index stood still longer may
    ///         move it only as far as this much time at the cap, the rest waiting for later reports (or a raised cap).
    ///         Venues pay funding hourly to eight-hourly.
    uint256 public constant MAX_FUNDING_WINDOW = 8 hours;
    /// @notice The largest funding index a report may post, USD WAD per base unit (10^12 USD a unit): past it, the
    ///         trading module's funding arithmetic on a position could overflow and stop its liquidation.
    int256 public constant MAX_FUNDING_INDEX = 1e30;

    /// @notice The venue's report of this account, base-token units.
    struct AccountReport {
        int256 netCollateral; // collateral plus unrealized PnL at the venue
        uint256 initialMargin;
        uint256 maintenanceMargin;
        uint256 creditedDeposits; // cumulative deposits from this account the venue has credited
        uint64 reportedAt;
    }

    /// @notice An executor posted the venue's view of this account.
    event SeatReported(
        int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin, uint256 credited
    );
    /// @notice Market `market`'s funding index moved by `step` to `index` (USD WAD per base unit) in a report.
    event SeatFundingMoved(uint8 indexed market, int256 index, int256 step);
    /// @notice `amount` of margin was sent to the venue as its transfer `transferId` (a deposit id, a bridge nonce).
    event SeatDeposited(uint256 indexed transferId, uint256 amount);
    /// @notice The most margin the seat may hold is now `cap` (base units).
    event SeatMarginCapSet(uint256 cap);
    /// @notice Market `market`'s funding index may now move at most `capPerSecond` per second (USD WAD per base unit).
    event SeatFundingCapSet(uint8 indexed market, uint256 capPerSecond);
    /// @notice `amount` of margin was asked back from the venue (through its API) and awaits its payment here.
    event SeatWithdrawalRequested(uint256 amount);
    /// @notice The admin wrote `amount` of pending withdrawals off (the venue cancelled them or kept a fee), `reason`.
    event SeatWithdrawalWrittenOff(uint256 amount, bytes reason);
    /// @notice The admin wrote `amount` of deposits in flight off (the venue will never credit them), `reason`.
    event SeatDepositWrittenOff(uint256 amount, bytes reason);

    /// @notice The venue fills only off chain: orders go through child orders and the executor's fill reports.
    error AdapterFillsOffChain();
    /// @notice `caller` does not hold the trading module's executor role.
    error AdapterOnlyExecutor(address caller);
    /// @notice A report's arrays do not have one entry per market (`expected`).
    error AdapterReportLength(uint256 length, uint256 expected);
    /// @notice Market `market`'s funding index moved by `step` since the last report, more than `cap` allows.
    error AdapterFundingStepTooLarge(uint8 market, int256 step, uint256 cap);
    /// @notice A report's funding index for `market` is beyond MAX_FUNDING_INDEX either way.
    error AdapterFundingIndexOutOfRange(uint8 market, int256 index);
    /// @notice Depositing `amount` would take the seat's margin, or the vault's net margin sent it, to `wouldReach`,
    ///         above its cap `cap`.
    error AdapterMarginCapExceeded(uint256 amount, uint256 wouldReach, uint256 cap);
    /// @notice Only `pending` of withdrawals is pending: `amount` cannot be written off.
    error AdapterWithdrawalNotPending(uint256 amount, uint256 pending);
    /// @notice Only `inFlight` of deposits is in flight: `amount` cannot be written off.
    error AdapterDepositNotInFlight(uint256 amount, uint256 inFlight);
    /// @notice `caller` is not the trading module's admin.
    error AdapterOnlyAdmin(address caller);

    /// @dev Vault market id -> the venue's market parameters in the vault's units, as the venue publishes them.
    MarketParams[] internal _markets;
    /// @dev Vault market id -> the largest funding-index move per second a report may make, USD WAD per base unit.
    uint256[] internal _fundingCapsPerSecond;
    int256[] internal _fundingIndexes;
    /// @dev Vault market id -> when its funding index last moved: venues pay funding in steps (hourly), so a step
    ///      is capped by the time since the previous one, not since the last report.
    uint256[] internal _fundingMovedAt;
    int256[] internal _positions;
    AccountReport internal _report;
    uint256 internal _deposited; // cumulative margin sent to the venue
    uint256 internal _returned; // cumulative margin forwarded back to the trading module
    /// @dev Deposits written off as never to be credited, less those a report credited after all: at most
    ///      `_deposited` less the credited deposits.
    uint256 internal _depositsWrittenOff;
    uint256 internal _withdrawalsPending; // requested at the venue, not yet paid to the trading module
    /// @notice The most margin the seat may hold (collateral at the venue, in flight either way) and the most the vault
    ///         may have sent it net (deposits less what came back), base units.
    uint256 public marginCap = type(uint256).max;

    /// @param tradingModule_ The only caller of the margin functions; its executors report for this seat.
    /// @param target_ The venue's contract on this chain (custody, bridge).
    /// @param usdc_ The margin token.
    /// @param markets The venue's parameters per vault market id.
    /// @param fundingCapsPerSecond Per vault market id, the largest funding-index step per second of a report.
    constructor(
        address tradingModule_,
        address target_,
        IERC20 usdc_,
        MarketParams[] memory markets,
        uint256[] memory fundingCapsPerSecond
    ) VenueAdapterBase(tradingModule_, target_, usdc_) {
        if (fundingCapsPerSecond.length != markets.length) {
            revert AdapterReportLength(fundingCapsPerSecond.length, markets.length);
        }
        for (uint256 i; i < markets.length; ++i) {
            _markets.push(markets[i]);
        }
        _fundingCapsPerSecond = fundingCapsPerSecond;
        _fundingIndexes = new int256[](markets.length);
        _positions = new int256[](markets.length);
        _fundingMovedAt = new uint256[](markets.length);
        for (uint256 i; i < markets.length; ++i) {
            _fundingMovedAt[i] = block.timestamp;
        }
        _report.reportedAt = uint64(block.timestamp);
    }

    modifier onlyExecutor() {
        if (!IAccessControl(tradingModule).hasRole(EXECUTOR_ROLE, msg.sender)) {
            revert AdapterOnlyExecutor(msg.sender);
        }
        _;
    }

    modifier onlyAdmin() {
        if (!IAccessControl(tradingModule).hasRole(bytes32(0), msg.sender)) {
            revert AdapterOnlyAdmin(msg.sender);
        }
        _;
    }

    // ================================================================== the venue account

    /// @notice Caps the margin this seat may hold, and the vault's net margin sent it, base units. The trading
    ///         module's admin only.
    /// @param cap The most the seat may hold after a deposit (the venue's collateral as last reported, deposits in
    ///        flight and withdrawals pending) and the most the vault may have sent it net after one (every deposit
    ///        less every payment back): the second is what the executor's reports cannot move, so it bounds what the
    ///        vault can lose to the venue or to the executor's key; losses at the venue use it up until it is raised.
    function setMarginCap(uint256 cap) external onlyAdmin {
        marginCap = cap;
        emit SeatMarginCapSet(cap);
    }

    /// @notice Sets how fast market `market`'s funding index may move in reports, USD WAD per base unit per second.
    ///         The trading module's admin only: for a market whose venue funding outruns the cap (the keeper warns
    ///         and holds those periods back meanwhile).
    /// @dev Applies to the time since the index last moved (at most MAX_FUNDING_WINDOW), so a raised cap lets the
    ///      periods held back through at once.
    function setFundingCap(uint8 market, uint256 capPerSecond) external onlyAdmin {
        _requireMarket(market);
        _fundingCapsPerSecond[market] = capPerSecond;
        emit SeatFundingCapSet(market, capPerSecond);
    }

    /// @notice Posts the venue's view of this account: its positions and the funding index per vault market, and
    ///         its margin. Executor only.
    /// @dev Reverts if a funding index moves faster than its cap since its previous step. Credited deposits count at
    ///      most what the seat deposited: anyone may deposit into the venue account (a bridge transfer to its
    ///      address), and what others put there is in the reported collateral already.
    function report(
        int256[] calldata positions,
        int256[] calldata fundingIndexes,
        int256 netCollateral,
        uint256 initialMargin,
        uint256 maintenanceMargin,
        uint256 creditedDeposits
    ) external onlyExecutor {
        uint256 n = _markets.length;
        if (positions.length != n) revert AdapterReportLength(positions.length, n);
        if (fundingIndexes.length != n) revert AdapterReportLength(fundingIndexes.length, n);
        uint256 deposited = _deposited;
        if (creditedDeposits > deposited) creditedDeposits = deposited;
        // A written-off deposit the venue credits after all is in its collateral now, no longer lost. Credits are
        // cumulative, not per deposit, so they end the write-off only as far as they pass the deposits not written
        // off: a written-off deposit credited before a later one counts as in flight only once that one is
        // credited too (the safe side: fewer venue assets meanwhile).
        uint256 uncredited = deposited - creditedDeposits;
        if (_depositsWrittenOff > uncredited) _depositsWrittenOff = uncredited;
        for (uint256 i; i < n; ++i) {
            int256 index = fundingIndexes[i];
            if (SignedMath.abs(index) > uint256(MAX_FUNDING_INDEX)) {
                revert AdapterFundingIndexOutOfRange(uint8(i), index);
            }
            int256 step = index - _fundingIndexes[i];
            if (step == 0) continue;
            uint256 cap = _fundingStepCap(i, _fundingMovedAt[i]);
            if (SignedMath.abs(step) > cap) revert AdapterFundingStepTooLarge(uint8(i), step, cap);
            _fundingMovedAt[i] = block.timestamp;
            emit SeatFundingMoved(uint8(i), index, step);
        }
        _positions = positions;
        _fundingIndexes = fundingIndexes;
        _report = AccountReport(
            netCollateral, initialMargin, maintenanceMargin, creditedDeposits, uint64(block.timestamp)
        );
        emit SeatReported(netCollateral, initialMargin, maintenanceMargin, creditedDeposits);
    }

    /// @notice The last report of the venue's view of this account.
    function lastReport() external view returns (AccountReport memory) {
        return _report;
    }

    /// @notice The most market `market`'s funding index may move in a report made now (`maxStep`, USD WAD per base
    ///         unit: its cap per second times the time since it last moved, at most MAX_FUNDING_WINDOW), and when it last moved (`movedAt`, unix
    ///         time): a report mined later may move it at least `maxStep`, and venue funding periods after
    ///         `movedAt` are not in the index yet.
    function fundingStepBound(uint8 market) external view returns (uint256 maxStep, uint256 movedAt) {
        _requireMarket(market);
        movedAt = _fundingMovedAt[market];
        // Zero when the state is newer than the block this view runs in (a node serving "latest" while it mines).
        if (block.timestamp > movedAt) maxStep = _fundingStepCap(market, movedAt);
    }

    /// @dev The most market `market`'s index may move now since it last moved at `movedAt`: its cap per second
    ///      over at most MAX_FUNDING_WINDOW. Saturating: a cap so large that it overflows is no cap (the index stays
    ///      within MAX_FUNDING_INDEX).
    function _fundingStepCap(uint256 market, uint256 movedAt) internal view returns (uint256) {
        return Math.saturatingMul(
            _fundingCapsPerSecond[market], Math.min(block.timestamp - movedAt, MAX_FUNDING_WINDOW)
        );
    }

    /// @notice Margin sent to the venue that it has not yet credited (as of the last report) and that was not written
    ///         off as never to be.
    function depositsInFlight() public view returns (uint256) {
        return _deposited - _report.creditedDeposits - _depositsWrittenOff;
    }

    // ================================================================== IVenueAdapter

    /// @inheritdoc IVenueAdapter
    function marketCount() external view returns (uint256) {
        return _markets.length;
    }

    /// @inheritdoc IVenueAdapter
    function marketParams(uint8 market) external view returns (MarketParams memory) {
        _requireMarket(market);
        return _markets[market];
    }

    /// @inheritdoc IVenueAdapter
    /// @dev Always reverts: the venue's book is off chain; the keeper quotes it through the API.
    function quote(uint8, int256) external pure returns (uint256, uint256) {
        revert AdapterFillsOffChain();
    }

    /// @inheritdoc IVenueAdapter
    /// @dev As last reported.
    function fundingIndex(uint8 market) external view returns (int256) {
        return _perMarket(_fundingIndexes, market);
    }

    /// @inheritdoc IVenueAdapter
    /// @dev As last reported.
    function position(uint8 market) external view returns (int256) {
        return _perMarket(_positions, market);
    }

    /// @inheritdoc IVenueAdapter
    /// @dev The last report's collateral plus the deposits the exchange has not yet credited.
    function margin()
        external
        view
        returns (int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin)
    {
        AccountReport memory r = _report;
        return (r.netCollateral + int256(depositsInFlight()), r.initialMargin, r.maintenanceMargin);
    }

    /// @inheritdoc IVenueAdapter
    function pendingWithdrawals() external view returns (uint256) {
        return _withdrawalsPending;
    }

    /// @inheritdoc IVenueAdapter
    /// @dev Always reverts (`AdapterFillsOffChain`): orders reach this exchange only as child orders.
    function trade(uint8, int256, uint256) external pure returns (uint256, uint256) {
        revert AdapterFillsOffChain();
    }

    /// @inheritdoc IVenueAdapter
    /// @dev Sends the margin the venue's way (`_sendMargin`); the venue credits it later. Refused above the cap, on
    ///      what the seat would hold or on the vault's net margin sent it, whichever is larger.
    function depositMargin(uint256 amount) external onlyTradingModule {
        uint256 wouldReach = _capUsed() + amount;
        if (wouldReach > marginCap) revert AdapterMarginCapExceeded(amount, wouldReach, marginCap);
        _pullMargin(amount);
        _deposited += amount;
        emit SeatDeposited(_sendMargin(amount), amount);
    }

    /// @inheritdoc IVenueAdapter
    /// @dev Records a withdrawal the executor has requested through the venue's API; the venue pays it to this
    ///      contract later (a signed claim, a bridge message anyone submits) and `claimWithdrawal` forwards it. The
    ///      claim time is the venue's, unknown here: returns now. The amount leaves the reported collateral as it
    ///      becomes pending: the last report, made before the venue debited it, would otherwise count it twice
    ///      in the vault's venue assets until the next report (a report made after the debit but before this
    ///      request counts it once too few until the next one: the safe side).
    function requestWithdrawal(uint256 amount) external onlyTradingModule returns (uint256 claimableAt) {
        if (amount > MAX_AMOUNT) revert AdapterAmountTooLarge(amount, MAX_AMOUNT);
        _withdrawalsPending += amount;
        _report.netCollateral -= SafeCast.toInt256(amount);
        emit SeatWithdrawalRequested(amount);
        return block.timestamp;
    }

    /// @inheritdoc IVenueAdapter
    /// @dev Forwards every token the venue has paid this contract; what it pays beyond the recorded requests (a
    ///      withdrawal requested at the exchange but not recorded here) goes to the trading module too.
    function claimWithdrawal() external onlyTradingModule returns (uint256 amount) {
        amount = _usdc.balanceOf(address(this));
        _withdrawalsPending -= amount < _withdrawalsPending ? amount : _withdrawalsPending;
        _returned += amount;
        if (amount > 0) _sendToTradingModule(amount);
    }

    /// @notice Writes `amount` of pending withdrawals off: a withdrawal the venue cancelled (its collateral is back in
    ///         the reports) or the fee it kept from a payment would otherwise count in the vault's venue assets, and
    ///         against the margin cap, for ever. The trading module's admin only, an event each time.
    /// @dev Only ever lowers the vault's venue assets; a payment that arrives after all is still forwarded whole by
    ///      `claimWithdrawal`.
    function writeOffPendingWithdrawals(uint256 amount, bytes calldata reason) external onlyAdmin {
        uint256 pending = _withdrawalsPending;
        if (amount > pending) revert AdapterWithdrawalNotPending(amount, pending);
        _withdrawalsPending = pending - amount;
        emit SeatWithdrawalWrittenOff(amount, reason);
    }

    /// @notice Writes `amount` of deposits in flight off: margin the venue will never credit (a bridge transfer lost
    ///         or refused) would otherwise count in the vault's venue assets, and against the margin cap, for ever.
    ///         The trading module's admin only, an event each time.
    /// @dev Only ever lowers the vault's venue assets until the venue credits the amount after all: the report that
    ///      says so undoes the write-off, the amount then in the venue's collateral.
    function writeOffDepositsInFlight(uint256 amount, bytes calldata reason) external onlyAdmin {
        uint256 inFlight = depositsInFlight();
        if (amount > inFlight) revert AdapterDepositNotInFlight(amount, inFlight);
        _depositsWrittenOff += amount;
        emit SeatDepositWrittenOff(amount, reason);
    }

    /// @dev Sends `amount` (already held here and approved to `target`) to the venue; returns its transfer id.
    function _sendMargin(uint256 amount) internal virtual returns (uint256 transferId);

    /// @notice The most margin a deposit may send the seat now (`marginCap` less what it holds or, if more, the vault's
    ///         net margin sent it), base units.
    function marginRoom() external view returns (uint256) {
        uint256 used = _capUsed();
        return marginCap > used ? marginCap - used : 0;
    }

    /// @dev What counts against the cap: what the seat holds or the vault's net margin sent it, whichever is larger.
    function _capUsed() internal view returns (uint256) {
        uint256 sentNet = _deposited > _returned ? _deposited - _returned : 0;
        return Math.max(_held(), sentNet);
    }

    /// @dev What the seat holds now: the venue's collateral as last reported (never below zero), in flight and pending.
    function _held() internal view returns (uint256) {
        int256 collateral = _report.netCollateral + int256(depositsInFlight());
        return (collateral > 0 ? uint256(collateral) : 0) + _withdrawalsPending;
    }

    function _requireMarket(uint8 market) internal view {
        if (market >= _markets.length) revert AdapterUnknownMarket(market);
    }

    /// @dev `values[market]` of a per-market array. Each has one entry per market (the constructor sizes them, a
    ///      report keeps their length), so its own length is the market bound: one storage read fewer than
    ///      `_requireMarket` first, on the views every health check of an account trading here calls.
    function _perMarket(int256[] storage values, uint8 market) private view returns (int256) {
        if (market >= values.length) revert AdapterUnknownMarket(market);
        return values[market];
    }
}
