// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {VaultFixture} from "./utils/VaultFixture.sol";
import {PrimeVault} from "../../contracts/PrimeVault.sol";
import {MockERC20} from "../../contracts/devnet/mocks/MockERC20.sol";
import {IPrimeVault, PAUSE_WITHDRAW, PAUSE_DEPOSIT} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {AssetParams} from "../../contracts/interfaces/IPrimeVaultGovernance.sol";

contract GovernanceTest is VaultFixture {
    function setUp() public override {
        super.setUp();
        vm.prank(admin);
        vault.setHaircutBounds(address(weth), 1000, 5000, 500, 1 hours);
    }

    function test_riskManagerMovesHaircutsWithinBounds() public {
        vm.prank(riskManager);
        vault.updateHaircuts(address(weth), 2500, 1800);
        IPrimeVault.AssetConfig memory c = vault.assetConfig(address(weth));
        assertEq(c.initialHaircutBps, 2500);
        assertEq(c.maintenanceHaircutBps, 1800);
    }

    function test_haircutOutsideBoundsIsRefused() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.HaircutOutOfBounds.selector, address(weth), 900, 1000, 5000
            )
        );
        vm.prank(riskManager);
        vault.updateHaircuts(address(weth), 2000, 900);
    }

    function test_haircutStepIsLimited() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.HaircutStepTooLarge.selector, address(weth), 2000, 2600, 500
            )
        );
        vm.prank(riskManager);
        vault.updateHaircuts(address(weth), 2600, 1500);
    }

    function test_haircutUpdatesAreRateLimited() public {
        vm.prank(riskManager);
        vault.updateHaircuts(address(weth), 2400, 1700);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.HaircutUpdateTooSoon.selector, address(weth), block.timestamp + 1 hours
            )
        );
        vm.prank(riskManager);
        vault.updateHaircuts(address(weth), 2000, 1500);
        vm.warp(block.timestamp + 1 hours);
        vm.prank(riskManager);
        vault.updateHaircuts(address(weth), 2000, 1500);
    }

    function test_aCompromisedKeeperCannotZeroHaircuts() public {
        // Even walking down one step at a time stops at the admin's floor.
        for (uint256 i; i < 2; ++i) {
            vm.warp(block.timestamp + 1 hours);
            IPrimeVault.AssetConfig memory c = vault.assetConfig(address(weth));
            uint16 next = c.maintenanceHaircutBps > 1500 ? c.maintenanceHaircutBps - 500 : 1000;
            vm.prank(riskManager);
            vault.updateHaircuts(address(weth), c.initialHaircutBps - 500, next);
        }
        vm.warp(block.timestamp + 1 hours);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.HaircutOutOfBounds.selector, address(weth), 500, 1000, 5000
            )
        );
        vm.prank(riskManager);
        vault.updateHaircuts(address(weth), 1000, 500);
    }

    function test_onlyAdminMovesBounds() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                riskManager,
                vault.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(riskManager);
        vault.setHaircutBounds(address(weth), 0, 9000, 9000, 0);
    }

    function test_onlyRiskManagerUpdatesHaircuts() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, vault.RISK_MANAGER_ROLE()
            )
        );
        vm.prank(alice);
        vault.updateHaircuts(address(weth), 2000, 1500);
    }

    /// @dev A token or feed address with no code (a typo, a contract on another chain) would make `decimals()`
    ///      revert without a reason: the listing names it instead.
    function test_listingATokenOrFeedWithoutCodeIsRefusedByName() public {
        address nothing = makeAddr("nothing");
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAContract.selector, nothing));
        vault.listAsset(nothing, AssetParams(address(ethFeed), STALENESS, 2000, 1500, 500, 1e24));
        MockERC20 sol = new MockERC20("Wrapped SOL", "WSOL", 9);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAContract.selector, nothing));
        vault.listAsset(address(sol), AssetParams(nothing, STALENESS, 2000, 1500, 500, 1e24));
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAContract.selector, nothing));
        vault.configureAsset(address(weth), AssetParams(nothing, STALENESS, 2000, 1500, 500, 1e24));
        vm.stopPrank();
    }

    function test_invalidRiskParametersAreRefused() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InvalidRiskParameters.selector, 1000, 1500, 500)
        );
        vm.prank(admin);
        vault.configureAsset(address(weth), AssetParams(address(ethFeed), STALENESS, 1000, 1500, 500, 1e24));
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InvalidRiskParameters.selector, 2000, 1500, 1600)
        );
        vm.prank(admin);
        vault.configureAsset(address(weth), AssetParams(address(ethFeed), STALENESS, 2000, 1500, 1600, 1e24));
    }

    function test_pauseStopsRiskIncreasingActionsOnly() public {
        _openBorrower(alice, 2400e6);
        vm.prank(guardian);
        vault.setPaused(PAUSE_WITHDRAW | PAUSE_DEPOSIT);

        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.Paused.selector, PAUSE_WITHDRAW));
        _borrow(alice, alice, 100e6);
        _fund(bob, weth, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.Paused.selector, PAUSE_DEPOSIT));
        vm.prank(bob);
        vault.deposit(bob, address(weth), 1e18);

        // Repaying and liquidating keep working.
        _fund(alice, usdc, 100e6);
        vm.prank(alice);
        vault.repay(alice, 100e6);
        assertEq(vault.baseBalanceOf(alice), -2300e6);
        _setEthPrice(2500e8);
        address[] memory l = new address[](1);
        l[0] = alice;
        assertEq(vault.liquidate(l), 1);
    }

    function test_onlyGuardianOrAdminPauses() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, alice, address(vault), 0)
        );
        vm.prank(alice);
        vault.setPaused(PAUSE_WITHDRAW);
    }

    function test_reservesWithdrawalCannotExceedReserves() public {
        usdc.mint(address(vault), 500e6);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.InsufficientReserves.selector, address(usdc), 500e6, 501e6
            )
        );
        vm.prank(admin);
        vault.withdrawReserves(admin, 501e6);
        // Any larger amount is the same error (2^255 used to fail a SafeCast).
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.InsufficientReserves.selector, address(usdc), 500e6, type(uint256).max
            )
        );
        vm.prank(admin);
        vault.withdrawReserves(admin, type(uint256).max);
        vm.prank(admin);
        vault.withdrawReserves(admin, 500e6);
        assertEq(usdc.balanceOf(admin), 500e6);
    }

    function test_rateModelIsValidated() public {
        vm.expectRevert(IPrimeVaultErrors.InvalidRateModel.selector);
        vm.prank(admin);
        vault.setRateModel(0, 0, 0, 1.1e18, 0);
    }

    /// @dev A rate above MAX_RATE_PER_YEAR is refused: 10^26 a year used to be accepted and grow the borrow index
    ///      past 64 bits within a day, after which every accrual -- a new rate model's included -- failed a SafeCast
    ///      and the vault was stuck; a rate past 64 bits a second failed that SafeCast at once.
    function test_aRateThatWouldOverflowTheIndexesIsRefused() public {
        uint256[3] memory rates = [uint256(10e18 + 1), 1e26, type(uint256).max];
        for (uint256 i; i < rates.length; ++i) {
            vm.startPrank(admin);
            vm.expectRevert(IPrimeVaultErrors.InvalidRateModel.selector);
            vault.setRateModel(rates[i], 0, 0, 0.8e18, 0.1e18);
            vm.expectRevert(IPrimeVaultErrors.InvalidRateModel.selector);
            vault.setRateModel(0, rates[i], 0, 0.8e18, 0.1e18);
            vm.expectRevert(IPrimeVaultErrors.InvalidRateModel.selector);
            vault.setRateModel(0, 0, rates[i], 0.8e18, 0.1e18);
            vm.stopPrank();
        }
        // The bound itself is a model, and a day of it leaves the vault working.
        _openBorrower(alice, 1000e6);
        vm.prank(admin);
        vault.setRateModel(10e18, 10e18, 10e18, 0.8e18, 0.1e18);
        vm.warp(block.timestamp + 1 days);
        vault.accrue();
        vm.prank(admin);
        vault.setRateModel(0.01e18, 0.05e18, 3e18, 0.8e18, 0.1e18);
    }

    /// @dev Finding (low): an 18-decimal base asset could not be deployed (the minimum borrow overflowed).
    ///      It now deploys, lends and borrows; a token whose decimals and feed's cannot express values in
    ///      base units is refused by name instead of by an arithmetic panic.
    function test_anEighteenDecimalBaseAssetWorks() public {
        MockERC20 dai = new MockERC20("Dai", "DAI", 18);
        PrimeVault daiVault = new PrimeVault(address(dai), admin);
        assertEq(daiVault.minBorrow(), 100e18);
        vm.startPrank(admin);
        daiVault.listAsset(
            address(weth), AssetParams(address(ethFeed), STALENESS, 2000, 1500, 500, 1_000_000e18)
        );
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.UnsupportedDecimals.selector, address(wbtc), 8)
        );
        daiVault.listAsset(address(wbtc), AssetParams(address(btcFeed), STALENESS, 2000, 1500, 600, 10_000e8));
        vm.stopPrank();

        dai.mint(lender, 10_000e18);
        weth.mint(alice, 1e18);
        vm.prank(lender);
        dai.approve(address(daiVault), type(uint256).max);
        vm.prank(lender);
        daiVault.deposit(lender, address(dai), 10_000e18);
        vm.startPrank(alice);
        weth.approve(address(daiVault), type(uint256).max);
        daiVault.deposit(alice, address(weth), 1e18);
        daiVault.withdraw(alice, address(dai), 2400e18, alice); // 3,000 x 80%
        vm.stopPrank();
        assertEq(dai.balanceOf(alice), 2400e18);
        assertEq(daiVault.accountHealth(alice).collateralValue, 3000e18);
    }

    function test_lendingParamsAreReadableAndBounded() public {
        (uint256 liquidatorShare, uint256 storeFrontShare) = vault.lendingParams();
        assertEq(liquidatorShare, 1000);
        assertEq(storeFrontShare, 5000);
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.InvalidShare.selector, 15_001));
        vault.setLendingParams(100e6, 10_001, 5000);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.InvalidShare.selector, 21_000));
        vault.setLendingParams(100e6, 1000, 20_000);
        // Each within 100% but more together: the discount floor pays both out of the penalty, so the caller's
        // reward would have come out of reserves (100% store front and 50% reward: half the penalty).
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.InvalidShare.selector, 15_000));
        vault.setLendingParams(100e6, 5000, 10_000);
        vault.setLendingParams(50e6, 6000, 4000);
        vault.setLendingParams(50e6, 2000, 4000);
        vm.stopPrank();
        (liquidatorShare, storeFrontShare) = vault.lendingParams();
        assertEq(liquidatorShare, 2000);
        assertEq(storeFrontShare, 4000);
        assertEq(vault.minBorrow(), 50e6);
    }

    /// @dev Once, and only to a contract: an address without code could never be replaced, and every health
    ///      check would call it and revert without a reason.
    function test_tradingModuleIsSetOnceToAContract() public {
        address module = address(new MockERC20("any contract", "C", 18));
        vm.startPrank(admin);
        vm.expectRevert(IPrimeVaultErrors.ZeroAddress.selector);
        vault.setTradingModule(address(0));
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAContract.selector, address(0xBEEF)));
        vault.setTradingModule(address(0xBEEF));
        vault.setTradingModule(module);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.TradingModuleAlreadySet.selector, module));
        vault.setTradingModule(address(0xCAFE));
        vm.stopPrank();
    }

    function test_zeroStalenessIsRefused() public {
        vm.expectRevert(IPrimeVaultErrors.InvalidStaleness.selector);
        vm.prank(admin);
        vault.configureAsset(address(weth), AssetParams(address(ethFeed), 0, 2000, 1500, 500, 1_000_000e18));
    }

    /// @dev The module runs only inside the vault: called directly it would act on its own empty storage.
    function test_liquidationModuleCannotBeCalledDirectly() public {
        PrimeVault module = PrimeVault(vault.liquidationModule());
        vm.expectRevert(IPrimeVaultErrors.LiquidationModuleDirectCall.selector);
        module.liquidate(new address[](0));
        vm.expectRevert(IPrimeVaultErrors.LiquidationModuleDirectCall.selector);
        module.buyCollateral(address(weth), 0, 1e6, address(this));
    }
}
