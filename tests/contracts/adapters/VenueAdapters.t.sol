// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VenueFixture} from "../utils/VenueFixture.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";
import {DydxAdapter} from "../../../contracts/adapters/DydxAdapter.sol";
import {RabbitAdapter} from "../../../contracts/adapters/RabbitAdapter.sol";
import {IVenueErrors} from "../../../contracts/devnet/venues/IVenueErrors.sol";

/// @dev This test contract plays the vault: the only caller the adapters accept.
contract VenueAdaptersTest is VenueFixture {
    DydxAdapter internal dydxAdapter;
    RabbitAdapter internal rabbitAdapter;

    function setUp() public {
        _deployVenues();
        uint32[] memory pairs = new uint32[](2);
        (pairs[0], pairs[1]) = (BTC, ETH);
        dydxAdapter = new DydxAdapter(address(this), dydx, usdc, pairs);
        string[] memory ids = new string[](2);
        (ids[0], ids[1]) = ("BTC-USD", "ETH-USD");
        rabbitAdapter = new RabbitAdapter(address(this), rabbit, usdc, ids);
        usdc.mint(address(this), 1_000_000e6);
        usdc.approve(address(dydxAdapter), type(uint256).max);
        usdc.approve(address(rabbitAdapter), type(uint256).max);
        dydxAdapter.depositMargin(100_000e6);
        rabbitAdapter.depositMargin(100_000e6);
    }

    function _adapters() internal view returns (IVenueAdapter[2] memory) {
        return [IVenueAdapter(address(dydxAdapter)), IVenueAdapter(address(rabbitAdapter))];
    }

    function test_onlyTheVaultTrades() public {
        for (uint256 i; i < 2; ++i) {
            IVenueAdapter adapter = _adapters()[i];
            vm.expectRevert(
                abi.encodeWithSelector(IVenueAdapter.AdapterOnlyTradingModule.selector, address(0xbad))
            );
            vm.prank(address(0xbad));
            adapter.trade(0, 1e18, 70_000e18);
            vm.expectRevert(
                abi.encodeWithSelector(IVenueAdapter.AdapterOnlyTradingModule.selector, address(0xbad))
            );
            vm.prank(address(0xbad));
            adapter.requestWithdrawal(1);
        }
    }

    function test_tradesFillAtTheQuoteInVaultUnits() public {
        for (uint256 i; i < 2; ++i) {
            IVenueAdapter adapter = _adapters()[i];
            (uint256 quotedPrice, uint256 quotedFee) = adapter.quote(0, 0.5e18);
            (uint256 price, uint256 fee) = adapter.trade(0, 0.5e18, 61_000.7e18);
            assertEq(price, quotedPrice);
            assertApproxEqAbs(fee, quotedFee, 1);
            assertEq(adapter.position(0), 0.5e18);
            (uint256 shortPrice,) = adapter.trade(1, -2e18, 2900e18);
            assertLt(shortPrice, 3000e18);
            assertEq(adapter.position(1), -2e18);
        }
    }

    function test_venuesDifferSoRoutingHasChoices() public view {
        (uint256 dydxSmall,) = dydxAdapter.quote(0, 0.1e18);
        (uint256 rabbitSmall,) = rabbitAdapter.quote(0, 0.1e18);
        assertLt(rabbitSmall, dydxSmall, "rabbit's spread is tighter for small orders");
        (uint256 dydxLarge,) = dydxAdapter.quote(0, 50e18);
        (uint256 rabbitLarge,) = rabbitAdapter.quote(0, 50e18);
        assertLt(dydxLarge, rabbitLarge, "dydx is deeper for large orders");
    }

    function test_limitsRoundOntoTheTickNeverWorse() public {
        // A buy limit of 60,033.9 rounds down onto the $1 grid (60,033), which the fill at 60,033 meets.
        (uint256 price,) = rabbitAdapter.trade(0, 1e18, 60_033.9e18);
        assertEq(price, 60_033e18);
        vm.expectRevert(
            abi.encodeWithSelector(IVenueErrors.VenuePriceLimitExceeded.selector, 60_033e18, 60_032e18)
        );
        rabbitAdapter.trade(0, 1e18, 60_032.9e18);
    }

    function test_sizesMustTranslateExactly() public {
        vm.expectRevert(abi.encodeWithSelector(IVenueAdapter.AdapterUnitMismatch.selector, 1, 1e8));
        dydxAdapter.trade(0, 1, 70_000e18);
        vm.expectRevert(abi.encodeWithSelector(IVenueErrors.VenueInvalidSize.selector, 1e12, 1e14));
        rabbitAdapter.trade(0, 1e12, 70_000e18);
        vm.expectRevert(abi.encodeWithSelector(IVenueAdapter.AdapterUnknownMarket.selector, 7));
        rabbitAdapter.trade(7, 1e18, 70_000e18);
    }

    function test_instantWithdrawalPaysTheVault() public {
        uint256 before = usdc.balanceOf(address(this));
        assertEq(dydxAdapter.requestWithdrawal(40_000e6), block.timestamp);
        assertEq(usdc.balanceOf(address(this)) - before, 40_000e6);
        assertEq(usdc.balanceOf(address(dydxAdapter)), 0, "holds nothing");
    }

    function test_delayedWithdrawalIsClaimedAfterTheDelay() public {
        uint256 claimableAt = rabbitAdapter.requestWithdrawal(30_000e6);
        assertEq(claimableAt, block.timestamp + WITHDRAWAL_DELAY);
        assertEq(rabbitAdapter.pendingWithdrawals(), 30_000e6);
        assertEq(rabbitAdapter.claimWithdrawal(), 0, "not yet");
        vm.warp(claimableAt);
        uint256 before = usdc.balanceOf(address(this));
        assertEq(rabbitAdapter.claimWithdrawal(), 30_000e6);
        assertEq(usdc.balanceOf(address(this)) - before, 30_000e6);
        assertEq(rabbitAdapter.pendingWithdrawals(), 0);
        assertEq(usdc.balanceOf(address(rabbitAdapter)), 0, "holds nothing");
    }

    function test_marketParamsInVaultUnits() public view {
        IVenueAdapter.MarketParams memory d = dydxAdapter.marketParams(0);
        assertEq(d.stepSize, 1e14, "0.0001 BTC");
        assertEq(d.tickSize, 1e18, "$1");
        assertEq(d.initialMarginPpm, 20_000);
        assertEq(d.maintenanceMarginPpm, 12_000);
        IVenueAdapter.MarketParams memory r = rabbitAdapter.marketParams(1);
        assertEq(r.stepSize, 1e15);
        assertEq(r.maintenanceMarginPpm, 10_000);
    }

    function testFuzz_dydxTranslatesAnyStepMultiple(uint16 steps, bool buy) public {
        uint256 size = uint256(bound(steps, 1, 10_000)) * 1e14;
        int256 signed = buy ? int256(size) : -int256(size);
        dydxAdapter.trade(0, signed, buy ? 80_000e18 : 40_000e18);
        assertEq(dydxAdapter.position(0), signed);
    }
}
