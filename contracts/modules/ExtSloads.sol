// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IExtSloads} from "../interfaces/IExtSloads.sol";

/// @title ExtSloads
/// @notice `IExtSloads` for the contracts whose storage the lens reads (the vault and the trading module).
abstract contract ExtSloads is IExtSloads {
    /// @inheritdoc IExtSloads
    function extSloads(bytes32[] calldata slots) external view returns (bytes32[] memory words) {
        uint256 n = slots.length;
        words = new bytes32[](n);
        for (uint256 i; i < n;) {
            bytes32 slot = slots[i++];
            assembly ("memory-safe") {
                mstore(add(words, mul(i, 32)), sload(slot))
            }
        }
    }
}
