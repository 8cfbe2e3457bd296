// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPortfolioMargin
/// @notice The portfolio rule (docs/risk.md, "Portfolio margin"): one requirement for a sub-account's whole
///         book from a scenario grid per underlying, used by the vault for accounts in portfolio mode.
/// @dev Every leg of a book (a collateral balance, a perp position at a venue) belongs to one underlying
///      (WETH and every ETH market are one). Each underlying moves over nine scenarios: -S, -2S/3, -S/3, 0,
///      +S/3, +2S/3, +S (SPAN's thirds of its shock S) and a tail of -T and +T whose loss is weighted by w.
///      Per underlying: the worst scenario's loss, plus charges on |net| exposure, on hedged exposure
///      (min(long, short)) and on the basis between venues (venue longs against venue shorts the collateral
///      does not cover). Underlyings of one group also move together; a share of the gap between their
///      independent and their correlated worst losses is credited. initial = scan + charges (+ the margin
///      reserved by open child orders), maintenance = initial x maintenanceBps, rounded up.
///      Rounding favours the protocol: leg values and notionals down, losses, charges and requirements up.
///      A collateral asset mapped to no underlying (listed, not mapped yet) counts for nothing: its value is
///      added to both requirements, so it neither supports the book nor reverts its health checks.
///      Caveats: every perp market the account holds must be mapped to an underlying, or the requirement
///      reverts (`PortfolioMarginUnmapped`), and so does any health check of an account in portfolio mode that
///      holds it (only the owner and its operators open positions: a synchronous execution of a portfolio account
///      is health-checked after its fill, an asynchronous commit reserves `legMarginBps`, which reverts for an
///      unmapped market, and the vault refuses portfolio mode while the account has open child orders committed
///      under the standard rule); a shock is moved
///      by the risk manager only within its governance bounds, by at most its step per update and at most once
///      per `shockUpdateInterval`. Every trade of an account in portfolio mode is held to the rule's initial
///      requirement, reduce-only ones included: closing a leg that hedges another raises it (under the standard
///      rule shrinking a slot always lowers the requirement), so such an account below its initial requirement
///      cannot trade until it deposits or repays.
interface IPortfolioMargin {
    /// @notice Governance's parameters of one underlying, basis points.
    struct UnderlyingParams {
        uint16 shockBps; // the step grid's full move S, moved by the risk manager within [min, max]
        uint16 minShockBps;
        uint16 maxShockBps;
        uint16 maxShockStepBps; // largest change of `shockBps` per update
        uint16 tailBps; // the tail move T
        uint16 tailWeightBps; // the share w of the tail's loss that counts
        uint16 netChargeBps; // on |long - short|
        uint16 hedgedChargeBps; // on min(long, short)
        uint16 basisChargeBps; // on venue longs hedged by shorts at other venues
        uint8 group; // underlyings of one group move together in the correlated scenarios
    }

    /// @notice An underlying was added or its parameters replaced.
    event UnderlyingSet(uint8 indexed underlying, string name, UnderlyingParams params);
    /// @notice The risk manager moved an underlying's shock.
    event ShockUpdated(uint8 indexed underlying, uint16 oldShockBps, uint16 newShockBps);
    /// @notice A collateral asset of the vault was mapped to an underlying.
    event AssetMapped(address indexed asset, uint8 indexed underlying);
    /// @notice A perp market of the trading module was mapped to an underlying.
    event MarketMapped(uint8 indexed market, uint8 indexed underlying);
    /// @notice The maintenance share of the initial requirement or the correlation credit changed.
    event RuleSet(uint16 maintenanceBps, uint16 correlationCreditBps);
    /// @notice The least time between two shock updates of one underlying changed.
    event ShockUpdateIntervalSet(uint32 interval);
    /// @notice The store front's discount on collateral the backstop book hedges changed.
    event PairDiscountSet(uint16 pairDiscountBps);

