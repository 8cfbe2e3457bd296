// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IPortfolioMargin} from "./interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "./interfaces/IPrimeVault.sol";
import {ITradingModule} from "./interfaces/ITradingModule.sol";
import {BPS, WAD, PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS} from "./libraries/ConstantsLib.sol";
import {OracleLib} from "./libraries/OracleLib.sol";
import {TokenReadLib} from "./libraries/TokenReadLib.sol";
import {ValueLib} from "./libraries/ValueLib.sol";

/// @title PortfolioMargin
/// @notice The portfolio rule's parameters and its evaluation for one account, read by the vault for
///         sub-accounts in portfolio mode. See `IPortfolioMargin` and docs/risk.md ("Portfolio margin").
/// @dev The same arithmetic as the keeper's `keeper/risk/portfolio.py` (`exact_portfolio`), unit for unit:
///      a leg's scenario loss is -floor(notional x move / MOVE_DENOMINATOR), every move a numerator over one
///      denominator, so the loss rounds up and a gain rounds toward zero. Reads the account's collateral and
///      positions through the vault's and the trading module's public views, and prices from their feeds.
contract PortfolioMargin is IPortfolioMargin, AccessControl {
    using SafeCast for uint256;

    bytes32 public constant RISK_MANAGER_ROLE = keccak256("RISK_MANAGER_ROLE");

    /// @notice Underlyings (and groups) a rule can hold.
    uint256 public constant MAX_UNDERLYINGS = 16;
    /// @notice Scenarios per underlying: seven steps over [-S, +S] and two weighted tails.
    uint256 public constant SCENARIOS = 9;
    /// @notice Every scenario move is a numerator over this: a step j x S/3 is j x shockBps x BPS, a tail
    ///         3 x tailBps x weightBps.
    int256 public constant MOVE_DENOMINATOR = int256(3 * BPS * BPS);

    // What governance may set at all, basis points; the same bounds as the keeper's.
    uint256 internal constant _MIN_SHOCK = 100;
    uint256 internal constant _MAX_SHOCK = 5000;
    uint256 internal constant _MIN_TAIL = 100;
    uint256 internal constant _MAX_TAIL = 9000;
    uint256 internal constant _MIN_NET_CHARGE = 100;
    uint256 internal constant _MAX_NET_CHARGE = 2000;
    uint256 internal constant _MIN_HEDGE_CHARGE = 50;
    uint256 internal constant _MAX_HEDGE_CHARGE = 1000;
    uint256 internal constant _MIN_MAINTENANCE = 2500;
    uint256 internal constant _MAX_MAINTENANCE = 9000;
    /// @dev At most half: with a larger credit, cutting one underlying's net exposure could raise the
    ///      requirement (its correlated offset is worth more than its own loss), and liquidation must lower it.
    uint256 internal constant _MAX_CORRELATION_CREDIT = 5000;
    /// @notice A liquidation in portfolio mode discounts the book by at most this share of its maintenance
    ///         requirement (the share of maintenance margin a perp pays when the backstop takes it over).
    uint256 public constant LIQUIDATION_DISCOUNT_SHARE_BPS = PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS;
    /// @dev The longest interval governance may put between two shock updates.
    uint256 internal constant _MAX_SHOCK_UPDATE_INTERVAL = 7 days;
    /// @dev The largest pair discount governance may set.
    uint256 internal constant _MAX_PAIR_DISCOUNT = 1000;
    /// @dev The trading module's slot layout: slot = market x 4 + venue.
    uint256 internal constant _VENUES_PER_MARKET = 4;

    IPrimeVault public immutable vault;
    ITradingModule public immutable tradingModule;
    /// @dev WAD per base unit: a position's size (WAD) x mark (USD WAD) / (WAD x this) is base units.
    uint256 internal immutable _baseUnit;

    UnderlyingParams[] internal _underlyings;
    string[] internal _names;
    /// @dev Underlying index + 1; 0 = unmapped.
    mapping(address asset => uint8) internal _assetUnderlying;
    mapping(uint8 market => uint8) internal _marketUnderlying;
    /// @dev Each mapped market's feed, copied from the trading module when mapped (a market's feed is fixed
    ///      when it is listed), which spares reading every market's ticker string per evaluation.
    mapping(uint8 market => MarketFeed) internal _marketFeeds;
    uint16 internal _maintenanceBps = 5000;
    uint16 internal _correlationCreditBps = 5000;
    uint32 internal _shockUpdateInterval = 1 hours;
    mapping(uint8 underlying => uint40) internal _shockUpdatedAt;
    /// @dev A buyer of collateral whose hedge the keeper unwinds as it goes takes no price risk: paid for the
    ///      sale alone (a DEX pool's fee and gas), not for the store front's 2.5% on WETH.
    uint16 internal _pairDiscountBps = 30;

    struct MarketFeed {
        address feed;
        uint32 maxStaleness;
        uint8 feedDecimals;
    }

    /// @dev One underlying's figures while an account is evaluated, base units.
    struct Exposure {
        int256[SCENARIOS] losses;
        int256 collateral;
        int256[_VENUES_PER_MARKET] venueNets;
        uint256 group;
        uint256 gross; // the sum of its legs' absolute notionals
        uint256 weighted; // the sum of its collateral's values times their liquidation penalties (bps)
    }

    constructor(IPrimeVault vault_, ITradingModule tradingModule_, address admin) {
        vault = vault_;
        tradingModule = tradingModule_;
        _baseUnit = 10 ** (18 - IERC20Metadata(vault_.baseAsset()).decimals());
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ================================================================== evaluation

    /// @inheritdoc IPortfolioMargin
    function requirements(address account) external view returns (uint256 initial, uint256 maintenance) {
        (uint256 requirement,, uint256 unmapped,) = _evaluate(account);
        maintenance = ValueLib.portionUp(requirement, _maintenanceBps) + unmapped;
        initial = requirement + unmapped;
        if (address(tradingModule) == address(0)) return (initial, maintenance);
        // Margin reserved by open child orders blocks new risk only, as under the standard rule.
        // slither-disable-next-line unused-return (only the reserved margin is needed)
        (uint256 reserved,,) = tradingModule.reservation(account);
        initial += reserved;
    }

    /// @inheritdoc IPortfolioMargin
    function liquidationTerms(address account)
        external
        view
        returns (uint256 maintenance, uint256 maxDiscountBps, uint256 hedgedBps)
    {
        uint256 requirement;
        uint256 gross;
        uint256 unmapped;
        (requirement, gross, unmapped, hedgedBps) = _evaluate(account);
        maintenance = ValueLib.portionUp(requirement, _maintenanceBps) + unmapped;
        gross += unmapped;
        // Rounded down: every leg's discount at most this keeps the total within the share of maintenance.
        maxDiscountBps =
            gross == 0 ? BPS : Math.min(BPS, maintenance * LIQUIDATION_DISCOUNT_SHARE_BPS / gross);
    }

    /// @dev The rule's initial requirement before reservations (scan plus charges), the gross notional of the
    ///      legs it covers (the sum of their absolute values) and the value of the collateral it does not cover
    ///      (assets mapped to no underlying), base units; and the share of the collateral that net shorts of its own
    ///      underlying cover, each asset weighted by its value times its liquidation penalty, in basis points rounded
    ///      down (`liquidationTerms`). The liquidation lowers every asset's resale floor (a share of its penalty) by
    ///      that one share, so weighted this way the floors it gives up add up to those of the covered collateral:
    ///      weighted by value alone, hedged WETH lowered the floor of naked WBTC beside it, which the store front then
    ///      sold for less than it was credited; an unmapped asset, naked, weighs in too, and dust weighs nothing.
    function _evaluate(address account)
        internal
        view
        returns (uint256 requirement, uint256 gross, uint256 unmapped, uint256 coveredBps)
    {
        uint256 count = _underlyings.length;
        Exposure[] memory book = new Exposure[](count);
        uint256 held;
        uint256 weighted;
        (held, unmapped, weighted) = _addCollateral(account, book);
        held |= _addPositions(account, book);

        uint256 charges = 0;
        uint256 groups = 0;
        uint256 covered = 0;
        for (uint256 u; held >> u != 0; ++u) {
            if ((held >> u) & 1 == 0) continue;
            UnderlyingParams memory p = _underlyings[u];
            (uint256 c, uint256 k) = _charges(book[u], p);
            charges += c;
            // The covered part of the underlying's collateral, pro rata over its assets (rounded down); k is at most
            // the collateral, so it is 0 where there is none.
            if (k != 0) covered += Math.mulDiv(k, book[u].weighted, uint256(book[u].collateral));
            weighted += book[u].weighted;
            groups |= 1 << p.group;
            book[u].group = p.group;
            gross += book[u].gross;
        }
        int256 scan = 0;
        for (uint256 g; groups >> g != 0; ++g) {
            if ((groups >> g) & 1 == 0) continue;
            scan += _groupScan(book, held, g);
        }
        requirement = uint256(scan) + charges;
        coveredBps = weighted == 0 ? 0 : covered * BPS / weighted;
    }

    /// @dev One group's scan: the sum of its underlyings' worst losses, each moved alone, less a share of
    ///      what moving them together saves (rounded down). The worst loss is never below 0: scenario 0 (no
    ///      move) loses nothing.
    function _groupScan(Exposure[] memory book, uint256 held, uint256 group) internal view returns (int256) {
        int256 independent = 0;
        // slither-disable-next-line uninitialized-local (zeroed memory: running sums from 0)
        int256[SCENARIOS] memory correlated;
        for (uint256 u; held >> u != 0; ++u) {
            if ((held >> u) & 1 == 0 || book[u].group != group) continue;
            int256 worst = 0;
            for (uint256 k; k < SCENARIOS; ++k) {
                int256 loss = book[u].losses[k];
                if (loss > worst) worst = loss;
                correlated[k] += loss;
            }
            independent += worst;
        }
        int256 worstTogether = 0;
        for (uint256 k; k < SCENARIOS; ++k) {
            if (correlated[k] > worstTogether) worstTogether = correlated[k];
        }
        return
            independent - (independent - worstTogether) * int256(uint256(_correlationCreditBps)) / int256(BPS);
    }

    /// @dev Adds each collateral balance of a mapped asset as a long leg; returns the underlyings touched as a
    ///      bit mask, the value of the balances of unmapped assets, which the caller adds to both requirements
    ///      so they count for nothing, and the sum of those values times each asset's liquidation penalty. An asset
    ///      listed and not mapped yet is not refused: anyone may deposit into any account, and a refusal would let a
    ///      dust deposit make the account's health checks revert, or (through the liquidation's fallback to the
    ///      standard rule) make a healthy account liquidatable.
    function _addCollateral(address account, Exposure[] memory book)
        internal
        view
        returns (uint256 held, uint256 unmapped, uint256 unmappedWeighted)
    {
        address[] memory assets = vault.collateralAssets();
        for (uint256 i; i < assets.length; ++i) {
            uint256 balance = vault.collateralBalanceOf(account, assets[i]);
            if (balance == 0) continue;
            uint8 u = _assetUnderlying[assets[i]];
            IPrimeVault.AssetConfig memory c = vault.assetConfig(assets[i]);
            // Valued as the standard rule values it (rounded down), so an unmapped balance's requirement is
            // exactly what it adds to equity.
            // slither-disable-next-line unused-return (a false positive: `valued` is read in both branches below)
            uint256 valued = ValueLib.value(balance, OracleLib.read(c.feed, c.maxStaleness), c.scaleExponent);
            if (u == 0) {
                unmapped += valued;
                unmappedWeighted += valued * c.liquidationPenaltyBps;
            } else {
                int256 leg = valued.toInt256();
                _addLeg(book[u - 1], leg, _underlyings[u - 1]);
                book[u - 1].collateral += leg;
                book[u - 1].weighted += valued * c.liquidationPenaltyBps;
                held |= 1 << (u - 1);
            }
        }
    }

    /// @dev Adds each perp position as a leg of its signed notional; returns the underlyings touched.
    function _addPositions(address account, Exposure[] memory book) internal view returns (uint256 held) {
        if (address(tradingModule) == address(0)) return 0; // a vault without perps: collateral only
        (uint16 slots, ITradingModule.Position[] memory positions) = tradingModule.positionsOf(account);
        if (slots == 0) return 0;
        // slither-disable-next-line uninitialized-local (zeroed memory: 0 marks a mark not read yet)
        uint256[16 / _VENUES_PER_MARKET] memory marks; // a 16-bit slot mask: at most 4 markets
        uint256 k = 0;
        for (uint256 slot; slots >> slot != 0; ++slot) {
            if ((slots >> slot) & 1 == 0) continue;
            int256 size = positions[k++].size;
            uint8 market = uint8(slot / _VENUES_PER_MARKET);
            uint8 u = _marketUnderlying[market];
            if (u == 0) revert PortfolioMarginUnmapped({isMarket: true, id: market});
            if (marks[market] == 0) {
                MarketFeed memory f = _marketFeeds[market];
                marks[market] = OracleLib.readWad(f.feed, f.maxStaleness, f.feedDecimals);
            }
            // |size| x mark rounded down, with the size's sign.
            int256 magnitude = (SignedMath.abs(size) * marks[market] / (WAD * _baseUnit)).toInt256();
            int256 notional = size < 0 ? -magnitude : magnitude;
            _addLeg(book[u - 1], notional, _underlyings[u - 1]);
            book[u - 1].venueNets[slot % _VENUES_PER_MARKET] += notional;
            held |= 1 << (u - 1);
        }
    }

    /// @dev Adds a leg's loss in each scenario: -floor(notional x move / MOVE_DENOMINATOR), rounded up.
    ///      Unchecked: |notional| < 2^128 (checked here) and |move| <= 3 x 5,000 x 10,000 < 2^28, so no product
    ///      or sum of nine comes near 2^255.
    function _addLeg(Exposure memory e, int256 value, UnderlyingParams memory p) internal pure {
        int256 notional = SafeCast.toInt128(value);
        e.gross += SignedMath.abs(notional);
        int256[SCENARIOS] memory losses = e.losses;
        unchecked {
            int256 step = int256(uint256(p.shockBps)) * int256(BPS);
            int256 tail = 3 * int256(uint256(p.tailBps)) * int256(uint256(p.tailWeightBps));
            for (uint256 k; k < 7; ++k) {
                losses[k] -= _floorDiv(notional * (int256(k) - 3) * step);
            }
            losses[7] -= _floorDiv(-notional * tail);
            losses[8] -= _floorDiv(notional * tail);
        }
    }

    /// @dev The charges on net, hedged and cross-venue hedged exposure, each rounded up. Collateral sits in
    ///      the vault and offsets any venue's short without a transfer; a venue long offsets a short at
    ///      another venue only through the venues (the losing one is topped up while the winning one's margin
    ///      is withdrawn, which takes hours), so that part is the basis, counted after the collateral has
    ///      covered what it can.
    ///      Also returns the collateral that the underlying's net short covers: a perp long against a perp short
    ///      hedges each other, not the collateral.
    function _charges(Exposure memory e, UnderlyingParams memory p)
        internal
        pure
        returns (uint256 charges, uint256 covered)
    {
        uint256 venueLong = 0;
        uint256 venueShort = 0;
        for (uint256 v; v < _VENUES_PER_MARKET; ++v) {
            if (e.venueNets[v] > 0) venueLong += uint256(e.venueNets[v]);
            else venueShort += uint256(-e.venueNets[v]);
        }
        uint256 collateral = uint256(e.collateral);
        uint256 long = collateral + venueLong;
        uint256 net = long > venueShort ? long - venueShort : venueShort - long;
        uint256 hedged = long < venueShort ? long : venueShort;
        uint256 uncovered = venueShort > collateral ? venueShort - collateral : 0;
        uint256 basis = venueLong < uncovered ? venueLong : uncovered;
        charges = ValueLib.portionUp(net, p.netChargeBps) + ValueLib.portionUp(hedged, p.hedgedChargeBps)
            + ValueLib.portionUp(basis, p.basisChargeBps);
        uint256 netShort = venueShort > venueLong ? venueShort - venueLong : 0;
        covered = collateral < netShort ? collateral : netShort;
    }

    /// @dev floor(a / MOVE_DENOMINATOR); Solidity's signed division truncates toward zero.
    function _floorDiv(int256 a) internal pure returns (int256 q) {
        unchecked {
            q = a / MOVE_DENOMINATOR;
            if (a < 0 && a % MOVE_DENOMINATOR != 0) --q;
        }
    }

    // ================================================================== the store front

    /// @inheritdoc IPortfolioMargin
    function storeFrontDiscount(address asset, uint256 amount, uint256 discountBps)
        external
        view
        returns (uint256)
    {
        uint8 u = _assetUnderlying[asset];
        uint256 pair = _pairDiscountBps;
        if (u == 0 || amount == 0 || pair >= discountBps) return discountBps;
        (uint256 reservesValue, uint256 covered, uint256 assetReserves) = _reservesHedge(u - 1, asset);
        if (covered == 0) return discountBps;
        // The protocol's favour is the smaller discount (the buyer gets less): the asset's share of the hedge, in its
        // own units, and the reduction are rounded up, so the discount is rounded down, as the store front's own is.
        uint256 hedged =
            Math.min(Math.mulDiv(assetReserves, covered, reservesValue, Math.Rounding.Ceil), amount);
        return discountBps - Math.mulDiv(discountBps - pair, hedged, amount, Math.Rounding.Ceil);
    }

    /// @inheritdoc IPortfolioMargin
    function reservesHedge(uint8 index) external view returns (uint256 reservesValue, uint256 coveredValue) {
        _existing(index);
        (reservesValue, coveredValue,) = _reservesHedge(index, address(0));
    }

    /// @dev `reservesHedge` of underlying `u`, and the reserves of `asset` (token units) if it is mapped to `u`.
    function _reservesHedge(uint256 u, address asset)
        internal
        view
        returns (uint256 reservesValue, uint256 covered, uint256 assetReserves)
    {
        address[] memory assets = vault.collateralAssets();
        for (uint256 i; i < assets.length; ++i) {
            if (_assetUnderlying[assets[i]] != u + 1) continue;
            // For the store front, an asset that cannot be valued (its token's balance or its price unreadable)
            // counts for nothing: without its value the others' shares of the hedge are only larger (the
            // protocol's better), where a revert would let it sell all of the underlying's hedged collateral at the
            // full discount. The keeper's view refuses.
            uint256 held = asset == address(0) ? vault.collateralReserves(assets[i]) : _tryReserves(assets[i]);
            if (held == 0) continue;
            IPrimeVault.AssetConfig memory c = vault.assetConfig(assets[i]);
            // slither-disable-next-line unused-return (a false positive: the price is used, its round is not needed)
            uint256 price = asset == address(0)
                ? OracleLib.read(c.feed, c.maxStaleness)
                : OracleLib.tryRead(c.feed, c.maxStaleness);
            if (price == 0) continue;
            reservesValue += ValueLib.value(held, price, c.scaleExponent);
            if (assets[i] == asset) assetReserves = held;
        }
        if (reservesValue == 0 || address(tradingModule) == address(0)) {
            return (reservesValue, 0, assetReserves);
        }
        uint256 venues = tradingModule.venues().length;
        uint256 markets = tradingModule.markets().length;
        int256 net = 0;
        for (uint256 m; m < markets; ++m) {
            if (_marketUnderlying[uint8(m)] != u + 1) continue;
            uint256 mark = 0;
            for (uint256 v; v < venues; ++v) {
                int256 size = tradingModule.backstopPosition(uint8(m), uint8(v)).size;
                if (size == 0) continue;
                if (mark == 0) {
                    MarketFeed memory f = _marketFeeds[uint8(m)];
                    mark = OracleLib.readWad(f.feed, f.maxStaleness, f.feedDecimals);
                }
                // Each slot's notional rounded down, with its sign.
                int256 magnitude = (SignedMath.abs(size) * mark / (WAD * _baseUnit)).toInt256();
                net += size < 0 ? -magnitude : magnitude;
            }
        }
        if (net < 0) covered = Math.min(uint256(-net), reservesValue);
    }

    /// @dev `PrimeVault.collateralReserves(asset)`, or 0 if its token's balance cannot be read (`TokenReadLib`), as
    ///      the liquidation's write-off reads it: a token paused, broken or burning gas.
    function _tryReserves(address asset) internal view returns (uint256) {
        uint256 balance = TokenReadLib.tryBalanceOf(asset, address(vault));
        // slither-disable-next-line unused-return (the supply cap is not needed)
        (uint256 supplied,) = vault.assetTotals(asset);
        return balance < supplied ? 0 : balance - supplied;
    }

    // ================================================================== governance

    /// @inheritdoc IPortfolioMargin
    function setPairDiscount(uint16 pairDiscountBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireWithin("pairDiscountBps", pairDiscountBps_, 0, _MAX_PAIR_DISCOUNT);
        _pairDiscountBps = pairDiscountBps_;
        emit PairDiscountSet(pairDiscountBps_);
    }

    /// @inheritdoc IPortfolioMargin
    function setUnderlying(uint8 index, string calldata name, UnderlyingParams calldata params)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _requireWithin("minShockBps", params.minShockBps, _MIN_SHOCK, _MAX_SHOCK);
        _requireWithin("maxShockBps", params.maxShockBps, params.minShockBps, _MAX_SHOCK);
        _requireWithin("shockBps", params.shockBps, params.minShockBps, params.maxShockBps);
        _requireWithin("maxShockStepBps", params.maxShockStepBps, 1, _MAX_SHOCK);
        _requireWithin("tailBps", params.tailBps, _MIN_TAIL, _MAX_TAIL);
        _requireWithin("tailWeightBps", params.tailWeightBps, 0, BPS);
        _requireWithin("netChargeBps", params.netChargeBps, _MIN_NET_CHARGE, _MAX_NET_CHARGE);
        _requireWithin("hedgedChargeBps", params.hedgedChargeBps, _MIN_HEDGE_CHARGE, _MAX_HEDGE_CHARGE);
        _requireWithin("basisChargeBps", params.basisChargeBps, _MIN_HEDGE_CHARGE, _MAX_HEDGE_CHARGE);
        _requireWithin("group", params.group, 0, MAX_UNDERLYINGS - 1);
        uint256 count = _underlyings.length;
        if (index > count) revert PortfolioMarginUnknownUnderlying(index);
        if (index == count) {
            if (count == MAX_UNDERLYINGS) revert PortfolioMarginTooManyUnderlyings(MAX_UNDERLYINGS);
            _underlyings.push(params);
            _names.push(name);
        } else {
            _underlyings[index] = params;
            _names[index] = name;
        }
        emit UnderlyingSet(index, name, params);
    }

    /// @inheritdoc IPortfolioMargin
    function updateShock(uint8 index, uint16 shockBps) external onlyRole(RISK_MANAGER_ROLE) {
        UnderlyingParams storage p = _existing(index);
        uint16 old = p.shockBps;
        _requireWithin("shockBps", shockBps, p.minShockBps, p.maxShockBps);
        uint256 change = shockBps > old ? shockBps - old : old - shockBps;
        _requireWithin("shock step", change, 0, p.maxShockStepBps);
        if (shockBps == old) return; // no move: the interval's clock is not restarted
        uint256 last = _shockUpdatedAt[index];
        if (last != 0 && block.timestamp < last + _shockUpdateInterval) {
            revert PortfolioMarginShockUpdateTooSoon(index, last + _shockUpdateInterval);
        }
        p.shockBps = shockBps;
        _shockUpdatedAt[index] = block.timestamp.toUint40();
        emit ShockUpdated(index, old, shockBps);
    }

    /// @inheritdoc IPortfolioMargin
    function setShockUpdateInterval(uint32 interval) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireWithin("shockUpdateInterval", interval, 0, _MAX_SHOCK_UPDATE_INTERVAL);
        _shockUpdateInterval = interval;
        emit ShockUpdateIntervalSet(interval);
    }

    /// @inheritdoc IPortfolioMargin
    function mapAsset(address asset, uint8 index) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _existing(index);
        // Reverts with the vault's UnknownAsset for an asset it does not list.
        // slither-disable-next-line unused-return (called for its revert only)
        vault.assetConfig(asset);
        _assetUnderlying[asset] = index + 1;
        emit AssetMapped(asset, index);
    }

    /// @inheritdoc IPortfolioMargin
    function mapMarket(uint8 market, uint8 index) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _existing(index);
        ITradingModule.PerpMarket[] memory markets = tradingModule.markets();
        if (market >= markets.length) revert PortfolioMarginUnmapped({isMarket: true, id: market});
        ITradingModule.PerpMarket memory m = markets[market];
        _marketFeeds[market] = MarketFeed(m.feed, m.maxStaleness, m.feedDecimals);
        _marketUnderlying[market] = index + 1;
        emit MarketMapped(market, index);
    }

    /// @inheritdoc IPortfolioMargin
    function setRule(uint16 maintenanceBps, uint16 correlationCreditBps)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _requireWithin("maintenanceBps", maintenanceBps, _MIN_MAINTENANCE, _MAX_MAINTENANCE);
        _requireWithin("correlationCreditBps", correlationCreditBps, 0, _MAX_CORRELATION_CREDIT);
        (_maintenanceBps, _correlationCreditBps) = (maintenanceBps, correlationCreditBps);
        emit RuleSet(maintenanceBps, correlationCreditBps);
    }

    // ================================================================== views

    /// @inheritdoc IPortfolioMargin
    function underlyingCount() external view returns (uint256) {
        return _underlyings.length;
    }

    /// @inheritdoc IPortfolioMargin
    function underlying(uint8 index)
        external
        view
        returns (string memory name, UnderlyingParams memory params)
    {
        params = _existing(index);
        name = _names[index];
    }

    /// @inheritdoc IPortfolioMargin
    function assetUnderlying(address asset) external view returns (bool mapped, uint8 index) {
        uint8 u = _assetUnderlying[asset];
        return (u != 0, u == 0 ? 0 : u - 1);
    }

    /// @inheritdoc IPortfolioMargin
    function marketUnderlying(uint8 market) external view returns (bool mapped, uint8 index) {
        uint8 u = _marketUnderlying[market];
        return (u != 0, u == 0 ? 0 : u - 1);
    }

    /// @inheritdoc IPortfolioMargin
    function rule() external view returns (uint16 maintenanceBps, uint16 correlationCreditBps) {
        return (_maintenanceBps, _correlationCreditBps);
    }

    /// @inheritdoc IPortfolioMargin
    function pairDiscountBps() external view returns (uint16) {
        return _pairDiscountBps;
    }

    /// @inheritdoc IPortfolioMargin
    function shockUpdateInterval() external view returns (uint32) {
        return _shockUpdateInterval;
    }

    /// @inheritdoc IPortfolioMargin
    function shockUpdatedAt(uint8 index) external view returns (uint256) {
        return _shockUpdatedAt[index];
    }

    /// @inheritdoc IPortfolioMargin
    function legMarginBps(uint8 market) external view returns (uint256) {
        uint8 u = _marketUnderlying[market];
        if (u == 0) revert PortfolioMarginUnmapped({isMarket: true, id: market});
        UnderlyingParams memory p = _underlyings[u - 1];
        // The tail's loss counts at its weight: its move is T x w, rounded up to a basis point.
        uint256 tail = Math.mulDiv(p.tailBps, p.tailWeightBps, BPS, Math.Rounding.Ceil);
        return Math.max(p.shockBps, tail) + p.netChargeBps + p.hedgedChargeBps + p.basisChargeBps;
    }

    // ================================================================== internal

    function _existing(uint8 index) internal view returns (UnderlyingParams storage) {
        if (index >= _underlyings.length) revert PortfolioMarginUnknownUnderlying(index);
        return _underlyings[index];
    }

    function _requireWithin(string memory name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert PortfolioMarginOutOfBounds(name, value, min, max);
    }
}
