// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IPrimeVaultErrors} from "./IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "./IPrimeVaultEvents.sol";

/// @dev Operator permission: withdraw collateral and withdraw or borrow base to any receiver.
uint256 constant PERMISSION_WITHDRAW = 1 << 0;
/// @dev Operator permission: move assets between the owner's sub-accounts.
uint256 constant PERMISSION_TRANSFER = 1 << 1;
/// @dev Operator permission: submit and cancel perp orders (reserved for the venue layer).
uint256 constant PERMISSION_TRADE = 1 << 2;

/// @dev Pause flag: deposits (repayment is never paused).
uint256 constant PAUSE_DEPOSIT = 1 << 0;
/// @dev Pause flag: withdrawals of collateral and base, including borrowing.
uint256 constant PAUSE_WITHDRAW = 1 << 1;
/// @dev Pause flag: transfers between sub-accounts.
uint256 constant PAUSE_TRANSFER = 1 << 2;
/// @dev Pause flag: perp trading (reserved for the venue layer).
uint256 constant PAUSE_TRADE = 1 << 3;

/// @title IPrimeVault
/// @notice What integrators call on the PrimeVault core: sub-account actions, liquidation, and views.
/// @dev Units. Base-asset amounts and all values are in base units (USDC: 6 decimals), and the base asset
///      is the unit of account (1 base unit = 1 unit of value). Collateral amounts are in the token's units.
///      Haircuts, penalties and shares are in basis points. Indices are scaled by 1e15, rates per second
///      by 1e18.
///
///      Sub-accounts. Every address is an account. The 256 addresses that share an owner's first 19 bytes
///      (`owner ^ subId`, subId 0..255) are that owner's sub-accounts; subId 0 is the owner itself. The
///      first address of a prefix to act is recorded as its owner (Euler EVC's rule), so a ground address
///      with a colliding prefix cannot take over sub-accounts.
///
///      Health. For an account holding collateral balances b_i at prices p_i and base balance B (negative
///      when borrowing): collateralValue = sum(b_i * p_i), equity = collateralValue + B, and
///      requirement = sum(b_i * p_i * haircut_i), with the initial haircut for the initial requirement and
///      the maintenance haircut for the maintenance requirement. So equity >= requirement is the same
///      statement as "haircut collateral value + base balance >= 0". Actions that move value out must leave
///      equity >= initial requirement; an account with equity < maintenance requirement is liquidatable.
///      Rounding always favours the protocol: values round down, debts and requirements round up.
interface IPrimeVault is IPrimeVaultErrors, IPrimeVaultEvents {
    /// @notice Risk configuration of a collateral asset.
    struct AssetConfig {
        address feed; // Chainlink-style price feed quoting the asset in the base asset
        uint32 maxStaleness; // seconds after `updatedAt` at which the answer is refused
        uint16 initialHaircutBps; // haircut for borrowing and withdrawing
        uint16 maintenanceHaircutBps; // haircut for liquidation, <= initial
        uint16 liquidationPenaltyBps; // share of absorbed value kept by the protocol, <= maintenance haircut
        uint8 index; // position in `collateralAssets()` and bit in an account's asset mask
        uint8 scaleExponent; // value = amount * price / 10**scaleExponent
    }

    /// @notice A sub-account's health, all in base units.
    struct AccountHealth {
        int256 baseBalance; // signed base balance with interest; negative is debt
        uint256 debt; // max(-baseBalance, 0)
        uint256 collateralValue; // sum of balance x oracle price, before haircuts
        int256 unrealizedPnl; // perp positions at oracle marks, less funding owed
        int256 equity; // collateralValue + baseBalance + unrealizedPnl
        uint256 initialRequirement; // sum of value x initial haircut + perp initial margin (portfolio mode: the grid's)
        uint256 maintenanceRequirement; // sum of value x maintenance haircut + perp maintenance margin (idem)
        bool liquidatable; // has debt or positions, and equity < maintenanceRequirement
    }

    /// @notice An owner's signed grant of `permissions` on `account` to `operator` (EIP-712 type `OperatorPermit`).
    struct OperatorPermit {
        address owner; // the signer: the recorded owner of `account`'s prefix (or, if none is, one sharing it)
        address account;
        address operator;
        uint256 permissions; // the mask set, as `setOperator` sets it; 0 revokes
        uint256 nonce; // the owner's next nonce (`operatorPermitNonce`); one permit per nonce, in order
        uint256 deadline; // unix time after which the permit is refused
    }

