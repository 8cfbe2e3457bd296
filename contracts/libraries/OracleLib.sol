// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";
import {IPrimeVaultErrors} from "../interfaces/IPrimeVaultErrors.sol";
import {MAX_PRICE} from "./ConstantsLib.sol";
import {MathLib} from "./MathLib.sol";

/// @title OracleLib
/// @notice Reads a Chainlink-style feed and refuses answers that cannot be trusted.
library OracleLib {
    /// @notice The feed's answer, or a revert with `OracleInvalidPrice` (answer <= 0 or above `MAX_PRICE`) or
    ///         `OracleStalePrice` (older than `maxStaleness` seconds, or dated after the current block).
    function read(address feed, uint256 maxStaleness) internal view returns (uint256) {
        // slither-disable-next-line unused-return (round ids are not needed: staleness is checked by time)
        (, int256 answer,, uint256 updatedAt,) = IAggregatorV3(feed).latestRoundData();
        if (!isValid(answer)) revert IPrimeVaultErrors.OracleInvalidPrice(feed, answer);
        if (!isFresh(updatedAt, maxStaleness)) {
            revert IPrimeVaultErrors.OracleStalePrice(feed, updatedAt, maxStaleness);
        }
        return uint256(answer);
    }

    /// @notice The feed's answer, or 0 whenever `read` would revert: stale, dated in the future, non-positive
    ///         or above `MAX_PRICE`, a feed that reverts, has no code, or answers with fewer than five words or
    ///         out-of-range round ids. For paths that must go on without the price.
    function tryRead(address feed, uint256 maxStaleness) internal view returns (uint256) {
        // A low-level call, not try/catch: a missing or short answer fails ABI decoding in this frame, which a
        // catch clause does not cover. The words are decoded at full width and the round ids' range checked
        // by hand, where `read`'s decoder would revert.
        (bool success, bytes memory answerData) =
            feed.staticcall(abi.encodeCall(IAggregatorV3.latestRoundData, ()));
        if (!success || answerData.length < 5 * 32) return 0;
        (uint256 roundId, int256 answer,, uint256 updatedAt, uint256 answeredInRound) =
            abi.decode(answerData, (uint256, int256, uint256, uint256, uint256));
        if (roundId > type(uint80).max || answeredInRound > type(uint80).max) return 0;
        if (!isValid(answer) || !isFresh(updatedAt, maxStaleness)) return 0;
        return uint256(answer);
    }

    /// @notice `read`'s answer as a WAD (18 decimals), for a feed of `decimals` (at most 18: a perp market's mark
    ///         is a WAD, and `TradingModule.addMarket` refuses a feed with more).
    function readWad(address feed, uint256 maxStaleness, uint8 decimals) internal view returns (uint256) {
        return read(feed, maxStaleness) * MathLib.pow10(18 - decimals);
    }

    /// @notice `tryRead`'s answer as a WAD, 0 where `tryRead` gives 0.
    function tryReadWad(address feed, uint256 maxStaleness, uint8 decimals) internal view returns (uint256) {
        return tryRead(feed, maxStaleness) * MathLib.pow10(18 - decimals);
    }

    function isValid(int256 answer) private pure returns (bool) {
        return answer > 0 && uint256(answer) <= MAX_PRICE;
    }

    /// @dev A feed that dates its answers ahead of the chain would never turn stale, so a future `updatedAt`
    ///      counts as not fresh. Subtracting after that check cannot overflow, whatever the feed reports.
    function isFresh(uint256 updatedAt, uint256 maxStaleness) private view returns (bool) {
        return updatedAt <= block.timestamp && block.timestamp - updatedAt <= maxStaleness;
    }
}
