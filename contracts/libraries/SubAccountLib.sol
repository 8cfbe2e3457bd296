// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title SubAccountLib
/// @notice Euler EVC-style sub-account addressing: an owner's 256 sub-accounts are `owner ^ subId`.
library SubAccountLib {
    /// @notice The 19-byte prefix shared by all sub-accounts of one owner.
    function prefix(address account) internal pure returns (bytes19) {
        return bytes19(uint152(uint160(account) >> 8));
    }

    /// @notice Whether `a` and `b` share a prefix, i.e. may belong to one owner.
    function haveCommonOwner(address a, address b) internal pure returns (bool) {
        return (uint160(a) ^ uint160(b)) < 0x100;
    }

    /// @notice Sub-account `subId` of `owner`.
    function subAccount(address owner, uint8 subId) internal pure returns (address) {
        return address(uint160(owner) ^ subId);
    }
}
