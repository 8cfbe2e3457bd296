// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {PrimeVault} from "../../../contracts/PrimeVault.sol";
import {TradingModule} from "../../../contracts/TradingModule.sol";
import {IPrimeVault, PERMISSION_TRADE} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {PerpExchange} from "../../../contracts/devnet/venues/PerpExchange.sol";

/// @dev Drives trading with bounded random actions: deposits, routed orders split across both venues,
///      closes, price moves, funding, time, liquidation, unwinding the backstop with resale of absorbed collateral,
///      and asynchronous orders (v2): commits of child orders, venue fills reported by the keeper (a fill the
///      account cannot take is rejected and booked to the backstop, as the keeper does), rejections, expiry;
///      fills reported in batches that repeat ids; the store front selling a hedged pair while the backstop's short
///      is held, and that short unwound through a committed child; collateral withdrawn or moved to a sibling
///      sub-account beside positions; governance's shares and pair discount; orders killed by a cancel, a
///      cancel-all or an operator's lost permission, then routed anyway; the admin withdrawing reserves.
contract TradingHandler is Test {
    PrimeVault internal immutable vault;
    TradingModule internal immutable trading;
    MockERC20 internal immutable usdc;
    MockERC20 internal immutable weth;
    MockPriceFeed[2] internal feeds; // by market: BTC, ETH
    PerpExchange[2] internal venues; // by venue id: dYdX, RabbitX
    address internal immutable keeper;
    address internal immutable admin;

    address[] public actors;
    uint256 public tradesBelowInitial;
    uint256 public executed;
    uint256 public lateFills;
    // Ghosts: each counts breaches of one property, all must stay zero.
    uint256 public fillsNotBookedOnce; // a batch booked a fill id twice, or an id used before
    uint256 public storeFrontMispriced; // a sale outside [pair discount, own discount], or below its own unhedged
    uint256 public reservesMovedWrongly; // a sale moved depositors' collateral or reserves by other than it sold
    uint256 public unwindOvershoots; // a committed unwind's fill grew or flipped the backstop book
    uint256 public outflowsBelowInitial; // a withdrawal or transfer out left its trading account below initial
    uint256 public unreadableRefusals; // a withdrawal or transfer out refused for a reason not its margin's
    uint256 public reservesOverdrawn; // a reserve withdrawal left suppliers uncovered, venue accounts counted
    uint256 public deadOrdersRan; // an order cancelled, cancelled-all or whose operator lost its permission ran
    // Coverage: how often the pair sale and the committed unwind ran with something to do.
    uint256 public pairSales;
    uint256 public committedUnwindFills;
    int256 internal _backstopBefore;
    int256 internal _surplusBefore;
    uint256[] internal _childIds; // every child committed, in id order
    uint256 internal _fillNonce;

    constructor(
        PrimeVault vault_,
        TradingModule trading_,
        MockERC20 usdc_,
        MockERC20 weth_,
        MockPriceFeed[2] memory feeds_,
        PerpExchange[2] memory venues_,
        address keeper_,
        address admin_
    ) {
        (vault, trading, usdc, weth, feeds, venues, keeper, admin) =
        (vault_, trading_, usdc_, weth_, feeds_, venues_, keeper_, admin_);
        for (uint256 i; i < 4; ++i) {
            actors.push(address(uint160(0xB0B0000 + i * 0x1000)));
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function deposit(uint256 who, uint256 amount) external {
        address actor = actors[who % actors.length];
        amount = bound(amount, 1e17, 20e18);
        weth.mint(actor, amount);
        vm.startPrank(actor);
        weth.approve(address(vault), amount);
        vault.deposit(actor, address(weth), amount);
        vm.stopPrank();
    }

    /// @dev A trader takes WETH out (to itself, or to its sibling sub-account) while it holds positions and open
    ///      children: allowed only if the account still meets its initial requirement, reserved margin included.
    function moveCollateralOut(uint256 who, uint256 amount, bool toSibling) external {
        address actor = actors[who % actors.length];
        uint256 balance = vault.collateralBalanceOf(actor, address(weth));
        if (balance == 0) return;
        amount = bound(amount, 1, balance);
        bytes memory call = toSibling
            ? abi.encodeCall(vault.transfer, (actor, address(uint160(actor) ^ 1), address(weth), amount))
            : abi.encodeCall(vault.withdraw, (actor, address(weth), amount, actor));
        vm.prank(actor);
        (bool ok, bytes memory reason) = address(vault).call(call);
        if (ok) {
            IPrimeVault.AccountHealth memory h = vault.accountHealth(actor);
            if (h.equity < int256(h.initialRequirement)) ++outflowsBelowInitial;
        } else if (bytes4(reason) != IPrimeVaultErrors.InsufficientEquity.selector) {
            ++unreadableRefusals;
        }
    }

    /// @dev An operator with the trade permission places an order for an actor, which then kills it in one of
    ///      three ways: cancels it, cancels all its orders, or takes the operator's permission away. The keeper then
    ///      routes it anyway, at once or as child orders: nothing may run (no child, no position change).
    function killOrderThenRoute(uint256 who, uint256 market, uint256 steps, bool buy, uint256 how, bool async)
        external
    {
        address actor = actors[who % actors.length];
        address operator = address(uint160(actor) + 0x0e);
        uint8 m = uint8(market % 2);
        int256 size = int256(bound(steps, 1, 200) * (m == 0 ? 1e15 : 1e16));
        if (!buy) size = -size;
        uint256 mark = _markOf(m);
        uint256 limit = buy ? mark * 105 / 100 : mark * 95 / 100;
        vm.prank(actor);
        vault.setOperator(actor, operator, PERMISSION_TRADE);
        vm.prank(operator);
        uint256 id = trading.submitOrder(actor, m, size, limit, block.timestamp + 1 hours, false);
        vm.startPrank(actor);
        how %= 3;
        if (how == 0) trading.cancelOrder(id);
        else if (how == 1) trading.cancelAllOrders(actor);
        else vault.setOperator(actor, operator, 0);
        vm.stopPrank();
        int256 before = trading.position(actor, m, 0).size;
        vm.startPrank(keeper);
        if (async) {
            ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
            specs[0] = ITradingModule.ChildSpec(0, _abs(size), limit, block.timestamp + 30 minutes);
            try trading.commitSplit(id, specs) {
                ++deadOrdersRan;
            } catch {}
        } else {
            ITradingModule.Execution[] memory batch = new ITradingModule.Execution[](1);
            batch[0] = ITradingModule.Execution(id, new uint8[](1), new uint256[](1));
            batch[0].sizes[0] = _abs(size);
            trading.executeOrders(batch);
        }
        vm.stopPrank();
        if (trading.position(actor, m, 0).size != before) ++deadOrdersRan;
        if (trading.order(id).status == ITradingModule.OrderStatus.Executed) ++deadOrdersRan;
    }

    function trade(uint256 who, uint256 market, uint256 steps, bool buy, uint256 splitBps) external {
        address actor = actors[who % actors.length];
        uint8 m = uint8(market % 2);
        uint256 step = m == 0 ? 1e15 : 1e16; // a multiple of both venues' steps
        uint256 size = bound(steps, 1, 200) * step;
        uint256 dydxPart = size * bound(splitBps, 0, 10_000) / 10_000 / step * step;
        _order(actor, m, buy ? int256(size) : -int256(size), dydxPart, size - dydxPart, false);
    }

    function close(uint256 who, uint256 market, uint256 venue) external {
        address actor = actors[who % actors.length];
        uint8 m = uint8(market % 2);
        uint8 v = uint8(venue % 2);
        int256 size = trading.position(actor, m, v).size;
        if (size == 0) return;
        (uint256 dydxPart, uint256 rabbitPart) = v == 0 ? (_abs(size), uint256(0)) : (uint256(0), _abs(size));
        _order(actor, m, -size, dydxPart, rabbitPart, true);
    }

    /// @dev Switches an actor between the standard and the portfolio rule; the vault refuses a switch the
    ///      account's health does not allow, which is not a failure of the run.
    function switchMargin(uint256 who, bool portfolio) external {
        address actor = actors[who % actors.length];
        vm.prank(actor);
        try vault.setPortfolioMode(actor, portfolio) {} catch {}
    }

    function movePrice(uint256 market, uint256 moveBps) external {
        MockPriceFeed feed = feeds[market % 2];
        (, int256 answer,,,) = feed.latestRoundData();
        feed.setAnswer(answer * int256(bound(moveBps, 9000, 11_000)) / 10_000);
    }

    function setFunding(uint256 venue, uint256 market, int256 rate) external {
        venues[venue % 2].setFundingRate(market % 2, bound(rate, -1e12, 1e12)); // up to about 8.6% a day
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 1 days));
        for (uint256 i; i < 2; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            feeds[i].setAnswer(answer);
        }
    }

    /// @dev Liquidates every actor, then unwinds the backstop book in the same step, as the keeper does after
    ///      each block's scan: the book carries price risk only until then (docs/risk.md, "The backstop's price
    ///      risk"), and the solvency invariant is about the protocol's accounting, not that risk.
    function liquidateAll() external {
        vault.liquidate(actors);
        for (uint256 m; m < 2; ++m) {
            for (uint256 v; v < 2; ++v) {
                _unwind(uint8(m), uint8(v));
            }
        }
        _sellAllWeth();
    }

    /// @dev Governance moves the liquidator's and the store front's shares of the penalty (together at most all of
    ///      it) and the pair discount (at most 1,000 bps), within their bounds: every property holds at any of them.
    function setShares(uint256 liquidatorShareBps, uint256 storeFrontShareBps, uint256 pairBps) external {
        liquidatorShareBps = bound(liquidatorShareBps, 0, 10_000);
        storeFrontShareBps = bound(storeFrontShareBps, 0, 10_000 - liquidatorShareBps);
        vm.startPrank(admin);
        vault.setLendingParams(vault.minBorrow(), uint16(liquidatorShareBps), uint16(storeFrontShareBps));
        IPortfolioMargin(vault.portfolioMargin()).setPairDiscount(uint16(bound(pairBps, 0, 1000)));
        vm.stopPrank();
    }

    /// @dev The admin takes out up to all of the reserves the vault reports (venue accounts counted): the vault's
    ///      assets must still cover what it owes suppliers.
    function withdrawReserves(uint256 fractionBps) external {
        vault.accrue();
        int256 surplus = _surplus();
        if (surplus <= 0) return;
        uint256 amount = uint256(surplus) * bound(fractionBps, 1, 10_000) / 10_000;
        if (amount == 0 || amount > usdc.balanceOf(address(vault))) return;
        vm.prank(admin);
        try vault.withdrawReserves(admin, amount) {
            if (_surplus() < 0) ++reservesOverdrawn;
        } catch (bytes memory reason) {
            if (bytes4(reason) != IPrimeVaultErrors.InsufficientReserves.selector) ++reservesOverdrawn;
        }
    }

    /// @dev The keeper's unwind of the backstop book, at the edge of the allowed band.
    function unwindBackstop(uint256 market, uint256 venue) external {
        _unwind(uint8(market % 2), uint8(venue % 2));
    }

    function _unwind(uint8 m, uint8 v) internal {
        int256 size = trading.backstopPosition(m, v).size;
        if (size == 0) return;
        (, int256 answer,,,) = feeds[m].latestRoundData();
        uint256 mark = uint256(answer) * 1e10;
        uint256 limit = size > 0 ? mark * 95 / 100 : mark * 105 / 100;
        vm.prank(keeper);
        trading.unwindBackstop(m, v, _abs(size), limit);
    }

    function childCount() external view returns (uint256) {
        return _childIds.length;
    }

    /// @dev An order routed as child orders (one or both venues); its margin is reserved.
    /// @dev `reduceOnly` orders are sized without regard to the position: a commit beyond it (less the slot's other
    ///      reduce-only children) is refused, and a fill past a position the actor's other orders reduced meanwhile
    ///      is the actor's.
    function commitAsync(
        uint256 who,
        uint256 market,
        uint256 steps,
        bool buy,
        uint256 splitBps,
        bool reduceOnly
    ) external {
        address actor = actors[who % actors.length];
        uint8 m = uint8(market % 2);
        uint256 step = m == 0 ? 1e15 : 1e16;
        uint256 size = bound(steps, 1, 200) * step;
        uint256 dydxPart = size * bound(splitBps, 0, 10_000) / 10_000 / step * step;
        uint256 mark = _markOf(m);
        uint256 limit = buy ? mark * 103 / 100 : mark * 97 / 100;
        vm.prank(actor);
        try trading.submitOrder(
            actor, m, buy ? int256(size) : -int256(size), limit, block.timestamp + 1 hours, reduceOnly
        ) returns (
            uint256 id
        ) {
            uint256 parts = (dydxPart > 0 ? 1 : 0) + (size - dydxPart > 0 ? 1 : 0);
            ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](parts);
            uint256 k;
            if (dydxPart > 0) {
                specs[k++] = ITradingModule.ChildSpec(0, dydxPart, limit, block.timestamp + 30 minutes);
            }
            if (size > dydxPart) {
                specs[k] = ITradingModule.ChildSpec(1, size - dydxPart, limit, block.timestamp + 30 minutes);
            }
            vm.prank(keeper);
            try trading.commitSplit(id, specs) returns (uint256 first) {
                for (uint256 i; i < parts; ++i) {
                    _childIds.push(first + i);
                }
            } catch {}
        } catch {}
    }

    /// @dev A venue's fill of part of a child, made at the venue and not yet reported.
    struct VenueFill {
        uint256 childId;
        uint256 filledBefore;
        uint8 market;
        uint8 venue;
        uint256 size;
        uint256 price;
        uint256 fee;
        uint256 mark;
    }

    /// @dev The venue fills `fractionBps` of what is left of a child (open or not: a late fill goes to the
    ///      backstop), within the child's limit and the oracle band the keeper books within; false if it cannot.
    function _fillAtVenue(uint256 index, uint256 fractionBps)
        internal
        returns (bool filled, VenueFill memory f)
    {
        if (_childIds.length == 0) return (false, f);
        f.childId = _childIds[index % _childIds.length];
        ITradingModule.ChildOrder memory c = trading.childOrder(f.childId);
        ITradingModule.Order memory o = trading.order(c.orderId);
        (f.filledBefore, f.market, f.venue) = (c.filled, o.market, c.venue);
        uint256 step = o.market == 0 ? 1e15 : 1e16;
        f.size = (uint256(c.size) - c.filled) * bound(fractionBps, 1, 10_000) / 10_000 / step * step;
        if (f.size == 0) return (false, f);
        int256 signed = o.size > 0 ? int256(f.size) : -int256(f.size);
        IVenueAdapter adapter = IVenueAdapter(trading.venues()[c.venue]);
        (uint256 quoted,) = adapter.quote(o.market, signed);
        f.mark = _markOf(o.market);
        if (o.size > 0 ? quoted > c.limitPrice : quoted < c.limitPrice) return (false, f);
        if (quoted > f.mark * 1049 / 1000 || quoted < f.mark * 951 / 1000) return (false, f);
        _backstopBefore = trading.backstopPosition(o.market, c.venue).size;
        _surplusBefore = _surplus();
        vm.prank(address(trading));
        try adapter.trade(o.market, signed, c.limitPrice) returns (uint256 price, uint256 fee) {
            (f.price, f.fee) = (price, fee);
            return (true, f);
        } catch {
            return (false, f);
        }
    }

    /// @dev The venue fills part of a child and the keeper reports it; if the account's checks refuse it, the
    ///      keeper rejects the child and reports it again.
    function fillChild(uint256 index, uint256 fractionBps) external {
        (bool filled, VenueFill memory f) = _fillAtVenue(index, fractionBps);
        if (!filled) return;
        _report(f.childId, f.price, f.size, f.fee);
        _unwindLateFill(f.market, f.venue, f.mark);
    }

    /// @dev As `fillChild`, reported the way the keeper batches: the fill twice in one `reportFills` and, when
    ///      `replay`, the previous fill's id again (a restarted keeper re-sending what it sent). Each id books once:
    ///      the batch books one fill and the child's filled size grows by that fill alone.
    function fillChildBatched(uint256 index, uint256 fractionBps, bool replay) external {
        bool replayed = replay && _fillNonce > 0;
        (bool filled, VenueFill memory f) = _fillAtVenue(index, fractionBps);
        if (!filled) return;
        uint256 booked =
            _reportBatch(ITradingModule.FillReport(f.childId, 0, f.price, f.size, f.fee), replayed);
        if (booked != 1 || trading.childOrder(f.childId).filled != f.filledBefore + f.size) {
            ++fillsNotBookedOnce;
        }
        _unwindLateFill(f.market, f.venue, f.mark);
    }

    /// @dev Reports `fill` under a new id twice in one batch, then the previous id again when `replayed`; if the
    ///      account's checks refuse it, the keeper rejects the child and sends the batch again.
    function _reportBatch(ITradingModule.FillReport memory fill, bool replayed)
        internal
        returns (uint256 booked)
    {
        bytes32 previous = keccak256(abi.encode("handler fill", _fillNonce));
        fill.venueFillId = keccak256(abi.encode("handler fill", ++_fillNonce));
        ITradingModule.FillReport[] memory batch = new ITradingModule.FillReport[](replayed ? 3 : 2);
        (batch[0], batch[1]) = (fill, fill);
        if (replayed) {
            batch[2] = ITradingModule.FillReport(fill.childId, previous, fill.price, fill.size, fill.fee);
        }
        vm.startPrank(keeper);
        try trading.reportFills(batch) returns (uint256 n) {
            booked = n;
        } catch {
            trading.rejectChild(fill.childId, "refused by the account's checks");
            booked = trading.reportFills(batch);
        }
        vm.stopPrank();
    }

    /// @dev The keeper's handling of a hedged book (docs/risk.md, "A hedged pair is sold as a pair"): liquidates
    ///      every actor, unwinds all of the backstop book but its ETH shorts while reserves hold WETH, lets a buyer
    ///      take `buyBps` of the WETH at the store front (at the pair discount for the share the shorts cover), then
    ///      unwinds the shorts through a committed child the venue fills `fillBps` of (the rest directly) and sells
    ///      what is left, as `liquidateAll`. Nothing is left open between actions: the pair's price risk is not
    ///      what the solvency invariant checks.
    function liquidateAndSellAsPair(uint256 buyBps, uint256 fillBps) external {
        vault.liquidate(actors);
        bool hedged = vault.collateralReserves(address(weth)) > 0;
        for (uint8 m; m < 2; ++m) {
            for (uint8 v; v < 2; ++v) {
                if (!hedged || m != 1 || trading.backstopPosition(m, v).size > 0) _unwind(m, v);
            }
        }
        uint256 held = vault.collateralReserves(address(weth));
        if (held > 0) _buyWeth(held * bound(buyBps, 1, 10_000) / 10_000);
        for (uint8 v; v < 2; ++v) {
            _commitUnwind(1, v, fillBps);
            _unwind(1, v);
        }
        _sellAllWeth();
    }

    /// @dev A buyer pays for about `amount` WETH at the oracle; the sale must give at most the asset's own
    ///      discount and at least the pair's, exactly the own one when no ETH short covers the reserves, and move
    ///      only reserves (depositors' WETH stays).
    function _buyWeth(uint256 amount) internal {
        (, int256 answer,,,) = feeds[1].latestRoundData();
        uint256 cost = amount * uint256(answer) / 1e20;
        if (cost == 0) return;
        bool covered = trading.backstopPosition(1, 0).size + trading.backstopPosition(1, 1).size < 0;
        (, uint256 storeFrontShareBps) = vault.lendingParams();
        uint256 own =
            uint256(vault.assetConfig(address(weth)).liquidationPenaltyBps) * storeFrontShareBps / 10_000;
        uint256 pair = portfolioPairDiscount();
        uint256 out = vault.quoteCollateral(address(weth), cost);
        uint256 atOwn = _amountAt(cost, uint256(answer), own);
        uint256 atPair = _amountAt(cost, uint256(answer), pair < own ? pair : own);
        // The pair's smaller discount gives the buyer less.
        if (out > atOwn || out < atPair || (!covered && out != atOwn)) ++storeFrontMispriced;
        if (out < atOwn) ++pairSales;
        uint256 reserves = vault.collateralReserves(address(weth));
        if (out == 0 || out > reserves) return;
        (uint256 supplied,) = vault.assetTotals(address(weth));
        uint256 cash = usdc.balanceOf(address(vault));
        address buyer = address(0xB0FFE7);
        usdc.mint(buyer, cost);
        vm.startPrank(buyer);
        usdc.approve(address(vault), cost);
        vault.buyCollateral(address(weth), out, cost, buyer);
        vm.stopPrank();
        (uint256 suppliedAfter,) = vault.assetTotals(address(weth));
        if (
            suppliedAfter != supplied || vault.collateralReserves(address(weth)) != reserves - out
                || usdc.balanceOf(address(vault)) != cash + cost || weth.balanceOf(buyer) < out
        ) ++reservesMovedWrongly;
    }

    /// @dev WETH for `cost` base units at `answer` (8 decimals) less `discountBps`, as `ValueLib.amountForValue`.
    function _amountAt(uint256 cost, uint256 answer, uint256 discountBps) internal pure returns (uint256) {
        uint256 discounted = (answer * (10_000 - discountBps) + 9999) / 10_000;
        return cost * 1e20 / discounted;
    }

    function portfolioPairDiscount() public view returns (uint256) {
        return IPortfolioMargin(vault.portfolioMargin()).pairDiscountBps();
    }

    /// @dev The keeper's committed unwind of `market`'s book at `venue`: the venue fills `fillBps` of it, the keeper
    ///      reports that fill (a Cancelled child: it books to the backstop); the book shrinks by exactly the fill.
    function _commitUnwind(uint8 m, uint8 v, uint256 fillBps) internal {
        int256 book = trading.backstopPosition(m, v).size;
        if (book == 0) return;
        uint256 step = m == 0 ? 1e15 : 1e16;
        uint256 mark = _markOf(m);
        uint256 limit = book > 0 ? mark * 95 / 100 : mark * 105 / 100;
        vm.prank(keeper);
        uint256 childId = trading.commitBackstopUnwind(m, v, _abs(book), limit, block.timestamp + 5 minutes);
        uint256 size = _abs(book) * bound(fillBps, 0, 10_000) / 10_000 / step * step;
        if (size == 0) return;
        int256 signed = book > 0 ? -int256(size) : int256(size);
        IVenueAdapter adapter = IVenueAdapter(trading.venues()[v]);
        vm.prank(address(trading));
        (uint256 price, uint256 fee) = adapter.trade(m, signed, limit);
        vm.prank(keeper);
        trading.reportFill(childId, keccak256(abi.encode("handler unwind", childId)), price, size, fee);
        ++committedUnwindFills;
        if (trading.backstopPosition(m, v).size != book + signed) ++unwindOvershoots;
    }

    function _sellAllWeth() internal {
        uint256 held = vault.collateralReserves(address(weth));
        if (held == 0) return;
        (, int256 answer,,,) = feeds[1].latestRoundData();
        uint256 cost = held * uint256(answer) / 1e20 + 1;
        uint256 out = vault.quoteCollateral(address(weth), cost);
        if (out > held) {
            cost = cost * held / out;
            out = vault.quoteCollateral(address(weth), cost);
        }
        if (out == 0) return;
        usdc.mint(address(this), cost);
        usdc.approve(address(vault), cost);
        vault.buyCollateral(address(weth), out, cost, address(this));
    }

    function _report(uint256 childId, uint256 price, uint256 size, uint256 fee) internal {
        bytes32 fillId = keccak256(abi.encode("handler fill", ++_fillNonce));
        vm.startPrank(keeper);
        try trading.reportFill(childId, fillId, price, size, fee) {}
        catch {
            trading.rejectChild(childId, "refused by the account's checks");
            trading.reportFill(childId, fillId, price, size, fee);
        }
        vm.stopPrank();
    }

    /// @dev A late fill (or a reduce-only fill's excess within a step) is the protocol's, bought at the venue's price with its
    ///      fee and no discount. The keeper unwinds it (here at once, with the rest of that book); what that costs
    ///      the protocol its reserves pay, here topped up, so that the solvency invariant keeps checking everything
    ///      else.
    function _unwindLateFill(uint8 market, uint8 venue, uint256 mark) internal {
        int256 book = trading.backstopPosition(market, venue).size;
        if (book == _backstopBefore) return;
        ++lateFills;
        uint256 limit = book > 0 ? mark * 95 / 100 : mark * 105 / 100;
        vm.prank(keeper);
        trading.unwindBackstop(market, venue, _abs(book), limit);
        int256 surplusAfter = _surplus();
        if (surplusAfter < _surplusBefore) {
            usdc.mint(address(vault), uint256(_surplusBefore - surplusAfter) + 1);
        }
    }

    /// @dev The vault's assets (cash, venue accounts, loans) less what it owes suppliers. Measured around a fill
    ///      that moved the backstop book, rather than the assets alone: the same fill may book the account's own
    ///      PnL (a reduce-only fill's part within the position), which moves assets and debts together, and a gain
    ///      there would hide the protocol's cost on the rest.
    function _surplus() internal view returns (int256) {
        IPrimeVault.MarketState memory s = vault.marketState();
        return int256(usdc.balanceOf(address(vault))) + trading.venueAssets() + int256(s.totalBorrow)
            - int256(s.totalSupply);
    }

    function rejectChild(uint256 index) external {
        if (_childIds.length == 0) return;
        vm.prank(keeper);
        try trading.rejectChild(_childIds[index % _childIds.length], "venue said no") {} catch {}
    }

    /// @dev By the executor (at the deadline) or by anyone (CHILD_EXPIRY_GRACE later).
    function expireChild(uint256 index, bool byExecutor) external {
        if (_childIds.length == 0) return;
        if (byExecutor) vm.prank(keeper);
        try trading.expireChild(_childIds[index % _childIds.length]) {} catch {}
    }

    /// @dev What `account`'s live open children still reserve, and how many there are.
    function openReservations(address account) external view returns (uint256 reserved, uint256 open) {
        (,, uint256 liveFrom) = trading.reservation(account);
        for (uint256 i; i < _childIds.length; ++i) {
            ITradingModule.ChildOrder memory c = trading.childOrder(_childIds[i]);
            if (c.status != ITradingModule.ChildStatus.Open || _childIds[i] < liveFrom) continue;
            if (trading.order(c.orderId).account != account) continue;
            reserved += (uint256(c.reservation) * (c.size - c.filled) + c.size - 1) / c.size;
            ++open;
        }
    }

    function _markOf(uint8 market) internal view returns (uint256) {
        (, int256 answer,,,) = feeds[market].latestRoundData();
        return uint256(answer) * 1e10;
    }

    function _order(
        address actor,
        uint8 market,
        int256 size,
        uint256 dydxPart,
        uint256 rabbitPart,
        bool reduceOnly
    ) internal {
        (, int256 answer,,,) = feeds[market].latestRoundData();
        uint256 mark = uint256(answer) * 1e10;
        uint256 limit = size > 0 ? mark * 105 / 100 : mark * 95 / 100;
        vm.prank(actor);
        try trading.submitOrder(actor, market, size, limit, block.timestamp + 1 hours, reduceOnly) returns (
            uint256 id
        ) {
            uint256 parts = (dydxPart > 0 ? 1 : 0) + (rabbitPart > 0 ? 1 : 0);
            ITradingModule.Execution[] memory batch = new ITradingModule.Execution[](1);
            batch[0] = ITradingModule.Execution(id, new uint8[](parts), new uint256[](parts));
            uint256 k;
            if (dydxPart > 0) (batch[0].venues[k], batch[0].sizes[k++]) = (0, dydxPart);
            if (rabbitPart > 0) (batch[0].venues[k], batch[0].sizes[k]) = (1, rabbitPart);
            vm.prank(keeper);
            trading.executeOrders(batch);
            if (trading.order(id).status == ITradingModule.OrderStatus.Executed) {
                ++executed;
                IPrimeVault.AccountHealth memory h = vault.accountHealth(actor);
                if (!reduceOnly && h.equity < int256(h.initialRequirement)) ++tradesBelowInitial;
            }
        } catch {}
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
