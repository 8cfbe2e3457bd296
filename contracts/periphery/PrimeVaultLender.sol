// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IPrimeVault, PAUSE_DEPOSIT, PAUSE_WITHDRAW} from "../interfaces/IPrimeVault.sol";

/// @title PrimeVaultLender
/// @notice An ERC-4626 vault for passive lenders of PrimeVault's base asset: its assets are one supply position
///         in PrimeVault, held in the account that is this contract's own address. Shares grow with the supply
///         index; a bad-debt write-off, which lowers the supply index, lowers the share price with it.
/// @dev OpenZeppelin's ERC4626: every conversion rounds against the caller, and a decimals offset of 6 (virtual
///      shares and assets) makes the first-depositor inflation attack cost the attacker about a million times
///      what it takes from the victim. Caveats: `maxWithdraw`/`maxRedeem` are bounded by the pool's idle cash
///      (what borrowers have not taken) and read zero while PrimeVault's withdrawals are paused; PrimeVault rounds
///      a supply's present value down, so a deposit may be credited, and a withdrawal may cost, one unit more
///      than it moves: the previews charge that unit to the caller, so the vault's other holders never pay it.
contract PrimeVaultLender is ERC4626, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The vault this lender supplies to.
    IPrimeVault public immutable VAULT;

    /// @param vault PrimeVault; the lender's asset is its base asset.
    constructor(IPrimeVault vault, string memory name_, string memory symbol_)
        ERC4626(IERC20(vault.baseAsset()))
        ERC20(name_, symbol_)
    {
        VAULT = vault;
        IERC20(vault.baseAsset()).forceApprove(address(vault), type(uint256).max);
    }

    /// @notice The supply position's present value in PrimeVault, rounded down as PrimeVault rounds it.
    function totalAssets() public view override returns (uint256) {
        int256 balance = VAULT.baseBalanceOf(address(this));
        return balance > 0 ? uint256(balance) : 0;
    }

    /// @notice Zero while PrimeVault's deposits are paused.
    function maxDeposit(address receiver) public view override returns (uint256) {
        return _paused(PAUSE_DEPOSIT) ? 0 : super.maxDeposit(receiver);
    }

    /// @notice Zero while PrimeVault's deposits are paused.
    function maxMint(address receiver) public view override returns (uint256) {
        return _paused(PAUSE_DEPOSIT) ? 0 : super.maxMint(receiver);
    }

    /// @notice What `owner` can withdraw now: what its shares redeem for, at most the pool's idle cash; zero
    ///         while PrimeVault's withdrawals are paused.
    function maxWithdraw(address owner) public view override returns (uint256) {
        if (_paused(PAUSE_WITHDRAW)) return 0;
        return Math.min(previewRedeem(balanceOf(owner)), _idleCash());
    }

    /// @notice The shares `owner` can redeem now, bounded as `maxWithdraw` (rounded down).
    function maxRedeem(address owner) public view override returns (uint256) {
        if (_paused(PAUSE_WITHDRAW)) return 0;
        return Math.min(super.maxRedeem(owner), _convertToShares(_idleCash(), Math.Rounding.Floor));
    }

    /// @notice Shares minted for `assets`, valued as PrimeVault will credit them (one unit less, rounding).
    function previewDeposit(uint256 assets) public view override returns (uint256) {
        return _convertToShares(_credited(assets), Math.Rounding.Floor);
    }

    /// @notice Assets pulled to mint `shares`: one unit more than their value, for PrimeVault's rounding.
    function previewMint(uint256 shares) public view override returns (uint256) {
        return _convertToAssets(shares, Math.Rounding.Ceil) + 1;
    }

    /// @notice Shares burnt to withdraw `assets`: those of one unit more, for PrimeVault's rounding.
    function previewWithdraw(uint256 assets) public view override returns (uint256) {
        return _convertToShares(assets + 1, Math.Rounding.Ceil);
    }

    /// @notice Assets paid for `shares`: one unit less than their value, for PrimeVault's rounding.
    function previewRedeem(uint256 shares) public view override returns (uint256) {
        return _credited(_convertToAssets(shares, Math.Rounding.Floor));
    }

    /// @dev Pulls the assets, then supplies them to PrimeVault under this contract's account.
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares)
        internal
        override
        nonReentrant
    {
        super._deposit(caller, receiver, assets, shares);
        if (assets != 0) VAULT.deposit(address(this), asset(), assets); // PrimeVault refuses zero amounts
    }

    /// @dev Burns first, then has PrimeVault pay `receiver` out of the supply position.
    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
        nonReentrant
    {
        if (caller != owner) _spendAllowance(owner, caller, shares);
        _burn(owner, shares);
        if (assets != 0) VAULT.withdraw(address(this), asset(), assets, receiver);
        emit Withdraw(caller, receiver, owner, assets, shares);
    }

    /// @dev Virtual shares: 10^6 per unit of the asset before the first deposit.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    function _credited(uint256 assets) private pure returns (uint256) {
        return assets - Math.min(assets, 1);
    }

    function _idleCash() private view returns (uint256) {
        return IERC20(asset()).balanceOf(address(VAULT));
    }

    function _paused(uint256 action) private view returns (bool) {
        return VAULT.pausedActions() & action != 0;
    }
}
