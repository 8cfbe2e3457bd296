// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPrimeVaultErrors
/// @notice Every custom error PrimeVault and its trading module revert with themselves, declared in one place.
/// @dev Not here: what they pass on from the contracts they call (the portfolio rule's, `IPortfolioMargin`; a
///      token's) and OpenZeppelin's (AccessControl, ReentrancyGuard, SafeERC20, SafeCast). The contracts' ABIs in
///      `keeper/artifacts/` hold those too.
interface IPrimeVaultErrors {
    // ---- Input ----
    /// @notice An amount of zero was given where a positive amount is required.
    error ZeroAmount();
    /// @notice The zero address was given where a real address is required.
    error ZeroAddress();
    /// @notice An amount above `max` (`MAX_AMOUNT`, 2^96 - 1 token units): more than any balance the vault books can
    ///         hold (an asset's total supplied is a uint96) and more than any token's supply.
    error AmountTooLarge(uint256 amount, uint256 max);
    /// @notice `asset` is neither the base asset nor a listed collateral asset.
    error UnknownAsset(address asset);
    /// @notice `target`, given as a token, a price feed, a venue adapter, the trading module or the portfolio rule,
    ///         holds no code: a call to it would revert without a reason (or, for a call that expects nothing
    ///         back, succeed doing nothing).
    error NotAContract(address target);
    /// @notice The asset is already listed.
    error AssetAlreadyListed(address asset);
    /// @notice Listing would exceed the number of collateral assets the vault tracks per account.
    error TooManyAssets(uint256 max);
    /// @notice The token's decimals are outside the supported 6..18 range, or with its feed's decimals fall
    ///         short of the base asset's (token decimals + feed decimals must be at least base decimals).
    error UnsupportedDecimals(address asset, uint8 decimals);
    /// @notice A feed has more decimals than its use allows: 36 for a collateral asset's (`MAX_FEED_DECIMALS`), 18
    ///         for a perp market's, whose mark is a WAD.
    error UnsupportedFeedDecimals(address feed, uint8 decimals);
    /// @notice The token delivered less than the amount transferred (fee-on-transfer or rebasing token).
    error FeeOnTransferNotSupported(address asset, uint256 expected, uint256 received);
    /// @notice A deposit would take the asset's total supplied above its cap.
    error SupplyCapExceeded(address asset, uint256 totalAfter, uint256 cap);
    /// @notice The withdrawal exceeds the account's balance of a collateral asset.
    error InsufficientCollateral(address account, address asset, uint256 balance, uint256 requested);
    /// @notice The vault holds less base than the withdrawal or borrow asks for (it is lent out).
    error InsufficientLiquidity(uint256 available, uint256 requested);
    /// @notice The protocol holds less absorbed collateral than the purchase asks for.
    error InsufficientReserves(address asset, uint256 available, uint256 requested);
    /// @notice The purchase would deliver less collateral than the buyer's minimum.
    error SlippageExceeded(uint256 amountOut, uint256 minAmountOut);

    // ---- Sub-accounts and operators ----
    /// @notice The caller is neither the owner nor an operator of `account` with the needed permission.
    error NotAuthorized(address caller, address account, uint256 permission);
    /// @notice The two accounts do not belong to the same owner.
    error NotSameOwner(address from, address to);
    /// @notice An account cannot send to itself.
    error SelfTransfer(address account);
    /// @notice The operator permit's deadline has passed.
    error OperatorPermitExpired(uint256 deadline);
    /// @notice The operator permit's nonce is not the owner's next one (used, cancelled, or not yet due).
    error OperatorPermitNonceInvalid(address owner, uint256 nonce, uint256 expected);
    /// @notice The operator permit was not signed by `owner` (ECDSA, or ERC-1271 for a contract owner).
    error OperatorPermitBadSignature(address owner);
    /// @notice A nonce cancellation must move the owner's next nonce forward.
    error OperatorPermitNonceNotAhead(uint256 nonce, uint256 current);

