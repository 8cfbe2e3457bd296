// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TradingFixture} from "./utils/TradingFixture.sol";
import {HealthAwareTrader} from "../../contracts/examples/HealthAwareTrader.sol";
import {PERMISSION_TRADE} from "../../contracts/interfaces/IPrimeVault.sol";
import {ITradingModule} from "../../contracts/interfaces/ITradingModule.sol";

contract IntegratorExampleTest is TradingFixture {
    HealthAwareTrader internal bot;

    function setUp() public override {
        super.setUp();
        bot = new HealthAwareTrader(vault, trading, 15_000);
        _deposit(alice, alice, weth, 10e18);
        vm.prank(alice);
        vault.setOperator(alice, address(bot), PERMISSION_TRADE);
    }

    function test_botReadsHealthAndSubmits() public {
        vm.prank(alice);
        uint256 id = bot.trade(alice, BTC_MARKET, 1e18, 61_000e18);
        ITradingModule.Order memory o = trading.order(id);
        assertEq(o.account, alice);
        assertEq(o.size, 1e18);
    }

    function test_botRefusesWithoutHeadroom() public {
        _borrow(alice, alice, 20_000e6); // equity 10,000 against an initial requirement of 6,000: 1.67x
        vm.prank(alice);
        bot.trade(alice, BTC_MARKET, 1e18, 61_000e18);
        _borrow(alice, alice, 1_500e6); // equity 8,500: 1.42x
        vm.expectRevert(
            abi.encodeWithSelector(HealthAwareTrader.TooLittleHeadroom.selector, int256(8500e6), 6000e6)
        );
        vm.prank(alice);
        bot.trade(alice, BTC_MARKET, 1e18, 61_000e18);
    }

    /// @dev The bot holds alice's trade permission: a stranger must not be able to use it on her account.
    function test_aStrangerCannotTradeThroughTheBot() public {
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(HealthAwareTrader.NotTheOwner.selector, stranger, alice));
        vm.prank(stranger);
        bot.trade(alice, BTC_MARKET, 1e18, 61_000e18);
    }
}
