// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TradingFixture} from "./TradingFixture.sol";
import {PortfolioMargin} from "../../../contracts/PortfolioMargin.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";

/// @dev The trading fixture with the portfolio rule at the keeper's defaults (keeper/risk/portfolio.py,
///      `DEFAULT_UNDERLYINGS`): ETH shock 10% (tail 30% at 35%), BTC 8% (tail 20% at 35%), both in one group;
///      charges 2% net, 1% hedged, 1.25% basis; maintenance half of initial, half the correlation gap credited.
abstract contract PortfolioFixture is TradingFixture {
    PortfolioMargin internal portfolio;

    uint8 internal constant ETH = 0;
    uint8 internal constant BTC = 1;

    function setUp() public virtual override {
        super.setUp();
        portfolio = new PortfolioMargin(vault, trading, admin);
        vm.startPrank(admin);
        portfolio.setUnderlying(ETH, "ETH", _params(1000, 500, 3000, 250, 3000));
        portfolio.setUnderlying(BTC, "BTC", _params(800, 400, 2500, 200, 2000));
        portfolio.mapAsset(address(weth), ETH);
        portfolio.mapAsset(address(wbtc), BTC);
        portfolio.mapMarket(ETH_MARKET, ETH);
        portfolio.mapMarket(BTC_MARKET, BTC);
        portfolio.grantRole(portfolio.RISK_MANAGER_ROLE(), riskManager);
        vault.setPortfolioMargin(address(portfolio));
        vm.stopPrank();
    }

    function _params(uint16 shock, uint16 minShock, uint16 maxShock, uint16 step, uint16 tail)
        internal
        pure
        returns (IPortfolioMargin.UnderlyingParams memory)
    {
        return IPortfolioMargin.UnderlyingParams({
            shockBps: shock,
            minShockBps: minShock,
            maxShockBps: maxShock,
            maxShockStepBps: step,
            tailBps: tail,
            tailWeightBps: 3500,
            netChargeBps: 200,
            hedgedChargeBps: 100,
            basisChargeBps: 125,
            group: 0
        });
    }

    function _portfolioMode(address who, bool enabled) internal {
        vm.prank(who);
        vault.setPortfolioMode(who, enabled);
    }

    /// @dev 10 WETH hedged by a 10 ETH short, borrowed up to the rule's initial requirement; interest then accrues
    ///      until the book is just below its maintenance requirement, its equity still positive.
    function _hedgedBookJustBelowMaintenance() internal {
        _deposit(alice, alice, weth, 10e18);
        _portfolioMode(alice, true);
        _open(alice, ETH_MARKET, -10e18, DYDX);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        _borrow(alice, alice, uint256(h.equity) - h.initialRequirement - 1);
        for (uint256 i; i < 400 && !vault.isLiquidatable(alice); ++i) {
            vm.warp(block.timestamp + 1 days);
            ethFeed.setAnswer(ETH_PRICE);
            btcFeed.setAnswer(BTC_PRICE);
        }
        assertTrue(vault.isLiquidatable(alice));
        assertGt(vault.accountHealth(alice).equity, 0);
    }

    /// @dev Opens `size` (signed, WAD) of `market` at `venue` at any price within 5% of the mark.
    function _open(address who, uint8 market, int256 size, uint8 venue) internal {
        (, int256 answer,,,) = (market == ETH_MARKET ? ethFeed : btcFeed).latestRoundData();
        uint256 mark = uint256(answer) * 1e10;
        uint256 limit = size > 0 ? mark * 105 / 100 : mark * 95 / 100;
        _executeOn(_submit(who, who, market, size, limit), venue, uint256(size > 0 ? size : -size));
    }
}
