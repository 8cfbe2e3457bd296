// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Vm} from "forge-std/Vm.sol";

import {TradingFixture} from "./utils/TradingFixture.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";

contract DeleverageTest is TradingFixture {
    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18); // 30,000
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
    }

    function _deleverageOne(address account) internal returns (uint256 fraction) {
        address[] memory list = new address[](1);
        list[0] = account;
        vm.recordLogs();
        assertEq(trading.deleverage(list), 1);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == IPrimeVaultEvents.Deleveraged.selector) {
                (fraction,) = abi.decode(logs[i].data, (uint256, uint256));
            }
        }
    }

    function test_healthyAccountsAreSkipped() public {
        address[] memory list = new address[](2);
        (list[0], list[1]) = (alice, bob);
        assertEq(trading.deleverage(list), 0);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 3e18);
    }

    function test_priceMoveClosesOnlyPartOfThePosition() public {
        btcFeed.setAnswer(54_000e8); // -10%: about -18,000 on 3 BTC
        IPrimeVault.AccountHealth memory before = vault.accountHealth(alice);
        assertTrue(before.liquidatable);

        address[] memory list = new address[](1);
        list[0] = alice;
        assertEq(vault.liquidate(list), 0, "the vault leaves accounts with positions to the trading module");

        vm.prank(bob);
        uint256 fraction = _deleverageOne(alice);
        assertGt(fraction, 0.1e18);
        assertLt(fraction, 0.5e18, "only part is closed");
        int256 remaining = trading.position(alice, BTC_MARKET, DYDX).size;
        assertGt(remaining, 1.5e18);
        assertLt(remaining, 3e18);
        IPrimeVault.AccountHealth memory afterwards = vault.accountHealth(alice);
        assertFalse(afterwards.liquidatable);
        assertGe(afterwards.equity, int256(afterwards.maintenanceRequirement));
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 10e18, "collateral untouched");
        assertGt(vault.baseBalanceOf(bob), 0, "the caller earns part of the penalty");
        assertEq(dydxAdapter.position(BTC_MARKET), remaining, "venue still equals the books");
    }

    function test_whenClosingIsNotEnoughCollateralIsAbsorbedAfterwards() public {
        btcFeed.setAnswer(50_500e8); // about -28,500: equity near zero
        uint256 fraction = _deleverageOne(alice);
        assertEq(fraction, 1e18);
        assertFalse(trading.hasOpenPositions(alice));
        assertTrue(vault.isLiquidatable(alice));
        address[] memory list = new address[](1);
        list[0] = alice;
        assertEq(vault.liquidate(list), 1);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 0);
    }

    function test_staleFeedStopsDeleveraging() public {
        btcFeed.setAnswer(54_000e8);
        vm.warp(block.timestamp + STALENESS + 1);
        ethFeed.setAnswer(ETH_PRICE);
        address[] memory list = new address[](1);
        list[0] = alice;
        vm.expectRevert();
        trading.deleverage(list);
    }
}
