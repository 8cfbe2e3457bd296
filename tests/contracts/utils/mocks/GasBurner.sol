// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Code for an address that answers every call by burning all the gas it is given (a broken upgrade, a
///         hostile contract): put in place of a venue adapter with `vm.etch`.
contract GasBurner {
    fallback() external {
        while (true) {}
    }
}
