// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TokenReadLib} from "../../../../contracts/libraries/TokenReadLib.sol";

/// @notice Exposes TokenReadLib's internal function externally.
contract TokenReadLibHarness {
    function tryBalanceOf(address token, address holder) external view returns (uint256) {
        return TokenReadLib.tryBalanceOf(token, holder);
    }
}
