// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {SubAccountLib} from "../../../contracts/libraries/SubAccountLib.sol";

contract SubAccountLibTest is Test {
    using SubAccountLib for address;

    address internal constant OWNER = 0x1234567890AbcdEF1234567890aBcdef12345678;

    // ------------------------------------------------------------------ examples

    function test_subAccount_examples() public pure {
        assertEq(OWNER.subAccount(0), OWNER);
        // ...78 ^ 0x05 = ...7d; ...78 ^ 0xff = ...87.
        assertEq(OWNER.subAccount(5), 0x1234567890abCDEf1234567890abCdeF1234567D);
        assertEq(OWNER.subAccount(255), 0x1234567890abcdef1234567890aBCDEf12345687);
        assertEq(address(0).subAccount(7), address(7));
        assertEq(address(type(uint160).max).subAccount(255), address(type(uint160).max - 255));
    }

    function test_prefix_examples() public pure {
        // The address without its last byte.
        assertEq(OWNER.prefix(), bytes19(0x1234567890abcdef1234567890abcdef123456));
        assertEq(address(0xff).prefix(), bytes19(0));
        assertEq(address(0x100).prefix(), bytes19(uint152(1)));
        assertEq(address(type(uint160).max).prefix(), bytes19(type(uint152).max));
    }

    function test_haveCommonOwner_examples() public pure {
        assertTrue(OWNER.haveCommonOwner(OWNER));
        assertTrue(OWNER.haveCommonOwner(0x1234567890ABCdeF1234567890aBCDEF12345600));
        assertTrue(OWNER.haveCommonOwner(0x1234567890AbCdef1234567890AbcDef123456FF));
        // One bit above the last byte: another owner.
        assertFalse(OWNER.haveCommonOwner(0x1234567890aBCDEf1234567890abCdEF12345778));
        // Top bit differs.
        assertFalse(OWNER.haveCommonOwner(0x9234567890AbCDEf1234567890abcDEF12345678));
        assertTrue(address(0).haveCommonOwner(address(0xff)));
        assertFalse(address(0xff).haveCommonOwner(address(0x100)));
    }

    // ------------------------------------------------------------------ properties

    function testFuzz_subAccount_belongsToTheOwner(address owner, uint8 subId) public pure {
        address sub = owner.subAccount(subId);
        assertTrue(owner.haveCommonOwner(sub));
        assertTrue(sub.haveCommonOwner(owner));
        assertEq(sub.prefix(), owner.prefix());
        // The sub-account's last byte is the owner's xor the id.
        assertEq(uint8(uint160(sub)), uint8(uint160(owner)) ^ subId);
    }

    function testFuzz_subAccount_isAnInvolution(address owner, uint8 subId) public pure {
        assertEq(owner.subAccount(subId).subAccount(subId), owner);
    }

    function testFuzz_subAccount_distinctIdsAreDistinctAccounts(address owner, uint8 a, uint8 b) public pure {
        vm.assume(a != b);
        assertTrue(owner.subAccount(a) != owner.subAccount(b));
    }

    /// @dev Any two sub-accounts of one owner are sub-accounts of each other: the ids compose by xor.
    function testFuzz_subAccount_composes(address owner, uint8 a, uint8 b) public pure {
        assertEq(owner.subAccount(a).subAccount(b), owner.subAccount(a ^ b));
    }

    function testFuzz_haveCommonOwner_isSharingAPrefix(address a, address b) public pure {
        assertEq(a.haveCommonOwner(b), a.prefix() == b.prefix());
        assertEq(a.haveCommonOwner(b), b.haveCommonOwner(a));
    }

    /// @dev Flipping any bit above the last byte leaves the owner's family.
    function testFuzz_haveCommonOwner_falseOutsideTheLastByte(address a, uint8 bit) public pure {
        bit = uint8(bound(bit, 8, 159));
        address b = address(uint160(a) ^ (uint160(1) << bit));
        assertFalse(a.haveCommonOwner(b));
        assertTrue(a.prefix() != b.prefix());
    }

    /// @dev Exactly the 256 sub-accounts share an owner: `b` shares one with `a` iff it is `a`'s sub-account.
    function testFuzz_haveCommonOwner_iffSubAccount(address a, address b) public pure {
        bool isSub = a.subAccount(uint8(uint160(a) ^ uint160(b))) == b;
        assertEq(a.haveCommonOwner(b), isSub);
    }

    function testFuzz_prefix_isTheTop19Bytes(address a) public pure {
        assertEq(bytes19(bytes20(a)), a.prefix());
    }
}
