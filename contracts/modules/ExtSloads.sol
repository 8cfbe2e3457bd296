// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IExtSloads} from "../interfaces/IExtSloads.sol";

/// @title ExtSloads
/// @notice `IExtSloads` for the contracts whose storage the lens reads (the vault and the trading module).
abstract contract ExtSloads is IExtSloads {
    /// @inheritdoc IExtSloads
    function extSloads(bytes32[] calldata slots) external view returns (bytes32[] memory) {
        // The answer is written in its ABI form at the free memory and returned from there: one SLOAD and one
        // MSTORE a slot, with no array built and then encoded again (a lens page asks for thousands).
        assembly ("memory-safe") {
            let out := mload(0x40)
            let n := slots.length
            mstore(out, 0x20)
            mstore(add(out, 0x20), n)
            let words := add(out, 0x40)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                mstore(add(words, shl(5, i)), sload(calldataload(add(slots.offset, shl(5, i)))))
            }
            return(out, add(0x40, shl(5, n)))
        }
    }
}
