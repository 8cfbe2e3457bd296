// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TradingFixture} from "./utils/TradingFixture.sol";
import {deployDydx} from "./utils/VenueDeployment.sol";
import {DydxAdapter} from "../../contracts/adapters/DydxAdapter.sol";
import {MockPriceFeed} from "../../contracts/devnet/mocks/MockPriceFeed.sol";
import {DydxStyleVenue} from "../../contracts/devnet/venues/DydxStyleVenue.sol";
import {IVenueAdapter} from "../../contracts/interfaces/IVenueAdapter.sol";
import {PrimeVaultLens} from "../../contracts/periphery/PrimeVaultLens.sol";

/// @dev Code for an adapter that "succeeds" on every call and answers nothing: an upgradeable adapter whose
///      implementation lost its code (a delegatecall to an empty account succeeds with no data), or any broken
///      upgrade with a silent fallback.
contract AnswersNothing {
    fallback() external {
        assembly {
            return(0, 0)
        }
    }
}

/// @notice A venue adapter that answers its views with nothing, or with an absurd size step, counts as one that
///         cannot answer: liquidation goes on, a batch's write-off still counts the other venues' assets, and the
///         keeper's lens still reads. With `try ... returns`, whose decoding of an empty answer reverts in the
///         caller's frame uncaught, every account with a position there was skipped, the write-off counted every
///         venue as nothing (suppliers bore a shortfall reserves covered) and the lens reverted.
contract LiquidationVenueSilentTest is TradingFixture {
    uint8 internal constant VENUE2 = 2;

    function setUp() public override {
        super.setUp();
        MockPriceFeed venueBtcFeed = new MockPriceFeed("venue BTC", 8, BTC_PRICE, address(this));
        MockPriceFeed venueEthFeed = new MockPriceFeed("venue ETH", 8, ETH_PRICE, address(this));
        DydxStyleVenue venue2 = deployDydx(usdc, address(venueBtcFeed), address(venueEthFeed), address(this));
        uint32[] memory pairs = new uint32[](2);
        (pairs[0], pairs[1]) = (0, 1);
        DydxAdapter adapter2 = new DydxAdapter(address(trading), venue2, usdc, pairs);
        vm.prank(admin);
        trading.addVenue(adapter2);
        vm.prank(keeper);
        trading.depositMargin(VENUE2, 100_000e6);

        _deposit(alice, alice, weth, 10e18); // 30,000 of collateral
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), VENUE2, 3e18);
    }

    function _one(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function _underWater() internal {
        btcFeed.setAnswer(50_000e8);
        _setEthPrice(2000e8); // 3 BTC bought near 60,000 now at 50,000; 10 WETH at 2,000
        assertTrue(vault.isLiquidatable(alice));
    }

    function test_aVenueThatAnswersNothingDoesNotStopLiquidation() public {
        _underWater();
        vm.etch(trading.venues()[VENUE2], address(new AnswersNothing()).code);

        vm.prank(bob);
        assertEq(vault.liquidate(_one(alice)), 1, "liquidated, the venue counted as one that cannot answer");
        assertEq(trading.position(alice, BTC_MARKET, VENUE2).size, 0, "the long moved to the backstop");
        assertLt(vault.collateralBalanceOf(alice, address(weth)), 10e18, "collateral taken");

        // The lens reads on and flags the venue's funding as unreadable.
        PrimeVaultLens lens = new PrimeVaultLens();
        PrimeVaultLens.RiskState memory s = lens.riskState(vault);
        assertEq(s.fundingIndexes[BTC_MARKET * lens.VENUE_SLOTS() + VENUE2], lens.FUNDING_UNREADABLE());
        assertTrue(s.fundingIndexes[BTC_MARKET * lens.VENUE_SLOTS() + DYDX] != lens.FUNDING_UNREADABLE());
    }

    function test_aSilentVenueCountsAsNothingInTheWriteOffNotEveryVenue() public {
        usdc.mint(address(vault), 150_000e6); // reserves
        address carol = makeAddr("carol");
        _openBorrower(carol, 2_300e6); // 1 WETH at 3,000, 2,300 borrowed
        _setEthPrice(1500e8); // under water: about 875 of shortfall, which reserves cover
        btcFeed.setAnswer(BTC_PRICE);
        uint256 index = vault.supplyIndex();
        int256 before = trading.venueAssets();

        vm.etch(trading.venues()[VENUE2], address(new AnswersNothing()).code);
        int256 silent = trading.venueAssets();
        assertLt(silent, before, "the silent venue's account counts as nothing");
        assertGt(silent, 0, "the other venues' accounts still count");
        vm.prank(bob);
        assertEq(vault.liquidate(_one(carol)), 1);
        assertEq(vault.supplyIndex(), index, "covered by reserves: suppliers untouched");
    }

    /// @dev A step past any size (round 4's step of 0 was the other wrong answer) made the cut's arithmetic
    ///      overflow, `absorbPositions` panic and the account be skipped at every call.
    function test_anAbsurdSizeStepCountsAsNoStep() public {
        _executeOn(_submit(alice, alice, ETH_MARKET, 1e18, 3_100e18), DYDX, 1e18);
        _underWater();
        IVenueAdapter.MarketParams memory p = IVenueAdapter(trading.venues()[DYDX]).marketParams(ETH_MARKET);
        p.stepSize = 2 ** 200;
        vm.mockCall(
            trading.venues()[DYDX],
            abi.encodeWithSelector(IVenueAdapter.marketParams.selector, ETH_MARKET),
            abi.encode(p)
        );
        vm.prank(bob);
        assertEq(vault.liquidate(_one(alice)), 1, "liquidated");
        assertLt(trading.position(alice, ETH_MARKET, DYDX).size, 1e18, "cut on a step of one unit");
    }
}
