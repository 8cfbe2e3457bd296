// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";

/// @title PrimeVaultBundler
/// @notice Deposit, borrow and an order in one transaction with one signature (the token's ERC-2612 permit), across
///         the vault and the trading module, which OpenZeppelin's Multicall cannot do (it calls only its own
///         contract, and `submitOrder` checks its caller).
/// @dev The bundler acts as an operator of the account: its owner grants it PERMISSION_WITHDRAW (to borrow) and
///      PERMISSION_TRADE (to submit) once with `IPrimeVault.setOperator`. It acts only for the account's owner
///      (checked on every call), pays a borrow only to that owner, and holds nothing between transactions.
contract PrimeVaultBundler is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice An ERC-2612 permit for exactly the deposit, to this bundler.
    struct Permit {
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice An order for the account; `size` 0 submits none.
    struct OrderParams {
        uint8 market;
        int256 size;
        uint256 limitPrice;
        uint256 deadline;
        bool reduceOnly;
    }

    /// @notice The caller is not the account's owner.
    error BundlerNotOwner(address caller, address account);

    IPrimeVault public immutable VAULT;
    ITradingModule public immutable TRADING;

    constructor(IPrimeVault vault, ITradingModule trading) {
        VAULT = vault;
        TRADING = trading;
    }

    /// @notice Pulls `amount` of `asset` from the caller with its permit and deposits it into `account`, borrows
    ///         `borrow` of the base asset to the caller (0: none), and submits `order` (size 0: none).
    /// @return orderId The order's id (0 when none was submitted; ids start at 0, so check `order.size`).
    function depositBorrowAndSubmit(
        address account,
        address asset,
        uint256 amount,
        Permit calldata permit,
        uint256 borrow,
        OrderParams calldata order
    ) external nonReentrant returns (uint256 orderId) {
        if (VAULT.ownerOf(account) != msg.sender) {
            revert BundlerNotOwner(msg.sender, account);
        }
        if (amount != 0) {
            // An asset the vault does not take is refused first, by the vault's UnknownAsset: the permit's call to an
            // address without code, or the pull from a contract that is no token, would revert with no data.
            // slither-disable-next-line unused-return (called for its revert only)
            if (asset != VAULT.baseAsset()) VAULT.assetConfig(asset);
            // A permit someone replayed first has already set the allowance: the pull goes on regardless.
            try IERC20Permit(asset)
                .permit(msg.sender, address(this), amount, permit.deadline, permit.v, permit.r, permit.s) {}
                catch {}
            IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
            IERC20(asset).forceApprove(address(VAULT), amount);
            VAULT.deposit(account, asset, amount);
        }
        if (borrow != 0) VAULT.withdraw(account, VAULT.baseAsset(), borrow, msg.sender);
        if (order.size != 0) {
            orderId = TRADING.submitOrder(
                account, order.market, order.size, order.limitPrice, order.deadline, order.reduceOnly
            );
        }
    }
}
