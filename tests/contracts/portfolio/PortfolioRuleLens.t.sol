// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {AssetParams} from "../../../contracts/interfaces/IPrimeVaultGovernance.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {PrimeVaultLens} from "../../../contracts/periphery/PrimeVaultLens.sol";

/// @notice `PrimeVaultLens.portfolioRule`: the rule in one call, field for field what `PortfolioMargin`'s own views
///         return.
contract PortfolioRuleLensTest is PortfolioFixture {
    PrimeVaultLens internal lens;

    function setUp() public override {
        super.setUp();
        lens = new PrimeVaultLens();
    }

    function test_theRuleInOneCallMatchesTheContractsViews() public {
        vm.prank(admin);
        portfolio.setRule(4000, 2500);
        vm.prank(riskManager);
        portfolio.updateShock(BTC, 1000);
        PrimeVaultLens.PortfolioRule memory r = lens.portfolioRule(vault);
        assertEq(r.portfolio, address(portfolio));
        (uint16 maintenanceBps, uint16 creditBps) = portfolio.rule();
        assertEq(r.maintenanceBps, maintenanceBps);
        assertEq(r.correlationCreditBps, creditBps);
        assertEq(r.maintenanceBps, 4000);
        assertEq(r.names.length, 2);
        for (uint8 u; u < 2; ++u) {
            (string memory name, IPortfolioMargin.UnderlyingParams memory p) = portfolio.underlying(u);
            assertEq(r.names[u], name);
            assertEq(abi.encode(r.underlyings[u]), abi.encode(p));
        }
        assertEq(r.underlyings[BTC].shockBps, 1000, "the risk manager's move is read");
        assertEq(r.assetMapped.length, 2, "one entry per collateral asset, in the vault's order");
        assertTrue(r.assetMapped[0] && r.assetMapped[1]);
        assertEq(r.assetUnderlying[0], ETH, "WETH");
        assertEq(r.assetUnderlying[1], BTC, "WBTC");
        assertEq(r.marketUnderlying.length, 2, "one entry per perp market, in market order");
        assertEq(r.marketUnderlying[BTC_MARKET], BTC);
        assertEq(r.marketUnderlying[ETH_MARKET], ETH);
    }

    function test_anUnmappedLegReadsAsUnmapped() public {
        MockERC20 link = new MockERC20("Chainlink", "LINK", 18);
        vm.prank(admin);
        vault.listAsset(address(link), AssetParams(address(ethFeed), STALENESS, 3000, 2500, 1000, 1e24));
        PrimeVaultLens.PortfolioRule memory r = lens.portfolioRule(vault);
        assertEq(r.assetMapped.length, 3);
        assertFalse(r.assetMapped[2], "an asset governance has not mapped");
        assertTrue(r.assetMapped[0] && r.assetMapped[1]);
    }
}
