// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioFixture} from "./utils/PortfolioFixture.sol";
import {PrimeVaultLens} from "../../contracts/periphery/PrimeVaultLens.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";
import {ITradingModule} from "../../contracts/interfaces/ITradingModule.sol";
import {InterestLib} from "../../contracts/libraries/InterestLib.sol";
import {GasBurner} from "./utils/mocks/GasBurner.sol";

/// @notice The lens's one-call reads for a keeper that follows events: `riskState` equals what the vault's and
///         the trading module's own views say, and `follow`'s page is `accounts`' encoding, touched rows first.
contract LensFollowTest is PortfolioFixture {
    PrimeVaultLens internal lens;

    function setUp() public override {
        super.setUp();
        lens = new PrimeVaultLens();
        _deposit(alice, alice, weth, 10e18);
        _openBorrower(bob, 1000e6);
        _executeOn(_submit(alice, alice, ETH_MARKET, 1e18, 3100e18), DYDX, 1e18);
        _portfolioMode(alice, true);
        vm.warp(block.timestamp + 1 days);
        _setEthPrice(ETH_PRICE);
        btcFeed.setAnswer(BTC_PRICE);
    }

    function test_riskStateEqualsTheViews() public view {
        PrimeVaultLens.RiskState memory s = lens.riskState(vault);
        assertEq(s.blockNumber, block.number);
        assertEq(s.timestamp, block.timestamp);
        IPrimeVault.MarketState memory market = vault.marketState();
        assertEq(s.supplyIndex, market.supplyIndex, "accrued supply index");
        assertEq(s.borrowIndex, market.borrowIndex, "accrued borrow index");
        assertGt(s.borrowIndex, InterestLib.INDEX_SCALE, "a day of interest on bob's debt");
        (uint256[] memory prices,) = lens.prices(vault);
        address[] memory assets = vault.collateralAssets();
        for (uint256 i; i < assets.length; ++i) {
            IPrimeVault.AssetConfig memory c = vault.assetConfig(assets[i]);
            assertEq(s.prices[i], prices[i]);
            assertTrue(s.usable[i]);
            assertEq(s.scaleExponents[i], c.scaleExponent);
            assertEq(s.initialHaircutBps[i], c.initialHaircutBps);
            assertEq(s.maintenanceHaircutBps[i], c.maintenanceHaircutBps);
        }
        assertEq(s.marks.length, 2);
        assertEq(s.marks[BTC_MARKET], uint256(BTC_PRICE) * 1e10, "WAD from an 8-decimal feed");
        assertEq(s.marks[ETH_MARKET], uint256(ETH_PRICE) * 1e10);
        assertEq(s.perpInitialBps[ETH_MARKET], 1000);
        assertEq(s.perpMaintenanceBps[ETH_MARKET], 500);
        int256[] memory funding = trading.fundingIndexes();
        assertEq(s.fundingIndexes.length, 2 * lens.VENUE_SLOTS());
        for (uint256 slot; slot < s.fundingIndexes.length; ++slot) {
            assertEq(s.fundingIndexes[slot], funding[slot], "slot by slot as the module numbers them");
        }
    }

    /// A node may run a view with one block's environment over the next block's state (anvil does at "latest"
    /// while it mines): the reads see interest and funding as stored instead of underflowing.
    function test_readsStateNewerThanTheBlockItRunsIn() public {
        uint256 priced = block.timestamp;
        vm.warp(priced + 1);
        vault.accrue();
        _executeOn(_submit(alice, alice, ETH_MARKET, 1e17, 3100e18), DYDX, 1e17);
        IPrimeVault.MarketState memory stored = vault.marketState();
        vm.warp(priced); // the prices' own block: a feed dated ahead of the chain reads as stale, by design
        (PrimeVaultLens.RiskState memory s,) = lens.follow(vault, new address[](0), 0, 5);
        assertEq(s.borrowIndex, stored.borrowIndex, "no interest for a negative time");
        assertEq(s.supplyIndex, stored.supplyIndex);
        assertEq(vault.marketState().reserves, stored.reserves, "venue funding as stored too");
        assertTrue(s.marksUsable[ETH_MARKET]);
    }

    function test_aBadMarketIsFlaggedTheRestRead() public {
        btcFeed.setAnswer(0);
        PrimeVaultLens.RiskState memory s = lens.riskState(vault);
        assertFalse(s.marksUsable[BTC_MARKET]);
        assertEq(s.marks[BTC_MARKET], 0);
        assertTrue(s.marksUsable[ETH_MARKET], "the other market still reads");
        assertEq(s.marks[ETH_MARKET], uint256(ETH_PRICE) * 1e10);
        assertFalse(s.usable[1], "the collateral on the same feed too");
    }

    /// A venue adapter that burns all the gas it is given reads as unreadable, and the rest of the state still fits
    /// a 30,000,000-gas call: without a bound, its first market took 63/64 of the call's gas and its second the rest.
    function test_aVenueThatBurnsItsGasIsFlaggedTheRestRead() public {
        vm.etch(address(dydxAdapter), address(new GasBurner()).code);
        PrimeVaultLens.RiskState memory s = lens.riskState{gas: 30_000_000}(vault);
        uint256 slots = lens.VENUE_SLOTS();
        for (uint256 m; m < s.marks.length; ++m) {
            assertEq(s.fundingIndexes[m * slots + DYDX], lens.FUNDING_UNREADABLE());
            assertEq(
                s.fundingIndexes[m * slots + RABBIT], rabbitAdapter.fundingIndex(uint8(m)), "the other venue"
            );
            assertTrue(s.marksUsable[m], "the market still reads at the vault's mark");
        }
    }

    function test_followPagesTouchedAccountsThenListedOnes() public {
        address stranger = makeAddr("stranger");
        address[] memory touched = new address[](2);
        (touched[0], touched[1]) = (bob, stranger);
        (, bytes memory encoded) = lens.follow(vault, touched, 1, 5);
        (PrimeVaultLens.AccountSnapshot[] memory rows, uint256 total) =
            abi.decode(encoded, (PrimeVaultLens.AccountSnapshot[], uint256));
        (PrimeVaultLens.AccountSnapshot[] memory listed, uint256 listedTotal) = lens.accounts(vault, 1, 5);
        assertEq(total, listedTotal);
        assertEq(rows.length, 2 + listed.length);
        assertEq(rows[0].account, bob);
        assertEq(rows[0].baseBalance, vault.baseBalanceOf(bob));
        assertLt(rows[0].baseBalance, -1000e6, "debt with a day's interest");
        assertFalse(rows[0].portfolio, "bob keeps the standard rule");
        assertEq(rows[1].account, stranger);
        assertEq(rows[1].baseBalance, 0, "never listed: empty");
        assertEq(rows[1].positions.length, 0);
        for (uint256 k; k < listed.length; ++k) {
            assertEq(
                keccak256(abi.encode(rows[2 + k])), keccak256(abi.encode(listed[k])), "same rows as accounts"
            );
        }
        bool sawPosition;
        for (uint256 k; k < rows.length; ++k) {
            sawPosition = sawPosition || (rows[k].account == alice && rows[k].positions.length == 1);
            assertEq(rows[k].portfolio, vault.portfolioMode(rows[k].account), "portfolio mode");
        }
        assertTrue(sawPosition, "alice's ETH position");
    }

    function test_followWithoutListedAccountsStillCounts() public view {
        (, bytes memory encoded) = lens.follow(vault, new address[](0), 0, 0);
        (PrimeVaultLens.AccountSnapshot[] memory rows, uint256 total) =
            abi.decode(encoded, (PrimeVaultLens.AccountSnapshot[], uint256));
        assertEq(rows.length, 0);
        (, uint256 listedTotal) = lens.accounts(vault, 0, 1);
        assertEq(total, listedTotal);
    }

    function test_followBoundsItsPage() public {
        address[] memory touched = new address[](1);
        vm.expectRevert(abi.encodeWithSelector(PrimeVaultLens.InvalidPageSize.selector, 5001, 5000));
        lens.follow(vault, touched, 0, 5000);
        vm.expectRevert(
            abi.encodeWithSelector(PrimeVaultLens.InvalidPageSize.selector, type(uint256).max, 5000)
        );
        lens.follow(vault, touched, 0, type(uint256).max);
        (, bytes memory page) = lens.follow(vault, touched, type(uint256).max, 1);
        (PrimeVaultLens.AccountSnapshot[] memory rows,) =
            abi.decode(page, (PrimeVaultLens.AccountSnapshot[], uint256));
        assertEq(rows.length, 1, "the touched account alone: no listed account that far");
    }

    /// @dev The lens reads storage directly (`extSloads`): every field of every row equals the contracts' views,
    ///      for accounts with several assets, debt, supply and positions on both venues, in and out of portfolio mode.
    function test_everyFieldEqualsTheViews() public {
        _deposit(bob, bob, wbtc, 0.3e8);
        _executeSplit(_submit(bob, bob, BTC_MARKET, -0.2e18, 50_000e18), 0.1e18, 0.1e18);
        _executeOn(_submit(alice, alice, BTC_MARKET, 0.1e18, 70_000e18), RABBIT, 0.1e18);
        vm.warp(block.timestamp + 3 days);
        _setEthPrice(ETH_PRICE);
        btcFeed.setAnswer(BTC_PRICE);
        (PrimeVaultLens.AccountSnapshot[] memory rows,) = lens.accounts(vault, 0, 100);
        address[] memory assets = vault.collateralAssets();
        uint256 positions;
        uint256 portfolioAccounts;
        for (uint256 k; k < rows.length; ++k) {
            PrimeVaultLens.AccountSnapshot memory row = rows[k];
            assertEq(row.baseBalance, vault.baseBalanceOf(row.account), "base balance");
            for (uint256 i; i < assets.length; ++i) {
                assertEq(row.collateral[i], vault.collateralBalanceOf(row.account, assets[i]), "collateral");
            }
            (uint16 openSlots, ITradingModule.Position[] memory held) = trading.positionsOf(row.account);
            assertEq(row.openSlots, openSlots, "open slots");
            assertEq(keccak256(abi.encode(row.positions)), keccak256(abi.encode(held)), "positions");
            assertEq(row.portfolio, vault.portfolioMode(row.account), "portfolio mode");
            positions += held.length;
            if (row.portfolio) ++portfolioAccounts;
        }
        assertEq(positions, 4, "alice's ETH and BTC, bob's BTC short at two venues");
        assertEq(portfolioAccounts, 1, "alice");
        // The page is written word by word: it must be the canonical encoding, which strict decoders require.
        (bool ok, bytes memory raw) = address(lens).staticcall(abi.encodeCall(lens.accounts, (vault, 0, 100)));
        assertTrue(ok);
        assertEq(raw, abi.encode(rows, rows.length), "canonical ABI encoding");
    }
}
