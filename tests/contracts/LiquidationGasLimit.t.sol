// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TradingFixture} from "./utils/TradingFixture.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {CostlyPriceFeed} from "./utils/mocks/CostlyPriceFeed.sol";

/// @notice A liquidation's outcome never depends on the gas limit it is sent with: at a limit too low for an
///         account, the transaction reverts (`LiquidationOutOfGas`), never succeeds with the account skipped. Before,
///         a call that ran out of gas inside the positions' absorption was caught as the trading module's refusal:
///         below about 440,000 gas an account trading at two venues was skipped and the batch succeeded, so gas
///         estimates settled there, and the keeper, which sent at such a limit, failed to liquidate it every cycle.
contract LiquidationGasLimitTest is TradingFixture {
    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18);
        _executeSplit(_submit(alice, alice, BTC_MARKET, -2e18, 59_000e18), 1.4e18, 0.6e18);
        _executeOn(_submit(alice, alice, ETH_MARKET, 2e18, 3_100e18), DYDX, 2e18);
        _borrow(alice, alice, 5_000e6);
        _setEthPrice(1_500e8);
        btcFeed.setAnswer(BTC_PRICE);
        assertTrue(vault.isLiquidatable(alice));
    }

    function test_aLimitTooLowRevertsAndNeverSkipsTheAccount() public {
        _sweep(20_000);
    }

    /// @dev Gas running out one call deeper, in a feed the trading module reads (here one that costs 25,000 gas a
    ///      read): the trading module reverts without data in turn and keeps its own 64th, so its caller is left more
    ///      than a 63rd of its gas; at 264,000 and three other limits the account was still skipped.
    function test_gasRunningOutInAFeedTheTradingModuleReadsRevertsToo() public {
        vm.etch(address(btcFeed), address(new CostlyPriceFeed(8)).code);
        vm.etch(address(ethFeed), address(new CostlyPriceFeed(8)).code);
        assertTrue(vault.isLiquidatable(alice));
        _sweep(2_000);
    }

    function _sweep(uint256 increment) internal {
        address[] memory batch = new address[](1);
        batch[0] = alice;
        bool liquidated = false;
        uint256 outOfGas = 0;
        for (uint256 limit = 100_000; limit <= 1_500_000; limit += increment) {
            uint256 state = vm.snapshotState();
            vm.prank(bob);
            try vault.liquidate{gas: limit}(batch) returns (uint256 count) {
                assertEq(
                    count, 1, string.concat("liquidated, never skipped for want of gas: ", vm.toString(limit))
                );
                liquidated = true;
            } catch (bytes memory reason) {
                assertFalse(liquidated, "a higher limit never fails where a lower one liquidated");
                if (bytes4(reason) == IPrimeVaultErrors.LiquidationOutOfGas.selector) ++outOfGas;
            }
            vm.revertToState(state);
        }
        assertTrue(liquidated, "liquidated at a sufficient limit");
        assertGt(outOfGas, 0, "the limits just short of it say why they fail");
    }
}
