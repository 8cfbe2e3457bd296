// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IRabbitXCustody} from "../../interfaces/venues/IRabbitXCustody.sol";

/// @title RabbitXCustody
/// @notice The chain side of the devnet RabbitX exchange (`keeper/devnet/rabbitx/`), in the shape of RabbitX's
///         own contract: it only takes deposits and pays withdrawals the exchange signed. Trading happens
///         off chain behind the exchange's API. `deposit(amount)` pulls the margin token and emits
///         `Deposit(id, trader, amount)`, which the exchange credits after some confirmations; a withdrawal is
///         requested through the API, debited there, and paid here by `withdraw(id, trader, amount, v, r, s)`
///         with the exchange signer's EIP-712 signature over `withdrawal(uint256 id,address trader,uint256
///         amount)` in domain ("RabbitXWithdrawal", "1", chain id, this contract), each id once. Devnet and
///         tests only: a local stand-in for the exchange's contract, never deployed to a real chain.
contract RabbitXCustody is IRabbitXCustody, EIP712, Ownable2Step, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type hash of a withdrawal, as RabbitX spells it (lower-case struct name).
    bytes32 public constant WITHDRAWAL_TYPEHASH =
        keccak256("withdrawal(uint256 id,address trader,uint256 amount)");

    /// @notice The margin token deposits pull and withdrawals pay (RabbitX's `paymentToken`).
    IERC20 public immutable override paymentToken;
    /// @notice The exchange's key whose signatures pay withdrawals.
    address public signer;
    /// @notice The id the next deposit gets; ids start at 1 and only increase.
    uint256 public nextDepositId = 1;
    /// @notice Whether withdrawal `id` has been paid.
    mapping(uint256 id => bool paid) public processedWithdrawals;

    /// @notice `trader` deposited `amount` of the payment token; the exchange credits it once per `id`.
    event Deposit(uint256 indexed id, address indexed trader, uint256 amount);
    /// @notice Withdrawal `id` paid `amount` of the payment token to `trader`.
    event WithdrawalReceipt(uint256 indexed id, address indexed trader, uint256 amount);
    /// @notice The key that signs withdrawals changed; signatures by `previousSigner` no longer pay.
    event SignerChanged(address indexed previousSigner, address indexed newSigner);

    /// @notice A deposit or withdrawal of zero.
    error RabbitXCustodyZeroAmount();
    /// @notice A zero address where a token, signer or trader is needed.
    error RabbitXCustodyZeroAddress();
    /// @notice Withdrawal `id` has already been paid.
    error RabbitXCustodyWithdrawalAlreadyProcessed(uint256 id);
    /// @notice The signature over withdrawal `id` is not the signer's (`recovered` is zero if it is malformed).
    error RabbitXCustodyInvalidSignature(uint256 id, address recovered);
    /// @notice The token moved less than asked into this contract (a fee-on-transfer token).
    error RabbitXCustodyTransferShortfall(uint256 expected, uint256 received);

    /// @param paymentToken_ The margin token.
    /// @param signer_ The exchange's withdrawal signer.
    /// @param owner_ Who may change the signer.
    constructor(IERC20 paymentToken_, address signer_, address owner_)
        EIP712("RabbitXWithdrawal", "1")
        Ownable(owner_)
    {
        if (address(paymentToken_) == address(0) || signer_ == address(0)) {
            revert RabbitXCustodyZeroAddress();
        }
        paymentToken = paymentToken_;
        signer = signer_;
        emit SignerChanged(address(0), signer_);
    }

    /// @notice Pulls `amount` of the payment token from the caller (approve it first) for the exchange to credit to
    ///         the caller's exchange account once the deposit has enough confirmations.
    /// @param amount In the token's base units.
    /// @return id The deposit's id, as in the `Deposit` event.
    function deposit(uint256 amount) external nonReentrant returns (uint256 id) {
        if (amount == 0) revert RabbitXCustodyZeroAmount();
        id = nextDepositId++;
        emit Deposit(id, msg.sender, amount);
        uint256 before = paymentToken.balanceOf(address(this));
        paymentToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = paymentToken.balanceOf(address(this)) - before;
        if (received != amount) revert RabbitXCustodyTransferShortfall(amount, received);
    }

    /// @notice Pays withdrawal `id` of `amount` to `trader` with the exchange signer's signature `(v, r, s)`.
    ///         Anyone may submit it; the tokens go to `trader`. Each id pays once.
    /// @param id The exchange's withdrawal id.
    /// @param trader The exchange account's wallet, which receives the tokens.
    /// @param amount In the token's base units.
    /// @param v The signature's recovery byte (27 or 28).
    /// @param r The signature's r.
    /// @param s The signature's s (lower half of the curve order).
    function withdraw(uint256 id, address trader, uint256 amount, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        if (amount == 0) revert RabbitXCustodyZeroAmount();
        if (trader == address(0)) revert RabbitXCustodyZeroAddress();
        if (processedWithdrawals[id]) revert RabbitXCustodyWithdrawalAlreadyProcessed(id);
        // slither-disable-next-line unused-return (the third value only details a failure, which reverts anyway)
        (address recovered, ECDSA.RecoverError failure,) =
            ECDSA.tryRecover(withdrawalDigest(id, trader, amount), v, r, s);
        if (failure != ECDSA.RecoverError.NoError || recovered != signer) {
            revert RabbitXCustodyInvalidSignature(id, recovered);
        }
        processedWithdrawals[id] = true;
        emit WithdrawalReceipt(id, trader, amount);
        paymentToken.safeTransfer(trader, amount);
    }

    /// @notice Sets the key whose signatures pay withdrawals; withdrawals signed by the previous key stop paying.
    /// @param newSigner The exchange's new withdrawal signer.
    function changeSigner(address newSigner) external onlyOwner {
        if (newSigner == address(0)) revert RabbitXCustodyZeroAddress();
        emit SignerChanged(signer, newSigner);
        signer = newSigner;
    }

    /// @notice The EIP-712 digest the exchange signs for withdrawal `id` of `amount` to `trader`.
    /// @return The digest `ECDSA` recovers the signer from.
    function withdrawalDigest(uint256 id, address trader, uint256 amount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(WITHDRAWAL_TYPEHASH, id, trader, amount)));
    }

    /// @notice The EIP-712 domain separator (name "RabbitXWithdrawal", version "1", this chain, this contract).
    /// @return The domain separator of this contract on this chain.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
