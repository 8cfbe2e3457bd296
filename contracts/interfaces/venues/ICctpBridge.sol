// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ICctpBridge
/// @notice The two calls of Circle's CCTP that move USDC between this chain and another (dYdX's, through Noble):
///         `TokenMessenger.depositForBurn` sends, `MessageTransmitter.receiveMessage` receives what the other side
///         burned, with the attesters' signature over the message.
/// @dev Caveat: the transfer is asynchronous: a deposit reaches its recipient only after the attestation, minutes
///      on mainnet; until then it is in flight and counted as such by the sender.
interface ICctpBridge {
    /// @notice `amount` of `burnToken` left `depositor` for `mintRecipient` (32 bytes: a Cosmos address fits) on
    ///         `destinationDomain`, as message `nonce`.
    event DepositForBurn(
        uint64 indexed nonce,
        address indexed burnToken,
        uint256 amount,
        address indexed depositor,
        bytes32 mintRecipient,
        uint32 destinationDomain
    );
    /// @notice Message `nonce` from `sourceDomain` paid `amount` to `recipient` here.
    event MintAndWithdraw(
        uint64 indexed nonce, uint32 indexed sourceDomain, address indexed recipient, uint256 amount
    );

    /// @notice Takes `amount` of `burnToken` from the caller for `mintRecipient` on `destinationDomain`.
    /// @return nonce The message's nonce, as in `DepositForBurn`.
    function depositForBurn(
        uint256 amount,
        uint32 destinationDomain,
        bytes32 mintRecipient,
        address burnToken
    ) external returns (uint64 nonce);

    /// @notice Pays the transfer `message` describes, once, if `attestation` is the attester's signature over it.
    /// @return success True (a bad message or attestation reverts).
    function receiveMessage(bytes calldata message, bytes calldata attestation)
        external
        returns (bool success);
}
