// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "../utils/VaultFixture.sol";
import {VaultHandler} from "./VaultHandler.sol";
import {PortfolioMargin} from "../../../contracts/PortfolioMargin.sol";
import {PrimeVaultLender} from "../../../contracts/periphery/PrimeVaultLender.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";

contract VaultInvariantsTest is VaultFixture {
    VaultHandler internal handler;
    PrimeVaultLender internal lenderVault;

    function setUp() public override {
        super.setUp();
        // The portfolio rule at the keeper's defaults, for a vault without perps: the accounts switch rules as
        // they go (`switchMargin`), so every property holds in both modes.
        PortfolioMargin portfolio = new PortfolioMargin(vault, ITradingModule(address(0)), admin);
        vm.startPrank(admin);
        portfolio.setUnderlying(
            0, "ETH", IPortfolioMargin.UnderlyingParams(1000, 500, 3000, 250, 3000, 3500, 200, 100, 125, 0)
        );
        portfolio.setUnderlying(
            1, "BTC", IPortfolioMargin.UnderlyingParams(800, 400, 2500, 200, 2000, 3500, 200, 100, 125, 0)
        );
        portfolio.mapAsset(address(weth), 0);
        portfolio.mapAsset(address(wbtc), 1);
        vault.setPortfolioMargin(address(portfolio));
        vm.stopPrank();
        lenderVault = new PrimeVaultLender(vault, "PrimeVault USDC lender", "pvUSDC");
        handler = new VaultHandler(vault, usdc, [weth, wbtc], [ethFeed, btcFeed], lenderVault, admin);
        ethFeed.transferOwnership(address(handler));
        btcFeed.transferOwnership(address(handler));
        targetContract(address(handler));
    }

    /// @dev Every collateral token: the vault holds at least what accounts hold of it.
    function invariant_collateralIsFullyBacked() public view {
        MockERC20[2] memory tokens = [weth, wbtc];
        for (uint256 i; i < 2; ++i) {
            (uint256 totalSupplied,) = vault.assetTotals(address(tokens[i]));
            uint256 sum;
            for (uint256 k; k < handler.accountCount(); ++k) {
                sum += vault.collateralBalanceOf(handler.accounts(k), address(tokens[i]));
            }
            assertEq(totalSupplied, sum, "totals match the accounts");
            assertGe(tokens[i].balanceOf(address(vault)), totalSupplied, "tokens back the balances");
        }
    }

    /// @dev Base: what the vault holds plus what borrowers owe covers what it owes suppliers (absorbed
    ///      collateral is sold straight away by the handler).
    function invariant_baseIsSolvent() public view {
        IPrimeVault.MarketState memory s = vault.marketState();
        assertGe(usdc.balanceOf(address(vault)) + s.totalBorrow + 1, s.totalSupply, "base solvency");
    }

    function invariant_noUserActionLeavesAnAccountBelowInitial() public view {
        assertEq(handler.unhealthyAfterUserAction(), 0);
    }

    /// @dev No action of one account changes another account's health (Aave v3's postcondition); price moves,
    ///      interest and bad-debt write-offs are the protocol-wide changes, and are not user actions.
    function invariant_noActionChangesAnotherAccountsHealth() public view {
        assertEq(handler.othersHealthChanged(), 0);
    }

    function invariant_healthyAccountsAreNeverLiquidated() public view {
        assertEq(handler.healthyLiquidated(), 0);
    }

    function invariant_indicesOnlyFallThroughRecordedBadDebt() public view {
        assertEq(handler.indexDecreasedWithoutBadDebt(), 0);
    }

    /// @dev The handler's new actions do what they say: a lender's base is borrowed, earns, is redeemed in part;
    ///      an operator without the permission is refused and with it acts; the admin takes the reserves interest
    ///      built.
    function test_handlerLendsOperatesAndTakesReserves() public {
        handler.lend(0, 100_000e6);
        uint256 shares = lenderVault.balanceOf(address(0x1E4D0));
        assertGt(shares, 0);
        handler.deposit(0, 0, 50e18); // WETH
        handler.borrowOrWithdrawBase(0, 60_000e6);
        assertLt(vault.baseBalanceOf(handler.accounts(0)), 0, "borrowed");
        handler.warp(30 days);
        handler.redeemLent(0, 5000);
        assertEq(lenderVault.balanceOf(address(0x1E4D0)), shares - shares / 2, "half redeemed");
        uint256 held = vault.collateralBalanceOf(handler.accounts(0), address(weth));
        handler.operatorActs(0, 2, true, 2); // transfer-only operator tries to withdraw: refused
        assertEq(vault.collateralBalanceOf(handler.accounts(0), address(weth)), held);
        handler.operatorActs(0, 1, true, 2); // a withdraw operator withdraws
        assertLt(vault.collateralBalanceOf(handler.accounts(0), address(weth)), held);
        uint256 adminCash = usdc.balanceOf(admin);
        handler.withdrawReserves(10_000);
        assertGt(usdc.balanceOf(admin), adminCash, "reserves taken");
        invariant_baseIsSolvent();
        invariant_operatorsLendersAndReserveWithdrawalsKeepTheirBounds();
    }

    /// @dev The periphery of the book, in one campaign (each invariant function is its own at CI depth, and the
    ///      suite must stay within CI's time): operators act within the permissions their owner gave them; the
    ///      lender's share price only falls through a recorded bad debt, a redeem pays its preview and the lender
    ///      holds what its shares are worth; reserves the admin withdraws never leave suppliers uncovered. A quarter
    ///      of CI's runs: the other campaigns drive the same actions, and the suite was at CI's limit before it.
    /// forge-config: ci.invariant.runs = 250
    function invariant_operatorsLendersAndReserveWithdrawalsKeepTheirBounds() public view {
        assertEq(handler.operatorOverreach(), 0, "operator beyond its permissions");
        assertEq(handler.lenderShortchanged(), 0, "lender shortchanged");
        assertGe(
            lenderVault.totalAssets() + 1, lenderVault.convertToAssets(lenderVault.totalSupply()), "shares"
        );
        assertEq(handler.reservesOverdrawn(), 0, "reserves overdrawn");
    }

    function invariant_usersOnlySeeReadableReverts() public view {
        assertEq(handler.unexpectedReverts(), 0);
    }
}
