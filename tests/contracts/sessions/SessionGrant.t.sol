// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ISessionKeys} from "../../../contracts/interfaces/ISessionKeys.sol";
import {SessionFixture} from "./SessionFixture.sol";

/// @notice A grant needs the key's acceptance of that owner, so no one else can take the key first.
contract SessionGrantTest is SessionFixture {
    function test_aGrantTheKeyAcceptedIsTheOwners() public {
        _grant();
        ISessionKeys.Session memory s = sessions.session(bot);
        assertEq(s.owner, alice);
        assertEq(s.scope.maxNotionalTotal, 25_000e18);
    }

    /// @dev Before acceptance, anyone who saw alice's pending grant could send the same call first and own the
    ///      key: alice's grant then reverted and the orders her bot signed acted on the copier's sub-accounts.
    function test_aGrantCopiedFromTheMempoolIsRefused() public {
        bytes memory accepted = _accept(botKey, alice);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNotAccepted.selector, bot, bob));
        sessions.grant(bot, _scope(), accepted);
        _grant(); // alice's own grant still goes through
        assertEq(sessions.session(bot).owner, alice);
    }

    function test_anotherKeysSignatureIsRefused() public {
        bytes memory acceptedByOther = _accept(0xBAD, alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNotAccepted.selector, bot, alice));
        sessions.grant(bot, _scope(), acceptedByOther);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNotAccepted.selector, bot, alice));
        sessions.grant(bot, _scope(), "");
    }

    function test_theDigestIsTheTypedDataTheKeySigns() public view {
        bytes32 structHash = keccak256(abi.encode(keccak256("SessionAccept(address owner)"), alice));
        assertEq(
            sessions.acceptDigest(alice),
            keccak256(abi.encodePacked("\x19\x01", sessions.domainSeparator(), structHash))
        );
    }

    function test_aKeyIsGrantedOnceEver() public {
        _grant();
        vm.prank(alice);
        sessions.revoke(bot);
        bytes memory accepted = _accept(botKey, alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionAlreadyGranted.selector, bot));
        sessions.grant(bot, _scope(), accepted);
    }

    function test_aBadScopeIsRefused() public {
        bytes memory accepted = _accept(botKey, alice);
        ISessionKeys.Scope memory scope = _scope();
        scope.markets = 0;
        vm.prank(alice);
        vm.expectRevert(ISessionKeys.SessionBadScope.selector);
        sessions.grant(bot, scope, accepted);
        scope = _scope();
        scope.expiry = uint64(block.timestamp);
        vm.prank(alice);
        vm.expectRevert(ISessionKeys.SessionBadScope.selector);
        sessions.grant(bot, scope, accepted);
    }
}
