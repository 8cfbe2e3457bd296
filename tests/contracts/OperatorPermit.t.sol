// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {IPrimeVault, PERMISSION_TRADE, PERMISSION_TRANSFER} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";
import {ERC1271Wallet} from "./utils/mocks/ERC1271Wallet.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";

/// @notice `setOperatorWithSig`: an owner's EIP-712 permit, relayed by anyone.
contract OperatorPermitTest is VaultFixture {
    bytes32 internal constant TYPEHASH = keccak256(
        "OperatorPermit(address owner,address account,address operator,uint256 permissions,uint256 nonce,uint256 deadline)"
    );

    uint256 internal ownerKey = 0xA11CE;
    address internal owner;
    address internal relayer = makeAddr("relayer");

    function setUp() public override {
        super.setUp();
        owner = vm.addr(ownerKey);
    }

    function _permit(address account, address operator, uint256 permissions)
        internal
        view
        returns (IPrimeVault.OperatorPermit memory)
    {
        return IPrimeVault.OperatorPermit({
            owner: owner,
            account: account,
            operator: operator,
            permissions: permissions,
            nonce: vault.operatorPermitNonce(owner),
            deadline: block.timestamp + 1 hours
        });
    }

    function _sign(uint256 key, IPrimeVault.OperatorPermit memory p) internal view returns (bytes memory) {
        bytes32 structHash = keccak256(
            abi.encode(TYPEHASH, p.owner, p.account, p.operator, p.permissions, p.nonce, p.deadline)
        );
        bytes32 digest = MessageHashUtils.toTypedDataHash(vault.operatorPermitDomainSeparator(), structHash);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function test_aRelayedPermitSetsTheOperatorAndUsesTheNonce() public {
        address sub3 = address(uint160(owner) ^ 3);
        IPrimeVault.OperatorPermit memory p = _permit(sub3, bob, PERMISSION_TRANSFER | PERMISSION_TRADE);
        bytes memory signature = _sign(ownerKey, p);
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.OperatorSet(sub3, bob, PERMISSION_TRANSFER | PERMISSION_TRADE);
        vm.prank(relayer);
        vault.setOperatorWithSig(p, signature);
        assertEq(vault.operatorPermissions(sub3, bob), PERMISSION_TRANSFER | PERMISSION_TRADE);
        assertEq(vault.operatorPermitNonce(owner), 1);
        assertEq(vault.ownerOf(sub3), owner, "the first permit records the prefix's owner");

        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OperatorPermitNonceInvalid.selector, owner, 0, 1)
        );
        vault.setOperatorWithSig(p, signature);
    }

    function test_theOperatorActsWithThePermissionGranted() public {
        _deposit(owner, owner, weth, 1e18);
        IPrimeVault.OperatorPermit memory p = _permit(owner, bob, PERMISSION_TRANSFER);
        vault.setOperatorWithSig(p, _sign(ownerKey, p));
        address sub1 = address(uint160(owner) ^ 1);
        vm.prank(bob);
        vault.transfer(owner, sub1, address(weth), 4e17);
        assertEq(vault.collateralBalanceOf(sub1, address(weth)), 4e17);
    }

    function test_aZeroMaskRevokes() public {
        IPrimeVault.OperatorPermit memory grant = _permit(owner, bob, PERMISSION_TRADE);
        vault.setOperatorWithSig(grant, _sign(ownerKey, grant));
        IPrimeVault.OperatorPermit memory revoke = _permit(owner, bob, 0);
        vault.setOperatorWithSig(revoke, _sign(ownerKey, revoke));
        assertEq(vault.operatorPermissions(owner, bob), 0);
    }

    function test_anExpiredPermitIsRefused() public {
        IPrimeVault.OperatorPermit memory p = _permit(owner, bob, PERMISSION_TRADE);
        bytes memory signature = _sign(ownerKey, p);
        vm.warp(p.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OperatorPermitExpired.selector, p.deadline));
        vault.setOperatorWithSig(p, signature);
    }

    function test_anotherKeysSignatureIsRefused() public {
        IPrimeVault.OperatorPermit memory p = _permit(owner, bob, PERMISSION_TRADE);
        bytes memory signature = _sign(0xB0B, p);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OperatorPermitBadSignature.selector, owner));
        vault.setOperatorWithSig(p, signature);
    }

    function test_aSignatureOverOtherFieldsIsRefused() public {
        IPrimeVault.OperatorPermit memory p = _permit(owner, bob, PERMISSION_TRADE);
        bytes memory signature = _sign(ownerKey, p);
        p.permissions = type(uint256).max; // a relayer widening the grant
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OperatorPermitBadSignature.selector, owner));
        vault.setOperatorWithSig(p, signature);
    }

    function test_onlyThePrefixsOwnerCanPermit() public {
        _deposit(alice, alice, weth, 1e18); // records alice as the owner of her prefix
        IPrimeVault.OperatorPermit memory p = _permit(alice, bob, PERMISSION_TRADE); // signed by `owner`, not alice
        bytes memory signature = _sign(ownerKey, p);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, owner, alice, 0));
        vault.setOperatorWithSig(p, signature);
    }

    function test_aPrefixTwinCannotTakeOverTheRecordedOwner() public {
        _deposit(owner, owner, weth, 1e18); // records `owner`
        uint256 twinKey = 0x7717;
        address twin = vm.addr(twinKey);
        // `twin` cannot share owner's prefix by chance; claim a sub-account of an unrecorded prefix instead:
        IPrimeVault.OperatorPermit memory p = _permit(owner, bob, PERMISSION_TRADE);
        p.owner = twin;
        p.nonce = vault.operatorPermitNonce(twin);
        bytes memory signature = _sign(twinKey, p);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, twin, owner, 0));
        vault.setOperatorWithSig(p, signature);
    }

    function test_cancellingVoidsSignedPermits() public {
        IPrimeVault.OperatorPermit memory p = _permit(owner, bob, PERMISSION_TRADE);
        bytes memory signature = _sign(ownerKey, p);
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.OperatorPermitsCancelled(owner, 1);
        vm.prank(owner);
        vault.cancelOperatorPermits(1);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OperatorPermitNonceInvalid.selector, owner, 0, 1)
        );
        vault.setOperatorWithSig(p, signature);

        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OperatorPermitNonceNotAhead.selector, 1, 1));
        vm.prank(owner);
        vault.cancelOperatorPermits(1);
    }

    function test_aContractWalletPermitsThroughERC1271() public {
        ERC1271Wallet wallet = new ERC1271Wallet(owner);
        IPrimeVault.OperatorPermit memory p = _permit(address(wallet), bob, PERMISSION_TRADE);
        p.owner = address(wallet);
        p.nonce = 0;
        vault.setOperatorWithSig(p, _sign(ownerKey, p));
        assertEq(vault.operatorPermissions(address(wallet), bob), PERMISSION_TRADE);
        assertEq(vault.operatorPermitNonce(address(wallet)), 1);
    }

    function test_theDomainNamesThisVaultAndChain() public {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("PrimeVault"),
                keccak256("1"),
                block.chainid,
                address(vault)
            )
        );
        assertEq(vault.operatorPermitDomainSeparator(), expected);
        vm.chainId(10);
        assertTrue(
            vault.operatorPermitDomainSeparator() != expected, "a permit for one chain is void on another"
        );
    }

    function test_gas_setOperatorWithSig() public {
        IPrimeVault.OperatorPermit memory p = _permit(owner, bob, PERMISSION_TRADE);
        bytes memory signature = _sign(ownerKey, p);
        vm.prank(relayer);
        vault.setOperatorWithSig(p, signature);
        vm.snapshotGasLastCall("PrimeVault", "setOperatorWithSig: first");
    }

    /// @dev Whatever is signed by a key that is not the owner's, nothing changes.
    function testFuzz_noOtherKeyCanGrant(uint256 key, uint256 permissions) public {
        key = bound(key, 1, 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140);
        vm.assume(key != ownerKey);
        IPrimeVault.OperatorPermit memory p = _permit(owner, bob, permissions);
        bytes memory signature = _sign(key, p);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OperatorPermitBadSignature.selector, owner));
        vault.setOperatorWithSig(p, signature);
        assertEq(vault.operatorPermissions(owner, bob), 0);
    }
}
