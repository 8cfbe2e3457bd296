// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IPerpVenue} from "./IPerpVenue.sol";

/// @title IDydxStyleVenue
/// @notice A perp venue with dYdX v4's shapes and units, as `DydxAdapter` uses it: subaccounts
///         `{owner, number}`, markets by clob pair id, sizes in base quantums and prices in subticks,
///         BUY/SELL orders with a time in force, instant USDC withdrawals.
/// @dev quantums = size x 10^(-atomicResolution); subticks = price x 10^(atomicResolution -
///      quantumConversionExponent + 6). USDC amounts are in USDC units (6 decimals).
interface IDydxStyleVenue is IPerpVenue {
    /// @notice A subaccount: `number` of the `owner`'s subaccounts.
    struct SubaccountId {
        address owner;
        uint32 number;
    }

    enum Side {
        UNSPECIFIED,
        BUY,
        SELL
    }

    enum TimeInForce {
        UNSPECIFIED,
        IOC,
        POST_ONLY,
        FILL_OR_KILL
    }

    struct OrderId {
        SubaccountId subaccountId;
        uint32 clientId;
        uint32 orderFlags;
        uint32 clobPairId;
    }

    struct Order {
        OrderId orderId;
        Side side;
        uint64 quantums;
        uint64 subticks; // limit price
        uint32 goodTilBlock;
        TimeInForce timeInForce;
        bool reduceOnly;
    }

    /// @notice A market's units: sizes step by `stepBaseQuantums`, prices by `subticksPerTick`.
    struct ClobPair {
        int8 atomicResolution;
        int8 quantumConversionExponent;
        uint64 stepBaseQuantums;
        uint32 subticksPerTick;
        uint32 liquidityTier;
        string ticker;
    }

    /// @notice Deposits `amount` USDC from the caller into `subaccount`.
    function depositToSubaccount(SubaccountId calldata subaccount, uint256 amount) external;

    /// @notice Withdraws `amount` USDC from the caller's `subaccount` to `recipient` at once; the subaccount
    ///         must keep its initial margin.
    function withdrawFromSubaccount(SubaccountId calldata subaccount, address recipient, uint256 amount)
        external;

    /// @notice Places an order for a subaccount of the caller. An immediate-or-cancel order fills in full at
    ///         the venue's price or reverts.
    /// @return fillSubticks Average fill price in subticks (rounded against the taker).
    /// @return fee Taker fee charged, USDC units.
    function placeOrder(Order calldata order) external returns (uint64 fillSubticks, uint256 fee);

    /// @notice The units of clob pair `clobPairId`.
    function clobPair(uint32 clobPairId) external view returns (ClobPair memory);

    /// @notice `subaccount`'s signed position in clob pair `clobPairId`, base quantums.
    function positionQuantums(SubaccountId calldata subaccount, uint32 clobPairId)
        external
        view
        returns (int256);

    /// @notice `subaccount`'s USDC balance, net collateral and margin requirements, USDC units.
    function subaccountMargin(SubaccountId calldata subaccount)
        external
        view
        returns (int256 usdcBalance, int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin);

    /// @notice Cumulative funding of clob pair `clobPairId`, USD WAD per base unit.
    function fundingIndex(uint32 clobPairId) external view returns (int256);

    /// @notice The average fill price, in subticks, of a market order of `quantums` on `side` now (rounded
    ///         against the taker).
    function quoteSubticks(uint32 clobPairId, Side side, uint64 quantums) external view returns (uint64);

    /// @notice Clob pair `clobPairId`'s parameters in `IPerpVenue.Market`'s units.
    function marketParams(uint32 clobPairId) external view returns (Market memory);
}