    /// @notice A parameter is outside what governance may set (`value` against [min, max]).
    error PortfolioMarginOutOfBounds(string name, uint256 value, uint256 min, uint256 max);
    /// @notice The account holds a position in a market mapped to no underlying (`isMarket` true; an unmapped
    ///         asset is counted at no value instead).
    error PortfolioMarginUnmapped(bool isMarket, uint256 id);
    /// @notice No underlying with this index.
    error PortfolioMarginUnknownUnderlying(uint8 underlying);
    /// @notice No more underlyings can be added.
    error PortfolioMarginTooManyUnderlyings(uint256 max);
    /// @notice The underlying's shock was moved less than `shockUpdateInterval` ago; the next move is allowed
    ///         from `nextAllowedAt`.
    error PortfolioMarginShockUpdateTooSoon(uint8 underlying, uint256 nextAllowedAt);

    /// @notice `account`'s portfolio requirements in base units, at current oracle prices and marks.
    /// @dev Reverts on an unusable price of anything the account holds, or an unmapped market.
    function requirements(address account) external view returns (uint256 initial, uint256 maintenance);

    /// @notice What a liquidation of `account` in portfolio mode works with: its maintenance requirement and the
    ///         largest discount, in basis points of each leg's value, that keeps the liquidation's whole discount
    ///         within `LIQUIDATION_DISCOUNT_SHARE_BPS` of that requirement (rounded down).
    /// @dev A tight hedge's requirement is far below the collateral's own liquidation discount; without the cap
    ///      such a book could not be cut back to health and would be taken whole at a loss larger than its equity.
    ///      Caveat: with the cap below the store-front's resale discount, reserves bear the difference when the
    ///      absorbed collateral is sold; on the share the backstop book hedges, the store front asks only the pair
    ///      discount (`storeFrontDiscount`), so there reserves bear at most that less the cap.
    ///      `hedgedBps` is the share of the account's collateral that net shorts of its own underlying cover, each
    ///      asset weighted by its value times its liquidation penalty (per underlying min(collateral, short − long)
    ///      over the collateral, times the underlying's weight, summed, over the whole collateral's weight, unmapped
    ///      assets included; rounded down): the liquidation lets every collateral discount go below its resale floor
    ///      by that share, so the floors it gives up add up to the covered collateral's, neither a dust position nor
    ///      a perp long against a perp short (which hedge each other, not the collateral) makes a naked book count as
    ///      hedged, and a hedged asset cannot lower a naked one's floor beyond what its own would have given up.
    function liquidationTerms(address account)
        external
        view
        returns (uint256 maintenance, uint256 maxDiscountBps, uint256 hedgedBps);

    /// @notice The most a position of one unit of notional in `market` can add to an account's initial
    ///         requirement, in basis points: the grid's largest move, max(S, ceil(T x w)), plus the net, hedged and
    ///         basis charges of the market's underlying. The trading module reserves at least it at the commit of
    ///         a portfolio account's order, reduce-only ones included, since the venue's fill is booked without a
    ///         health check.
    /// @dev A leg of notional N moves every scenario's loss, the correlated scan and each charge's base by at most
    ///      N times these rates, plus a unit of rounding each. Reverts `PortfolioMarginUnmapped` for a market
    ///      mapped to no underlying, so a portfolio account cannot commit to a market its health checks could
    ///      not price.
    function legMarginBps(uint8 market) external view returns (uint256);

    /// @notice The discount, in basis points, at which `PrimeVault.buyCollateral` sells `amount` of `asset` from
    ///         reserves, given the store front's own discount `discountBps` for it: the part of the reserves of
    ///         `asset` that the backstop book's net short of its underlying hedges (`reservesHedge`, shared pro rata
    ///         by value among the underlying's assets) sells at the pair discount, the rest at `discountBps`;
    ///         blended over `amount`, rounded down (the buyer gets less). Never above `discountBps`.
    /// @dev The vault passes the amount the base would buy at the oracle price, less than any discount gives, so
    ///      the hedged share it sees is at least the exact one: the blend can only be the protocol's better.
    ///      Such collateral and its hedge leave together: the keeper keeps the covering short while reserves hold
    ///      the collateral and unwinds it as the collateral is bought, so the buyer is paid only for taking the
    ///      collateral at the oracle price, not for its price risk, and reserves do not bear the full resale
    ///      discount on collateral a capped portfolio liquidation absorbed with its hedge.
    ///      Caveat: reads every mapped market's backstop slots and the underlying's feeds; the vault falls back to
    ///      `discountBps` if this reverts (a stale feed of the hedge's market must not close the store front). An
    ///      asset of the underlying that cannot be valued (a stale feed; a token whose `balanceOf` reverts, burns
    ///      its gas or answers nonsense) counts for nothing in the shares (the others' can only grow), so dust of it
    ///      in reserves cannot sell the rest at the full discount.
    function storeFrontDiscount(address asset, uint256 amount, uint256 discountBps)
        external
        view
        returns (uint256);

