// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";
import {IPrimeVaultErrors} from "../interfaces/IPrimeVaultErrors.sol";

/// @title OracleLib
/// @notice Reads a Chainlink-style feed and refuses answers that cannot be trusted.
library OracleLib {
    /// @notice The feed's answer, or a revert with `OracleInvalidPrice` (answer <= 0) or `OracleStalePrice`
    ///         (older than `maxStaleness` seconds).
    function read(address feed, uint256 maxStaleness) internal view returns (uint256) {
        // slither-disable-next-line unused-return (round ids are not needed: staleness is checked by time)
        (, int256 answer,, uint256 updatedAt,) = IAggregatorV3(feed).latestRoundData();
        if (answer <= 0) revert IPrimeVaultErrors.OracleInvalidPrice(feed, answer);
        if (block.timestamp > updatedAt + maxStaleness) {
            revert IPrimeVaultErrors.OracleStalePrice(feed, updatedAt, maxStaleness);
        }
        return uint256(answer);
    }

    /// @notice The feed's answer, or 0 when `read` would revert (stale, non-positive, or a feed that
    ///         reverts). For paths that must go on without the price.
    function tryRead(address feed, uint256 maxStaleness) internal view returns (uint256) {
        // slither-disable-next-line unused-return (round ids are not needed: staleness is checked by time)
        try IAggregatorV3(feed).latestRoundData() returns (
            uint80, int256 answer, uint256, uint256 updatedAt, uint80
        ) {
            if (answer <= 0 || block.timestamp > updatedAt + maxStaleness) return 0;
            return uint256(answer);
        } catch {
            return 0;
        }
    }
}
