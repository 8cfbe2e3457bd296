// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AsyncOrderFixture} from "./utils/AsyncOrderFixture.sol";
import {IPerpRisk} from "../../contracts/interfaces/IPerpRisk.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";

/// @notice `setTrading`: the trading module keeps the vault's record of which accounts hold positions or
///         open child orders, so the vault's health checks and liquidation need no call to it per account.
contract SetTradingTest is AsyncOrderFixture {
    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18);
    }

    function test_onlyTheTradingModuleSetsTheRecord() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotTradingModule.selector, alice));
        vault.setTrading(alice, true);
    }

    function test_anExecutionSetsTheRecordAndClosingClearsIt() public {
        assertFalse(_vaultRecordsTrading(alice));
        _executeOn(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18);
        assertTrue(_vaultRecordsTrading(alice), "a position is open");
        _executeOn(_submit(alice, alice, BTC_MARKET, -0.5e18, 59_000e18), DYDX, 0.5e18);
        assertTrue(_vaultRecordsTrading(alice), "half is still open");
        _executeOn(_submit(alice, alice, BTC_MARKET, -0.5e18, 59_000e18), DYDX, 0.5e18);
        assertFalse(_vaultRecordsTrading(alice), "closed");
    }

    /// @dev A committed child counts before it fills: its reservation is in the account's requirement.
    function test_aCommitSetsTheRecordAndAnExpiryClearsIt() public {
        uint256 child = _commitOne(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18, 61_000e18);
        assertTrue(_vaultRecordsTrading(alice), "an open child");
        vm.warp(block.timestamp + 1 hours);
        btcFeed.setAnswer(BTC_PRICE);
        ethFeed.setAnswer(ETH_PRICE);
        vm.prank(keeper);
        trading.expireChild(child);
        assertFalse(_vaultRecordsTrading(alice), "nothing open");
    }

    function test_aFillKeepsTheRecordAndAClosingFillClearsIt() public {
        uint256 child = _commitOne(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18, 61_000e18);
        _fill(child, 1e18);
        assertTrue(_vaultRecordsTrading(alice), "the child is done, the position open");
        uint256 closing =
            _commitOne(_submit(alice, alice, BTC_MARKET, -1e18, 59_000e18), DYDX, 1e18, 59_000e18);
        _fill(closing, 1e18);
        assertFalse(_vaultRecordsTrading(alice), "closed by the fill");
    }

    function test_liquidationTakingEveryPositionClearsTheRecord() public {
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
        btcFeed.setAnswer(40_000e8); // -60,000 on 3 BTC against 30,000 of WETH: everything goes
        address[] memory list = new address[](1);
        list[0] = alice;
        vm.prank(bob);
        assertEq(vault.liquidate(list), 1);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0);
        assertFalse(_vaultRecordsTrading(alice));
    }

    /// @dev What the record saves: a borrower without positions is checked and liquidated by the vault alone.
    function test_aBorrowerWithoutPositionsCostsNoCallToTheTradingModule() public {
        vm.expectCall(address(trading), abi.encodeWithSelector(IPerpRisk.perpRisk.selector), 0);
        vm.expectCall(address(trading), abi.encodeWithSelector(IPerpRisk.hasOpenPositions.selector), 0);
        vm.prank(alice);
        vault.withdraw(alice, address(usdc), 20_000e6, alice);
        _setEthPrice(2200e8); // 22,000 of WETH against 20,000 of debt: below maintenance
        address[] memory list = new address[](1);
        list[0] = alice;
        vm.prank(bob);
        assertEq(vault.liquidate(list), 1);
    }
}
