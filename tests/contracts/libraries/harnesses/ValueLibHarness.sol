// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ValueLib} from "../../../../contracts/libraries/ValueLib.sol";

/// @notice Exposes ValueLib's internal functions externally, so tests can expect their reverts.
contract ValueLibHarness {
    function value(uint256 amount, uint256 price, uint8 scaleExponent) external pure returns (uint256) {
        return ValueLib.value(amount, price, scaleExponent);
    }

    function portionUp(uint256 v, uint256 bps) external pure returns (uint256) {
        return ValueLib.portionUp(v, bps);
    }

    function portionDown(uint256 v, uint256 bps) external pure returns (uint256) {
        return ValueLib.portionDown(v, bps);
    }

    function amountForValue(uint256 baseAmount, uint256 price, uint256 discountBps, uint8 scaleExponent)
        external
        pure
        returns (uint256)
    {
        return ValueLib.amountForValue(baseAmount, price, discountBps, scaleExponent);
    }
}