    /// @notice What the backstop book hedges of the collateral reserves hold for `underlying`, base units: the
    ///         value of the reserves of every asset mapped to it (`PrimeVault.collateralReserves`, at the oracle,
    ///         rounded down) and the part of that value a net short of the backstop book across the underlying's
    ///         markets and venues covers (its notional at the marks, rounded down; 0 if the book is net long).
    /// @dev The keeper keeps the backstop's shorts open up to `reservesValue` (`keeper.backstop`: the underlying's
    ///      longs are unwound too, and as they go the short covers it) and unwinds the rest.
    ///      Reverts if a price or balance it needs cannot be read (`storeFrontDiscount` leaves that asset out).
    function reservesHedge(uint8 underlying)
        external
        view
        returns (uint256 reservesValue, uint256 coveredValue);

    /// @notice Sets the pair discount (at most 1,000 bps): the store front's discount on collateral the backstop
    ///         book hedges. Admin only. Above an asset's own store-front discount, that one applies.
    function setPairDiscount(uint16 pairDiscountBps) external;

    /// @notice The pair discount, basis points (30 until governance sets it).
    function pairDiscountBps() external view returns (uint16);

    /// @notice Adds an underlying (`underlying` = the current count) or replaces one. Admin only.
    function setUnderlying(uint8 underlying, string calldata name, UnderlyingParams calldata params) external;

    /// @notice Moves an underlying's shock within its bounds and step, at most once per `shockUpdateInterval`.
    ///         Risk manager only (the keeper's volatility estimates).
    /// @dev The interval keeps a stolen risk-manager key from walking a shock across its whole range in one
    ///      block (a step at a time) to make healthy accounts liquidatable.
    function updateShock(uint8 underlying, uint16 shockBps) external;

    /// @notice Sets the least time between two shock updates of one underlying (at most 7 days). Admin only.
    function setShockUpdateInterval(uint32 interval) external;

    /// @notice The least time between two shock updates of one underlying, seconds (1 hour until governance
    ///         sets it).
    function shockUpdateInterval() external view returns (uint32);

    /// @notice When the risk manager last moved `underlying`'s shock (0 if never).
    function shockUpdatedAt(uint8 underlying) external view returns (uint256);

    /// @notice Maps a collateral asset of the vault to an underlying. Admin only.
    function mapAsset(address asset, uint8 underlying) external;

    /// @notice Maps a perp market of the trading module to an underlying. Admin only.
    function mapMarket(uint8 market, uint8 underlying) external;

    /// @notice Sets maintenance as a share of initial and the correlation credit. Admin only.
    function setRule(uint16 maintenanceBps, uint16 correlationCreditBps) external;

    /// @notice The number of underlyings.
    function underlyingCount() external view returns (uint256);

    /// @notice An underlying's name and parameters.
    function underlying(uint8 index)
        external
        view
        returns (string memory name, UnderlyingParams memory params);

    /// @notice The underlying of a collateral asset (`mapped` false when none).
    function assetUnderlying(address asset) external view returns (bool mapped, uint8 index);

    /// @notice The underlying of a perp market (`mapped` false when none).
    function marketUnderlying(uint8 market) external view returns (bool mapped, uint8 index);

    /// @notice Maintenance as a share of initial, and the correlation credit, basis points.
    function rule() external view returns (uint16 maintenanceBps, uint16 correlationCreditBps);
}
