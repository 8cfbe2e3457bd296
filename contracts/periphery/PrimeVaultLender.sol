// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPrimeVault, PAUSE_DEPOSIT, PAUSE_WITHDRAW} from "../interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../interfaces/IPrimeVaultErrors.sol";
import {MAX_AMOUNT} from "../libraries/ConstantsLib.sol";
import {InterestLib} from "../libraries/InterestLib.sol";

/// @title PrimeVaultLender
/// @notice An ERC-4626 vault for passive lenders of PrimeVault's base asset: its assets are one supply position
///         in PrimeVault, held in the account that is this contract's own address. Shares grow with the supply
///         index; a bad-debt write-off, which lowers the supply index, lowers the share price with it.
/// @dev OpenZeppelin's ERC4626: every conversion rounds against the caller, and a decimals offset of 6 (virtual
///      shares and assets) makes the first-depositor inflation attack cost the attacker about a million times
///      what it takes from the victim. Caveats: `maxWithdraw`/`maxRedeem` are bounded by the pool's idle cash
///      (what borrowers have not taken) and read zero while PrimeVault's withdrawals are paused. PrimeVault
///      stores the whole supply position again on every deposit and withdrawal, rounding down into principal
///      and down again into present value: a deposit may be credited less, and a withdrawal may cost more, than
///      it moves, by less than one unit plus the supply index over its scale (two units once interest accrues).
///      The previews redo that arithmetic at PrimeVault's current supply index, so every action is priced at
///      exactly what it adds to or takes from the position: the caller bears the rounding, the holders never.
contract PrimeVaultLender is ERC4626, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The vault this lender supplies to.
    IPrimeVault public immutable VAULT;

    /// @notice The most shares a conversion or preview takes beyond the supply: far past any supply MAX_AMOUNT of
    ///         assets mints, and small enough that the conversion's arithmetic cannot overflow (up to the supply it
    ///         cannot either: the result is at most the assets).
    uint256 public constant MAX_SHARES = type(uint128).max;

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

    /// @notice Zero while PrimeVault's deposits are paused; otherwise MAX_AMOUNT, the most PrimeVault takes in one
    ///         deposit: a larger one is ERC4626ExceededMaxDeposit, before its shares are computed (for an amount near
    ///         2^256 that computation overflows).
    function maxDeposit(address) public view override returns (uint256) {
        return _paused(PAUSE_DEPOSIT) ? 0 : MAX_AMOUNT;
    }

    /// @notice Zero while PrimeVault's deposits are paused; otherwise the shares a deposit of MAX_AMOUNT mints,
    ///         whose assets (`previewMint`) PrimeVault takes in one deposit.
    function maxMint(address) public view override returns (uint256) {
        return _paused(PAUSE_DEPOSIT) ? 0 : previewDeposit(MAX_AMOUNT);
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
        // The idle cash is a balance anyone can raise by a donation: bounded as a conversion takes it, which never
        // binds a holder (no position reaches MAX_AMOUNT).
        return Math.min(
            super.maxRedeem(owner), _convertToShares(Math.min(_idleCash(), MAX_AMOUNT), Math.Rounding.Floor)
        );
    }

    /// @notice Shares minted for `assets`: those of what PrimeVault will add to the position.
    function previewDeposit(uint256 assets) public view override returns (uint256) {
        if (assets == 0) return 0; // nothing is supplied
        _requireAssetsBounded(assets);
        (uint256 held, uint256 index) = _position();
        // `held` was read back from a principal, so `held + assets` (assets >= 1) stores at least as much.
        return _convertToShares(_stored(held + assets, index) - held, Math.Rounding.Floor);
    }

    /// @notice Assets pulled to mint `shares`: the fewest that PrimeVault credits with the shares' value.
    function previewMint(uint256 shares) public view override returns (uint256) {
        if (shares == 0) return 0;
        (uint256 held, uint256 index) = _position();
        return _smallestStoring(held + _convertToAssets(shares, Math.Rounding.Ceil), index) - held;
    }

    /// @notice Shares burnt to withdraw `assets`: those of what the withdrawal takes from the position.
    function previewWithdraw(uint256 assets) public view override returns (uint256) {
        if (assets == 0) return 0;
        (uint256 held, uint256 index) = _position();
        // More than the position PrimeVault refuses (the account would borrow without collateral).
        uint256 cost = assets > held ? assets : held - _stored(held - assets, index);
        return _convertToShares(cost, Math.Rounding.Ceil);
    }

    /// @notice Assets paid for `shares`: the most whose withdrawal takes at most the shares' value.
    function previewRedeem(uint256 shares) public view override returns (uint256) {
        uint256 value = _convertToAssets(shares, Math.Rounding.Floor);
        // slither-disable-next-line incorrect-equality (an exact zero: shares worth nothing redeem nothing)
        if (value == 0) return 0;
        (uint256 held, uint256 index) = _position();
        uint256 remaining = _smallestStoring(held - Math.min(value, held), index);
        return remaining < held ? held - remaining : 0;
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

    /// @dev OpenZeppelin's conversion, refusing by name (`AmountTooLarge`) an amount past MAX_AMOUNT, which no
    ///      deposit or position reaches, where the arithmetic would otherwise panic.
    function _convertToShares(uint256 assets, Math.Rounding rounding)
        internal
        view
        override
        returns (uint256)
    {
        _requireAssetsBounded(assets);
        return super._convertToShares(assets, rounding);
    }

    /// @dev OpenZeppelin's conversion, refusing by name shares past both MAX_SHARES and the supply.
    function _convertToAssets(uint256 shares, Math.Rounding rounding)
        internal
        view
        override
        returns (uint256)
    {
        if (shares > MAX_SHARES && shares > totalSupply()) {
            revert IPrimeVaultErrors.AmountTooLarge(shares, MAX_SHARES);
        }
        return super._convertToAssets(shares, rounding);
    }

    function _requireAssetsBounded(uint256 assets) private pure {
        if (assets > MAX_AMOUNT) revert IPrimeVaultErrors.AmountTooLarge(assets, MAX_AMOUNT);
    }

    /// @dev Virtual shares: 10^6 per unit of the asset before the first deposit.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    /// @dev The position's present value and PrimeVault's supply index, both with interest to now.
    function _position() private view returns (uint256 held, uint256 index) {
        return (totalAssets(), VAULT.supplyIndex());
    }

    /// @dev What a supply balance of `value` reads back as once PrimeVault stores it: down into principal,
    ///      down again into present value, with PrimeVault's own functions.
    function _stored(uint256 value, uint256 index) private pure returns (uint256) {
        int256 principal = InterestLib.principalValue(SafeCast.toInt256(value), index, 0);
        return uint256(InterestLib.presentValue(principal, index, 0));
    }

    /// @dev The smallest balance that `_stored` reads back as at least `target`: the smallest principal
    ///      worth `target`, then the smallest balance stored as that principal.
    function _smallestStoring(uint256 target, uint256 index) private pure returns (uint256) {
        uint256 principal = Math.mulDiv(target, InterestLib.INDEX_SCALE, index, Math.Rounding.Ceil);
        return Math.mulDiv(principal, index, InterestLib.INDEX_SCALE, Math.Rounding.Ceil);
    }

    function _idleCash() private view returns (uint256) {
        return IERC20(asset()).balanceOf(address(VAULT));
    }

    function _paused(uint256 action) private view returns (bool) {
        return VAULT.pausedActions() & action != 0;
    }
}
