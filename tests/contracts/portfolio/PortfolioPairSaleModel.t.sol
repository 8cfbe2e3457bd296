// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {BrokenToken} from "../utils/mocks/BrokenToken.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {AssetParams} from "../../../contracts/interfaces/IPrimeVaultGovernance.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";

/// @dev A collateral token that calls back into the store front as it is sent.
contract ReenteringToken is MockERC20 {
    IPrimeVault internal immutable _vault;

    constructor(IPrimeVault vault_) MockERC20("Hook", "HOOK", 18) {
        _vault = vault_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == address(_vault)) _vault.buyCollateral(address(this), 0, 1e6, to);
    }
}

/// @dev The store front's blend (`PortfolioMargin.storeFrontDiscount`) against an independent model of
///      docs/risk.md ("A hedged pair is sold as a pair"), with the backstop book's slots set by mocks.
contract PortfolioPairSaleModelTest is PortfolioFixture {
    uint256 internal constant WETH_BPS = 250;
    uint256 internal constant PAIR_BPS = 30;
    uint256 internal constant CB_BPS = 400; // cbBTC-like sibling below: 8 decimals, its own feed

    MockERC20 internal cb;
    MockPriceFeed internal cbFeed;

    function setUp() public override {
        super.setUp();
        // An 8-decimal asset mapped to ETH, priced by its own feed (0.9 ETH), penalty 8% (store front 4%).
        cb = new MockERC20("Coinbase ETH", "cbETH", 8);
        cbFeed = new MockPriceFeed("cbETH / USD", 8, 2700e8, address(this));
        vm.startPrank(admin);
        vault.listAsset(address(cb), AssetParams(address(cbFeed), STALENESS, 2000, 1500, 800, 1_000_000e8));
        portfolio.mapAsset(address(cb), ETH);
        vm.stopPrank();
    }

    function _backstop(uint8 market, uint8 venue, int256 size) internal {
        vm.mockCall(
            address(trading),
            abi.encodeCall(ITradingModule.backstopPosition, (market, venue)),
            abi.encode(ITradingModule.Position({size: int128(size), entryPrice: 0, fundingIndex: 0}))
        );
    }

    /// @dev docs/risk.md's formula, unit for unit.
    function _modelDiscount(uint256 wethHeld, uint256 cbHeld, int256 net, uint256 amount, bool forCb)
        internal
        pure
        returns (uint256)
    {
        uint256 own = forCb ? CB_BPS : WETH_BPS;
        if (amount == 0) return own;
        uint256 v = wethHeld * 3000e8 / 1e18 / 1e2 + cbHeld * 2700e8 / 1e8 / 1e2;
        uint256 covered = net < 0 ? Math.min(uint256(-net), v) : 0;
        if (covered == 0) return own;
        uint256 hedged = Math.mulDiv(forCb ? cbHeld : wethHeld, covered, v, Math.Rounding.Ceil);
        return own - Math.mulDiv(own - PAIR_BPS, Math.min(hedged, amount), amount, Math.Rounding.Ceil);
    }

    /// @dev Collateral for `base` at a discount, as the store front computes it (price rounded up).
    function _amountAt(uint256 base, uint256 price, uint256 bps, uint256 unit)
        internal
        pure
        returns (uint256)
    {
        return Math.mulDiv(base, unit, Math.mulDiv(price, 10_000 - bps, 10_000, Math.Rounding.Ceil));
    }

    function testFuzz_theBlendMatchesTheModel(
        uint256 wethHeld,
        uint256 cbHeld,
        uint256 shortSize,
        uint256 longSize,
        uint256 base,
        bool buyCb
    ) public {
        wethHeld = bound(wethHeld, 0, 1000e18);
        cbHeld = bound(cbHeld, 0, 1000e8);
        shortSize = bound(shortSize, 0, 2000e18);
        longSize = bound(longSize, 0, 2000e18);
        base = bound(base, 1, 10_000_000e6);
        weth.mint(address(vault), wethHeld);
        cb.mint(address(vault), cbHeld);
        // A short at one venue, a long at the other: the book's net is what covers.
        _backstop(ETH_MARKET, DYDX, -int256(shortSize));
        _backstop(ETH_MARKET, RABBIT, int256(longSize));
        int256 net = -int256(shortSize * 3000 / 1e12) + int256(longSize * 3000 / 1e12);

        (uint256 reservesValue, uint256 covered) = portfolio.reservesHedge(ETH);
        uint256 v = wethHeld * 3000e6 / 1e18 + cbHeld * 2700e6 / 1e8;
        assertEq(reservesValue, v, "reserves at the oracle");
        assertEq(covered, net < 0 && v > 0 ? Math.min(uint256(-net), v) : 0, "covered");
        _checkQuote(buyCb, base, _modelDiscount(wethHeld, cbHeld, net, _atOracle(buyCb, base), buyCb));
    }

    function _atOracle(bool buyCb, uint256 base) internal pure returns (uint256) {
        return buyCb ? base * 1e10 / 2700e8 : base * 1e20 / 3000e8;
    }

    function _checkQuote(bool buyCb, uint256 base, uint256 expected) internal view {
        address asset = buyCb ? address(cb) : address(weth);
        uint256 price = buyCb ? 2700e8 : 3000e8;
        uint256 unit = buyCb ? 1e10 : 1e20; // 10^scaleExponent
        uint256 own = buyCb ? CB_BPS : WETH_BPS;
        assertEq(portfolio.storeFrontDiscount(asset, _atOracle(buyCb, base), own), expected, "blend");
        uint256 quote = vault.quoteCollateral(asset, base);
        assertEq(quote, _amountAt(base, price, expected, unit), "quote at the blend");
        assertLe(quote, _amountAt(base, price, own, unit), "never below the asset's own discount");
        assertGe(quote, _amountAt(base, price, PAIR_BPS, unit), "never above the pair discount");
    }

    /// @dev A buyer who sends less gas than the rule needs must not get the asset's own discount on hedged
    ///      collateral: either the purchase fails, or it is at the blend.
    function test_gasStarvationCannotForceTheFallback() public {
        weth.mint(address(vault), 10e18);
        cb.mint(address(vault), 1e8);
        _backstop(ETH_MARKET, DYDX, -20e18);
        uint256 base = 3000e6;
        uint256 atBlend = vault.quoteCollateral(address(weth), base);
        assertEq(atBlend, _amountAt(base, 3000e8, PAIR_BPS, 1e20));
        address buyer = makeAddr("buyer");
        usdc.mint(buyer, base * 1000);
        vm.prank(buyer);
        usdc.approve(address(vault), type(uint256).max);
        uint256 succeeded;
        for (uint256 g = 40_000; g < 400_000; g += 1000) {
            uint256 snapshot = vm.snapshotState();
            vm.prank(buyer);
            (bool ok, bytes memory out) = address(vault).call{gas: g}(
                abi.encodeCall(vault.buyCollateral, (address(weth), 0, base, buyer))
            );
            if (ok) {
                ++succeeded;
                assertEq(abi.decode(out, (uint256)), atBlend, "at the blend at any gas");
            }
            vm.revertToState(snapshot);
        }
        assertGt(succeeded, 0);
    }

    /// @dev A sibling asset of the underlying whose feed is stale, with dust in reserves: the hedged WETH should
    ///      still sell at the pair discount (its share can only be larger without the sibling's value).
    function test_aStaleSiblingFeedDoesNotSellHedgedCollateralAtTheFullDiscount() public {
        weth.mint(address(vault), 10e18);
        _backstop(ETH_MARKET, DYDX, -10e18);
        assertEq(vault.quoteCollateral(address(weth), 3000e6), _amountAt(3000e6, 3000e8, PAIR_BPS, 1e20));
        cb.mint(address(vault), 1); // a dust donation of the sibling
        vm.warp(block.timestamp + STALENESS + 1);
        ethFeed.setAnswer(ETH_PRICE); // WETH's feed and the market's are fresh, cbETH's is not
        assertEq(vault.quoteCollateral(address(weth), 3000e6), _amountAt(3000e6, 3000e8, PAIR_BPS, 1e20));
        // The keeper's view still refuses: it cannot say how much of the short the sibling needs.
        vm.expectRevert();
        portfolio.reservesHedge(ETH);
    }

    /// @dev `buyCollateral` runs in the liquidation module on the vault's storage: the vault's guard holds there, so
    ///      a token's callback cannot buy again mid-purchase.
    function test_theStoreFrontCannotBeReentered() public {
        ReenteringToken hook = new ReenteringToken(vault);
        vm.prank(admin);
        vault.listAsset(
            address(hook), AssetParams(address(ethFeed), STALENESS, 2000, 1500, 500, 1_000_000e18)
        );
        hook.mint(address(vault), 10e18);
        usdc.mint(address(this), 2e6);
        usdc.approve(address(vault), 2e6);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vault.buyCollateral(address(hook), 0, 1e6, address(this));
    }

    /// @dev A sibling token of the underlying whose `balanceOf` goes bad (it reverts, answers with no data or more
    ///      than anything the vault books, or burns its gas) counts for nothing in the store front's shares, as the
    ///      liquidation's write-off does: the hedged WETH still sells at the pair discount.
    function test_aBrokenSiblingTokenDoesNotSellHedgedCollateralAtTheFullDiscount() public {
        BrokenToken broken = new BrokenToken();
        vm.startPrank(admin);
        vault.listAsset(
            address(broken), AssetParams(address(ethFeed), STALENESS, 2000, 1500, 500, 1_000_000e18)
        );
        portfolio.mapAsset(address(broken), ETH);
        vm.stopPrank();
        broken.mint(address(vault), 1e18);
        weth.mint(address(vault), 10e18);
        _backstop(ETH_MARKET, DYDX, -11e18);
        uint256 atPair = _amountAt(3000e6, 3000e8, PAIR_BPS, 1e20);
        for (uint256 m = uint256(BrokenToken.Mode.Reverts); m <= uint256(BrokenToken.Mode.BurnsGas); ++m) {
            broken.setMode(BrokenToken.Mode(m));
            assertEq(vault.quoteCollateral(address(weth), 3000e6), atPair, "at the pair discount");
        }
    }
}
