// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {PrimeVault} from "../../../contracts/PrimeVault.sol";
import {TradingModule} from "../../../contracts/TradingModule.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {PerpExchange} from "../../../contracts/devnet/venues/PerpExchange.sol";

/// @dev Drives trading with bounded random actions: deposits, routed orders split across both venues,
///      closes, price moves, funding, time, liquidation, unwinding the backstop with resale of absorbed collateral.
contract TradingHandler is Test {
    PrimeVault internal immutable vault;
    TradingModule internal immutable trading;
    MockERC20 internal immutable usdc;
    MockERC20 internal immutable weth;
    MockPriceFeed[2] internal feeds; // by market: BTC, ETH
    PerpExchange[2] internal venues; // by venue id: dYdX, RabbitX
    address internal immutable keeper;

    address[] public actors;
    uint256 public tradesBelowInitial;
    uint256 public executed;

    constructor(
        PrimeVault vault_,
        TradingModule trading_,
        MockERC20 usdc_,
        MockERC20 weth_,
        MockPriceFeed[2] memory feeds_,
        PerpExchange[2] memory venues_,
        address keeper_
    ) {
        (vault, trading, usdc, weth, feeds, venues, keeper) =
        (vault_, trading_, usdc_, weth_, feeds_, venues_, keeper_);
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

    function liquidateAll() external {
        vault.liquidate(actors);
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

    /// @dev The keeper's unwind of the backstop book, at the edge of the allowed band.
    function unwindBackstop(uint256 market, uint256 venue) external {
        uint8 m = uint8(market % 2);
        uint8 v = uint8(venue % 2);
        int256 size = trading.backstopPosition(m, v).size;
        if (size == 0) return;
        (, int256 answer,,,) = feeds[m].latestRoundData();
        uint256 mark = uint256(answer) * 1e10;
        uint256 limit = size > 0 ? mark * 95 / 100 : mark * 105 / 100;
        vm.prank(keeper);
        trading.unwindBackstop(m, v, _abs(size), limit);
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
