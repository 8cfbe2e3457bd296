// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

/// @title PerpMathLib
/// @notice Position arithmetic for the trading module: sizes in base WAD, prices and money in USD WAD.
/// @dev Rounding favours the protocol: a client's PnL and funding received round down, funding owed and
///      requirements round up, and a blended entry price moves against the client.
library PerpMathLib {
    using SafeCast for uint256;
    using SafeCast for int256;

    uint256 internal constant WAD = 1e18;

    /// @notice size x (mark - entry), USD WAD, rounded down.
    function unrealizedPnl(int256 size, uint256 entryPrice, uint256 mark) internal pure returns (int256) {
        return _divDown(size * (mark.toInt256() - entryPrice.toInt256()), WAD);
    }

    /// @notice Funding a position owes since its index was `indexAtEntry`: size x (now - entry), USD WAD;
    ///         positive is owed by the client (rounded up), negative is owed to it (rounded toward zero).
    function fundingOwed(int256 size, int256 indexAtEntry, int256 indexNow) internal pure returns (int256) {
        int256 product = size * (indexNow - indexAtEntry);
        return product >= 0 ? Math.ceilDiv(uint256(product), WAD).toInt256() : product / int256(WAD);
    }

    /// @notice Applies a fill of `fill` at `price` to a position of `size` entered at `entryPrice`.
    /// @return newSize The position after the fill.
    /// @return newEntry Its entry price: blended when it grows (against the client), the fill price when it
    ///         flips, unchanged when it shrinks, zero when closed.
    /// @return realized PnL realized on the part closed, USD WAD, rounded down.
    function applyFill(int256 size, uint256 entryPrice, int256 fill, uint256 price)
        internal
        pure
        returns (int256 newSize, uint256 newEntry, int256 realized)
    {
        newSize = size + fill;
        if (size == 0 || (size > 0) == (fill > 0)) {
            uint256 cost = SignedMath.abs(size) * entryPrice + SignedMath.abs(fill) * price;
            // A long's entry rounds up and a short's down: both understate the client's PnL.
            newEntry = Math.mulDiv(
                cost, 1, SignedMath.abs(newSize), newSize > 0 ? Math.Rounding.Ceil : Math.Rounding.Floor
            );
            return (newSize, newEntry, 0);
        }
        uint256 closed = Math.min(SignedMath.abs(fill), SignedMath.abs(size));
        int256 perUnit =
            size > 0 ? price.toInt256() - entryPrice.toInt256() : entryPrice.toInt256() - price.toInt256();
        realized = _divDown(closed.toInt256() * perUnit, WAD);
        if (newSize == 0) newEntry = 0;
        else if (SignedMath.abs(fill) > SignedMath.abs(size)) newEntry = price;
        else newEntry = entryPrice;
    }

    /// @notice USD WAD to base units, rounded toward negative infinity.
    function toBaseDown(int256 wad, uint256 unit) internal pure returns (int256) {
        return _divDown(wad, unit);
    }

    function _divDown(int256 a, uint256 b) private pure returns (int256) {
        int256 q = a / int256(b);
        return (a < 0 && a % int256(b) != 0) ? q - 1 : q;
    }
}
