// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IAggregatorV3} from "./interfaces/IAggregatorV3.sol";
import {
    IPrimeVault,
    PERMISSION_WITHDRAW,
    PERMISSION_TRANSFER,
    PAUSE_DEPOSIT,
    PAUSE_WITHDRAW,
    PAUSE_TRANSFER
} from "./interfaces/IPrimeVault.sol";
import {AssetParams, IPrimeVaultGovernance} from "./interfaces/IPrimeVaultGovernance.sol";
import {IPerpRisk} from "./interfaces/IPerpRisk.sol";
import {IPortfolioMargin} from "./interfaces/IPortfolioMargin.sol";
import {
    LIQUIDATION_TARGET_BUFFER_BPS,
    MAX_FEED_DECIMALS,
    MAX_RATE_PER_YEAR
} from "./libraries/ConstantsLib.sol";
import {InterestLib} from "./libraries/InterestLib.sol";
import {OracleLib} from "./libraries/OracleLib.sol";
import {SubAccountLib} from "./libraries/SubAccountLib.sol";
import {ValueLib} from "./libraries/ValueLib.sol";
import {ExtSloads} from "./modules/ExtSloads.sol";
import {LiquidationModule} from "./modules/LiquidationModule.sol";
import {OperatorPermitModule} from "./modules/OperatorPermitModule.sol";
import {VaultBase} from "./modules/VaultBase.sol";

