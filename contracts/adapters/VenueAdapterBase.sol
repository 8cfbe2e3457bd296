// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {IPerpVenue} from "../interfaces/venues/IPerpVenue.sol";

/// @title VenueAdapterBase
/// @notice What every adapter shares: the trading-module-only guard and pulling margin from the module.
abstract contract VenueAdapterBase is IVenueAdapter {
    using SafeERC20 for IERC20;

    address public immutable tradingModule;
    address public immutable target;
    IERC20 internal immutable _usdc;

    modifier onlyTradingModule() {
        if (msg.sender != tradingModule) revert AdapterOnlyTradingModule(msg.sender);
        _;
    }

    constructor(address tradingModule_, address target_, IERC20 usdc_) {
        (tradingModule, target, _usdc) = (tradingModule_, target_, usdc_);
    }

    /// @dev Pulls margin from the trading module and approves exactly that amount to the venue (reset by its use).
    function _pullMargin(uint256 amount) internal {
        // slither-disable-next-line arbitrary-send-erc20 (`from` is the trading module: immutable, and the only caller)
        _usdc.safeTransferFrom(tradingModule, address(this), amount);
        _usdc.forceApprove(target, amount);
    }

    /// @dev The venue's market parameters in the adapter interface's shape.
    function _params(IPerpVenue.Market memory m) internal pure returns (MarketParams memory) {
        return MarketParams(
            m.stepSize,
            m.tickSize,
            m.initialMarginPpm,
            m.maintenanceMarginPpm,
            m.takerFeePpm,
            m.halfSpreadPpm,
            m.depth,
            m.fundingRatePerSecond
        );
    }

    /// @dev The venue's taker fee for `size` at `price`: notional in USDC (up for buys, down for sells), then
    ///      the fee rounded up, as the venues charge it. A size past `uint128` (no position is one) is refused.
    function _takerFee(int256 size, uint256 price, uint256 feePpm) internal pure returns (uint256) {
        uint256 absSize = SignedMath.abs(size);
        if (absSize > type(uint128).max) revert AdapterAmountTooLarge(absSize, type(uint128).max);
        uint256 notional =
            Math.mulDiv(absSize, price, 1e30, size > 0 ? Math.Rounding.Ceil : Math.Rounding.Floor);
        return Math.mulDiv(notional, feePpm, 1e6, Math.Rounding.Ceil);
    }

    function _sendToTradingModule(uint256 amount) internal {
        _usdc.safeTransfer(tradingModule, amount);
    }
}
