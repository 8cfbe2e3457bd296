// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {MathLib} from "./MathLib.sol";

/// @title ValueLib
/// @notice Collateral valuation in base units and haircut arithmetic.
/// @dev value = amount * price / 10**scaleExponent, where scaleExponent = tokenDecimals + feedDecimals -
///      baseDecimals. Values round down and requirements round up, so the protocol never overstates what an
///      account is worth nor understates what it needs. Values stay below 2^224 (`value`), so their portions
///      need no 512-bit product either.
library ValueLib {
    uint256 internal constant BPS = 10_000;

    /// @notice Value of `amount` at `price`, rounded down. `amount` must fit 96 bits (any balance the vault
    ///         books does: an asset's total supplied is a uint96) and `price` 128 (`MAX_PRICE`), so the
    ///         product cannot overflow; larger inputs panic.
    function value(uint256 amount, uint256 price, uint8 scaleExponent) internal pure returns (uint256) {
        return amount * price / MathLib.pow10(scaleExponent);
    }

    /// @notice `value` for a caller that has `10**scaleExponent` at hand and inputs within its bounds: a booked
    ///         balance (below 2^96) and a price `OracleLib` accepted (at most `MAX_PRICE`, 2^128 - 1). Unchecked,
    ///         as the product of those fits 224 bits: the liquidation batch values every account's collateral
    ///         with it. Larger inputs would wrap, so nothing else may call it.
    function valueAtScale(uint256 amount, uint256 price, uint256 scale) internal pure returns (uint256) {
        unchecked {
            return amount * price / scale;
        }
    }

    /// @notice `v x bps / 10,000`, rounded up: a requirement.
    function portionUp(uint256 v, uint256 bps) internal pure returns (uint256) {
        return (v * bps + BPS - 1) / BPS;
    }

    /// @notice `v x bps / 10,000`, rounded down: a credit.
    function portionDown(uint256 v, uint256 bps) internal pure returns (uint256) {
        return v * bps / BPS;
    }

    /// @notice Amount of collateral bought with `baseAmount` at `price` less `discountBps`, rounded down.
    function amountForValue(uint256 baseAmount, uint256 price, uint256 discountBps, uint8 scaleExponent)
        internal
        pure
        returns (uint256)
    {
        uint256 discountedPrice = Math.mulDiv(price, BPS - discountBps, BPS, Math.Rounding.Ceil);
        return Math.mulDiv(baseAmount, MathLib.pow10(scaleExponent), discountedPrice);
    }
}
