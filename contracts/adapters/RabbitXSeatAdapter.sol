// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {IRabbitXCustody} from "../interfaces/venues/IRabbitXCustody.sol";
import {VenueAdapterBase} from "./VenueAdapterBase.sol";

/// @title RabbitXSeatAdapter
/// @notice The vault's seat at a RabbitX-style exchange that matches off chain behind its API. This contract is
///         the exchange account: it deposits margin into the exchange's custody contract (`target`), receives the
///         withdrawals the exchange signs, and lets the trading module's executors trade for it through the API
///         (`isValidSigner`, ERC-6551's shape, as Elixir's RabbitX router delegates trading for a contract
///         account). Orders reach the exchange only as the trading module's child orders (order protocol v2);
///         `trade` refuses, since nothing fills inside a transaction here.
/// @dev What only the exchange knows (the account's positions, margin and funding index) is reported by an
///      executor (`report`) and served by the views; a funding-index step is capped per second since the market's
///      previous step, so a wrong report cannot move accounts' funding by more than the cap allows. Margin deposited but not yet
///      credited by the exchange counts in `margin()` until a report says it was credited.
///      Caveats: the views are as fresh as the last report (`reportedAt`); between a withdrawal's request and
///      the report after it, the amount counts both in the exchange's collateral and in `pendingWithdrawals`.
contract RabbitXSeatAdapter is VenueAdapterBase {
    /// @notice `IERC6551Account.isValidSigner`'s magic value: the signer may act for this account.
    bytes4 public constant VALID_SIGNER = 0x523e3260;
    /// @notice The trading module's role whose holders trade for this account and report its state.
    bytes32 public constant EXECUTOR_ROLE = keccak256("EXECUTOR_ROLE");

    /// @notice The exchange's report of this account, base-token units.
    struct AccountReport {
        int256 netCollateral; // collateral plus unrealized PnL at the exchange
        uint256 initialMargin;
        uint256 maintenanceMargin;
        uint256 creditedDeposits; // cumulative deposits from this account the exchange has credited
        uint64 reportedAt;
    }

    /// @notice An executor posted the exchange's view of this account.
    event SeatReported(
        int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin, uint256 credited
    );
    /// @notice `amount` of margin was deposited into the exchange's custody under deposit `depositId`.
    event SeatDeposited(uint256 indexed depositId, uint256 amount);
    /// @notice `amount` of margin was asked back from the exchange (through its API) and awaits its signed claim.
    event SeatWithdrawalRequested(uint256 amount);

    /// @notice The exchange fills only off chain: orders go through child orders and the executor's fill reports.
    error AdapterFillsOffChain();
    /// @notice `caller` does not hold the trading module's executor role.
    error AdapterOnlyExecutor(address caller);
    /// @notice A report's arrays do not have one entry per market (`expected`).
    error AdapterReportLength(uint256 length, uint256 expected);
    /// @notice Market `market`'s funding index moved by `step` since the last report, more than `cap` allows.
    error AdapterFundingStepTooLarge(uint8 market, int256 step, uint256 cap);
    /// @notice The report says `credited` of this account's deposits were credited, but only `deposited` were made.
    error AdapterCreditedExceedsDeposited(uint256 credited, uint256 deposited);

    /// @dev Vault market id -> the exchange's market parameters in the vault's units, as the exchange publishes them.
    MarketParams[] internal _markets;
    /// @dev Vault market id -> the largest funding-index move per second a report may make, USD WAD per base unit.
    uint256[] internal _fundingCapsPerSecond;
    int256[] internal _fundingIndexes;
    /// @dev Vault market id -> when its funding index last moved: the exchange pays funding in steps (hourly), so a
    ///      step is capped by the time since the previous one, not since the last report.
    uint256[] internal _fundingMovedAt;
    int256[] internal _positions;
    AccountReport internal _report;
    uint256 internal _deposited; // cumulative deposits into custody
    uint256 internal _withdrawalsPending; // requested at the exchange, not yet paid to the trading module

    /// @param tradingModule_ The only caller of the margin functions; its executors act for this account.
    /// @param custody The exchange's custody contract.
    /// @param markets The exchange's parameters per vault market id.
    /// @param fundingCapsPerSecond Per vault market id, the largest funding-index step per second of a report.
    constructor(
        address tradingModule_,
        IRabbitXCustody custody,
        MarketParams[] memory markets,
        uint256[] memory fundingCapsPerSecond
    ) VenueAdapterBase(tradingModule_, address(custody), custody.paymentToken()) {
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

    // ================================================================== the exchange account

    /// @notice Whether `signer` may act for this account at the exchange (ERC-6551's `isValidSigner`): the trading
    ///         module's executors may; the exchange asks this when the keeper onboards the account.
    /// @param signer The key that signed for the account.
    /// @return magicValue `VALID_SIGNER` if it may, zero otherwise.
    function isValidSigner(address signer, bytes calldata) external view returns (bytes4 magicValue) {
        return IAccessControl(tradingModule).hasRole(EXECUTOR_ROLE, signer) ? VALID_SIGNER : bytes4(0);
    }

    /// @notice Posts the exchange's view of this account: its positions and the funding index per vault market,
    ///         and its margin. Executor only.
    /// @dev Reverts if a funding index moves faster than its cap since the last report, or if the exchange is said
    ///      to have credited more than was deposited.
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
        if (creditedDeposits > _deposited) {
            revert AdapterCreditedExceedsDeposited(creditedDeposits, _deposited);
        }
        for (uint256 i; i < n; ++i) {
            int256 step = fundingIndexes[i] - _fundingIndexes[i];
            if (step == 0) continue;
            uint256 cap = _fundingCapsPerSecond[i] * (block.timestamp - _fundingMovedAt[i]);
            if (SignedMath.abs(step) > cap) revert AdapterFundingStepTooLarge(uint8(i), step, cap);
            _fundingMovedAt[i] = block.timestamp;
        }
        _positions = positions;
        _fundingIndexes = fundingIndexes;
        _report = AccountReport(
            netCollateral, initialMargin, maintenanceMargin, creditedDeposits, uint64(block.timestamp)
        );
        emit SeatReported(netCollateral, initialMargin, maintenanceMargin, creditedDeposits);
    }

    /// @notice The last report of the exchange's view of this account.
    function lastReport() external view returns (AccountReport memory) {
        return _report;
    }

    /// @notice Margin deposited into custody that the exchange has not yet credited (as of the last report).
    function depositsInFlight() public view returns (uint256) {
        return _deposited - _report.creditedDeposits;
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
    /// @dev Always reverts: the exchange's book is off chain; the keeper quotes it through the API.
    function quote(uint8, int256) external pure returns (uint256, uint256) {
        revert AdapterFillsOffChain();
    }

    /// @inheritdoc IVenueAdapter
    /// @dev As last reported.
    function fundingIndex(uint8 market) external view returns (int256) {
        _requireMarket(market);
        return _fundingIndexes[market];
    }

    /// @inheritdoc IVenueAdapter
    /// @dev As last reported.
    function position(uint8 market) external view returns (int256) {
        _requireMarket(market);
        return _positions[market];
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
    /// @dev Deposits into the exchange's custody; the exchange credits it after its confirmations.
    function depositMargin(uint256 amount) external onlyTradingModule {
        _pullMargin(amount);
        _deposited += amount;
        uint256 id = IRabbitXCustody(target).deposit(amount);
        emit SeatDeposited(id, amount);
    }

    /// @inheritdoc IVenueAdapter
    /// @dev Records a withdrawal the executor has requested through the exchange's API; the exchange signs it when
    ///      it has processed it, anyone submits the signature to custody (which pays this contract), and
    ///      `claimWithdrawal` forwards it. The claim time is the exchange's, unknown here: returns now.
    function requestWithdrawal(uint256 amount) external onlyTradingModule returns (uint256 claimableAt) {
        _withdrawalsPending += amount;
        emit SeatWithdrawalRequested(amount);
        return block.timestamp;
    }

    /// @inheritdoc IVenueAdapter
    /// @dev Forwards every token custody has paid this contract; what it pays beyond the recorded requests (a
    ///      withdrawal requested at the exchange but not recorded here) goes to the trading module too.
    function claimWithdrawal() external onlyTradingModule returns (uint256 amount) {
        amount = _usdc.balanceOf(address(this));
        _withdrawalsPending -= amount < _withdrawalsPending ? amount : _withdrawalsPending;
        if (amount > 0) _sendToTradingModule(amount);
    }

    function _requireMarket(uint8 market) internal view {
        if (market >= _markets.length) revert AdapterUnknownMarket(market);
    }
}
