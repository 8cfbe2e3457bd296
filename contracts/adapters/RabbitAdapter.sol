// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {IRabbitStyleVenue} from "../interfaces/venues/IRabbitStyleVenue.sol";
import {VenueAdapterBase} from "./VenueAdapterBase.sol";

/// @title RabbitAdapter
/// @notice Translates the vault's orders into RabbitX-style market orders ("BTC-USD", "long"/"short",
///         1e18 decimals, limits on the tick grid never worse than the vault's), and the two-step
///         withdrawal into request and claim.
contract RabbitAdapter is VenueAdapterBase {
    struct Pending {
        uint64 requestId;
        uint40 claimableAt;
        uint96 amount;
    }

    uint256 public constant MAX_CLAIMS = 16;

    /// @dev Vault market id -> venue market id.
    string[] internal _marketIds;
    Pending[] internal _pending;
    uint256 internal _nextToClaim;
    uint256 internal _pendingTotal;
    uint256 internal _clientOrderId;

    /// @dev Vault market id -> price tick, read once: it never changes at the venue.
    uint256[] internal _ticks;

    constructor(address tradingModule_, IRabbitStyleVenue venue, IERC20 usdc_, string[] memory marketIds)
        VenueAdapterBase(tradingModule_, address(venue), usdc_)
    {
        _marketIds = marketIds;
        for (uint256 i; i < marketIds.length; ++i) {
            _ticks.push(venue.marketParams(marketIds[i]).tickSize);
        }
    }

    /// @inheritdoc IVenueAdapter
    function marketCount() external view returns (uint256) {
        return _marketIds.length;
    }

    /// @inheritdoc IVenueAdapter
    function marketParams(uint8 market) external view returns (MarketParams memory) {
        return _params(_venue().marketParams(_marketId(market)));
    }

    /// @inheritdoc IVenueAdapter
    function quote(uint8 market, int256 size) external view returns (uint256 averagePrice, uint256 fee) {
        string memory id = _marketId(market);
        averagePrice = _venue().quote(id, _side(size), SignedMath.abs(size));
        fee = _takerFee(size, averagePrice, _venue().marketParams(id).takerFeePpm);
    }

    /// @inheritdoc IVenueAdapter
    function fundingIndex(uint8 market) external view returns (int256) {
        return _venue().fundingIndex(_marketId(market));
    }

    /// @inheritdoc IVenueAdapter
    function position(uint8 market) external view returns (int256) {
        return _venue().position(address(this), _marketId(market));
    }

    /// @inheritdoc IVenueAdapter
    function margin()
        external
        view
        returns (int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin)
    {
        // slither-disable-next-line unused-return (the first field is not part of the adapter interface)
        (, netCollateral, initialMargin, maintenanceMargin) = _venue().accountMargin(address(this));
    }

    /// @inheritdoc IVenueAdapter
    function pendingWithdrawals() external view returns (uint256) {
        return _pendingTotal;
    }

    /// @inheritdoc IVenueAdapter
    function trade(uint8 market, int256 size, uint256 limitPrice)
        external
        onlyTradingModule
        returns (uint256 averagePrice, uint256 fee)
    {
        string memory id = _marketId(market);
        uint256 tick = _ticks[market];
        // slither-disable-next-line divide-before-multiply (limits round onto the tick grid: down for buys, up for sells)
        uint256 limit = size > 0 ? limitPrice / tick * tick : (limitPrice + tick - 1) / tick * tick;
        return _venue()
            .placeOrder(
                IRabbitStyleVenue.OrderRequest(
                    id, _side(size), limit, SignedMath.abs(size), "market", ++_clientOrderId
                )
            );
    }

    /// @inheritdoc IVenueAdapter
    function depositMargin(uint256 amount) external onlyTradingModule {
        _pullMargin(amount);
        // slither-disable-next-line unused-return (the deposit id is a receipt; the margin is credited in this call)
        _venue().deposit(amount);
    }

    /// @inheritdoc IVenueAdapter
    function requestWithdrawal(uint256 amount) external onlyTradingModule returns (uint256 claimableAt) {
        uint256 requestId = _venue().requestWithdrawal(amount);
        claimableAt = block.timestamp + _venue().withdrawalDelay();
        _pending.push(Pending(uint64(requestId), uint40(claimableAt), uint96(amount)));
        _pendingTotal += amount;
    }

    /// @inheritdoc IVenueAdapter
    /// @dev Claims matured requests in order, at most MAX_CLAIMS per call, and stops at the first that is not
    ///      yet claimable.
    function claimWithdrawal() external onlyTradingModule returns (uint256 amount) {
        uint256 first = _nextToClaim;
        uint256 end = first + MAX_CLAIMS < _pending.length ? first + MAX_CLAIMS : _pending.length;
        uint256 next = first;
        while (next < end && _pending[next].claimableAt <= block.timestamp) {
            amount += _pending[next].amount;
            ++next;
        }
        // Effects before the venue calls: the requests are marked claimed first.
        _nextToClaim = next;
        _pendingTotal -= amount;
        for (uint256 i = first; i < next; ++i) {
            _venue().claimWithdrawal(_pending[i].requestId);
        }
        if (amount > 0) _sendToTradingModule(amount);
    }

    function _venue() internal view returns (IRabbitStyleVenue) {
        return IRabbitStyleVenue(target);
    }

    function _marketId(uint8 market) internal view returns (string memory) {
        if (market >= _marketIds.length) revert AdapterUnknownMarket(market);
        return _marketIds[market];
    }

    function _side(int256 size) internal pure returns (string memory) {
        return size > 0 ? "long" : "short";
    }
}
