// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {ICctpBridge} from "../../interfaces/venues/ICctpBridge.sol";

/// @title DevnetCctpBridge
/// @notice A local stand-in for CCTP between this chain and the devnet dYdX (`keeper/devnet/dydx/`): USDC sent with
///         `depositForBurn` is held here (the real bridge burns it) and credited on the other side by the replica,
///         which watches `DepositForBurn`; USDC coming back is paid from here by `receiveMessage` with the attester's
///         signature over the message's keccak256 hash, as Circle's MessageTransmitter checks it. A message has CCTP
///         v1's byte layout (a 116-byte header and a 132-byte burn message, below); each (sourceDomain, nonce) pays
///         once. Devnet and tests only.
contract DevnetCctpBridge is ICctpBridge, Ownable2Step, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The token it carries (USDC).
    IERC20 public immutable token;
    /// @notice This chain's CCTP domain (Ethereum's is 0).
    uint32 public immutable localDomain;
    /// @notice The key whose signature over a message pays it.
    address public attester;
    /// @notice The next outgoing message's nonce.
    uint64 public nextNonce;
    /// @notice Whether the message (sourceDomain, nonce) has been paid.
    mapping(uint32 sourceDomain => mapping(uint64 nonce => bool)) public usedNonces;

    /// @notice The attester changed.
    event AttesterChanged(address indexed previousAttester, address indexed newAttester);

    /// @notice A transfer of zero, or to the zero recipient.
    error DevnetCctpBridgeInvalidTransfer();
    /// @notice Only `token` crosses this bridge.
    error DevnetCctpBridgeUnsupportedToken(address token);
    /// @notice The message was for another domain.
    error DevnetCctpBridgeWrongDomain(uint32 destinationDomain);
    /// @notice Message (sourceDomain, nonce) was paid already.
    error DevnetCctpBridgeNonceUsed(uint32 sourceDomain, uint64 nonce);
    /// @notice The attestation is not the attester's signature over the message.
    error DevnetCctpBridgeInvalidAttestation(address recovered);
    /// @notice The message is not a CCTP v1 message carrying a v1 burn message (`length` bytes).
    error DevnetCctpBridgeMalformedMessage(uint256 length);
    /// @notice The message names another caller (`destinationCaller`), who alone may submit it.
    error DevnetCctpBridgeWrongCaller(address destinationCaller);

    /// @dev CCTP v1: version (4), sourceDomain (4), destinationDomain (4), nonce (8), sender (32), recipient (32),
    ///      destinationCaller (32), then the burn message: version (4), burnToken (32), mintRecipient (32), amount
    ///      (32), messageSender (32). Big-endian, packed.
    uint256 internal constant _MESSAGE_LENGTH = 248;
    uint256 internal constant _BODY = 116;

    /// @param token_ The token it carries.
    /// @param localDomain_ This chain's domain.
    /// @param attester_ Whose signature pays incoming messages.
    /// @param owner_ Who may change the attester.
    constructor(IERC20 token_, uint32 localDomain_, address attester_, address owner_) Ownable(owner_) {
        if (address(token_) == address(0) || attester_ == address(0)) {
            revert DevnetCctpBridgeInvalidTransfer();
        }
        (token, localDomain, attester) = (token_, localDomain_, attester_);
        emit AttesterChanged(address(0), attester_);
    }

    /// @inheritdoc ICctpBridge
    function depositForBurn(
        uint256 amount,
        uint32 destinationDomain,
        bytes32 mintRecipient,
        address burnToken
    ) external nonReentrant returns (uint64 nonce) {
        if (amount == 0 || mintRecipient == bytes32(0)) {
            revert DevnetCctpBridgeInvalidTransfer();
        }
        if (burnToken != address(token)) revert DevnetCctpBridgeUnsupportedToken(burnToken);
        nonce = nextNonce++;
        emit DepositForBurn(nonce, burnToken, amount, msg.sender, mintRecipient, destinationDomain);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc ICctpBridge
    /// @dev `message` has CCTP v1's layout; `attestation` is a 65-byte signature over keccak256(message). The burn
    ///      token (the source chain's own) is not checked: this bridge carries one token.
    function receiveMessage(bytes calldata message, bytes calldata attestation)
        external
        nonReentrant
        returns (bool success)
    {
        if (
            message.length != _MESSAGE_LENGTH || bytes4(message[0:4]) != bytes4(0)
                || bytes4(message[_BODY:_BODY + 4]) != bytes4(0)
        ) {
            revert DevnetCctpBridgeMalformedMessage(message.length);
        }
        uint32 sourceDomain = uint32(bytes4(message[4:8]));
        uint32 destinationDomain = uint32(bytes4(message[8:12]));
        uint64 nonce = uint64(bytes8(message[12:20]));
        address caller = address(uint160(uint256(bytes32(message[84:116]))));
        address recipient = address(uint160(uint256(bytes32(message[_BODY + 36:_BODY + 68]))));
        uint256 amount = uint256(bytes32(message[_BODY + 68:_BODY + 100]));
        if (destinationDomain != localDomain) revert DevnetCctpBridgeWrongDomain(destinationDomain);
        if (caller != address(0) && caller != msg.sender) revert DevnetCctpBridgeWrongCaller(caller);
        if (amount == 0 || recipient == address(0)) revert DevnetCctpBridgeInvalidTransfer();
        if (usedNonces[sourceDomain][nonce]) revert DevnetCctpBridgeNonceUsed(sourceDomain, nonce);
        // slither-disable-next-line unused-return (the third value only details a failure, which reverts anyway)
        (address recovered, ECDSA.RecoverError failure,) = ECDSA.tryRecover(keccak256(message), attestation);
        if (failure != ECDSA.RecoverError.NoError || recovered != attester) {
            revert DevnetCctpBridgeInvalidAttestation(recovered);
        }
        usedNonces[sourceDomain][nonce] = true;
        emit MintAndWithdraw(nonce, sourceDomain, recipient, amount);
        token.safeTransfer(recipient, amount);
        return true;
    }

    /// @notice Sets the key whose signatures pay incoming messages. Owner only.
    /// @param newAttester The new attester.
    function changeAttester(address newAttester) external onlyOwner {
        if (newAttester == address(0)) revert DevnetCctpBridgeInvalidTransfer();
        emit AttesterChanged(attester, newAttester);
        attester = newAttester;
    }
}