    /// @notice Portfolio mode needs the portfolio rule's contract, which governance has not set.
    error PortfolioMarginNotSet();
    /// @notice `account` has open child orders, committed under the standard rule: portfolio mode waits for them.
    error PortfolioModeWithOpenChildren(address account);

    /// @notice Only the trading module may call this.
    error NotTradingModule(address caller);

    // ---- Health ----
    /// @notice The action would leave the account below its initial requirement.
    /// @param equity Account equity after the action, in base units.
    /// @param initialRequirement Initial requirement after the action, in base units.
    error InsufficientEquity(address account, int256 equity, uint256 initialRequirement);
    /// @notice The action would leave a debt smaller than the minimum borrow.
    error BorrowTooSmall(uint256 debt, uint256 minBorrow);

    // ---- Oracle ----
    /// @notice The feed answered zero or a negative price.
    error OracleInvalidPrice(address feed, int256 answer);
    /// @notice The feed's last update is older than its staleness limit, or dated after the current block.
    error OracleStalePrice(address feed, uint256 updatedAt, uint256 maxStaleness);
    /// @notice A price an account's liquidation needs is stale, non-positive or unreadable (reported in
    ///         `LiquidationSkipped`; the batch goes on).
    error OracleUnusable();

    // ---- Trading ----
    /// @notice No perp market with this id.
    error UnknownMarket(uint256 market);
    /// @notice No venue with this id.
    error UnknownVenue(uint256 venue);
    /// @notice The order's size does not fit an int128, its limit price is above 2^128 - 1 or its deadline above
    ///         2^64 - 1 (a backstop unwind's, carried by its child order: 2^32 - 1): more than its record holds (and
    ///         than any market trades).
    error OrderOutOfRange(int256 size, uint256 limitPrice, uint256 deadline);
    /// @notice The order does not exist or is no longer open.
    error OrderNotOpen(uint256 orderId);
    /// @notice The order's deadline has passed (or, at submission, is not in the future).
    error OrderExpired(uint256 orderId, uint256 deadline);
    /// @notice The owner or an operator cancelled the order.
    error OrderCancelledByUser(uint256 orderId);
    /// @notice The split's sizes do not add up to the order's size, or a part is zero, repeated, larger than the
    ///         order or at an unknown venue.
    error InvalidSplit(uint256 orderId);
    /// @notice The average fill is worse than the order's limit price.
    error LimitPriceExceeded(uint256 averagePrice, uint256 limitPrice);
    /// @notice A reduce-only order would open, grow or flip the position.
    error ReduceOnlyIncreases(uint256 orderId);
    /// @notice Only the trading module may make this internal call.
    error OnlyTradingModuleItself();
    /// @notice A backstop unwind's limit price is farther than the allowed band from the oracle mark.
    error PriceOutsideBand(uint256 limitPrice, uint256 mark, uint256 bandBps);
    /// @notice An unwind larger than the backstop's position, or none to unwind.
    error BackstopTooSmall(uint256 market, uint256 venue, uint256 size, uint256 available);
    /// @notice The order's submitter no longer holds the trade permission, or the owner cancelled all
    ///         orders after it was submitted.
    error OrderAuthorityRevoked(uint256 orderId);
    /// @notice A venue's margin fraction for a market is above the vault's, which must never be looser.
    error VenueMarginLooserThanVault(uint256 market, uint256 venue);
    /// @notice The adapter serves another vault.
    error AdapterNotForThisModule(address adapter);

