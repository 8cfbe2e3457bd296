// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {IDydxStyleVenue} from "../interfaces/venues/IDydxStyleVenue.sol";
import {VenueAdapterBase} from "./VenueAdapterBase.sol";

/// @title DydxAdapter
/// @notice Translates the vault's orders into dYdX-style subaccount orders: sizes into base quantums,
///         limits into subticks on the tick grid (down for buys, up for sells: never worse than the vault's
///         limit), IOC time in force. Trades from subaccount 0 of this adapter; withdrawals are instant.
contract DydxAdapter is VenueAdapterBase {
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev A clob pair's id and unit parameters, read once at construction (they never change at the
    ///      venue) and packed in one slot.
    struct PairUnits {
        uint32 clobPairId;
        int8 atomicResolution;
        int8 quantumConversionExponent;
        uint64 stepBaseQuantums;
        uint32 subticksPerTick;
    }

    /// @dev Vault market id -> clob pair.
    PairUnits[] internal _pairs;

    constructor(address tradingModule_, IDydxStyleVenue venue, IERC20 usdc_, uint32[] memory clobPairIds)
        VenueAdapterBase(tradingModule_, address(venue), usdc_)
    {
        for (uint256 i; i < clobPairIds.length; ++i) {
            IDydxStyleVenue.ClobPair memory pair = venue.clobPair(clobPairIds[i]);
            _pairs.push(
                PairUnits(
                    clobPairIds[i],
                    pair.atomicResolution,
                    pair.quantumConversionExponent,
                    pair.stepBaseQuantums,
                    pair.subticksPerTick
                )
            );
        }
    }

    /// @inheritdoc IVenueAdapter
    function marketCount() external view returns (uint256) {
        return _pairs.length;
    }

    /// @inheritdoc IVenueAdapter
    function marketParams(uint8 market) public view returns (MarketParams memory p) {
        return _params(_venue().marketParams(_pair(market).clobPairId));
    }

    /// @inheritdoc IVenueAdapter
    function quote(uint8 market, int256 size) external view returns (uint256 averagePrice, uint256 fee) {
        PairUnits memory pair = _pair(market);
        uint64 subticks = _venue().quoteSubticks(pair.clobPairId, _side(size), _quantums(pair, size));
        averagePrice = _toPrice(pair, subticks);
        fee = _takerFee(size, averagePrice, _venue().marketParams(pair.clobPairId).takerFeePpm);
    }

    /// @inheritdoc IVenueAdapter
    function fundingIndex(uint8 market) external view returns (int256) {
        return _venue().fundingIndex(_pair(market).clobPairId);
    }

    /// @inheritdoc IVenueAdapter
    function position(uint8 market) external view returns (int256) {
        PairUnits memory pair = _pair(market);
        return _venue().positionQuantums(_subaccount(), pair.clobPairId) * int256(_quantum(pair));
    }

    /// @inheritdoc IVenueAdapter
    function margin()
        external
        view
        returns (int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin)
    {
        // slither-disable-next-line unused-return (the first field is not part of the adapter interface)
        (, netCollateral, initialMargin, maintenanceMargin) = _venue().subaccountMargin(_subaccount());
    }

    /// @inheritdoc IVenueAdapter
    function pendingWithdrawals() external pure returns (uint256) {
        return 0;
    }

    /// @inheritdoc IVenueAdapter
    function trade(uint8 market, int256 size, uint256 limitPrice)
        external
        onlyTradingModule
        returns (uint256 averagePrice, uint256 fee)
    {
        PairUnits memory pair = _pair(market);
        IDydxStyleVenue.Side side = _side(size);
        uint256 unit = _subtickPrice(pair) * pair.subticksPerTick;
        // Buy limits round down and sell limits up onto the tick grid: never worse than the vault asked.
        // slither-disable-next-line divide-before-multiply (the floor/ceil is the rounding onto the tick grid)
        uint256 ticks = side == IDydxStyleVenue.Side.BUY ? limitPrice / unit : (limitPrice + unit - 1) / unit;
        IDydxStyleVenue.Order memory order = IDydxStyleVenue.Order({
            // IOC orders never rest on the book, so the block number is a unique enough client id.
            orderId: IDydxStyleVenue.OrderId(_subaccount(), uint32(block.number), 0, pair.clobPairId),
            side: side,
            quantums: _quantums(pair, size),
            subticks: (ticks * pair.subticksPerTick).toUint64(),
            goodTilBlock: uint32(block.number),
            timeInForce: IDydxStyleVenue.TimeInForce.IOC,
            reduceOnly: false
        });
        uint64 fillSubticks;
        (fillSubticks, fee) = _venue().placeOrder(order);
        averagePrice = _toPrice(pair, fillSubticks);
    }

    /// @inheritdoc IVenueAdapter
    function depositMargin(uint256 amount) external onlyTradingModule {
        _pullMargin(amount);
        _venue().depositToSubaccount(_subaccount(), amount);
    }

    /// @inheritdoc IVenueAdapter
    function requestWithdrawal(uint256 amount) external onlyTradingModule returns (uint256 claimableAt) {
        _venue().withdrawFromSubaccount(_subaccount(), tradingModule, amount);
        return block.timestamp;
    }

    /// @inheritdoc IVenueAdapter
    function claimWithdrawal() external view onlyTradingModule returns (uint256) {
        return 0; // withdrawals are paid at request
    }

    function _venue() internal view returns (IDydxStyleVenue) {
        return IDydxStyleVenue(target);
    }

    function _subaccount() internal view returns (IDydxStyleVenue.SubaccountId memory) {
        return IDydxStyleVenue.SubaccountId(address(this), 0);
    }

    function _pair(uint8 market) internal view returns (PairUnits memory) {
        if (market >= _pairs.length) revert AdapterUnknownMarket(market);
        return _pairs[market];
    }

    function _side(int256 size) internal pure returns (IDydxStyleVenue.Side) {
        return size > 0 ? IDydxStyleVenue.Side.BUY : IDydxStyleVenue.Side.SELL;
    }

    function _quantum(PairUnits memory pair) internal pure returns (uint256) {
        return 10 ** uint256(int256(18 + pair.atomicResolution));
    }

    function _quantums(PairUnits memory pair, int256 size) internal pure returns (uint64) {
        uint256 quantum = _quantum(pair);
        uint256 absSize = SignedMath.abs(size);
        if (absSize % quantum != 0) revert AdapterUnitMismatch(absSize, quantum);
        return (absSize / quantum).toUint64();
    }

    /// @dev USD WAD of one subtick: 10^(18 - (atomicResolution - quantumConversionExponent + 6)).
    function _subtickPrice(PairUnits memory pair) internal pure returns (uint256) {
        return 10 ** uint256(18 - (int256(pair.atomicResolution) - pair.quantumConversionExponent + 6));
    }

    function _toPrice(PairUnits memory pair, uint64 subticks) internal pure returns (uint256) {
        return uint256(subticks) * _subtickPrice(pair);
    }
}
