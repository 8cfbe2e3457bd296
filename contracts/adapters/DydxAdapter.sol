// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {DydxStyleVenue} from "../venues/DydxStyleVenue.sol";
import {VenueAdapterBase} from "./VenueAdapterBase.sol";

/// @title DydxAdapter
/// @notice Translates the vault's orders into dYdX-style subaccount orders: sizes into base quantums,
///         limits into subticks on the tick grid (down for buys, up for sells: never worse than the vault's
///         limit), IOC time in force. Trades from subaccount 0 of this adapter; withdrawals are instant.
contract DydxAdapter is VenueAdapterBase {
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev Vault market id -> clob pair id.
    uint32[] internal _clobPairs;
    uint32 internal _clientId;

    constructor(address vault_, DydxStyleVenue venue, IERC20 usdc_, uint32[] memory clobPairIds)
        VenueAdapterBase(vault_, address(venue), usdc_)
    {
        _clobPairs = clobPairIds;
    }

    /// @inheritdoc IVenueAdapter
    function marketCount() external view returns (uint256) {
        return _clobPairs.length;
    }

    /// @inheritdoc IVenueAdapter
    function marketParams(uint8 market) public view returns (MarketParams memory p) {
        return _params(_venue().marketParams(_pairId(market)));
    }

    /// @inheritdoc IVenueAdapter
    function quote(uint8 market, int256 size) external view returns (uint256 averagePrice, uint256 fee) {
        uint32 pairId = _pairId(market);
        DydxStyleVenue.ClobPair memory pair = _venue().clobPair(pairId);
        uint64 subticks = _venue().quoteSubticks(pairId, _side(size), _quantums(pair, size));
        averagePrice = _toPrice(pair, subticks);
        fee = _takerFee(size, averagePrice, _venue().marketParams(pairId).takerFeePpm);
    }

    /// @inheritdoc IVenueAdapter
    function fundingIndex(uint8 market) external view returns (int256) {
        return _venue().fundingIndex(_pairId(market));
    }

    /// @inheritdoc IVenueAdapter
    function position(uint8 market) external view returns (int256) {
        uint32 pairId = _pairId(market);
        DydxStyleVenue.ClobPair memory pair = _venue().clobPair(pairId);
        return _venue().positionQuantums(_subaccount(), pairId) * int256(_quantum(pair));
    }

    /// @inheritdoc IVenueAdapter
    function margin()
        external
        view
        returns (int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin)
    {
        (, netCollateral, initialMargin, maintenanceMargin) = _venue().subaccountMargin(_subaccount());
    }

    /// @inheritdoc IVenueAdapter
    function pendingWithdrawals() external pure returns (uint256) {
        return 0;
    }

    /// @inheritdoc IVenueAdapter
    function trade(uint8 market, int256 size, uint256 limitPrice)
        external
        onlyVault
        returns (uint256 averagePrice, uint256 fee)
    {
        uint32 pairId = _pairId(market);
        DydxStyleVenue.ClobPair memory pair = _venue().clobPair(pairId);
        DydxStyleVenue.Side side = _side(size);
        uint256 unit = _subtickPrice(pair) * pair.subticksPerTick;
        // Buy limits round down and sell limits up onto the tick grid: never worse than the vault asked.
        uint256 ticks = side == DydxStyleVenue.Side.BUY ? limitPrice / unit : (limitPrice + unit - 1) / unit;
        DydxStyleVenue.Order memory order = DydxStyleVenue.Order({
            orderId: DydxStyleVenue.OrderId(_subaccount(), ++_clientId, 0, pairId),
            side: side,
            quantums: _quantums(pair, size),
            subticks: (ticks * pair.subticksPerTick).toUint64(),
            goodTilBlock: uint32(block.number),
            timeInForce: DydxStyleVenue.TimeInForce.IOC,
            reduceOnly: false
        });
        uint64 fillSubticks;
        (fillSubticks, fee) = _venue().placeOrder(order);
        averagePrice = _toPrice(pair, fillSubticks);
    }

    /// @inheritdoc IVenueAdapter
    function depositMargin(uint256 amount) external onlyVault {
        _pullMargin(amount);
        _venue().depositToSubaccount(_subaccount(), amount);
    }

    /// @inheritdoc IVenueAdapter
    function requestWithdrawal(uint256 amount) external onlyVault returns (uint256 claimableAt) {
        _venue().withdrawFromSubaccount(_subaccount(), vault, amount);
        return block.timestamp;
    }

    /// @inheritdoc IVenueAdapter
    function claimWithdrawal() external view onlyVault returns (uint256) {
        return 0; // withdrawals are paid at request
    }

    function _venue() internal view returns (DydxStyleVenue) {
        return DydxStyleVenue(target);
    }

    function _subaccount() internal view returns (DydxStyleVenue.SubaccountId memory) {
        return DydxStyleVenue.SubaccountId(address(this), 0);
    }

    function _pairId(uint8 market) internal view returns (uint32) {
        if (market >= _clobPairs.length) revert AdapterUnknownMarket(market);
        return _clobPairs[market];
    }

    function _side(int256 size) internal pure returns (DydxStyleVenue.Side) {
        return size > 0 ? DydxStyleVenue.Side.BUY : DydxStyleVenue.Side.SELL;
    }

    function _quantum(DydxStyleVenue.ClobPair memory pair) internal pure returns (uint256) {
        return 10 ** uint256(int256(18 + pair.atomicResolution));
    }

    function _quantums(DydxStyleVenue.ClobPair memory pair, int256 size) internal pure returns (uint64) {
        uint256 quantum = _quantum(pair);
        uint256 absSize = _abs(size);
        if (absSize % quantum != 0) revert AdapterUnitMismatch(absSize, quantum);
        return (absSize / quantum).toUint64();
    }

    /// @dev USD WAD of one subtick: 10^(18 - (atomicResolution - quantumConversionExponent + 6)).
    function _subtickPrice(DydxStyleVenue.ClobPair memory pair) internal pure returns (uint256) {
        return 10 ** uint256(18 - (int256(pair.atomicResolution) - pair.quantumConversionExponent + 6));
    }

    function _toPrice(DydxStyleVenue.ClobPair memory pair, uint64 subticks) internal pure returns (uint256) {
        return uint256(subticks) * _subtickPrice(pair);
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