    // ---- Asynchronous orders (AsyncOrderModule) ----
    /// @notice `AsyncOrderModule` was called directly; it only runs inside the trading module by delegatecall.
    error AsyncOrderModuleDirectCall();
    /// @notice No child order with this id.
    error AsyncOrderUnknownChild(uint256 childId);
    /// @notice The child order is no longer open (filled, rejected, expired or cancelled).
    error AsyncOrderChildNotOpen(uint256 childId);
    /// @notice The child order cannot be expired by this caller before `expiresAfter`: its deadline for the
    ///         executor, the deadline plus `CHILD_EXPIRY_GRACE` for anyone else.
    error AsyncOrderChildNotExpired(uint256 childId, uint256 expiresAfter);
    /// @notice A child's limit is zero, worse than its order's or above 2^128 - 1, or its deadline is not after now,
    ///         is after its order's or is above 2^32 - 1 (`index` in the split).
    error AsyncOrderInvalidChild(uint256 orderId, uint256 index);
    /// @notice A reduce-only child of `orderId` at `venue` would take `size` (base WAD) of the account's position
    ///         there, which, rounded up onto the venue's step, less what its other open reduce-only children may
    ///         still take, has only `available` on the order's opposite side.
    error AsyncOrderReduceOnlyBeyondPosition(uint256 orderId, uint8 venue, uint256 size, uint256 available);
    /// @notice This venue fill id was booked already; each is booked once.
    error AsyncOrderFillIdUsed(bytes32 venueFillId);
    /// @notice The fill would take the child's filled size past its size (or its size is zero).
    error AsyncOrderOverfill(uint256 childId, uint256 filledAfter, uint256 size);
    /// @notice The fill's price is worse than the child's limit, or above MAX_PRICE (2^128 - 1).
    error AsyncOrderFillOutsideLimit(uint256 price, uint256 limitPrice);
    /// @notice A reported fill's fee (base units) is above MAX_FILL_FEE_BPS of its notional (`maxFee`, rounded up).
    error AsyncOrderFeeTooHigh(uint256 fee, uint256 maxFee);

    // ---- Governance ----
    /// @notice The action is paused by the pause guardian.
    error Paused(uint256 action);
    /// @notice Haircuts or penalty violate `maintenance <= initial < 100%` or `penalty <= maintenance`.
    error InvalidRiskParameters(uint256 initialHaircutBps, uint256 maintenanceHaircutBps, uint256 penaltyBps);
    /// @notice A haircut update falls outside the asset's bounds set by the admin.
    error HaircutOutOfBounds(address asset, uint256 haircutBps, uint256 minBps, uint256 maxBps);
    /// @notice A haircut update moves further than the largest step allowed per update.
    error HaircutStepTooLarge(address asset, uint256 fromBps, uint256 toBps, uint256 maxStepBps);
    /// @notice A haircut update comes sooner than the minimum interval after the previous one.
    error HaircutUpdateTooSoon(address asset, uint256 nextAllowedAt);
    /// @notice Haircut bounds are inconsistent (`min > max`, max >= 100%, or a zero step).
    error InvalidHaircutBounds();
    /// @notice Interest-rate parameters are out of range (kink or reserve factor above 100%, or a rate above
    ///         `MAX_RATE_PER_YEAR`, 1,000% a year).
    error InvalidRateModel();
    /// @notice `LiquidationModule` was called directly; it only runs inside the vault by delegatecall.
    error LiquidationModuleDirectCall();
    /// @notice A liquidation ran out of gas inside a call whose failure it otherwise tolerates (an account's
    ///         positions, the reserves' venue accounts): the transaction needs a higher gas limit.
    error LiquidationOutOfGas();
    /// @notice The trading module is set once and cannot be replaced.
    error TradingModuleAlreadySet(address current);
    /// @notice A share in basis points above 100% (for the lending parameters, the liquidator's and the store
    ///         front's together).
    error InvalidShare(uint256 shareBps);
    /// @notice A feed's staleness limit of zero would refuse every answer.
    error InvalidStaleness();
    /// @notice The trading module already lists MAX_MARKETS markets.
    error TooManyMarkets(uint256 max);
    /// @notice The trading module already has MAX_VENUES venues.
    error TooManyVenues(uint256 max);
    /// @notice Margin fractions must satisfy 0 < maintenance <= initial <= 100%, with initial above 5.5%: a fill
    ///         may land 5% from the mark (the price band) and pay a 0.5% fee (the fee cap), and the margin
    ///         committed for it must cover both.
    error InvalidMarginFractions(uint256 initialMarginBps, uint256 maintenanceMarginBps);
}
