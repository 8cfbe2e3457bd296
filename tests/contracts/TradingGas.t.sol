// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TradingFixture} from "./utils/TradingFixture.sol";

/// @notice Gas of routed execution, into the same snapshot as `Gas.t.sol`, with the issue's targets.
contract TradingGasTest is TradingFixture {
    string internal constant GROUP = "PrimeVault";

    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 100e18);
        // Warm the venues' accounts with one earlier trade each, as in steady operation.
        _deposit(bob, bob, weth, 100e18);
        _executeSplit(_submit(bob, bob, BTC_MARKET, 0.2e18, 61_000e18), 0.1e18, 0.1e18);
    }

    function test_gas_executeOneVenue() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        vm.snapshotGasLastCall(GROUP, "order: submit");
        _executeOn(id, DYDX, 1e18);
        vm.snapshotGasLastCall(GROUP, "execute: 1 venue, new position");
        _executeOn(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18);
        uint256 gasUsed = vm.snapshotGasLastCall(GROUP, "execute: 1 venue");
        assertLe(gasUsed, 250_000, "routed execution on one venue");
    }

    function test_gas_executeTwoVenues() public {
        // Both measured on an account that already holds the market at both venues.
        _executeSplit(_submit(alice, alice, BTC_MARKET, 0.2e18, 61_000e18), 0.1e18, 0.1e18);
        _executeOn(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18);
        uint256 single = vm.lastCallGas().gasTotalUsed;
        _executeSplit(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), 0.6e18, 0.4e18);
        uint256 split = vm.snapshotGasLastCall(GROUP, "execute: 2 venues");
        assertLe(split, single + 120_000, "each extra venue in a split");
        vm.snapshotValue(GROUP, "execute: extra venue", split > single ? split - single : 0);
    }
}
