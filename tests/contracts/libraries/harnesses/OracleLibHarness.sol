// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {OracleLib} from "../../../../contracts/libraries/OracleLib.sol";

/// @notice Exposes OracleLib's internal functions externally, so tests can expect their reverts.
contract OracleLibHarness {
    function read(address feed, uint256 maxStaleness) external view returns (uint256) {
        return OracleLib.read(feed, maxStaleness);
    }

    function tryRead(address feed, uint256 maxStaleness) external view returns (uint256) {
        return OracleLib.tryRead(feed, maxStaleness);
    }
}
