// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "../utils/VaultFixture.sol";
import {VaultHandler} from "./VaultHandler.sol";
import {PortfolioMargin} from "../../../contracts/PortfolioMargin.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";

contract VaultInvariantsTest is VaultFixture {
    VaultHandler internal handler;

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
        handler = new VaultHandler(vault, usdc, [weth, wbtc], [ethFeed, btcFeed]);
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

    function invariant_usersOnlySeeReadableReverts() public view {
        assertEq(handler.unexpectedReverts(), 0);
    }
}
