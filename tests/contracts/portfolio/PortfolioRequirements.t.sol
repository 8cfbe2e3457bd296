// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {AssetParams} from "../../../contracts/interfaces/IPrimeVaultGovernance.sol";

/// @dev The figures of issue 13 and docs/risk.md ("Portfolio margin"), computed by the contracts.
contract PortfolioRequirementsTest is PortfolioFixture {
    function _requirements(address account) internal view returns (uint256 initial, uint256 maintenance) {
        return portfolio.requirements(account);
    }

    /// @dev 10 WETH with a 10 ETH short against it: no scenario loses (the legs cancel), so what is left is
    ///      the 1% hedged charge on 30,000: initial 300, maintenance 150 (0.5% of the notional). The standard
    ///      rule charges both legs: 15% of the WETH and 5% of the short, 6,000.
    function test_collateralHedgedByAShortNeedsHalfAPercent() public {
        _deposit(alice, alice, weth, 10e18);
        _open(alice, ETH_MARKET, -10e18, DYDX);
        IPrimeVault.AccountHealth memory standard = vault.accountHealth(alice);
        assertEq(standard.maintenanceRequirement, 6000e6);

        _portfolioMode(alice, true);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertEq(h.initialRequirement, 300e6);
        assertEq(h.maintenanceRequirement, 150e6);
        assertLe(h.maintenanceRequirement * 10_000, 30_000e6 * 125, "at most 1.25% of the notional");
        assertEq(h.equity, standard.equity, "the rule changes requirements, never equity");
    }

    /// @dev 1 BTC long at dYdX, 1 BTC short at RabbitX: hedged 60,000 (1%: 600) and all of it across venues
    ///      (basis 1.25%: 750), initial 1,350 and maintenance 675, 1.125% of the notional. Each venue alone
    ///      asks its 10% initial of its leg: 12,000, more than the account's 10,000, which the standard rule
    ///      would refuse.
    function test_crossVenueHedgePaysTheBasisCharge() public {
        _deposit(alice, alice, usdc, 10_000e6);
        _portfolioMode(alice, true);
        _open(alice, BTC_MARKET, 1e18, DYDX);
        _open(alice, BTC_MARKET, -1e18, RABBIT);
        assertEq(trading.position(alice, BTC_MARKET, RABBIT).size, -1e18);
        (, uint256 standardInitial,,) = trading.perpRisk(alice);
        assertEq(standardInitial, 12_000e6, "10% of each leg");
        (uint256 initial, uint256 maintenance) = _requirements(alice);
        assertEq(initial, 1350e6);
        assertEq(maintenance, 675e6);
        assertLe(maintenance * 10_000, 60_000e6 * 125, "at most 1.25% of the notional");
    }

    /// @dev docs/risk.md's hedged basket: 10 WETH and 1 WBTC; ETH 12 short at dYdX and 4 long at RabbitX; BTC 1.2
    ///      short at RabbitX and 0.3 long at dYdX. ETH: net 6,000, hedged 36,000, basis 6,000, worst -T (630),
    ///      charges 555; BTC: net 6,000, hedged 72,000, basis 12,000, worst -S (480), charges 990. Together 1,080
    ///      against 1,110 apart: credit 15, scan 1,095. Initial 2,640, maintenance 1,320: 93.5% below the standard
    ///      20,400 (4,500 + 9,000 of haircuts, 5% of 138,000 of positions).
    function test_hedgedBasketNeedsThreeQuartersLess() public {
        _deposit(alice, alice, weth, 10e18);
        _deposit(alice, alice, wbtc, 1e8);
        _open(alice, ETH_MARKET, -12e18, DYDX);
        _open(alice, ETH_MARKET, 4e18, RABBIT);
        _open(alice, BTC_MARKET, -1.2e18, RABBIT);
        _open(alice, BTC_MARKET, 0.3e18, DYDX);
        IPrimeVault.AccountHealth memory standard = vault.accountHealth(alice);
        assertEq(standard.initialRequirement, 31_800e6);
        assertEq(standard.maintenanceRequirement, 20_400e6);
        _portfolioMode(alice, true);
        (uint256 initial, uint256 maintenance) = _requirements(alice);
        assertEq(initial, 2640e6);
        assertEq(maintenance, 1320e6);
        assertLe(maintenance * 4, standard.maintenanceRequirement, "at least 75% less");
    }

    /// @dev Open child orders reserve margin in the initial requirement only, as under the standard rule.
    function test_reservedMarginCountsInInitialOnly() public {
        _deposit(alice, alice, weth, 10e18);
        _open(alice, ETH_MARKET, -10e18, DYDX);
        _portfolioMode(alice, true);
        (uint256 before,) = _requirements(alice);
        vm.mockCall(
            address(trading), abi.encodeCall(trading.reservation, (alice)), abi.encode(uint256(77e6), 1, 0)
        );
        (uint256 initial, uint256 maintenance) = _requirements(alice);
        assertEq(initial, before + 77e6);
        assertEq(maintenance, 150e6);
    }

    /// @dev An asset listed and not mapped yet counts for nothing: its value (as the vault values it) is added
    ///      to both requirements, so it neither supports the book nor stops its health checks.
    function test_unmappedCollateralCountsForNothing() public {
        MockERC20 link = new MockERC20("Chainlink", "LINK", 18);
        vm.prank(admin);
        vault.listAsset(address(link), AssetParams(address(ethFeed), STALENESS, 3000, 2500, 1000, 1e24));
        _deposit(alice, alice, weth, 10e18);
        _open(alice, ETH_MARKET, -10e18, DYDX);
        (uint256 initialBefore, uint256 maintenanceBefore) = _requirements(alice);
        _deposit(alice, alice, link, 1.5e18 + 1); // 4,500 USDC and a fraction of a unit, rounded down
        (uint256 initial, uint256 maintenance) = _requirements(alice);
        assertEq(initial, initialBefore + 4500e6);
        assertEq(maintenance, maintenanceBefore + 4500e6);
        (uint256 liquidationMaintenance,,) = portfolio.liquidationTerms(alice);
        assertEq(liquidationMaintenance, maintenance);
    }

    /// @dev Issue 13's bound: at most 80,000 gas per underlying held, for the whole evaluation.
    function test_evaluationGasPerUnderlying() public {
        _deposit(alice, alice, weth, 10e18);
        _deposit(alice, alice, wbtc, 1e8);
        _open(alice, ETH_MARKET, -8e18, DYDX);
        _open(alice, ETH_MARKET, 2e18, RABBIT);
        _open(alice, BTC_MARKET, 1e18, DYDX);
        _open(alice, BTC_MARKET, -0.5e18, RABBIT);
        // What the portfolio rule adds to the vault's health check (each call its own transaction).
        uint256 before = gasleft();
        vault.accountHealth(alice);
        uint256 standard = before - gasleft();
        _portfolioMode(alice, true);
        before = gasleft();
        vault.accountHealth(alice);
        uint256 used = before - gasleft() - standard;
        vm.snapshotValue("PrimeVault", "portfolio rule in a health check, 2 underlyings and 6 legs", used);
        assertLe(used, 2 * 80_000);
    }

    /// @dev Losses are linear in the legs, rounded up: a long of n base units loses ceil(n x 10%) at -S.
    function testFuzz_unhedgedLongNeedsItsWorstLossPlusTheNetCharge(uint96 amount) public {
        amount = uint96(bound(amount, 1e12, 1e24));
        _deposit(alice, alice, weth, amount);
        uint256 value = uint256(amount) * 3000e8 / 1e20;
        // The -30% tail at 35% weight (10.5%) is ETH's worst scenario; the net charge is 2%.
        uint256 worst = (value * 1050 + 9999) / 10_000;
        uint256 charge = (value * 200 + 9999) / 10_000;
        (uint256 initial, uint256 maintenance) = _requirements(alice);
        assertEq(initial, worst + charge);
        assertEq(maintenance, (initial + 1) / 2);
    }
}
