// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Vm} from "forge-std/Vm.sol";

import {VaultFixture} from "./utils/VaultFixture.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";
import {AssetParams} from "../../contracts/interfaces/IPrimeVaultGovernance.sol";

contract LiquidationTest is VaultFixture {
    function _list(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function _liquidate(address[] memory l) internal returns (uint256) {
        vm.prank(keeper);
        return vault.liquidate(l);
    }

    function test_healthyAccountIsSkippedNotReverted() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2824e8); // equity 424 >= maintenance 423.6
        assertFalse(vault.isLiquidatable(alice));
        assertEq(_liquidate(_list(alice)), 0);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 1e18);
    }

    /// @dev docs/risk.md's worked example: only what restores maintenance + 5% is absorbed.
    function test_unhealthyAccountIsLiquidatedOnlyToTheTarget() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2700e8); // equity 300 < maintenance 405: 25.9% deep, so the full 5% discount
        assertTrue(vault.isLiquidatable(alice));

        // target 425.25, relief 2,700 x (15% x 1.05 - 5%) = 290.25: f = 125.25 / 290.25 = 0.43152...
        // One log for the account, its share of every asset; one for the batch's WETH into reserves.
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.Liquidated(alice, 1106860465, 0, 431524547803617572);
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.CollateralAbsorbed(address(weth), 431524547803617572);
        assertEq(_liquidate(_list(alice)), 1);

        assertEq(vault.collateralBalanceOf(alice, address(weth)), 1e18 - 431524547803617572, "keeps 57%");
        assertEq(vault.baseBalanceOf(alice), -1293139535);
        assertEq(vault.collateralReserves(address(weth)), 431524547803617572);
        assertEq(vault.baseBalanceOf(keeper), 5825581, "10% of the 58.26 penalty");
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertFalse(h.liquidatable);
        // Back at the target within rounding: equity 241.744185 vs 230.232558 x 1.05 = 241.744186.
        assertApproxEqAbs(h.equity, int256(h.maintenanceRequirement * 10_500 / 10_000), 2);
        assertEq(_liquidate(_list(alice)), 0, "a second call finds it healthy");
    }

    /// @dev Property: a maintenance haircut whose 1.05 times is not a whole bps (the haircut job sets any whole bps)
    ///      still brings the account back to its target, not past it: the relief counts 3.39% x 1.05 as 3.5595%.
    function testFuzz_aHaircutBetweenBpsStillLandsOnTheTarget(uint256 haircut, uint256 drop) public {
        uint16 maintenance = uint16(bound(haircut, 101, 1999));
        vm.prank(admin);
        vault.configureAsset(
            address(weth),
            AssetParams(
                address(ethFeed), STALENESS, maintenance + 1, maintenance, maintenance / 3, 1_000_000e18
            )
        );
        _deposit(alice, alice, weth, 10e18); // 30,000
        uint256 m = maintenance;
        uint256 debt = 30_000e6 * (10_000 - m - 1) / 10_000 - 1e6; // just within the initial requirement
        _borrow(alice, alice, debt);
        // The price (8 decimals) at which 10 WETH are worth debt / (1 - maintenance), then below it by up to a
        // fifth of the maintenance requirement: a partial liquidation.
        uint256 price = debt * 10 * 10_000 / (10_000 - m) + 1;
        _setEthPrice(int256(price - price * bound(drop, 1, 2000) * m / 1e8));
        vm.assume(vault.isLiquidatable(alice));
        _liquidate(_list(alice));
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertGt(vault.collateralBalanceOf(alice, address(weth)), 0, "a partial liquidation");
        assertApproxEqAbs(h.equity, int256(h.maintenanceRequirement * 10_500 / 10_000), 3, "on the target");
    }

    /// @dev The shortfall depth that sets the discount rounds up, as the discount is the protocol's: an account
    ///      4.0005% below maintenance is discounted 4.01%, not 4.00%.
    function test_theDepthRoundsUpInTheDiscount() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2803.7359e8); // equity 403.7359 below maintenance 420.560385
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        uint256 gap = h.maintenanceRequirement - uint256(h.equity);
        assertGt(gap * 10_000 % h.maintenanceRequirement, 0, "a depth between whole bps");
        uint256 depth = Math.ceilDiv(gap * 10_000, h.maintenanceRequirement);
        assertEq(depth, 401, "between the 3% floor and the 5% penalty");

        _liquidate(_list(alice));
        uint256 absorbed = 1e18 - vault.collateralBalanceOf(alice, address(weth));
        uint256 credit = uint256(vault.baseBalanceOf(alice) + 2400e6);
        assertEq(
            credit, absorbed * 2803.7359e8 / 1e20 * (10_000 - depth) / 10_000, "credited at a 4.01% discount"
        );
    }

    function test_shallowShortfallPaysTheFloorDiscount() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2823e8); // equity 423 < maintenance 423.45: 0.1% deep
        vm.recordLogs();
        _liquidate(_list(alice));
        // Discount: the 3% floor (store-front 2.5% + liquidator 0.5% of the 5% penalty), not the full 5%.
        uint256 absorbed = vault.collateralReserves(address(weth));
        uint256 value = absorbed * 2823e8 / 1e20;
        assertApproxEqAbs(uint256(vault.baseBalanceOf(alice) + 2400e6), value * 9700 / 10_000, 1);
        assertLt(absorbed, 0.07e18, "about 6% of the collateral: the 0.45 gap plus the 5% buffer");
    }

    function test_accountUnderWaterIsAbsorbedWhole() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2500e8); // equity 100 < maintenance 375: relief 2,500 x 10.75% = 268.75 < deficit
        _liquidate(_list(alice));
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 0);
        // 2,500 x 95% = 2,375 against 2,400: a 25 shortfall covered by reserves (none) and written off.
        assertEq(vault.baseBalanceOf(alice), 0);
    }

    /// @dev Finding (low): debt below minBorrow is never worth liquidating, so a partial liquidation that
    ///      would leave some absorbs everything instead.
    function test_partialLiquidationNeverLeavesDustDebt() public {
        _deposit(alice, alice, weth, 0.1e18); // 300
        _borrow(alice, alice, 240e6);
        _setEthPrice(2700e8); // 270 - 240 = 30 < 40.5: a partial would leave about 130 of debt
        _setLendingMinBorrow(200e6);
        _liquidate(_list(alice));
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 0, "absorbed whole");
        assertGe(vault.baseBalanceOf(alice), 0, "no debt left");
    }

    function _setLendingMinBorrow(uint256 amount) internal {
        vm.prank(admin);
        vault.setLendingParams(amount, 1000, 5000);
    }

    function test_batchSkipsHealthyAndDuplicateAccounts() public {
        _openBorrower(alice, 2400e6);
        _openBorrower(bob, 1000e6);
        _setEthPrice(2700e8);
        address[] memory l = new address[](3);
        (l[0], l[1], l[2]) = (alice, bob, alice);
        assertEq(_liquidate(l), 1);
        assertEq(vault.collateralBalanceOf(bob, address(weth)), 1e18);
    }

    function test_competingKeeperLeavesNothingToFail() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2700e8);
        vm.prank(bob);
        vault.liquidate(_list(alice));
        assertEq(_liquidate(_list(alice)), 0);
    }

    function test_shortfallIsCoveredByReserves() public {
        _openBorrower(alice, 2400e6);
        usdc.mint(address(vault), 1000e6); // reserves
        _setEthPrice(2000e8);
        vm.recordLogs();
        _liquidate(_list(alice));
        assertEq(vault.baseBalanceOf(alice), 0);
        assertEq(vault.baseBalanceOf(lender), 1_000_000e6, "suppliers lose nothing");
        IPrimeVault.MarketState memory s = vault.marketState();
        assertEq(s.supplyIndex, 1e15);
    }

    function test_badDebtIsWrittenOffAgainstSuppliers() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2000e8);
        // Collateral sells at 2,000 x (1 - 2.5%) = 1,950 against 2,400 of debt and a 10 reward: 460 lost.
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.Liquidated(alice, 2400e6, 500e6, 1e18);
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.LiquidatorRewarded(keeper, 10e6);
        _liquidate(_list(alice));
        IPrimeVault.MarketState memory s = vault.marketState();
        assertLt(s.supplyIndex, 1e15);
        assertApproxEqAbs(vault.baseBalanceOf(lender), 1_000_000e6 - 460e6, 1e6);
        assertEq(vault.baseBalanceOf(alice), 0);
    }

    /// @dev A batch settles its shortfalls once, after every absorption in it: a partial liquidation that adds to
    ///      reserves counts toward an under-water account's shortfall wherever the two stand in the batch (when
    ///      each account valued reserves itself, the order decided how much suppliers lost).
    function test_aBatchSettlesItsShortfallsOnceWhateverTheOrder() public {
        _openBorrower(alice, 2400e6);
        _openBorrower(bob, 1750e6);
        _setEthPrice(2000e8); // alice under water; bob just below maintenance, partly absorbed at a 5% discount
        address[] memory order = new address[](2);
        (order[0], order[1]) = (alice, bob);
        uint256 snapshot = vm.snapshotState();
        vm.recordLogs();
        assertEq(_liquidate(order), 2);
        uint256 indexAliceFirst = vault.marketState().supplyIndex;
        (uint256 shortfall, uint256 badDebt) = _badDebtLogged();
        assertEq(shortfall, 500e6, "alice's shortfall, the batch's only one");
        assertLt(badDebt, 460e6, "bob's absorption covers part of it");
        assertGt(badDebt, 0);

        vm.revertToState(snapshot);
        (order[0], order[1]) = (bob, alice);
        assertEq(_liquidate(order), 2);
        assertEq(vault.marketState().supplyIndex, indexAliceFirst, "the same loss for suppliers either way");
    }

    function _badDebtLogged() internal returns (uint256 shortfall, uint256 amount) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 found;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] != IPrimeVaultEvents.BadDebt.selector) continue;
            assertEq(logs[i].topics[1], bytes32(uint256(uint160(keeper))), "the batch's caller");
            (shortfall, amount,) = abi.decode(logs[i].data, (uint256, uint256, uint256));
            ++found;
        }
        assertEq(found, 1, "one BadDebt event for the batch");
    }

    /// @dev A write-off values what the vault holds beyond its books; a token balance below what depositors are
    ///      booked to hold (a token that took some back) used to underflow that valuation and revert the batch.
    function test_aTokenShortfallDoesNotStopAWriteOff() public {
        _openBorrower(alice, 2400e6);
        _deposit(bob, bob, weth, 1e18);
        deal(address(weth), address(vault), 0.5e18); // 2 WETH booked, 0.5 held
        _setEthPrice(2000e8);
        assertEq(_liquidate(_list(alice)), 1, "liquidated, not reverted");
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 0, "absorbed whole");
        assertEq(vault.baseBalanceOf(alice), 0, "the rest written off");
        assertLt(
            vault.marketState().supplyIndex,
            1e15,
            "against suppliers: the missing WETH is not counted as reserves"
        );
    }

    function test_absorbedCollateralIsSoldAtADiscount() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2000e8); // under water: all of it is absorbed
        _liquidate(_list(alice));
        _setEthPrice(2700e8); // and the price recovers before the sale
        // Discount: half the 5% penalty.
        uint256 quote = vault.quoteCollateral(address(weth), 2632.5e6);
        assertEq(quote, 1e18);
        _fund(bob, usdc, 2632.5e6);
        vm.prank(bob);
        uint256 out = vault.buyCollateral(address(weth), 1e18, 2632.5e6, bob);
        assertEq(out, 1e18);
        assertEq(weth.balanceOf(bob), 1e18);
        assertEq(vault.collateralReserves(address(weth)), 0);
    }

    /// @dev A base amount past MAX_AMOUNT is refused by name by the quote and the purchase (the valuation's
    ///      mulDiv used to overflow: Panic 0x11).
    function test_aPurchaseTooLargeToValueIsRefusedByName() public {
        bytes memory tooLarge =
            abi.encodeWithSelector(IPrimeVaultErrors.AmountTooLarge.selector, 2 ** 255, type(uint96).max);
        vm.expectRevert(tooLarge);
        vault.quoteCollateral(address(weth), 2 ** 255);
        vm.expectRevert(tooLarge);
        vm.prank(bob);
        vault.buyCollateral(address(weth), 0, 2 ** 255, bob);
    }

    function test_buyingMoreThanReservesReverts() public {
        _fund(bob, usdc, 3000e6);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InsufficientReserves.selector, address(weth), 0, 1e18)
        );
        vm.prank(bob);
        vault.buyCollateral(address(weth), 0, 2925e6, bob);
    }

    function test_slippageProtectionOnPurchase() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2000e8);
        _liquidate(_list(alice));
        _setEthPrice(2700e8);
        _fund(bob, usdc, 2632.5e6);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.SlippageExceeded.selector, 1e18, 1e18 + 1));
        vm.prank(bob);
        vault.buyCollateral(address(weth), 1e18 + 1, 2632.5e6, bob);
    }

    function test_multiAssetAccountIsAbsorbedAcrossAssets() public {
        _deposit(alice, alice, weth, 1e18);
        _deposit(alice, alice, wbtc, 0.1e8);
        _borrow(alice, alice, 7200e6); // (3,000 + 6,000) x 80%
        _setEthPrice(1500e8);
        // 1,500 x 95% + 6,000 x 94% = 7,065 credited against 7,200: a 135 shortfall.
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.Liquidated(alice, 7200e6, 135e6, 1e18);
        assertEq(_liquidate(_list(alice)), 1);
        assertEq(vault.collateralReserves(address(weth)), 1e18);
        assertEq(vault.collateralReserves(address(wbtc)), 0.1e8);
        assertEq(vault.baseBalanceOf(alice), 0);
    }

    function testFuzz_onlyUnhealthyAccountsAreLiquidated(uint256 price, uint256 debt) public {
        debt = bound(debt, 100e6, 2400e6);
        _openBorrower(alice, debt);
        int256 p = int256(bound(price, 1e8, 6000e8));
        _setEthPrice(p);
        bool due = vault.isLiquidatable(alice);
        uint256 count = _liquidate(_list(alice));
        assertEq(count, due ? 1 : 0);
        // Exact threshold check: equity < 15% of value.
        uint256 value = uint256(p) * 1e18 / 1e20;
        bool expected = int256(value) - int256(debt) < int256((value * 1500 + 9999) / 10_000);
        assertEq(due, expected);
    }

    /// @dev Property: a liquidation leaves the account healthy or with nothing left to absorb, and never
    ///      widens its gap below maintenance (in base units).
    function testFuzz_liquidationRestoresHealthAndNeverWidensTheGap(uint256 price, uint256 debt, uint256 btc)
        public
    {
        debt = bound(debt, 100e6, 2400e6);
        _openBorrower(alice, debt);
        btc = bound(btc, 0, 0.05e8);
        if (btc > 0) _deposit(alice, alice, wbtc, btc);
        _setEthPrice(int256(bound(price, 500e8, 3000e8)));
        IPrimeVault.AccountHealth memory before = vault.accountHealth(alice);
        _liquidate(_list(alice));
        IPrimeVault.AccountHealth memory afterwards = vault.accountHealth(alice);
        assertFalse(afterwards.liquidatable, "healthy, or nothing left");
        int256 gapBefore = int256(before.maintenanceRequirement) - before.equity;
        int256 gapAfter = int256(afterwards.maintenanceRequirement) - afterwards.equity;
        if (before.liquidatable) assertLt(gapAfter, gapBefore);
        else assertEq(gapAfter, gapBefore);
    }

    /// @dev Property: the account's one log says what it lost: each asset's amount taken is
    ///      `ceil(balance x collateralShare / 1e18)` of the balance before, and the batch's `CollateralAbsorbed`
    ///      logs are the totals that went to reserves.
    function testFuzz_theLoggedShareGivesEachAssetsAmount(uint256 price, uint256 debt, uint256 btc) public {
        _openBorrower(alice, bound(debt, 100e6, 2400e6));
        btc = bound(btc, 1, 0.05e8);
        _deposit(alice, alice, wbtc, btc);
        _setEthPrice(int256(bound(price, 500e8, 3000e8)));
        uint256[2] memory before = [vault.collateralBalanceOf(alice, address(weth)), btc];
        vm.recordLogs();
        _liquidate(_list(alice));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 share = 0;
        uint256[2] memory logged;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == IPrimeVaultEvents.Liquidated.selector) {
                (,, share) = abi.decode(logs[i].data, (uint256, uint256, uint256));
            } else if (logs[i].topics[0] == IPrimeVaultEvents.CollateralAbsorbed.selector) {
                uint256 k = address(uint160(uint256(logs[i].topics[1]))) == address(weth) ? 0 : 1;
                logged[k] = abi.decode(logs[i].data, (uint256));
            }
        }
        address[2] memory assets = [address(weth), address(wbtc)];
        for (uint256 k; k < 2; ++k) {
            uint256 taken = before[k] - vault.collateralBalanceOf(alice, assets[k]);
            assertEq(
                taken, Math.mulDiv(before[k], share, 1e18, Math.Rounding.Ceil), "the share gives the amount"
            );
            assertEq(logged[k], taken, "the batch's total is this account's");
            assertEq(vault.collateralReserves(assets[k]), taken);
        }
    }

    /// @dev Property: splitting a batch into single liquidations takes the same collateral and leaves the same
    ///      debts, beyond 1 wei of rounding per step; pays the caller no more; and costs suppliers (the lender, the
    ///      caller, an account left with a positive balance) no less, since a batch settles its shortfalls once,
    ///      after every absorption in it has added to reserves. An account a
    ///      liquidation leaves with a positive balance is a supplier from then on and shares a later write-off,
    ///      so its balance may differ by at most the supply index's fall. A second call right after is a no-op.
    function testFuzz_splittingNeverPaysOrCostsMore(uint256 price, uint256 debtA, uint256 debtB) public {
        _openBorrower(alice, bound(debtA, 100e6, 2400e6));
        _openBorrower(bob, bound(debtB, 100e6, 2400e6));
        _setEthPrice(int256(bound(price, 1500e8, 3000e8)));
        address[] memory both = new address[](2);
        (both[0], both[1]) = (alice, bob);
        uint256 indexBefore = vault.marketState().supplyIndex;

        uint256 snapshot = vm.snapshotState();
        _liquidate(both);
        int256[2] memory batched = [vault.baseBalanceOf(alice), vault.baseBalanceOf(bob)];
        uint256[2] memory batchedWeth =
            [vault.collateralBalanceOf(alice, address(weth)), vault.collateralBalanceOf(bob, address(weth))];
        int256 batchedReward = vault.baseBalanceOf(keeper);
        int256 batchedSuppliers = _suppliersHold();
        uint256 lowestIndex = vault.marketState().supplyIndex;
        assertEq(_liquidate(both), 0, "a second call is a no-op");
        assertEq(vault.baseBalanceOf(keeper), batchedReward);

        vm.revertToState(snapshot);
        _liquidate(_list(alice));
        _liquidate(_list(bob));
        lowestIndex = Math.min(lowestIndex, vault.marketState().supplyIndex);
        int256[2] memory split = [vault.baseBalanceOf(alice), vault.baseBalanceOf(bob)];
        for (uint256 k; k < 2; ++k) {
            if (split[k] <= 0) {
                assertApproxEqAbs(split[k], batched[k], 1, "the same debt left");
            } else {
                uint256 indexFall = uint256(split[k]) * (indexBefore - lowestIndex) / indexBefore;
                assertApproxEqAbs(
                    split[k], batched[k], indexFall + 2, "a supplier after: at most the write-off"
                );
            }
        }
        assertEq(vault.collateralBalanceOf(alice, address(weth)), batchedWeth[0]);
        assertEq(vault.collateralBalanceOf(bob, address(weth)), batchedWeth[1]);
        assertLe(vault.baseBalanceOf(keeper), batchedReward + 2, "split steps pay no more");
        assertLe(_suppliersHold(), batchedSuppliers + 3, "a batch costs suppliers no more than its steps");
    }

    /// @dev What base suppliers hold in the splitting property's setup: the lender, the caller and a borrower
    ///      a liquidation left with a positive balance.
    function _suppliersHold() internal view returns (int256) {
        int256 a = vault.baseBalanceOf(alice);
        int256 b = vault.baseBalanceOf(bob);
        return vault.baseBalanceOf(lender) + vault.baseBalanceOf(keeper) + (a > 0 ? a : int256(0))
            + (b > 0 ? b : int256(0));
    }
}
