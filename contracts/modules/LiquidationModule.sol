// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPortfolioMargin} from "../interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {
    BPS,
    WAD,
    LIQUIDATION_TARGET_BUFFER_BPS,
    PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS
} from "../libraries/ConstantsLib.sol";
import {InterestLib} from "../libraries/InterestLib.sol";
import {MathLib} from "../libraries/MathLib.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {TokenReadLib} from "../libraries/TokenReadLib.sol";
import {ValueLib} from "../libraries/ValueLib.sol";
import {VaultBase} from "./VaultBase.sol";

/// @title LiquidationModule
/// @notice PrimeVault's `liquidate`, run by delegatecall from the core (Euler v2's module pattern), which
///         keeps the core under the contract size limit.
/// @dev Partial liquidation to a target health (Aave v4, Euler v2), in Compound III's batched `absorb`
///      shape. For an account below its maintenance requirement M with equity E:
///        depth      = min(1, (M - E) / M)
///        discount_i = min(penalty_i, max(penalty_i x (storeFrontShare + liquidatorShare), depth))
///        target     = M x (1 + buffer)
///      Perp positions go first: the same fraction of every position moves to the trading module's
///      backstop book at the oracle mark less a discount (at most a fifth of its maintenance margin), the
///      fraction being the least that reaches the target. If all positions are gone and equity is still
///      below target, the same fraction f of every collateral asset is absorbed into reserves, credited at
///      oracle value less `discount_i`, with f the least that reaches the target:
///        f = (target - E) / sum(value_i x (haircut_i x (1 + buffer) - discount_i))
///      Everything is absorbed when that cannot restore health or would leave debt below `minBorrow`; an
///      account under water (E < 0) without positions goes there directly, as in Compound III's `absorb`.
///      Debt left with nothing to absorb is covered by reserves or written off against suppliers.
///      Rounding favours the protocol: fractions and absorbed amounts round up, credits down.
///      Accounts are isolated: one whose prices cannot be read is skipped with `LiquidationSkipped`.
contract LiquidationModule is VaultBase {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev Marks a price in a batch's cache that could not be read.
    uint256 internal constant UNUSABLE = type(uint256).max;

    /// @dev What a batch knows of collateral asset i: read once (address, config, price and power of ten, the
    ///      first time an account holds it), summed over the batch (absorbed) and the current account's figures
    ///      (balance, value, discount), rewritten for each account so memory does not grow with the batch.
    struct Held {
        address asset;
        IPrimeVault.AssetConfig config;
        uint256 price; // 0 until read, UNUSABLE if unreadable
        uint256 scale; // 10**scaleExponent
        uint256 absorbed; // collateral moved to reserves
        uint256 balance; // the account's collateral
        uint256 value; // the value of the account's collateral before this liquidation
        uint256 discount; // the account's discount on the asset, bps
    }

    /// @dev State carried across one `liquidate` call so each asset's config and feed are read and each total
    ///      written once.
    struct Batch {
        Market market;
        Totals totals;
        Held[] held; // indexed by asset
        uint256 penalties; // the penalties of every account liquidated, base
        uint256 reward; // base owed to the caller: its share of the penalties, rounded down once a batch
        uint256 shortfall; // debt the batch's accounts left with nothing to absorb, settled at the batch's end
        uint256 keptMemory; // the free memory pointer each account's liquidation starts from
    }

    /// @dev One account's figures during its liquidation, base units.
    struct AccountState {
        int256 oldBalance;
        int256 balance;
        int256 equity;
        uint256 collateralValue;
        uint256 collateralMaintenance; // the collateral's part of the maintenance requirement
        uint256 maintenance;
        uint256 depthBps;
        uint256 penalties;
        uint256 maxDiscountBps; // a cap on every leg's discount: BPS (none) but in portfolio mode
        bool positionsLeft;
        uint256 hedgedBps; // portfolio mode: the share of the book's gross notional in offsetting legs
        uint256 collateralShare; // WAD: the fraction of every collateral asset absorbed (the last one applied)
    }

    address private immutable _self;

    constructor(address baseAsset_) VaultBase(baseAsset_) {
        _self = address(this);
    }

    /// @notice See `IPrimeVault.liquidate`. Only through the vault's delegatecall.
    function liquidate(address[] calldata accounts) external nonReentrant returns (uint256 liquidatedCount) {
        if (address(this) == _self) revert LiquidationModuleDirectCall();
        _accrue();
        uint256 assetCount = _collateralAssets.length;
        Batch memory batch = Batch({
            market: _market,
            totals: _totals,
            held: new Held[](assetCount),
            penalties: 0,
            reward: 0,
            shortfall: 0,
            keptMemory: 0
        });
        batch.keptMemory = _freeMemory();
        for (uint256 k; k < accounts.length; ++k) {
            if (_liquidateAccount(accounts[k], batch)) {
                unchecked {
                    ++liquidatedCount;
                }
            }
            // Nothing an account's liquidation allocates outlives it but the asset configs the batch caches
            // (`_loadAsset` keeps them): memory, whose cost grows with the square of its size, does not grow
            // with the batch.
            uint256 kept = batch.keptMemory;
            assembly ("memory-safe") {
                mstore(0x40, kept)
            }
        }
        if (liquidatedCount == 0) return 0;
        batch.reward = ValueLib.portionDown(batch.penalties, batch.market.liquidatorShareBps);

        // Shortfalls are settled once a batch, against reserves valued after every absorption in it.
        if (batch.shortfall > 0) batch.market.supplyIndex = _writeOffBadDebt(batch);
        // Totals are kept in memory across the batch and written once.
        for (uint256 i; i < assetCount; ++i) {
            Held memory h = batch.held[i];
            if (h.absorbed != 0) {
                _assetStates[h.asset].totalSupplied -= h.absorbed.toUint96();
                emit CollateralAbsorbed(h.asset, h.absorbed);
            }
        }
        if (batch.reward > 0) _creditReward(batch);
        _market.supplyIndex = batch.market.supplyIndex;
        _totals = batch.totals;
    }

    /// @notice See `IPrimeVault.buyCollateral`. Only through the vault's delegatecall (the store front sells what
    ///         liquidations absorb).
    function buyCollateral(address asset, uint256 minAmountOut, uint256 baseAmount, address recipient)
        external
        nonReentrant
        returns (uint256 amountOut)
    {
        if (address(this) == _self) revert LiquidationModuleDirectCall();
        if (baseAmount == 0) revert ZeroAmount();
        if (recipient == address(0)) revert ZeroAddress();
        amountOut = _quoteCollateral(asset, baseAmount);
        if (amountOut < minAmountOut) revert SlippageExceeded(amountOut, minAmountOut);
        uint256 available = _collateralReserves(asset);
        if (amountOut > available) revert InsufficientReserves(asset, available, amountOut);
        _pull(address(_base), baseAmount);
        IERC20(asset).safeTransfer(recipient, amountOut);
        emit CollateralBought(msg.sender, asset, amountOut, baseAmount, recipient);
    }

    // ================================================================== one account

    /// @dev See `IPrimeVaultGovernance.setLendingParams`.
    function setLendingParams(
        uint256 minBorrow_,
        uint16 liquidatorShareBps,
        uint16 storeFrontDiscountShareBps
    ) external nonReentrant onlyRole(DEFAULT_ADMIN_ROLE) {
        // Together at most the whole penalty: the discount floor, penalty x (both shares), pays the collateral's
        // resale and the caller's reward out of the penalty, and past 100% the reward would cost reserves.
        if (uint256(liquidatorShareBps) + storeFrontDiscountShareBps > ValueLib.BPS) {
            revert InvalidShare(uint256(liquidatorShareBps) + storeFrontDiscountShareBps);
        }
        _minBorrow = minBorrow_;
        (_market.liquidatorShareBps, _market.storeFrontShareBps) =
        (liquidatorShareBps, storeFrontDiscountShareBps);
        emit LendingParamsSet(minBorrow_, liquidatorShareBps, storeFrontDiscountShareBps);
    }

    /// @dev Liquidates `account` if it is below its maintenance requirement; returns whether it did.
    function _liquidateAccount(address account, Batch memory batch) internal returns (bool) {
        Account memory acc = _accounts[account];
        bool trading = acc.trading;
        // Without debt or positions an account cannot be under its maintenance requirement.
        if (acc.principal >= 0 && !trading) return false;

        int256 balance = _presentValue(acc.principal, batch.market);
        uint256 collateralValue = _tryValueCollateral(account, acc.assetsIn, batch);
        // slither-disable-next-line incorrect-equality (UNUSABLE is a sentinel, never a value)
        if (collateralValue == UNUSABLE) {
            emit LiquidationSkipped(account, abi.encodeWithSelector(OracleUnusable.selector));
            return false;
        }
        int256 equity;
        // Unchecked: collateral values are below 2^224 (`ValueLib.value`) and balances 2^169 in size.
        unchecked {
            equity = int256(collateralValue) + balance;
            if (!trading && !acc.portfolio && equity < 0) {
                _absorbUnderWater(account, acc, uint256(-balance), batch);
                return true;
            }
        }

        // slither-disable-next-line uninitialized-local (zeroed memory filled field by field)
        AccountState memory pos;
        pos.balance = balance;
        pos.oldBalance = balance;
        pos.equity = equity;
        pos.collateralValue = collateralValue;
        pos.collateralMaintenance = _collateralMaintenance(acc.assetsIn, batch);
        uint256 perpMaintenance = 0;
        if (trading) {
            uint256 gasBefore = gasleft();
            // slither-disable-next-line unused-return (only PnL and the maintenance requirement are needed here)
            try _tradingModule.liquidationRisk(account) returns (int256 pnl, uint256, uint256 pm, bool) {
                pos.equity += pnl;
                perpMaintenance = pm;
            } catch (bytes memory reason) {
                _revertIfOutOfGas(reason, gasBefore);
                emit LiquidationSkipped(account, reason);
                return false;
            }
        }
        pos.maintenance = pos.collateralMaintenance + perpMaintenance;
        pos.maxDiscountBps = BPS;
        if (acc.portfolio) {
            (pos.maintenance, pos.maxDiscountBps, pos.hedgedBps) = _portfolioTerms(account, pos.maintenance);
        }
        if (pos.equity >= pos.maintenance.toInt256()) return false;
        pos.depthBps = _depthBps(pos.equity, pos.maintenance);

        if (acc.portfolio) {
            if (!_absorbBook(account, acc, pos, perpMaintenance, batch, trading)) return false;
        } else {
            if (trading && !_absorbPositions(account, pos, perpMaintenance)) return false;
            if (!pos.positionsLeft && pos.balance < 0) _absorbCollateral(account, acc, pos, batch);
        }
        _finish(account, acc, pos, batch);
        return true;
    }

    /// @dev The portfolio rule's maintenance requirement, discount cap and hedged share, or `standard`, no cap and
    ///      no hedge if the rule cannot be evaluated for the account (an asset or market governance has not mapped
    ///      yet) or answers too little (a rule of another version): a liquidation must always be able to complete,
    ///      and the standard rule is always defined. A low-level call, so that a short answer cannot revert here as
    ///      a `try`'s decoding would; the cap and the share are clamped to 100%.
    function _portfolioTerms(address account, uint256 standard)
        internal
        view
        returns (uint256, uint256, uint256)
    {
        uint256 gasBefore = gasleft();
        (bool ok, bytes memory answer) =
            address(_portfolioMargin).staticcall(abi.encodeCall(IPortfolioMargin.liquidationTerms, (account)));
        if (!ok) _revertIfOutOfGas(answer, gasBefore);
        if (!ok || answer.length < 3 * 32) return (standard, BPS, 0);
        (uint256 maintenance, uint256 maxDiscountBps, uint256 hedgedBps) =
            abi.decode(answer, (uint256, uint256, uint256));
        return (maintenance, Math.min(maxDiscountBps, BPS), Math.min(hedgedBps, BPS));
    }

    /// @dev Reverts the whole transaction if the call caught just above ran out of gas: it failed without data and
    ///      left less than a 16th of the gas there was before it. A call keeps back a 64th of the gas it passes on,
    ///      so a frame that runs out leaves its caller that 64th, and one four calls deeper (a feed read by the
    ///      trading module, which reverts without data in turn) leaves about a 16th; a refusal fails early, with
    ///      far more left. Caught, the caller's gas limit would decide the outcome: at a limit too low for an
    ///      account's liquidation but enough for the rest, the account was skipped, or reserves valued as nothing,
    ///      and the transaction succeeded, so gas estimates settled on that limit and the keeper's liquidation of
    ///      an account trading at two venues failed at every cycle.
    function _revertIfOutOfGas(bytes memory reason, uint256 gasBefore) internal view {
        if (reason.length == 0 && gasleft() < gasBefore / 16) revert LiquidationOutOfGas();
    }

    /// @dev Portfolio mode: the same least fraction f of every leg, positions and collateral alike, so the
    ///      book shrinks without unhedging (closing the short that hedges the collateral first would leave
    ///      the collateral naked). Every leg's scenario losses and charges are linear in its size, so cutting
    ///      f of each lowers the requirement by f of it and costs at most f of the discounts:
    ///        f = (target - E) / (target - discounts),   1 when that is >= 1 or the discounts exceed the target
    ///      Every leg's discount is capped so that they add up to at most a fifth of the maintenance
    ///      requirement (`IPortfolioMargin.liquidationTerms`): a tight hedge needs far less than the
    ///      collateral's own discount, which would otherwise make any cut cost more than it frees. Positions
    ///      go first, so a trading module that refuses leaves the account untouched and skipped.
    function _absorbBook(
        address account,
        Account memory acc,
        AccountState memory pos,
        uint256 perpMaintenance,
        Batch memory batch,
        bool trading
    ) internal returns (bool) {
        uint256 collateralDiscounts = 0;
        for (uint256 i; acc.assetsIn >> i != 0; ++i) {
            // slither-disable-next-line incorrect-equality (a bit test on the account's asset mask)
            if ((acc.assetsIn >> i) & 1 == 0) continue;
            collateralDiscounts += ValueLib.portionUp(batch.held[i].value, _setDiscount(i, batch, pos));
        }
        uint256 discounts =
            collateralDiscounts + ValueLib.portionUp(perpMaintenance, PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS);
        // With a cap, every leg's discount times its value adds up to at most the cap's share of maintenance,
        // except where a collateral discount sits at the floor that pays for its resale (`_setDiscount`).
        if (pos.maxDiscountBps < BPS) {
            discounts = Math.max(
                collateralDiscounts,
                Math.min(
                    discounts, ValueLib.portionUp(pos.maintenance, PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS)
                )
            );
        }
        uint256 target = pos.maintenance + ValueLib.portionUp(pos.maintenance, LIQUIDATION_TARGET_BUFFER_BPS);
        uint256 fraction =
            _fractionToTarget(pos.equity, pos.maintenance, target > discounts ? target - discounts : 0);
        if (trading && !_movePositions(account, pos, fraction)) return false;
        if (acc.assetsIn != 0) _absorbFraction(account, acc, pos, batch, fraction);
        // As under the standard rule, no dust debt is left behind once the positions are gone.
        if (!pos.positionsLeft && acc.assetsIn != 0 && pos.balance < 0 && uint256(-pos.balance) < _minBorrow)
        {
            _absorbFraction(account, acc, pos, batch, WAD);
        }
        return true;
    }

    /// @dev Perp books first: the least equal fraction of every position that reaches the target moves to
    ///      the backstop. Returns false (and reports the account skipped) if the trading module refuses.
    function _absorbPositions(address account, AccountState memory pos, uint256 perpMaintenance)
        internal
        returns (bool)
    {
        // Each unit of maintenance margin moved to the backstop lowers the target by (1 + buffer) and costs
        // at most the perp penalty share in equity.
        uint256 relief = Math.mulDiv(
            perpMaintenance, BPS + LIQUIDATION_TARGET_BUFFER_BPS - PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS, BPS
        );
        if (!_movePositions(account, pos, _fractionToTarget(pos.equity, pos.maintenance, relief))) {
            return false;
        }
        // The realized PnL replaced the unrealized; the absorbed margin left the requirement.
        pos.equity = pos.collateralValue.toInt256() + pos.balance;
        pos.maintenance = pos.collateralMaintenance;
        return true;
    }

    /// @dev Moves `fraction` of every position of `account` to the backstop and books what the account realized.
    ///      Returns false (and reports the account skipped) if the trading module refuses.
    function _movePositions(address account, AccountState memory pos, uint256 fraction)
        internal
        returns (bool)
    {
        uint256 gasBefore = gasleft();
        try _tradingModule.absorbPositions(account, fraction, pos.depthBps, pos.maxDiscountBps) returns (
            int256 cash, uint256 penalty
        ) {
            pos.balance += cash;
            pos.penalties += penalty;
        } catch (bytes memory reason) {
            _revertIfOutOfGas(reason, gasBefore);
            emit LiquidationSkipped(account, reason);
            return false;
        }
        // The trading module tells the vault whether the account still trades (its open children are cancelled
        // above): a position that rounding onto its venue's size step took whole leaves none, whatever `fraction`
        // asked, and the collateral's turn comes in the same call.
        pos.positionsLeft = _accounts[account].trading;
        return true;
    }

    /// @dev Writes the account's new balance, adds its penalties and any shortfall to the batch and emits
    ///      `Liquidated`.
    function _finish(address account, Account memory acc, AccountState memory pos, Batch memory batch)
        internal
    {
        // Debt left with nothing to absorb leaves the books (principal 0) and joins the batch's shortfall,
        // which reserves cover or suppliers bear at the batch's end.
        // slither-disable-next-line incorrect-equality (an empty asset mask: nothing left to absorb)
        bool writeOff = pos.balance < 0 && acc.assetsIn == 0 && !pos.positionsLeft;
        int256 newPrincipal = writeOff
            ? int256(0)
            : InterestLib.principalValue(pos.balance, batch.market.supplyIndex, batch.market.borrowIndex);
        _setPrincipalInBatch(acc, newPrincipal, batch);
        batch.penalties += pos.penalties;
        uint256 shortfall = writeOff ? uint256(-pos.balance) : 0;
        batch.shortfall += shortfall;
        Account storage stored = _accounts[account];
        stored.principal = newPrincipal.toInt104();
        // A partial liquidation leaves every asset held: the mask is written only when a bit cleared.
        if (stored.assetsIn != acc.assetsIn) stored.assetsIn = acc.assetsIn;
        uint256 oldDebt = pos.oldBalance < 0 ? uint256(-pos.oldBalance) : 0;
        uint256 newDebt = writeOff || pos.balance >= 0 ? 0 : uint256(-pos.balance);
        emit Liquidated(account, oldDebt > newDebt ? oldDebt - newDebt : 0, shortfall, pos.collateralShare);
    }

    /// @dev Compound III's `absorb`, for an account under the standard rule with no positions and less
    ///      collateral than debt: no fraction can restore it, so all its collateral goes, each asset credited at
    ///      its oracle value less its whole penalty (the discount at a shortfall depth of 100%), and its debt
    ///      leaves the books. The credits, at most the collateral's value, cannot cover the debt: the rest is
    ///      the batch's shortfall. The same outcome as the partial path's `fraction` 1 and write-off, without
    ///      the fraction, the maintenance requirement or the dust check, which cannot change it here.
    function _absorbUnderWater(address account, Account memory acc, uint256 debt, Batch memory batch)
        internal
    {
        uint256 credits = 0;
        uint256 penalties = 0;
        mapping(address asset => uint256) storage collateral = _collateral[account];
        uint16 assetsIn = acc.assetsIn;
        for (uint256 i; assetsIn >> i != 0;) {
            if ((assetsIn >> i) & 1 != 0) {
                Held memory h = batch.held[i];
                uint256 value = h.value;
                // `ValueLib.portionDown`, unchecked: at most 16 values, each below 2^224, and balances below 2^96
                // with an asset's total.
                unchecked {
                    uint256 credit = value * (BPS - h.config.liquidationPenaltyBps) / BPS;
                    credits += credit;
                    penalties += value - credit;
                    h.absorbed += h.balance;
                }
                delete collateral[h.asset];
            }
            unchecked {
                ++i;
            }
        }
        // Unchecked: the debt exceeds the collateral's value, so its credits too; the principal is debt, counted in
        // the total; a batch's penalties and shortfalls add up values below 2^224 each, at most 2^32 of them.
        uint256 shortfall;
        unchecked {
            shortfall = debt - credits;
            batch.shortfall += shortfall;
            batch.penalties += penalties;
            batch.totals.borrowPrincipal -= uint104(-acc.principal);
        }
        // `trading` and `portfolio` are already false; `listed` stays.
        Account storage stored = _accounts[account];
        stored.principal = 0;
        stored.assetsIn = 0;
        emit Liquidated(account, debt, shortfall, WAD);
    }

    /// @dev Absorbs the least equal fraction of every collateral asset that brings `pos` to the target, or
    ///      all of it. Updates `acc.assetsIn`, `pos.balance` and `pos.penalties`.
    function _absorbCollateral(
        address account,
        Account memory acc,
        AccountState memory pos,
        Batch memory batch
    ) internal {
        // Under water, everything goes: the relief of all the collateral is at most its maintenance requirement
        // times (1 + buffer), which is the target, and the deficit is more than the target.
        bool whole = pos.equity < 0;
        uint256 relief = 0;
        for (uint256 i; acc.assetsIn >> i != 0; ++i) {
            // slither-disable-next-line incorrect-equality (a bit test on the account's asset mask)
            if ((acc.assetsIn >> i) & 1 == 0) continue;
            uint256 discount = _setDiscount(i, batch, pos);
            if (whole) continue;
            // Per unit absorbed, in bps of bps: exact, so that a haircut times 1.05 that is not a whole bps (a
            // maintenance haircut of 3.39% gives 3.5595%) does not shrink the relief and overshoot the target.
            // Unchecked: a discount is at most the penalty, which `_requireValidRisk` keeps at most the maintenance
            // haircut, so no underflow; the haircut and discount are bps (the product below 2^27) and a value
            // is below 2^224 (`ValueLib.valueAtScale`), so no overflow either.
            unchecked {
                uint256 perUnit = uint256(batch.held[i].config.maintenanceHaircutBps)
                    * (BPS + LIQUIDATION_TARGET_BUFFER_BPS) - discount * BPS;
                relief += batch.held[i].value * perUnit / (BPS * BPS); // rounded down, per asset
            }
        }
        uint256 fraction = whole ? WAD : _fractionToTarget(pos.equity, pos.collateralMaintenance, relief);
        // slither-disable-next-line incorrect-equality (0 means the perp step already reached the target)
        if (fraction == 0) return;
        _absorbFraction(account, acc, pos, batch, fraction);
        // A partial liquidation must not leave debt too small to be worth liquidating again.
        if (acc.assetsIn != 0 && pos.balance < 0 && uint256(-pos.balance) < _minBorrow) {
            _absorbFraction(account, acc, pos, batch, WAD);
        }
    }

    function _absorbFraction(
        address account,
        Account memory acc,
        AccountState memory pos,
        Batch memory batch,
        uint256 fraction
    ) internal {
        for (uint256 i; acc.assetsIn >> i != 0; ++i) {
            // slither-disable-next-line incorrect-equality (a bit test on the account's asset mask)
            if ((acc.assetsIn >> i) & 1 == 0) continue;
            Held memory h = batch.held[i];
            uint256 balance = h.balance;
            // Rounded up: absorbing a unit more never leaves the account short of its target. A balance fits
            // 96 bits and a fraction 60, so the product cannot overflow.
            uint256 amount = fraction < WAD ? (balance * fraction + WAD - 1) / WAD : balance;
            uint256 value = ValueLib.valueAtScale(amount, h.price, h.scale);
            uint256 credit = ValueLib.portionDown(value, BPS - h.discount);
            pos.balance += credit.toInt256();
            pos.penalties += value - credit;
            h.absorbed += amount;
            h.balance = balance - amount;
            _collateral[account][h.asset] = balance - amount;
            // slither-disable-next-line incorrect-equality (all of that asset was absorbed: clear its bit)
            if (amount == balance) acc.assetsIn &= ~uint16(1 << i);
        }
        // A second call absorbs the rest (`fraction` 1): the account's share is the last call's.
        pos.collateralShare = fraction;
    }

    // ================================================================== bad debt

    /// @dev Covers the batch's shortfall from reserves, counting absorbed collateral at its sale price; writes
    ///      off the rest against suppliers by lowering the supply index (rounded down). Returns the new supply
    ///      index. Run once, after every account: reserves then include all the batch absorbed, so the outcome
    ///      does not depend on the accounts' order. Never reverts on a price or a token: a collateral asset whose
    ///      feed is unusable or whose token does not answer counts as worth nothing, and the venue accounts as
    ///      zero if they cannot be valued (all understate reserves, so the write-off can only be larger, never
    ///      hidden).
    function _writeOffBadDebt(Batch memory batch) internal returns (uint64) {
        Market memory m = batch.market;
        Totals memory t = batch.totals;
        int256 venues = 0;
        if (address(_tradingModule) != address(0)) {
            uint256 gasBefore = gasleft();
            try _tradingModule.venueAssets() returns (int256 v) {
                venues = v;
            } catch (bytes memory reason) {
                _revertIfOutOfGas(reason, gasBefore);
            }
        }
        // The caller's reward is paid from reserves just after: count it as spent already.
        int256 reserves =
            _base.balanceOf(address(this)).toInt256() + _bookedBase(m, t) + venues - batch.reward.toInt256();
        for (uint256 i; i < batch.held.length; ++i) {
            // What the vault holds of the asset beyond its depositors' balances, absorbed collateral included
            // (the stored totals do not subtract this batch's absorptions yet).
            address asset = _collateralAssets[i];
            int256 unbooked = TokenReadLib.tryBalanceOf(asset, address(this)).toInt256()
                - uint256(_assetStates[asset].totalSupplied).toInt256() + batch.held[i].absorbed.toInt256();
            // Skips a feed read; a donation only adds to reserves, and a shortfall of tokens is not counted
            // against them here (the books, not this valuation, say what depositors are owed).
            if (unbooked <= 0) continue;
            // A donation cannot be worth more than the most the vault books of an asset; capping it keeps
            // `ValueLib.value` within its bounds (and can only understate reserves).
            uint256 amount = Math.min(uint256(unbooked), type(uint96).max);
            uint256 price = _loadAsset(i, batch);
            // slither-disable-next-line incorrect-equality (UNUSABLE is a sentinel the cache stores, never a price)
            if (price == UNUSABLE) continue;
            Held memory h = batch.held[i];
            uint256 saleValue = ValueLib.valueAtScale(amount, price, h.scale);
            reserves += ValueLib.portionDown(saleValue, BPS - _storeFrontDiscount(h.config, m)).toInt256();
        }
        if (reserves >= 0) return m.supplyIndex;
        uint256 badDebt = Math.min(uint256(-reserves), batch.shortfall);
        uint256 totalSupply =
            uint256(InterestLib.presentValue(int256(uint256(t.supplyPrincipal)), m.supplyIndex, 0));
        uint256 newIndex =
            badDebt >= totalSupply ? 1 : uint256(m.supplyIndex) * (totalSupply - badDebt) / totalSupply;
        // slither-disable-next-line incorrect-equality (keeps the supply index positive after a total loss)
        if (newIndex == 0) newIndex = 1;
        emit BadDebt(msg.sender, batch.shortfall, badDebt, newIndex);
        return uint64(newIndex); // below the old uint64 index
    }

    // ================================================================== helpers

    /// @dev Values `account`'s collateral and keeps each asset's balance and value in the batch; UNUSABLE if a
    ///      price is (the account is then skipped, not the batch).
    function _tryValueCollateral(address account, uint16 assetsIn, Batch memory batch)
        internal
        view
        returns (uint256 total)
    {
        mapping(address asset => uint256) storage collateral = _collateral[account];
        // Every account in a batch runs this loop and the under-water one: their counters, below 16, step
        // unchecked (the compiler does that by itself only for an `i < n` condition).
        for (uint256 i; assetsIn >> i != 0;) {
            if ((assetsIn >> i) & 1 != 0) {
                Held memory h = batch.held[i];
                uint256 price = h.price;
                // slither-disable-next-line incorrect-equality (0 marks an asset not read yet in this call)
                if (price == 0) price = _loadAsset(i, batch);
                // slither-disable-next-line incorrect-equality (UNUSABLE is a sentinel the cache stores, never a price)
                if (price == UNUSABLE) return UNUSABLE;
                uint256 balance = collateral[h.asset];
                uint256 v = ValueLib.valueAtScale(balance, price, h.scale);
                h.balance = balance;
                h.value = v;
                // Unchecked: at most 16 values, each below 2^224.
                unchecked {
                    total += v;
                }
            }
            unchecked {
                ++i;
            }
        }
    }

    /// @dev The maintenance requirement of the collateral `_tryValueCollateral` valued, each asset's rounded up.
    function _collateralMaintenance(uint16 assetsIn, Batch memory batch)
        internal
        pure
        returns (uint256 total)
    {
        for (uint256 i; assetsIn >> i != 0; ++i) {
            // slither-disable-next-line incorrect-equality (a bit test on the account's asset mask)
            if ((assetsIn >> i) & 1 == 0) continue;
            Held memory h = batch.held[i];
            total += ValueLib.portionUp(h.value, h.config.maintenanceHaircutBps);
        }
    }

    /// @dev Asset `index`'s price, reading its address, config and feed into the batch the first time.
    function _loadAsset(uint256 index, Batch memory batch) internal view returns (uint256 price) {
        Held memory h = batch.held[index];
        price = h.price;
        // slither-disable-next-line incorrect-equality (0 marks an asset not read yet in this call)
        if (price == 0) {
            address asset = _collateralAssets[index];
            IPrimeVault.AssetConfig memory c = _assetConfigs[asset];
            h.asset = asset;
            h.config = c;
            h.scale = MathLib.pow10(c.scaleExponent);
            price = OracleLib.tryRead(c.feed, c.maxStaleness);
            // slither-disable-next-line incorrect-equality (tryRead's 0 is an unusable answer)
            if (price == 0) price = UNUSABLE;
            h.price = price;
            batch.keptMemory = _freeMemory();
        }
    }

    function _freeMemory() internal pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            pointer := mload(0x40)
        }
    }

    /// @dev How far below its maintenance requirement the account is, in bps of it, at most 100%; rounded up, as
    ///      the discount it sets is the protocol's.
    function _depthBps(int256 equity, uint256 maintenance) internal pure returns (uint256) {
        // slither-disable-next-line incorrect-equality (no requirement to be below: fully deep)
        if (maintenance == 0 || equity <= 0) return BPS;
        return Math.ceilDiv((maintenance - uint256(equity)) * BPS, maintenance);
    }

    /// @dev Sets and returns the account's discount on asset `i`, in bps. Euler v2's discount (the shortfall
    ///      depth), bounded above by the asset's penalty and below by the floor: the store-front and liquidator
    ///      shares of the penalty (rounded up), so that neither the resale of the collateral nor the caller's
    ///      reward can cost reserves. Then the account's cap (none under the standard rule), which never goes below
    ///      that floor for the book's unhedged share either: a lower one would credit the account more than the
    ///      vault can sell the collateral for. Only the hedged share (`IPortfolioMargin.liquidationTerms`) lowers
    ///      the floor, in proportion (rounded up), and reserves bear that difference until a hedged pair can be sold
    ///      together without the store front's discount (`docs/risk.md`); a dust position hedges nothing.
    function _setDiscount(uint256 i, Batch memory batch, AccountState memory pos)
        internal
        pure
        returns (uint256 d)
    {
        IPrimeVault.AssetConfig memory c = batch.held[i].config;
        uint256 penalty = c.liquidationPenaltyBps;
        Market memory m = batch.market;
        uint256 floor = ValueLib.portionUp(penalty, uint256(m.storeFrontShareBps) + m.liquidatorShareBps);
        d = pos.depthBps > floor ? pos.depthBps : floor;
        if (d > penalty) d = penalty;
        if (d > pos.maxDiscountBps) {
            floor = ValueLib.portionUp(floor, BPS - pos.hedgedBps);
            d = pos.maxDiscountBps > floor ? pos.maxDiscountBps : floor;
        }
        batch.held[i].discount = d;
    }

    /// @dev The least fraction (WAD, rounded up) of a `relief` that lifts `equity` to the target over
    ///      `maintenance`; 1 when the whole relief is not enough.
    function _fractionToTarget(int256 equity, uint256 maintenance, uint256 relief)
        internal
        pure
        returns (uint256)
    {
        int256 deficit = (maintenance + ValueLib.portionUp(maintenance, LIQUIDATION_TARGET_BUFFER_BPS))
        .toInt256() - equity;
        if (deficit <= 0) return 0;
        if (uint256(deficit) >= relief) return WAD;
        return Math.mulDiv(uint256(deficit), WAD, relief, Math.Rounding.Ceil);
    }

    /// @dev `InterestLib.presentValue` of a stored principal, unchecked because its types bound it: 104 bits times
    ///      a 64-bit index fits 169 bits. Every account in a batch takes this path.
    function _presentValue(int104 principal, Market memory m) internal pure returns (int256) {
        unchecked {
            if (principal >= 0) {
                return int256(uint256(int256(principal)) * m.supplyIndex / InterestLib.INDEX_SCALE);
            }
            return -int256(
                (uint256(-int256(principal)) * m.borrowIndex + InterestLib.INDEX_SCALE - 1)
                    / InterestLib.INDEX_SCALE
            );
        }
    }

    /// @dev Moves the batch's supply and borrow totals from `acc`'s principal to `newPrincipal`.
    function _setPrincipalInBatch(Account memory acc, int256 newPrincipal, Batch memory batch) internal pure {
        Totals memory t = batch.totals;
        int256 old = acc.principal;
        uint256 supply = uint256(t.supplyPrincipal) + (newPrincipal > 0 ? uint256(newPrincipal) : 0)
            - (old > 0 ? uint256(old) : 0);
        uint256 borrow = uint256(t.borrowPrincipal) + (newPrincipal < 0 ? uint256(-newPrincipal) : 0)
            - (old < 0 ? uint256(-old) : 0);
        t.supplyPrincipal = supply.toUint104();
        t.borrowPrincipal = borrow.toUint104();
    }

    /// @dev Credits the batch's reward to the caller's base balance; totals stay in the batch.
    function _creditReward(Batch memory batch) internal {
        Account storage acc = _accounts[msg.sender];
        Account memory before = acc;
        int256 balance = _presentValue(before.principal, batch.market) + batch.reward.toInt256();
        int256 newPrincipal =
            InterestLib.principalValue(balance, batch.market.supplyIndex, batch.market.borrowIndex);
        _setPrincipalInBatch(before, newPrincipal, batch);
        acc.principal = newPrincipal.toInt104();
        _list(msg.sender, acc);
        emit LiquidatorRewarded(msg.sender, batch.reward);
    }
}