    /// @notice Market-wide lending state.
    struct MarketState {
        uint256 supplyIndex;
        uint256 borrowIndex;
        uint256 lastAccrualTime;
        uint256 totalSupply; // present value of all positive base balances
        uint256 totalBorrow; // present value of all debt
        uint256 utilizationWad;
        uint256 supplyRatePerSecond;
        uint256 borrowRatePerSecond;
        int256 reserves; // base held + owed by borrowers - owed to suppliers; negative until absorbed
        // collateral is sold
    }

    // ------------------------------------------------------------------ actions

    /// @notice Deposits `amount` of `asset` from the caller into `account`.
    /// @dev Anyone may deposit into any account. Depositing the base asset repays debt first and supplies
    ///      the rest. Tokens that deliver less than `amount` (fee-on-transfer) are refused.
    /// @param account The receiving sub-account.
    /// @param asset The base asset or a listed collateral asset.
    /// @param amount Amount in the asset's units.
    function deposit(address account, address asset, uint256 amount) external;

    /// @notice `deposit` with the caller's ERC-2612 permit for exactly `amount` to this vault, in one transaction
    ///         and one signature (no separate approval).
    /// @dev A permit that fails (already used, for instance replayed by someone who saw it) is ignored: the deposit
    ///      then needs the allowance to be there, as a plain deposit does.
    function depositWithPermit(
        address account,
        address asset,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Withdraws `amount` of `asset` from `account` to `receiver`.
    /// @dev Caller: the owner, or an operator with PERMISSION_WITHDRAW. For the base asset, withdrawing past
    ///      the balance borrows: the debt must be at least `minBorrow()` and the account must stay at or
    ///      above its initial requirement. Reverts on stale or invalid prices of held collateral.
    /// @param account The sub-account to withdraw from.
    /// @param asset The base asset or a listed collateral asset.
    /// @param amount Amount in the asset's units.
    /// @param receiver Where the tokens go.
    function withdraw(address account, address asset, uint256 amount, address receiver) external;

    /// @notice Repays up to `amount` of `account`'s base debt from the caller; never supplies.
    /// @dev Anyone may repay; works while paused. `type(uint256).max` repays the whole debt.
    /// @return repaid The base amount taken from the caller.
    function repay(address account, uint256 amount) external returns (uint256 repaid);

    /// @notice Moves `amount` of `asset` between two sub-accounts of the same owner in one call.
    /// @dev Caller: the owner, or an operator of `from` with PERMISSION_TRANSFER. Moving more base than
    ///      `from` holds borrows, under the same rules as `withdraw`.
    function transfer(address from, address to, address asset, uint256 amount) external;

    /// @notice Sets `operator`'s permission mask on `account`; 0 revokes.
    /// @dev Only the owner. Permissions: PERMISSION_WITHDRAW, PERMISSION_TRANSFER, PERMISSION_TRADE.
    function setOperator(address account, address operator, uint256 permissions) external;

    /// @notice Puts `account` in portfolio mode (`enabled`), where one scenario-grid requirement over its whole
    ///         book replaces the haircut per asset and the margin per position (docs/risk.md), or back.
    /// @dev Only the owner. The account must meet its initial requirement under the rule it switches to, so
    ///      an account leaves portfolio mode only when it is healthy under the standard rule. In portfolio
    ///      mode a liquidation takes the same fraction of every leg (positions and collateral), so hedges
    ///      stay hedged; the standard rule takes positions first.
    function setPortfolioMode(address account, bool enabled) external;

    /// @notice `setOperator` by the owner's EIP-712 signature, submitted by anyone (a relayer, a bundler, the
    ///         operator itself): an owner grants or revokes an operator without a transaction of its own.
    /// @dev Domain: name "PrimeVault", version "1", the chain id, this vault (`operatorPermitDomainSeparator`).
    ///      Type: `OperatorPermit(address owner,address account,address operator,uint256 permissions,
    ///      uint256 nonce,uint256 deadline)`. A contract owner signs through ERC-1271. Caveats: a permit is
    ///      valid until its deadline or until the owner's nonce moves past it (`cancelOperatorPermits`, or any
    ///      later permit used), so sign short deadlines; it sets the whole mask, like `setOperator`.
    function setOperatorWithSig(OperatorPermit calldata permit, bytes calldata signature) external;

    /// @notice Voids every unused operator permit of the caller with a nonce below `nonce`.
    function cancelOperatorPermits(uint256 nonce) external;

    /// @notice The nonce `owner`'s next operator permit must carry.
    function operatorPermitNonce(address owner) external view returns (uint256);

    /// @notice The EIP-712 domain separator operator permits are signed under.
    function operatorPermitDomainSeparator() external view returns (bytes32);

    /// @notice Liquidates every account in `accounts` that is below its maintenance requirement, each only as far
    ///         as brings it back above that requirement with a buffer.
    /// @dev Permissionless; works while paused. Healthy accounts and duplicates are skipped, not reverted, so a
    ///      batch survives a competing keeper; an account whose own prices cannot be read, or whose positions the
    ///      trading module refuses to move, is skipped with `LiquidationSkipped` and the batch goes on. Perp
    ///      positions move to the backstop book first, then the same fraction of every collateral asset is
    ///      absorbed into reserves at oracle value less a discount that grows with the shortfall (portfolio
    ///      accounts: the same fraction of every leg at once). Debt an account leaves with nothing to absorb is
    ///      its `Liquidated.shortfall`; at the batch's end reserves cover the batch's shortfalls and what they
    ///      cannot is written off against base suppliers (one `BadDebt` event for the batch). The caller's
    ///      sub-account 0 is credited `liquidatorShareBps` of the penalties.
    /// @return liquidatedCount How many accounts were liquidated.
    function liquidate(address[] calldata accounts) external returns (uint256 liquidatedCount);

    /// @notice Buys absorbed collateral for base at the oracle price less a discount: the store-front share of the
    ///         asset's penalty, or, with a portfolio rule set, the rule's pair discount on the share of it the
    ///         backstop book's shorts hedge (`IPortfolioMargin.storeFrontDiscount`; the asset's own if the rule
    ///         cannot answer). Runs in the liquidation module by delegatecall.
    /// @dev Caveat: the price moves with the oracle and with the hedge (a liquidation, a late fill or the keeper's
    ///      unwind changes the backstop book); pass `minAmountOut`.
    /// @param asset The collateral asset to buy.
    /// @param minAmountOut Least amount of `asset` acceptable.
    /// @param baseAmount Base paid by the caller.
    /// @param recipient Receiver of the collateral.
    /// @return amountOut Collateral sent, rounded down.
    function buyCollateral(address asset, uint256 minAmountOut, uint256 baseAmount, address recipient)
        external
        returns (uint256 amountOut);

    /// @notice Accrues interest up to the current block. Every action does this first.
    function accrue() external;

    // ------------------------------------------------------------------ trading module

    /// @notice Credits (or debits, if negative) `account`'s base balance with realized perp PnL, fees and
    ///         funding, and, if asked, reverts with `InsufficientEquity` unless the account then meets its
    ///         initial requirement. Trading module only; a debit past the balance becomes debt.
    function settle(address account, int256 amount, bool requireInitialHealth) external;

    /// @notice Records whether `account` holds positions or open child orders at the trading module, which
    ///         calls this whenever that changes, before it settles. Health checks and liquidation read the
    ///         record instead of calling the trading module per account; an account that starts trading is
    ///         listed, so keepers scan it. Trading module only.
    function setTrading(address account, bool trading) external;

    /// @notice Sends `amount` of pooled base to the trading module, to post as margin at a venue. Trading
    ///         module only; the margin keeps counting in `marketState().reserves` through the module.
    function sendToTradingModule(uint256 amount) external;

    /// @notice The trading module (perp positions and orders), or address(0) before it is set.
    function tradingModule() external view returns (address);

    // ------------------------------------------------------------------ views

    /// @notice The base asset (USDC-like).
    function baseAsset() external view returns (address);

    /// @notice Listed collateral assets, in index order.
    function collateralAssets() external view returns (address[] memory);

    /// @notice Risk configuration of a listed collateral asset; reverts with `UnknownAsset` otherwise.
    function assetConfig(address asset) external view returns (AssetConfig memory);

    /// @notice Sum of all accounts' balances of `asset` and its supply cap.
    function assetTotals(address asset) external view returns (uint256 totalSupplied, uint256 supplyCap);

    /// @notice Recorded owner of `account`'s prefix, or address(0) if none has acted yet.
    function ownerOf(address account) external view returns (address);

    /// @notice Whether `account` is in portfolio mode.
    function portfolioMode(address account) external view returns (bool);

    /// @notice The portfolio rule's contract (zero until governance sets it).
    function portfolioMargin() external view returns (address);

    /// @notice `operator`'s permission mask on `account`.
    function operatorPermissions(address account, address operator) external view returns (uint256);

    /// @notice Signed base balance of `account` with interest to now (negative is debt, rounded up).
    function baseBalanceOf(address account) external view returns (int256);

    /// @notice The supply index with interest to now (scaled by 1e15), as `baseBalanceOf` and the next
    ///         action in this block use it: a supply balance is stored as `value * 1e15 / index` and read back as
    ///         `principal * index / 1e15`, each rounded down.
    function supplyIndex() external view returns (uint256);

    /// @notice The borrow index with interest to now (scaled by 1e15), as `baseBalanceOf` and the next action in
    ///         this block use it: a debt is stored as `value * 1e15 / index` rounded up and read back as
    ///         `principal * index / 1e15` rounded up. With `supplyIndex`, what a keeper needs of the market
    ///         without `marketState`, whose reserves ask every venue.
    function borrowIndex() external view returns (uint256);

    /// @notice Balance of collateral `asset` held by `account`.
    function collateralBalanceOf(address account, address asset) external view returns (uint256);

    /// @notice Health of `account` at current oracle prices and interest to now.
    /// @dev Reverts with an oracle error if a price of held collateral is stale or invalid, and with the venue's
    ///      error if a venue where the account holds a position cannot report its funding index.
    function accountHealth(address account) external view returns (AccountHealth memory);

    /// @notice Whether `liquidate` would liquidate `account` now, where every input can be read.
    /// @dev Caveat: reverts as `accountHealth` does. Where a price is unusable `liquidate` skips the account; where
    ///      only a venue cannot answer, `liquidate` still reads the account as `IPerpRisk.liquidationRisk` does (no
    ///      funding there since each position's last booking), which this view does not. What `liquidate` would do
    ///      is exactly what `liquidate([account])` returns in a simulated call (`eth_call`): 1 if it would act.
    function isLiquidatable(address account) external view returns (bool);

    /// @notice Number of accounts that ever held anything (the length `listedAccounts` pages over).
    function accountCount() external view returns (uint256);

    /// @notice One page of every account that ever held anything, in first-use order.
    /// @dev Accounts are never removed, so pages are stable while new accounts append at the end. Keepers
    ///      read balances and positions for a whole page in one call through `PrimeVaultLens.accounts`.
    function listedAccounts(uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory page, uint256 total);

    /// @notice Market-wide lending state, with interest to now.
    function marketState() external view returns (MarketState memory);

    /// @notice Absorbed collateral of `asset` held by the protocol and for sale.
    function collateralReserves(address asset) external view returns (uint256);

    /// @notice Collateral `buyCollateral` would give for `baseAmount` now.
    function quoteCollateral(address asset, uint256 baseAmount) external view returns (uint256);

    /// @notice Smallest debt an account may hold (stops dust debt).
    function minBorrow() external view returns (uint256);

    /// @notice The liquidation shares governance sets with `setLendingParams`, in basis points.
    /// @return liquidatorShareBps Share of liquidation penalties credited to the caller of `liquidate`.
    /// @return storeFrontShareBps Share of an asset's penalty given as discount on `buyCollateral`.
    function lendingParams() external view returns (uint256 liquidatorShareBps, uint256 storeFrontShareBps);

    /// @notice How far above its maintenance requirement a partial liquidation restores an account: to the
    ///         maintenance requirement plus this share of it, in basis points (500: 105% of maintenance).
    function liquidationTargetBufferBps() external view returns (uint256);

    /// @notice The interest-rate model in force, as `setRateModel` set it and accrual applies it.
    /// @dev borrow rate = base + slopeLow x min(U, kink) + slopeHigh x max(U - kink, 0) at utilization U;
    ///      supply rate = borrow rate x U x (1 - reserveFactor). `marketState()` gives both at today's U.
    /// @return baseRatePerSecond Borrow rate at 0% utilization, WAD per second: the annual rate given to
    ///         `setRateModel` divided by 365 days, rounded down (likewise the two slopes).
    /// @return slopeLowPerSecond Borrow rate added per unit of utilization up to the kink, WAD per second.
    /// @return slopeHighPerSecond Borrow rate added per unit of utilization past the kink, WAD per second.
    /// @return kink Utilization at which the slope changes, WAD.
    /// @return reserveFactor Share of borrowers' interest kept as reserves, WAD (kept in whole basis points).
    function rateModel()
        external
        view
        returns (
            uint256 baseRatePerSecond,
            uint256 slopeLowPerSecond,
            uint256 slopeHighPerSecond,
            uint256 kink,
            uint256 reserveFactor
        );

    /// @notice Paused-actions mask (PAUSE_* flags).
    function pausedActions() external view returns (uint256);
}
