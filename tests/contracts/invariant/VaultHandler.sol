// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";

import {PrimeVault} from "../../../contracts/PrimeVault.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";

/// @dev Drives the vault with bounded random actions from a few owners and their sub-accounts, and records
///      any breach of a per-action property in ghost variables the invariant test asserts on.
contract VaultHandler is Test {
    PrimeVault internal immutable vault;
    MockERC20 internal immutable usdc;
    MockERC20[2] internal tokens;
    MockPriceFeed[2] internal feeds;

    address[] public accounts;
    address internal immutable keeper = makeAddr("invariantKeeper");
    address internal immutable arbitrageur = makeAddr("arbitrageur");

    // Ghosts: each counts breaches of one property, all must stay zero.
    uint256 public unhealthyAfterUserAction;
    uint256 public healthyLiquidated;
    uint256 public indexDecreasedWithoutBadDebt;
    uint256 public unexpectedReverts;
    /// @dev Aave v3's health postcondition: an action changes the health of the accounts it touches only.
    uint256 public othersHealthChanged;
    uint256 public liquidations;

    uint256 internal lastSupplyIndex;
    uint256 internal lastBorrowIndex;

    constructor(
        PrimeVault vault_,
        MockERC20 usdc_,
        MockERC20[2] memory tokens_,
        MockPriceFeed[2] memory feeds_
    ) {
        (vault, usdc, tokens, feeds) = (vault_, usdc_, tokens_, feeds_);
        for (uint256 o; o < 4; ++o) {
            address owner = address(uint160(0xA11CE000 + o * 0x1000));
            accounts.push(owner);
            accounts.push(address(uint160(owner) ^ 1));
        }
        IPrimeVault.MarketState memory s = vault.marketState();
        (lastSupplyIndex, lastBorrowIndex) = (s.supplyIndex, s.borrowIndex);
    }

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    // ------------------------------------------------------------------ actions

    /// @dev Every other account's equity and requirements are the same after the action as before (within
    ///      one block, so interest does not move them; no bad debt is written off by a user action).
    modifier onlyTouches(address a, address b) {
        (int256[] memory equity, uint256[] memory requirement) = _healthOfAll();
        _;
        (int256[] memory equityAfter, uint256[] memory requirementAfter) = _healthOfAll();
        for (uint256 k; k < accounts.length; ++k) {
            if (accounts[k] == a || accounts[k] == b) continue;
            if (equity[k] != equityAfter[k] || requirement[k] != requirementAfter[k]) ++othersHealthChanged;
        }
    }

    function deposit(uint256 who, uint256 which, uint256 amount)
        external
        onlyTouches(_account(who), address(0))
    {
        address account = _account(who);
        address owner = _owner(account);
        MockERC20 token = which % 3 == 2 ? usdc : tokens[which % 3];
        amount = bound(amount, 1, 10 ** token.decimals() * 100);
        token.mint(owner, amount);
        vm.startPrank(owner);
        token.approve(address(vault), amount);
        // Base into an account with debt repays part of it, which is refused with BorrowTooSmall if it would leave
        // debt below the minimum (as `repay`).
        try vault.deposit(account, address(token), amount) {}
        catch (bytes memory reason) {
            _expectRevert(reason);
        }
        vm.stopPrank();
        _checkIndices(false);
    }

    function withdrawCollateral(uint256 who, uint256 which, uint256 amount)
        external
        onlyTouches(_account(who), address(0))
    {
        address account = _account(who);
        MockERC20 token = tokens[which % 2];
        uint256 balance = vault.collateralBalanceOf(account, address(token));
        if (balance == 0) return;
        amount = bound(amount, 1, balance);
        vm.prank(_owner(account));
        try vault.withdraw(account, address(token), amount, _owner(account)) {
            _checkInitialHealth(account);
        } catch (bytes memory reason) {
            _expectRevert(reason);
        }
        _checkIndices(false);
    }

    function borrowOrWithdrawBase(uint256 who, uint256 amount)
        external
        onlyTouches(_account(who), address(0))
    {
        address account = _account(who);
        amount = bound(amount, 1, 100_000e6);
        vm.prank(_owner(account));
        try vault.withdraw(account, address(usdc), amount, _owner(account)) {
            _checkInitialHealth(account);
        } catch (bytes memory reason) {
            _expectRevert(reason);
        }
        _checkIndices(false);
    }

    function repay(uint256 who, uint256 amount) external onlyTouches(_account(who), address(0)) {
        address account = _account(who);
        amount = bound(amount, 1, 200_000e6);
        usdc.mint(address(this), amount);
        usdc.approve(address(vault), amount);
        // A partial repayment that would leave debt below the minimum is refused with BorrowTooSmall.
        try vault.repay(account, amount) {}
        catch (bytes memory reason) {
            _expectRevert(reason);
        }
        _checkIndices(false);
    }

    function transfer(uint256 who, uint256 which, uint256 amount)
        external
        onlyTouches(_account(who), address(uint160(_account(who)) ^ 1))
    {
        address from = _account(who);
        address to = address(uint160(from) ^ 1);
        address asset = which % 3 == 2 ? address(usdc) : address(tokens[which % 3]);
        amount = bound(amount, 1, 50_000e6);
        if (asset != address(usdc)) {
            uint256 balance = vault.collateralBalanceOf(from, asset);
            if (balance == 0) return;
            amount = bound(amount, 1, balance);
        }
        vm.prank(_owner(from));
        try vault.transfer(from, to, asset, amount) {
            _checkInitialHealth(from);
        } catch (bytes memory reason) {
            _expectRevert(reason);
        }
        _checkIndices(false);
    }

    /// @dev Switches a sub-account between the standard and the portfolio rule (refused when the account would
    ///      not meet the new rule's initial requirement).
    function switchMargin(uint256 who, bool portfolio) external onlyTouches(_account(who), address(0)) {
        address account = _account(who);
        vm.prank(_owner(account));
        try vault.setPortfolioMode(account, portfolio) {
            _checkInitialHealth(account);
        } catch (bytes memory reason) {
            _expectRevert(reason);
        }
        _checkIndices(false);
    }

    /// @dev Moves one price by -50%..+30%, keeping it within a sane range.
    function movePrice(uint256 which, uint256 moveBps) external {
        MockPriceFeed feed = feeds[which % 2];
        (, int256 answer,,,) = feed.latestRoundData();
        int256 next = answer * int256(bound(moveBps, 5000, 13_000)) / 10_000;
        if (next < 1e8) next = 1e8;
        feed.setAnswer(next);
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 30 days));
        for (uint256 i; i < 2; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            feeds[i].setAnswer(answer);
        }
        vault.accrue();
        _checkIndices(false);
    }

    /// @dev Liquidates every account; then an arbitrageur buys all absorbed collateral, as a market would.
    function liquidateAll() external {
        bool[] memory wasLiquidatable = new bool[](accounts.length);
        uint256[2][] memory before = new uint256[2][](accounts.length);
        for (uint256 k; k < accounts.length; ++k) {
            wasLiquidatable[k] = vault.isLiquidatable(accounts[k]);
            for (uint256 i; i < 2; ++i) {
                before[k][i] = vault.collateralBalanceOf(accounts[k], address(tokens[i]));
            }
        }
        vm.recordLogs();
        vm.prank(keeper);
        uint256 count = vault.liquidate(accounts);
        bool badDebt = _sawBadDebt(vm.getRecordedLogs());
        liquidations += count;
        for (uint256 k; k < accounts.length; ++k) {
            if (wasLiquidatable[k]) continue;
            for (uint256 i; i < 2; ++i) {
                if (vault.collateralBalanceOf(accounts[k], address(tokens[i])) != before[k][i]) {
                    ++healthyLiquidated;
                }
            }
        }
        _checkIndices(badDebt);
        _sellReserves();
    }

    // ------------------------------------------------------------------ helpers

    function _healthOfAll() internal view returns (int256[] memory equity, uint256[] memory requirement) {
        equity = new int256[](accounts.length);
        requirement = new uint256[](accounts.length);
        for (uint256 k; k < accounts.length; ++k) {
            IPrimeVault.AccountHealth memory h = vault.accountHealth(accounts[k]);
            (equity[k], requirement[k]) = (h.equity, h.maintenanceRequirement + h.initialRequirement);
        }
    }

    function _sellReserves() internal {
        for (uint256 i; i < 2; ++i) {
            uint256 held = vault.collateralReserves(address(tokens[i]));
            if (held == 0) continue;
            (, int256 answer,,,) = feeds[i].latestRoundData();
            // Pay for everything at the discounted price, plus a little so rounding never leaves dust behind.
            uint256 cost = held * uint256(answer) / 10 ** (tokens[i].decimals() + 2) + 1;
            usdc.mint(arbitrageur, cost);
            vm.startPrank(arbitrageur);
            usdc.approve(address(vault), cost);
            uint256 out = vault.quoteCollateral(address(tokens[i]), cost);
            if (out > held) {
                // Overpaying is not allowed: buy exactly what is held.
                cost = cost * held / out;
                out = vault.quoteCollateral(address(tokens[i]), cost);
            }
            if (out > 0) vault.buyCollateral(address(tokens[i]), out, cost, arbitrageur);
            vm.stopPrank();
        }
    }

    function _sawBadDebt(Vm.Log[] memory logs) internal view returns (bool) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(vault) && logs[i].topics[0] == IPrimeVaultEvents.BadDebt.selector)
            {
                return true;
            }
        }
        return false;
    }

    function _checkInitialHealth(address account) internal {
        IPrimeVault.AccountHealth memory h = vault.accountHealth(account);
        if (h.debt > 0 && h.equity < int256(h.initialRequirement)) ++unhealthyAfterUserAction;
    }

    function _checkIndices(bool badDebtAllowed) internal {
        IPrimeVault.MarketState memory s = vault.marketState();
        if (s.borrowIndex < lastBorrowIndex) ++indexDecreasedWithoutBadDebt;
        if (s.supplyIndex < lastSupplyIndex && !badDebtAllowed) ++indexDecreasedWithoutBadDebt;
        (lastSupplyIndex, lastBorrowIndex) = (s.supplyIndex, s.borrowIndex);
    }

    /// @dev A user action may only fail for a reason the user can read.
    function _expectRevert(bytes memory reason) internal {
        bytes4 selector = bytes4(reason);
        if (
            selector != IPrimeVaultErrors.InsufficientEquity.selector
                && selector != IPrimeVaultErrors.BorrowTooSmall.selector
                && selector != IPrimeVaultErrors.InsufficientLiquidity.selector
        ) ++unexpectedReverts;
    }

    function _account(uint256 who) internal view returns (address) {
        return accounts[who % accounts.length];
    }

    function _owner(address account) internal pure returns (address) {
        return address(uint160(account) & ~uint160(0xff));
    }
}
