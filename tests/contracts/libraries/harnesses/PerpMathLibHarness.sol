// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PerpMathLib} from "../../../../contracts/libraries/PerpMathLib.sol";

/// @notice Exposes PerpMathLib's internal functions externally, so tests can expect their reverts.
contract PerpMathLibHarness {
    function unrealizedPnl(int256 size, uint256 entryPrice, uint256 mark) external pure returns (int256) {
        return PerpMathLib.unrealizedPnl(size, entryPrice, mark);
    }

    function fundingOwed(int256 size, int256 indexAtEntry, int256 indexNow) external pure returns (int256) {
        return PerpMathLib.fundingOwed(size, indexAtEntry, indexNow);
    }

    function applyFill(int256 size, uint256 entryPrice, int256 fill, uint256 price)
        external
        pure
        returns (int256 newSize, uint256 newEntry, int256 realized)
    {
        return PerpMathLib.applyFill(size, entryPrice, fill, price);
    }

    function toBaseDown(int256 wad, uint256 unit) external pure returns (int256) {
        return PerpMathLib.toBaseDown(wad, unit);
    }
}