/// @title PrimeVault
/// @notice Pooled multi-asset collateral, signed USDC balances with utilization interest, per-owner
///         sub-accounts and batched liquidation: the core of the PrimeVault prime broker.
/// @dev Accounting follows Compound III (signed principal against supply and borrow indices; reserves are
///      what the vault holds and is owed beyond what it owes). Sub-accounts follow Euler's EVC. See
///      `IPrimeVault` for units, rounding and the health rule. Storage and shared internals live in
///      `VaultBase`; `liquidate` and the store front's `buyCollateral` run in `LiquidationModule` by delegatecall
///      (Euler v2's modules), which keeps this contract under the size limit.
contract PrimeVault is IPrimeVault, IPrimeVaultGovernance, VaultBase, ExtSloads {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    bytes32 public constant RISK_MANAGER_ROLE = keccak256("RISK_MANAGER_ROLE");
    bytes32 public constant PAUSE_GUARDIAN_ROLE = keccak256("PAUSE_GUARDIAN_ROLE");

    /// @notice Collateral assets are tracked in a 16-bit mask per account.
    uint256 public constant MAX_ASSETS = 16;

    /// @notice The contract `liquidate` delegate-calls; deployed by this contract's constructor.
    address public immutable liquidationModule;

    /// @notice The contract `setOperatorWithSig` delegate-calls; deployed by this contract's constructor.
    address public immutable operatorPermitModule;

    /// @param baseAsset_ The base asset (USDC-like); it is also the unit of account.
    /// @param admin Receives DEFAULT_ADMIN_ROLE.
    /// @dev Starts with Aave v3's test rate model (kink 80%, base 1%, 4% at the kink, +60% at 100%), a 10%
    ///      reserve factor, 10% of penalties to liquidators, collateral sold at half the penalty as discount,
    ///      and a minimum borrow of 100 base tokens.
    constructor(address baseAsset_, address admin) VaultBase(baseAsset_) {
        if (baseAsset_ == address(0) || admin == address(0)) revert ZeroAddress();
        liquidationModule = address(new LiquidationModule(baseAsset_));
        operatorPermitModule = address(new OperatorPermitModule(baseAsset_));
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _market = Market({
            supplyIndex: uint64(InterestLib.INDEX_SCALE),
            borrowIndex: uint64(InterestLib.INDEX_SCALE),
            lastAccrualTime: uint40(block.timestamp),
            reserveFactorBps: 1000,
            liquidatorShareBps: 1000,
            storeFrontShareBps: 5000,
            pausedActions: 0
        });
        _minBorrow = 100 * 10 ** IERC20Metadata(baseAsset_).decimals();
        _setRateModel(0.01e18, 0.05e18, 3e18, 0.8e18, 1000);
    }

    // ================================================================== modifiers

    modifier whenNotPaused(uint256 action) {
        if (_market.pausedActions & action != 0) revert Paused(action);
        _;
    }

    modifier onlyTradingModule() {
        if (msg.sender != address(_tradingModule)) revert NotTradingModule(msg.sender);
        _;
    }

    // ================================================================== actions

    /// @inheritdoc IPrimeVault
    function deposit(address account, address asset, uint256 amount)
        external
        nonReentrant
        whenNotPaused(PAUSE_DEPOSIT)
    {
        _deposit(account, asset, amount);
    }

    /// @inheritdoc IPrimeVault
    function depositWithPermit(
        address account,
        address asset,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant whenNotPaused(PAUSE_DEPOSIT) {
        // An unknown asset is refused before the permit: a call to an address without code would revert with no
        // data, which the catch below does not cover.
        if (asset != address(_base)) _requireListed(asset);
        // A permit someone replayed first has already set the allowance: the deposit goes on, and fails as a
        // plain deposit would if the allowance is not there.
        // slither-disable-next-line reentrancy-no-eth (nonReentrant; the asset is the base or a listed one)
        try IERC20Permit(asset).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _deposit(account, asset, amount);
    }

    function _deposit(address account, address asset, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        _requireBookable(amount);
        if (account == address(0)) revert ZeroAddress();
        _accrue();
        // Recording the owner here, where a first deposit already pays for new storage, keeps it off the
        // first borrow. Deposits by others into the account record nothing.
        if (SubAccountLib.haveCommonOwner(msg.sender, account)) _recordOwner(account);
        Account storage acc = _accounts[account];
        if (asset == address(_base)) {
            _creditBase(account, acc, amount);
        } else {
            _addCollateral(account, acc, asset, amount);
        }
        _pull(asset, amount);
        emit Deposit(account, msg.sender, asset, amount);
    }

    /// @inheritdoc IPrimeVault
    function withdraw(address account, address asset, uint256 amount, address receiver)
        external
        nonReentrant
        whenNotPaused(PAUSE_WITHDRAW)
    {
        if (amount == 0) revert ZeroAmount();
        if (receiver == address(0)) revert ZeroAddress();
        _authorize(account, PERMISSION_WITHDRAW);
        _accrue();
        Account storage acc = _accounts[account];
        if (asset == address(_base)) {
            uint256 available = _base.balanceOf(address(this));
            if (amount > available) revert InsufficientLiquidity(available, amount);
            _debitBase(account, acc, amount);
        } else {
            _removeCollateral(account, acc, asset, amount);
        }
        _requireInitialHealth(account, acc);
        IERC20(asset).safeTransfer(receiver, amount);
        emit Withdraw(account, receiver, asset, amount);
    }

    /// @inheritdoc IPrimeVault
    function repay(address account, uint256 amount) external nonReentrant returns (uint256 repaid) {
        if (amount == 0) revert ZeroAmount();
        _accrue();
        Account storage acc = _accounts[account];
        int256 balance = _baseBalance(acc.principal);
        if (balance >= 0) return 0;
        uint256 debt = uint256(-balance);
        repaid = amount < debt ? amount : debt;
        _requireNoDustDebt(balance + repaid.toInt256());
        _setBaseBalance(account, acc, balance + repaid.toInt256());
        _pull(address(_base), repaid);
        emit Repay(account, msg.sender, repaid);
    }

    /// @inheritdoc IPrimeVault
    function transfer(address from, address to, address asset, uint256 amount)
        external
        nonReentrant
        whenNotPaused(PAUSE_TRANSFER)
    {
        if (amount == 0) revert ZeroAmount();
        if (from == to) revert SelfTransfer(from);
        if (!SubAccountLib.haveCommonOwner(from, to)) revert NotSameOwner(from, to);
        _authorize(from, PERMISSION_TRANSFER);
        _accrue();
        Account storage source = _accounts[from];
        Account storage target = _accounts[to];
        if (asset == address(_base)) {
            _debitBase(from, source, amount);
            _creditBase(to, target, amount);
        } else {
            _removeCollateral(from, source, asset, amount);
            // A transfer moves supply that is already inside the cap: only the destination's balance changes.
            uint8 index = _assetConfigs[asset].index;
            _collateral[to][asset] += amount;
            _setAssetBit(to, target, index);
            _assetStates[asset].totalSupplied += amount.toUint96();
        }
        _requireInitialHealth(from, source);
        emit SubAccountTransfer(from, to, asset, amount);
    }

    /// @inheritdoc IPrimeVault
    function setOperator(address account, address operator, uint256 permissions) external {
        if (operator == address(0)) revert ZeroAddress();
        _authorize(account, 0);
        _operators[account][operator] = permissions;
        emit OperatorSet(account, operator, permissions);
    }

    /// @inheritdoc IPrimeVault
    function setPortfolioMode(address account, bool enabled) external nonReentrant {
        if (enabled && address(_portfolioMargin) == address(0)) revert PortfolioMarginNotSet();
        // A child order committed under the standard rule reserved that rule's margin (none if reduce-only) and
        // fills unchecked: the switch waits for the account's open children to end.
        if (enabled && address(_tradingModule) != address(0) && _tradingModule.openChildCount(account) != 0) {
            revert PortfolioModeWithOpenChildren(account);
        }
        _authorize(account, 0);
        Account storage acc = _accounts[account];
        acc.portfolio = enabled;
        _requireInitialHealth(account, acc);
        emit PortfolioModeSet(account, enabled);
    }

    /// @inheritdoc IPrimeVault
    function setOperatorWithSig(OperatorPermit calldata, bytes calldata) external {
        // slither-disable-next-line unused-return (the module's function returns nothing)
        Address.functionDelegateCall(operatorPermitModule, msg.data);
    }

    /// @inheritdoc IPrimeVault
    function cancelOperatorPermits(uint256) external {
        // slither-disable-next-line unused-return (the module's function returns nothing)
        Address.functionDelegateCall(operatorPermitModule, msg.data);
    }

    /// @inheritdoc IPrimeVault
    function liquidate(address[] calldata) external returns (uint256) {
        return abi.decode(Address.functionDelegateCall(liquidationModule, msg.data), (uint256));
    }

    /// @inheritdoc IPrimeVault
    function buyCollateral(address, uint256, uint256, address) external returns (uint256) {
        return abi.decode(Address.functionDelegateCall(liquidationModule, msg.data), (uint256));
    }

    /// @inheritdoc IPrimeVault
    function accrue() external nonReentrant {
        _accrue();
    }

    // ================================================================== trading module

    /// @inheritdoc IPrimeVault
    function settle(address account, int256 amount, bool requireInitialHealth)
        external
        nonReentrant
        onlyTradingModule
    {
        _accrue();
        Account storage acc = _accounts[account];
        if (amount != 0) {
            _setBaseBalance(account, acc, _baseBalance(acc.principal) + amount);
            emit Settled(account, amount);
        }
        if (requireInitialHealth) _requireInitialHealth(account, acc);
    }

    /// @inheritdoc IPrimeVault
    /// @dev Not `nonReentrant`: the trading module calls it while absorbing positions inside `liquidate`.
    function setTrading(address account, bool trading) external onlyTradingModule {
        Account storage acc = _accounts[account];
        acc.trading = trading;
        if (trading) _list(account, acc);
    }

    /// @inheritdoc IPrimeVault
    function sendToTradingModule(uint256 amount) external nonReentrant onlyTradingModule {
        _base.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IPrimeVault
    function tradingModule() external view returns (address) {
        return address(_tradingModule);
    }

    /// @inheritdoc IPrimeVaultGovernance
    function setTradingModule(address module) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (module == address(0)) revert ZeroAddress();
        if (address(_tradingModule) != address(0)) revert TradingModuleAlreadySet(address(_tradingModule));
        _requireCode(module);
        _tradingModule = IPerpRisk(module);
        emit TradingModuleSet(module);
    }

    // ================================================================== governance

    /// @inheritdoc IPrimeVaultGovernance
    function setPortfolioMargin(address portfolioMargin_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (portfolioMargin_ == address(0)) revert ZeroAddress();
        _requireCode(portfolioMargin_);
        _portfolioMargin = IPortfolioMargin(portfolioMargin_);
        emit PortfolioMarginSet(portfolioMargin_);
    }

    /// @inheritdoc IPrimeVaultGovernance
    function listAsset(address asset, AssetParams calldata params) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (asset == address(0)) revert ZeroAddress();
        if (asset == address(_base) || _assetStates[asset].listed) revert AssetAlreadyListed(asset);
        uint256 index = _collateralAssets.length;
        if (index == MAX_ASSETS) revert TooManyAssets(MAX_ASSETS);
        _collateralAssets.push(asset);
        _assetStates[asset].listed = true;
        _assetConfigs[asset].index = uint8(index);
        _configure(asset, params);
        _haircutBounds[asset] = HaircutBounds({
            minBps: params.maintenanceHaircutBps,
            maxBps: params.initialHaircutBps,
            maxStepBps: 0,
            minInterval: 0,
            lastUpdate: 0
        });
        emit AssetListed(asset, params.feed, uint8(index));
    }

    /// @inheritdoc IPrimeVaultGovernance
    function configureAsset(address asset, AssetParams calldata params)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _requireListed(asset);
        _configure(asset, params);
    }

    /// @inheritdoc IPrimeVaultGovernance
    function setHaircutBounds(
        address asset,
        uint16 minBps,
        uint16 maxBps,
        uint16 maxStepBps,
        uint32 minInterval
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireListed(asset);
        if (minBps > maxBps || maxBps >= ValueLib.BPS || maxStepBps == 0) revert InvalidHaircutBounds();
        HaircutBounds storage b = _haircutBounds[asset];
        (b.minBps, b.maxBps, b.maxStepBps, b.minInterval) = (minBps, maxBps, maxStepBps, minInterval);
        emit HaircutBoundsSet(asset, minBps, maxBps, maxStepBps, minInterval);
    }

    /// @inheritdoc IPrimeVaultGovernance
    function updateHaircuts(address asset, uint16 initialHaircutBps, uint16 maintenanceHaircutBps)
        external
        onlyRole(RISK_MANAGER_ROLE)
    {
        _requireListed(asset);
        AssetConfig storage c = _assetConfigs[asset];
        HaircutBounds storage b = _haircutBounds[asset];
        uint256 nextAllowedAt = uint256(b.lastUpdate) + b.minInterval;
        if (b.lastUpdate != 0 && block.timestamp < nextAllowedAt) {
            revert HaircutUpdateTooSoon(asset, nextAllowedAt);
        }
        _requireWithinBounds(asset, b, c.initialHaircutBps, initialHaircutBps);
        _requireWithinBounds(asset, b, c.maintenanceHaircutBps, maintenanceHaircutBps);
        _requireValidRisk(initialHaircutBps, maintenanceHaircutBps, c.liquidationPenaltyBps);
        (c.initialHaircutBps, c.maintenanceHaircutBps) = (initialHaircutBps, maintenanceHaircutBps);
        b.lastUpdate = uint40(block.timestamp);
        emit HaircutsUpdated(asset, initialHaircutBps, maintenanceHaircutBps);
    }

    /// @inheritdoc IPrimeVaultGovernance
    function haircutBounds(address asset)
        external
        view
        returns (uint16 minBps, uint16 maxBps, uint16 maxStepBps, uint32 minInterval, uint40 lastUpdate)
    {
        _requireListed(asset);
        HaircutBounds memory b = _haircutBounds[asset];
        return (b.minBps, b.maxBps, b.maxStepBps, b.minInterval, b.lastUpdate);
    }

    /// @inheritdoc IPrimeVaultGovernance
    function setRateModel(
        uint256 baseRatePerYear,
        uint256 slopeLowPerYear,
        uint256 slopeHighPerYear,
        uint256 kink,
        uint256 reserveFactor
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _accrue();
        // The reserve factor is kept in whole bps: one that is not is refused rather than cut. Rates are bounded: an
        // index grown past 64 bits stops every accrual, this one's included, so no later model could undo it.
        if (
            kink > InterestLib.WAD || reserveFactor > InterestLib.WAD || reserveFactor % 1e14 != 0
                || baseRatePerYear > MAX_RATE_PER_YEAR || slopeLowPerYear > MAX_RATE_PER_YEAR
                || slopeHighPerYear > MAX_RATE_PER_YEAR
        ) {
            revert InvalidRateModel();
        }
        _setRateModel(
            baseRatePerYear,
            slopeLowPerYear,
            slopeHighPerYear,
            kink,
            uint16(reserveFactor * ValueLib.BPS / 1e18)
        );
    }

    /// @inheritdoc IPrimeVaultGovernance
    /// @dev Run by the liquidation module (the shares are its parameters), which keeps the core under the size limit.
    function setLendingParams(uint256, uint16, uint16) external {
        // slither-disable-next-line unused-return (the module's function returns nothing)
        Address.functionDelegateCall(liquidationModule, msg.data);
    }

    /// @inheritdoc IPrimeVaultGovernance
    function setPaused(uint256 pausedActions_) external {
        if (!hasRole(PAUSE_GUARDIAN_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotAuthorized(msg.sender, address(this), 0);
        }
        _market.pausedActions = pausedActions_.toUint8();
        emit PauseSet(pausedActions_);
    }

    /// @inheritdoc IPrimeVaultGovernance
    function withdrawReserves(address to, uint256 amount) external nonReentrant onlyRole(DEFAULT_ADMIN_ROLE) {
        if (to == address(0)) revert ZeroAddress();
        _accrue();
        int256 reserves = _reserves(_market, _totals);
        // Compared unsigned: any amount above what there is, however large, is InsufficientReserves.
        uint256 available = reserves < 0 ? 0 : uint256(reserves);
        if (amount > available) revert InsufficientReserves(address(_base), available, amount);
        _base.safeTransfer(to, amount);
        emit ReservesWithdrawn(to, amount);
    }

    // ================================================================== views

    /// @inheritdoc IPrimeVault
    function baseAsset() external view returns (address) {
        return address(_base);
    }

    /// @inheritdoc IPrimeVault
    function collateralAssets() external view returns (address[] memory) {
        return _collateralAssets;
    }

    /// @inheritdoc IPrimeVault
    function assetConfig(address asset) external view returns (AssetConfig memory) {
        _requireListed(asset);
        return _assetConfigs[asset];
    }

    /// @inheritdoc IPrimeVault
    function assetTotals(address asset) external view returns (uint256 totalSupplied, uint256 supplyCap) {
        _requireListed(asset);
        AssetState memory s = _assetStates[asset];
        return (s.totalSupplied, s.supplyCap);
    }

    /// @inheritdoc IPrimeVault
    function ownerOf(address account) external view returns (address) {
        return _owners[SubAccountLib.prefix(account)];
    }

    /// @inheritdoc IPrimeVault
    function operatorPermitNonce(address owner) external view returns (uint256) {
        return _operatorPermitNonces[owner];
    }

    /// @inheritdoc IPrimeVault
    function operatorPermitDomainSeparator() external view returns (bytes32) {
        return _operatorPermitDomainSeparator();
    }

    /// @inheritdoc IPrimeVault
    function portfolioMode(address account) external view returns (bool) {
        return _accounts[account].portfolio;
    }

    /// @inheritdoc IPrimeVault
    function portfolioMargin() external view returns (address) {
        return address(_portfolioMargin);
    }

    /// @inheritdoc IPrimeVault
    function operatorPermissions(address account, address operator) external view returns (uint256) {
        return _operators[account][operator];
    }

    /// @inheritdoc IPrimeVault
    function baseBalanceOf(address account) external view returns (int256) {
        Market memory m = _accruedMarket();
        return InterestLib.presentValue(_accounts[account].principal, m.supplyIndex, m.borrowIndex);
    }

    /// @inheritdoc IPrimeVault
    function supplyIndex() external view returns (uint256) {
        return _accruedMarket().supplyIndex;
    }

    /// @inheritdoc IPrimeVault
    function borrowIndex() external view returns (uint256) {
        return _accruedMarket().borrowIndex;
    }

    /// @inheritdoc IPrimeVault
    function collateralBalanceOf(address account, address asset) external view returns (uint256) {
        return _collateral[account][asset];
    }

    /// @inheritdoc IPrimeVault
    function accountHealth(address account) public view returns (AccountHealth memory h) {
        Market memory m = _accruedMarket();
        Account memory acc = _accounts[account];
        h.baseBalance = InterestLib.presentValue(acc.principal, m.supplyIndex, m.borrowIndex);
        h.debt = h.baseBalance < 0 ? uint256(-h.baseBalance) : 0;
        CollateralSums memory sums =
            _sumCollateral(account, acc.assetsIn, new uint256[](_collateralAssets.length));
        (int256 pnl, uint256 perpInitial, uint256 perpMaintenance, bool trading) = _perpRisk(account);
        h.collateralValue = sums.value;
        h.unrealizedPnl = pnl;
        h.equity = sums.value.toInt256() + h.baseBalance + pnl;
        (h.initialRequirement, h.maintenanceRequirement) = acc.portfolio
            ? _portfolioMargin.requirements(account)
            : (sums.initialRequirement + perpInitial, sums.maintenanceRequirement + perpMaintenance);
        h.liquidatable = (h.debt > 0 || trading) && h.equity < h.maintenanceRequirement.toInt256();
    }

    /// @inheritdoc IPrimeVault
    function isLiquidatable(address account) external view returns (bool) {
        return accountHealth(account).liquidatable;
    }

    /// @inheritdoc IPrimeVault
    function accountCount() external view returns (uint256) {
        return _accountList.length;
    }

    /// @inheritdoc IPrimeVault
    function listedAccounts(uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory page, uint256 total)
    {
        total = _accountList.length;
        // Any offset and limit: past the end is an empty page, and a limit beyond the rest is the rest.
        uint256 n = offset < total ? total - offset : 0;
        page = new address[](limit < n ? limit : n);
        for (uint256 k; k < page.length; ++k) {
            page[k] = _accountList[offset + k];
        }
    }

    /// @inheritdoc IPrimeVault
    function marketState() external view returns (MarketState memory s) {
        Market memory m = _accruedMarket();
        Totals memory t = _totals;
        s.supplyIndex = m.supplyIndex;
        s.borrowIndex = m.borrowIndex;
        s.lastAccrualTime = m.lastAccrualTime;
        s.totalSupply =
            uint256(InterestLib.presentValue(int256(uint256(t.supplyPrincipal)), m.supplyIndex, 0));
        s.totalBorrow =
            uint256(-InterestLib.presentValue(-int256(uint256(t.borrowPrincipal)), 0, m.borrowIndex));
        s.utilizationWad = InterestLib.utilization(s.totalSupply, s.totalBorrow);
        InterestLib.RateModel memory r = _rateModel;
        s.borrowRatePerSecond = InterestLib.borrowRate(r, s.utilizationWad);
        s.supplyRatePerSecond = InterestLib.supplyRate(r, s.utilizationWad, m.reserveFactorBps);
        s.reserves = _reserves(m, t);
    }

    /// @inheritdoc IPrimeVault
    function collateralReserves(address asset) external view returns (uint256) {
        _requireListed(asset);
        return _collateralReserves(asset);
    }

    /// @inheritdoc IPrimeVault
    function quoteCollateral(address asset, uint256 baseAmount) external view returns (uint256) {
        return _quoteCollateral(asset, baseAmount);
    }

    /// @inheritdoc IPrimeVault
    function minBorrow() external view returns (uint256) {
        return _minBorrow;
    }

    /// @inheritdoc IPrimeVault
    function lendingParams() external view returns (uint256 liquidatorShareBps, uint256 storeFrontShareBps) {
        return (_market.liquidatorShareBps, _market.storeFrontShareBps);
    }

    /// @inheritdoc IPrimeVault
    function liquidationTargetBufferBps() external pure returns (uint256) {
        return LIQUIDATION_TARGET_BUFFER_BPS;
    }

    /// @inheritdoc IPrimeVault
    function rateModel()
        external
        view
        returns (
            uint256 baseRatePerSecond,
            uint256 slopeLowPerSecond,
            uint256 slopeHighPerSecond,
            uint256 kink,
            uint256 reserveFactor
        )
    {
        InterestLib.RateModel memory r = _rateModel;
        return (r.baseRate, r.slopeLow, r.slopeHigh, r.kink, _reserveFactorWad(_market.reserveFactorBps));
    }

    /// @inheritdoc IPrimeVault
    function pausedActions() external view returns (uint256) {
        return _market.pausedActions;
    }

    // ================================================================== internal: accounts

    /// @dev Passes if the caller owns `account` (recording it as owner on first use of the prefix) or is an
    ///      operator holding every bit of `permission`. `permission == 0` means owner only.
    function _authorize(address account, uint256 permission) internal {
        if (SubAccountLib.haveCommonOwner(msg.sender, account) && _recordOwner(account) == msg.sender) {
            return;
        }
        if (permission == 0 || _operators[account][msg.sender] & permission != permission) {
            revert NotAuthorized(msg.sender, account, permission);
        }
    }

    /// @dev The recorded owner of `account`'s prefix; records the caller, who shares the prefix, if none is.
    function _recordOwner(address account) internal returns (address owner) {
        bytes19 prefix = SubAccountLib.prefix(account);
        owner = _owners[prefix];
        if (owner == address(0)) {
            owner = msg.sender;
            _owners[prefix] = owner;
            emit OwnerRegistered(prefix, owner);
        }
    }

    function _setAssetBit(address account, Account storage acc, uint8 index) internal {
        uint16 bit = uint16(1) << index;
        if (acc.assetsIn & bit == 0) {
            acc.assetsIn |= bit;
            _list(account, acc);
        }
    }

    function _addCollateral(address account, Account storage acc, address asset, uint256 amount) internal {
        AssetState storage s = _assetStates[asset];
        if (!s.listed) revert UnknownAsset(asset);
        uint256 totalAfter = uint256(s.totalSupplied) + amount;
        if (totalAfter > s.supplyCap) revert SupplyCapExceeded(asset, totalAfter, s.supplyCap);
        s.totalSupplied = uint96(totalAfter); // cap is a uint96, so this fits
        _collateral[account][asset] += amount;
        _setAssetBit(account, acc, _assetConfigs[asset].index);
    }

    function _removeCollateral(address account, Account storage acc, address asset, uint256 amount) internal {
        AssetState storage s = _assetStates[asset];
        if (!s.listed) revert UnknownAsset(asset);
        uint256 balance = _collateral[account][asset];
        if (amount > balance) revert InsufficientCollateral(account, asset, balance, amount);
        unchecked {
            _collateral[account][asset] = balance - amount;
            s.totalSupplied -= uint96(amount); // totalSupplied >= any one balance
        }
        if (balance == amount) acc.assetsIn &= ~(uint16(1) << _assetConfigs[asset].index);
    }

    /// @dev Takes `amount` base from `account`; past its balance this borrows and must respect the minimum.
    function _debitBase(address account, Account storage acc, uint256 amount) internal {
        _requireBookable(amount);
        int256 newBalance = _baseBalance(acc.principal) - amount.toInt256();
        _requireNoDustDebt(newBalance);
        _setBaseBalance(account, acc, newBalance);
    }

    /// @dev Gives `account` `amount` base; with debt, this repays part of it, which must not leave dust (as `repay`).
    function _creditBase(address account, Account storage acc, uint256 amount) internal {
        int256 newBalance = _baseBalance(acc.principal) + amount.toInt256();
        _requireNoDustDebt(newBalance);
        _setBaseBalance(account, acc, newBalance);
    }

    /// @dev Debt, if any, must be at least `minBorrow`: smaller debt is never worth liquidating.
    function _requireNoDustDebt(int256 newBalance) internal view {
        if (newBalance < 0 && uint256(-newBalance) < _minBorrow) {
            revert BorrowTooSmall(uint256(-newBalance), _minBorrow);
        }
    }

    /// @dev Sets an account's base balance and moves the supply and borrow totals with it.
    function _setBaseBalance(address account, Account storage acc, int256 newBalance) internal {
        Market memory m = _market;
        int256 oldPrincipal = acc.principal;
        int256 newPrincipal = InterestLib.principalValue(newBalance, m.supplyIndex, m.borrowIndex);
        Totals storage t = _totals;
        t.supplyPrincipal =
            (uint256(t.supplyPrincipal) + _positive(newPrincipal) - _positive(oldPrincipal)).toUint104();
        t.borrowPrincipal =
            (uint256(t.borrowPrincipal) + _positive(-newPrincipal) - _positive(-oldPrincipal)).toUint104();
        acc.principal = newPrincipal.toInt104();
        if (newPrincipal != 0) _list(account, acc);
    }

    function _baseBalance(int104 principal) internal view returns (int256) {
        return InterestLib.presentValue(principal, _market.supplyIndex, _market.borrowIndex);
    }

    /// @dev Reverts with `InsufficientEquity` when the account is below its initial requirement. An account
    ///      without debt or positions needs no prices: its equity is at least its collateral value, which is
    ///      at least any haircut requirement.
    function _requireInitialHealth(address account, Account storage acc) internal view {
        Account memory a = acc; // one read of the packed slot
        int256 balance = _baseBalance(a.principal);
        if (balance >= 0 && !a.trading) return;
        CollateralSums memory sums =
            _sumCollateral(account, a.assetsIn, new uint256[](_collateralAssets.length));
        int256 pnl = 0;
        uint256 perpInitial = 0;
        // slither-disable-next-line unused-return (maintenance is not checked here; `trading` is known)
        if (a.trading) (pnl, perpInitial,,) = _perpRisk(account);
        int256 equity = sums.value.toInt256() + balance + pnl;
        uint256 requirement = sums.initialRequirement + perpInitial;
        // slither-disable-next-line unused-return (the initial requirement is the one checked here)
        if (a.portfolio) (requirement,) = _portfolioMargin.requirements(account);
        if (equity < requirement.toInt256()) revert InsufficientEquity(account, equity, requirement);
    }

    // ================================================================== internal: valuation

    // ================================================================== internal: interest

    function _setRateModel(
        uint256 baseRatePerYear,
        uint256 slopeLowPerYear,
        uint256 slopeHighPerYear,
        uint256 kink,
        uint16 reserveFactorBps
    ) internal {
        _rateModel = InterestLib.RateModel({
            baseRate: InterestLib.perSecond(baseRatePerYear),
            slopeLow: InterestLib.perSecond(slopeLowPerYear),
            slopeHigh: InterestLib.perSecond(slopeHighPerYear),
            kink: kink.toUint64()
        });
        _market.reserveFactorBps = reserveFactorBps;
        emit RateModelSet(
            baseRatePerYear, slopeLowPerYear, slopeHighPerYear, kink, _reserveFactorWad(reserveFactorBps)
        );
    }

    function _reserveFactorWad(uint16 reserveFactorBps) internal pure returns (uint256) {
        return uint256(reserveFactorBps) * InterestLib.WAD / ValueLib.BPS;
    }

    // ================================================================== internal: config and tokens

    function _configure(address asset, AssetParams calldata p) internal {
        if (p.feed == address(0)) revert ZeroAddress();
        _requireCode(asset);
        _requireCode(p.feed);
        if (p.maxStaleness == 0) revert InvalidStaleness();
        _requireValidRisk(p.initialHaircutBps, p.maintenanceHaircutBps, p.liquidationPenaltyBps);
        uint8 decimals = IERC20Metadata(asset).decimals();
        uint8 feedDecimals = IAggregatorV3(p.feed).decimals();
        uint8 baseDecimals = IERC20Metadata(address(_base)).decimals();
        // value = amount * price / 10**(decimals + feedDecimals - baseDecimals): the exponent may not be
        // negative (an 8-decimal token with an 8-decimal feed against an 18-decimal base).
        if (decimals < 6 || decimals > 18 || decimals + feedDecimals < baseDecimals) {
            revert UnsupportedDecimals(asset, decimals);
        }
        if (feedDecimals > MAX_FEED_DECIMALS) revert UnsupportedFeedDecimals(p.feed, feedDecimals);
        AssetConfig storage c = _assetConfigs[asset];
        c.feed = p.feed;
        c.maxStaleness = p.maxStaleness;
        c.initialHaircutBps = p.initialHaircutBps;
        c.maintenanceHaircutBps = p.maintenanceHaircutBps;
        c.liquidationPenaltyBps = p.liquidationPenaltyBps;
        c.scaleExponent = decimals + feedDecimals - baseDecimals;
        _assetStates[asset].supplyCap = p.supplyCap;
        emit AssetConfigured(asset, p);
    }

    /// @dev A token or feed without code would answer `decimals()` with an empty revert.
    function _requireCode(address target) private view {
        if (target.code.length == 0) revert NotAContract(target);
    }

    /// @dev maintenance <= initial < 100%, and the penalty fits inside the maintenance haircut so absorbing
    ///      an account at its maintenance threshold credits at least its debt.
    function _requireValidRisk(uint256 initialBps, uint256 maintenanceBps, uint256 penaltyBps) internal pure {
        if (maintenanceBps > initialBps || initialBps >= ValueLib.BPS || penaltyBps > maintenanceBps) {
            revert InvalidRiskParameters(initialBps, maintenanceBps, penaltyBps);
        }
    }

    function _requireWithinBounds(address asset, HaircutBounds storage b, uint256 fromBps, uint256 toBps)
        internal
        view
    {
        if (toBps < b.minBps || toBps > b.maxBps) {
            revert HaircutOutOfBounds(asset, toBps, b.minBps, b.maxBps);
        }
        uint256 step = toBps > fromBps ? toBps - fromBps : fromBps - toBps;
        if (step > b.maxStepBps) revert HaircutStepTooLarge(asset, fromBps, toBps, b.maxStepBps);
    }
}
