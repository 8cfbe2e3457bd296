// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ISessionKeys} from "../../../contracts/interfaces/ISessionKeys.sol";
import {ERC1271Wallet} from "../utils/mocks/ERC1271Wallet.sol";
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
        bytes memory accepted = _accept(botKey, bot, alice);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNotAccepted.selector, bot, bob));
        sessions.grant(bot, _scope(), accepted);
        _grant(); // alice's own grant still goes through
        assertEq(sessions.session(bot).owner, alice);
    }

    function test_anotherKeysSignatureIsRefused() public {
        bytes memory acceptedByOther = _accept(0xBAD, bot, alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNotAccepted.selector, bot, alice));
        sessions.grant(bot, _scope(), acceptedByOther);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionNotAccepted.selector, bot, alice));
        sessions.grant(bot, _scope(), "");
    }

    function test_theDigestIsTheTypedDataTheKeySigns() public view {
        bytes32 structHash =
            keccak256(abi.encode(keccak256("SessionAccept(address key,address owner)"), bot, alice));
        assertEq(
            sessions.acceptDigest(bot, alice),
            keccak256(abi.encodePacked("\x19\x01", sessions.domainSeparator(), structHash))
        );
    }

    /// @dev A contract key (ERC-1271) whose signer serves other keys too, as a custody service's wallets do: the
    ///      acceptance names the key, so one the service gave for Mallory's wallet cannot take Alice's.
    function test_aContractKeysAcceptanceNamesTheKey() public {
        uint256 custody = 0xC057;
        ERC1271Wallet aliceKey = new ERC1271Wallet(vm.addr(custody));
        ERC1271Wallet malloryKey = new ERC1271Wallet(vm.addr(custody));
        address mallory = makeAddr("mallory");
        bytes memory forMallory = _accept(custody, address(malloryKey), mallory);
        vm.prank(mallory);
        vm.expectRevert(
            abi.encodeWithSelector(ISessionKeys.SessionNotAccepted.selector, address(aliceKey), mallory)
        );
        sessions.grant(address(aliceKey), _scope(), forMallory);
        bytes memory forAlice = _accept(custody, address(aliceKey), alice);
        vm.prank(alice);
        sessions.grant(address(aliceKey), _scope(), forAlice);
        assertEq(sessions.session(address(aliceKey)).owner, alice);
        vm.prank(mallory);
        sessions.grant(address(malloryKey), _scope(), forMallory);
        assertEq(sessions.session(address(malloryKey)).owner, mallory);
    }

    function test_aKeyIsGrantedOnceEver() public {
        _grant();
        vm.prank(alice);
        sessions.revoke(bot);
        bytes memory accepted = _accept(botKey, bot, alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISessionKeys.SessionAlreadyGranted.selector, bot));
        sessions.grant(bot, _scope(), accepted);
    }

    function test_aBadScopeIsRefused() public {
        bytes memory accepted = _accept(botKey, bot, alice);
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
