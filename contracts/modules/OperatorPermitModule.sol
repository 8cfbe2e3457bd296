// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {SubAccountLib} from "../libraries/SubAccountLib.sol";
import {VaultBase} from "./VaultBase.sol";

/// @title OperatorPermitModule
/// @notice `setOperatorWithSig`: an owner's EIP-712 permit for an operator, run by `PrimeVault` by delegatecall
///         (storage is the vault's; `address(this)` is the vault, so the domain names the vault).
/// @dev A module so the core stays under the contract size limit; it holds no state of its own.
contract OperatorPermitModule is VaultBase {
    bytes32 internal constant OPERATOR_PERMIT_TYPEHASH = keccak256(
        "OperatorPermit(address owner,address account,address operator,uint256 permissions,uint256 nonce,uint256 deadline)"
    );

    constructor(address baseAsset_) VaultBase(baseAsset_) {}

    /// @dev See `IPrimeVault.setOperatorWithSig`. Checks (deadline, nonce, ownership, signature), then effects; the
    ///      only external call is the ERC-1271 `isValidSignature` staticcall of a contract owner.
    function setOperatorWithSig(IPrimeVault.OperatorPermit calldata permit, bytes calldata signature)
        external
    {
        if (block.timestamp > permit.deadline) revert OperatorPermitExpired(permit.deadline);
        if (permit.operator == address(0)) revert ZeroAddress();
        uint256 expected = _operatorPermitNonces[permit.owner];
        if (permit.nonce != expected) {
            revert OperatorPermitNonceInvalid(permit.owner, permit.nonce, expected);
        }
        bytes19 prefix = SubAccountLib.prefix(permit.account);
        address recorded = _owners[prefix];
        bool owns = recorded == address(0)
            ? SubAccountLib.haveCommonOwner(permit.owner, permit.account)
            : recorded == permit.owner;
        if (!owns) revert NotAuthorized(permit.owner, permit.account, 0);
        bytes32 digest = MessageHashUtils.toTypedDataHash(_operatorPermitDomainSeparator(), _hash(permit));
        if (!SignatureChecker.isValidSignatureNow(permit.owner, digest, signature)) {
            revert OperatorPermitBadSignature(permit.owner);
        }

        _operatorPermitNonces[permit.owner] = expected + 1;
        if (recorded == address(0)) {
            _owners[prefix] = permit.owner;
            emit OwnerRegistered(prefix, permit.owner);
        }
        _operators[permit.account][permit.operator] = permit.permissions;
        emit OperatorSet(permit.account, permit.operator, permit.permissions);
    }

    /// @dev See `IPrimeVault.cancelOperatorPermits`.
    function cancelOperatorPermits(uint256 nonce) external {
        uint256 current = _operatorPermitNonces[msg.sender];
        if (nonce <= current) revert OperatorPermitNonceNotAhead(nonce, current);
        _operatorPermitNonces[msg.sender] = nonce;
        emit OperatorPermitsCancelled(msg.sender, nonce);
    }

    function _hash(IPrimeVault.OperatorPermit calldata permit) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                OPERATOR_PERMIT_TYPEHASH,
                permit.owner,
                permit.account,
                permit.operator,
                permit.permissions,
                permit.nonce,
                permit.deadline
            )
        );
    }
}
