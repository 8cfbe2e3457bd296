// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpRisk} from "../interfaces/IPerpRisk.sol";
import {IPortfolioMargin} from "../interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../interfaces/IPrimeVaultEvents.sol";
import {MAX_AMOUNT} from "../libraries/ConstantsLib.sol";
import {InterestLib} from "../libraries/InterestLib.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {ValueLib} from "../libraries/ValueLib.sol";

/// @title VaultBase
/// @notice Storage and shared internals of the PrimeVault core and its modules.
/// @dev After Euler v2's EVault: `PrimeVault` and each module it delegate-calls (`LiquidationModule`)
///      inherit this one contract, so they share one storage layout by construction. Never add state
///      variables anywhere else in their inheritance trees.
abstract contract VaultBase is AccessControl, ReentrancyGuardTransient, IPrimeVaultErrors, IPrimeVaultEvents {
    using SafeCast for uint256;
    using SafeERC20 for IERC20;

    struct Account {
        int104 principal; // signed base principal
        uint16 assetsIn; // bit i set: holds collateral asset i
        bool listed; // in `_accountList`
        bool portfolio; // margined by the portfolio rule (`_portfolioMargin`) instead of haircuts and perp margins
        bool trading; // holds positions or open child orders at the trading module (kept by it: `setTrading`)
    }

    struct AssetState {
        uint96 supplyCap;
        uint96 totalSupplied;
        bool listed;
    }

    struct HaircutBounds {
        uint16 minBps;
        uint16 maxBps;
        uint16 maxStepBps;
        uint32 minInterval;
        uint40 lastUpdate;
    }

    struct Market {
        uint64 supplyIndex;
        uint64 borrowIndex;
        uint40 lastAccrualTime;
        uint16 reserveFactorBps;
        uint16 liquidatorShareBps;
        uint16 storeFrontShareBps;
        uint8 pausedActions;
    }

    struct Totals {
        uint104 supplyPrincipal;
        uint104 borrowPrincipal;
    }

    /// @dev Sums over an account's collateral, in base units.
    struct CollateralSums {
        uint256 value;
        uint256 initialRequirement;
        uint256 maintenanceRequirement;
    }

    IERC20 internal immutable _base;

    Market internal _market;
    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    Totals internal _totals;
    /// @dev Its own slot (not packed into `Totals`): 100 tokens of an 18-decimal base do not fit 48 bits.
    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    uint256 internal _minBorrow;
    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    InterestLib.RateModel internal _rateModel;

    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    address[] internal _collateralAssets;
    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    mapping(address asset => IPrimeVault.AssetConfig) internal _assetConfigs;
    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    mapping(address asset => AssetState) internal _assetStates;
    mapping(address asset => HaircutBounds) internal _haircutBounds;

    mapping(address account => Account) internal _accounts;
    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    mapping(address account => mapping(address asset => uint256)) internal _collateral;
    address[] internal _accountList;

    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    IPerpRisk internal _tradingModule;

    mapping(bytes19 prefix => address) internal _owners;
    mapping(address account => mapping(address operator => uint256)) internal _operators;
    // slither-disable-next-line uninitialized-state (written by OperatorPermitModule, run on this storage by delegatecall)
    mapping(address owner => uint256) internal _operatorPermitNonces;
    // slither-disable-next-line uninitialized-state (set by PrimeVault; modules run on its storage by delegatecall)
    IPortfolioMargin internal _portfolioMargin;

    constructor(address baseAsset_) {
        _base = IERC20(baseAsset_);
    }

    // ================================================================== signatures

    /// @dev EIP-712 domain of operator permits, built for `address(this)`: the vault itself, also inside a
    ///      module it delegate-calls. Computed per call, so it follows a chain id change after a fork.
    function _operatorPermitDomainSeparator() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("PrimeVault"),
                keccak256("1"),
                block.chainid,
                address(this)
            )
        );
    }

    // ================================================================== interest

    function _accrue() internal {
        Market memory m = _market;
        // slither-disable-next-line incorrect-equality (accrued already in this block; never ahead of it)
        if (m.lastAccrualTime == block.timestamp) return;
        uint256 utilization;
        (m, utilization) = _accrueMemory(m);
        _market = m;
        emit InterestAccrued(m.supplyIndex, m.borrowIndex, utilization);
    }

    function _accruedMarket() internal view returns (Market memory m) {
        (m,) = _accrueMemory(_market);
    }

    function _accrueMemory(Market memory m) internal view returns (Market memory, uint256 utilization) {
        Totals memory t = _totals;
        uint256 totalSupply =
            uint256(InterestLib.presentValue(int256(uint256(t.supplyPrincipal)), m.supplyIndex, 0));
        uint256 totalBorrow =
            uint256(-InterestLib.presentValue(-int256(uint256(t.borrowPrincipal)), 0, m.borrowIndex));
        utilization = InterestLib.utilization(totalSupply, totalBorrow);
        // Strictly later only: a node may serve a view with one block's environment over the next block's state
        // (anvil does at "latest" while it mines), and a view must not underflow there.
        if (block.timestamp > m.lastAccrualTime) {
            uint256 elapsed = block.timestamp - m.lastAccrualTime;
            InterestLib.RateModel memory r = _rateModel;
            m.supplyIndex = InterestLib.grow(
                    m.supplyIndex, InterestLib.supplyRate(r, utilization, m.reserveFactorBps), elapsed
                ).toUint64();
            m.borrowIndex =
                InterestLib.grow(m.borrowIndex, InterestLib.borrowRate(r, utilization), elapsed).toUint64();
            m.lastAccrualTime = uint40(block.timestamp);
        }
        return (m, utilization);
    }

    /// @dev Base held plus owed by borrowers minus owed to suppliers, plus what the venue accounts are
    ///      worth (`venueAssets`, which reverts on an unusable perp feed). Negative while absorbed
    ///      collateral that paid off debt is still unsold.
    function _reserves(Market memory m, Totals memory t) internal view returns (int256) {
        int256 venues = address(_tradingModule) == address(0) ? int256(0) : _tradingModule.venueAssets();
        return _baseReserves(m, t) + venues;
    }

    /// @dev `_reserves` without the venue accounts.
    function _baseReserves(Market memory m, Totals memory t) internal view returns (int256) {
        return _base.balanceOf(address(this)).toInt256() + _bookedBase(m, t);
    }

    /// @dev Owed by borrowers minus owed to suppliers: `_baseReserves` but the base the vault holds.
    function _bookedBase(Market memory m, Totals memory t) internal pure returns (int256) {
        int256 supplied =
            InterestLib.presentValue(int256(uint256(t.supplyPrincipal)), m.supplyIndex, m.borrowIndex);
        int256 borrowed =
            -InterestLib.presentValue(-int256(uint256(t.borrowPrincipal)), m.supplyIndex, m.borrowIndex);
        return borrowed - supplied;
    }

    // ================================================================== valuation

    /// @dev Values an account's collateral. `priceCache[i]` holds asset i's price once read (0 = not yet),
    ///      so a batch reads each feed at most once. Reverts on an unusable price.
    function _sumCollateral(address account, uint16 assetsIn, uint256[] memory priceCache)
        internal
        view
        returns (CollateralSums memory sums)
    {
        for (uint256 i; assetsIn >> i != 0; ++i) {
            // slither-disable-next-line incorrect-equality (a bit test on the account's asset mask)
            if ((assetsIn >> i) & 1 == 0) continue;
            address asset = _collateralAssets[i];
            IPrimeVault.AssetConfig memory c = _assetConfigs[asset];
            uint256 price = priceCache[i];
            // slither-disable-next-line incorrect-equality (0 marks a price not read yet in this call)
            if (price == 0) {
                price = OracleLib.read(c.feed, c.maxStaleness);
                priceCache[i] = price;
            }
            _addValue(sums, c, _collateral[account][asset], price);
        }
    }

    function _addValue(
        CollateralSums memory sums,
        IPrimeVault.AssetConfig memory c,
        uint256 amount,
        uint256 price
    ) internal pure {
        uint256 v = ValueLib.value(amount, price, c.scaleExponent);
        sums.value += v;
        sums.initialRequirement += ValueLib.portionUp(v, c.initialHaircutBps);
        sums.maintenanceRequirement += ValueLib.portionUp(v, c.maintenanceHaircutBps);
    }

    /// @dev The discount at which absorbed collateral is sold: the store-front share of its penalty.
    function _storeFrontDiscount(IPrimeVault.AssetConfig memory c, Market memory m)
        internal
        pure
        returns (uint256)
    {
        return ValueLib.portionDown(c.liquidationPenaltyBps, m.storeFrontShareBps);
    }

    // ================================================================== the store front

    function _quoteCollateral(address asset, uint256 baseAmount) internal view returns (uint256) {
        _requireListed(asset);
        _requireBookable(baseAmount);
        IPrimeVault.AssetConfig memory c = _assetConfigs[asset];
        uint256 price = OracleLib.read(c.feed, c.maxStaleness);
        uint256 discount = _storeFrontDiscount(c, _market);
        if (address(_portfolioMargin) != address(0)) {
            // The share the backstop book hedges sells at the pair discount, never above the store front's own.
            // A rule that cannot answer (a stale feed of the hedge) leaves the store front open at its own
            // discount; starving the call of gas cannot force that: a call cut short leaves the transfers after it
            // 1/64 of what it was given, so it would have to need 63 times what they need, and needs far less.
            try _portfolioMargin.storeFrontDiscount(
                asset, ValueLib.amountForValue(baseAmount, price, 0, c.scaleExponent), discount
            ) returns (
                uint256 blended
            ) {
                if (blended < discount) discount = blended;
            } catch {}
        }
        return ValueLib.amountForValue(baseAmount, price, discount, c.scaleExponent);
    }

    function _collateralReserves(address asset) internal view returns (uint256) {
        return IERC20(asset).balanceOf(address(this)) - _assetStates[asset].totalSupplied;
    }

    // ================================================================== checks and transfers

    /// @dev Refuses an amount above MAX_AMOUNT up front, with `AmountTooLarge`: no balance the vault books can hold
    ///      it, and the arithmetic that would find that out overflows first.
    function _requireBookable(uint256 amount) internal pure {
        if (amount > MAX_AMOUNT) revert AmountTooLarge(amount, MAX_AMOUNT);
    }

    function _requireListed(address asset) internal view {
        if (!_assetStates[asset].listed) revert UnknownAsset(asset);
    }

    /// @dev Pulls exactly `amount` from the caller; a token that delivers less is refused.
    function _pull(address asset, uint256 amount) internal {
        IERC20 token = IERC20(asset);
        uint256 balanceBefore = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - balanceBefore;
        if (received != amount) revert FeeOnTransferNotSupported(asset, amount, received);
    }

    // ================================================================== accounts

    function _list(address account, Account storage acc) internal {
        if (!acc.listed) {
            acc.listed = true;
            _accountList.push(account);
        }
    }

    function _perpRisk(address account) internal view returns (int256, uint256, uint256, bool) {
        if (address(_tradingModule) == address(0)) return (0, 0, 0, false);
        return _tradingModule.perpRisk(account);
    }

    function _positive(int256 x) internal pure returns (uint256) {
        return x > 0 ? uint256(x) : 0;
    }
}
