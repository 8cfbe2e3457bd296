// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";

import {PrimeVault} from "../../../contracts/PrimeVault.sol";
import {PrimeVaultLender} from "../../../contracts/periphery/PrimeVaultLender.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {
    IPrimeVault,
    PERMISSION_WITHDRAW,
    PERMISSION_TRANSFER
} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";

/// @dev Drives the vault with bounded random actions from a few owners and their sub-accounts, their operators,
///      lenders through the ERC-4626 wrapper and the admin taking reserves, and records any breach of a
///      per-action property in ghost variables the invariant test asserts on.
contract VaultHandler is Test {
    PrimeVault internal immutable vault;
    MockERC20 internal immutable usdc;
    MockERC20[2] internal tokens;
    MockPriceFeed[2] internal feeds;

    address[] public accounts;
    address internal immutable keeper = makeAddr("invariantKeeper");
    address internal immutable arbitrageur = makeAddr("arbitrageur");
    address internal immutable operator = makeAddr("operator");
    PrimeVaultLender internal immutable lender;
    address internal immutable admin;
    address[2] internal lenders = [address(0x1E4D0), address(0x1E4D1)];

    // Ghosts: each counts breaches of one property, all must stay zero.
    uint256 public unhealthyAfterUserAction;
    uint256 public healthyLiquidated;
    uint256 public indexDecreasedWithoutBadDebt;
    uint256 public unexpectedReverts;
    /// @dev Aave v3's health postcondition: an action changes the health of the accounts it touches only.
    uint256 public othersHealthChanged;
    uint256 public liquidations;
    /// @dev An operator's action that succeeded without the permission it needs, or failed with it.
    uint256 public operatorOverreach;
    /// @dev A lender's share price fell with no bad debt written off (beyond one unit of rounding), or a redeem
    ///      paid less than its preview.
    uint256 public lenderShortchanged;
    uint256 public reservesOverdrawn; // the admin withdrew reserves that left suppliers uncovered
    uint256 internal lastLenderPrice;

    uint256 internal lastSupplyIndex;
    uint256 internal lastBorrowIndex;

    constructor(
        PrimeVault vault_,
        MockERC20 usdc_,
        MockERC20[2] memory tokens_,
        MockPriceFeed[2] memory feeds_,
        PrimeVaultLender lender_,
        address admin_
    ) {
        (vault, usdc, tokens, feeds, lender, admin) = (vault_, usdc_, tokens_, feeds_, lender_, admin_);
        for (uint256 o; o < 4; ++o) {
            address owner = address(uint160(0xA11CE000 + o * 0x1000));
            accounts.push(owner);
            accounts.push(address(uint160(owner) ^ 1));
        }
        IPrimeVault.MarketState memory s = vault.marketState();
        (lastSupplyIndex, lastBorrowIndex) = (s.supplyIndex, s.borrowIndex);
        lastLenderPrice = lender_.convertToAssets(1e24);
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
        _checkLenderPrice(false);
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
        _checkLenderPrice(badDebt);
        _sellReserves();
    }

    /// @dev A lender puts base into the ERC-4626 wrapper, which supplies it to the vault: its own account, so
    ///      no sub-account's health moves.
    function lend(uint256 who, uint256 amount) external onlyTouches(address(lender), address(0)) {
        address holder = lenders[who % 2];
        amount = bound(amount, 1, 200_000e6);
        usdc.mint(holder, amount);
        vm.startPrank(holder);
        usdc.approve(address(lender), amount);
        lender.deposit(amount, holder);
        vm.stopPrank();
        _checkIndices(false);
        _checkLenderPrice(false);
    }

    /// @dev A lender redeems part of its shares, up to what the vault's idle cash lets it (`maxRedeem`): paid at
    ///      least its preview.
    function redeemLent(uint256 who, uint256 fractionBps) external onlyTouches(address(lender), address(0)) {
        address holder = lenders[who % 2];
        uint256 shares = lender.balanceOf(holder) * bound(fractionBps, 1, 10_000) / 10_000;
        shares = shares < lender.maxRedeem(holder) ? shares : lender.maxRedeem(holder);
        uint256 preview = lender.previewRedeem(shares);
        if (preview == 0) return;
        uint256 before = usdc.balanceOf(holder);
        vm.prank(holder);
        lender.redeem(shares, holder, holder);
        if (usdc.balanceOf(holder) - before < preview) ++lenderShortchanged;
        _checkIndices(false);
        _checkLenderPrice(false);
    }

    /// @dev An owner grants an operator random permissions, and the operator withdraws an account's collateral or
    ///      moves it to the sibling sub-account: allowed exactly when the permission is there (and the account's
    ///      health allows it), otherwise refused with NotAuthorized.
    function operatorActs(uint256 who, uint256 permissions, bool withdraw_, uint256 amount)
        external
        onlyTouches(_account(who), address(uint160(_account(who)) ^ 1))
    {
        address account = _account(who);
        permissions = permissions % 8;
        vm.prank(_owner(account));
        vault.setOperator(account, operator, permissions);
        MockERC20 token = tokens[amount % 2];
        uint256 balance = vault.collateralBalanceOf(account, address(token));
        if (balance == 0) return;
        amount = bound(amount, 1, balance);
        uint256 needed = withdraw_ ? PERMISSION_WITHDRAW : PERMISSION_TRANSFER;
        bool allowed = permissions & needed != 0;
        bytes memory call = withdraw_
            ? abi.encodeCall(vault.withdraw, (account, address(token), amount, operator))
            : abi.encodeCall(vault.transfer, (account, address(uint160(account) ^ 1), address(token), amount));
        vm.prank(operator);
        (bool ok, bytes memory reason) = address(vault).call(call);
        if (ok) {
            if (!allowed) ++operatorOverreach;
            _checkInitialHealth(account);
        } else if (bytes4(reason) == IPrimeVaultErrors.NotAuthorized.selector) {
            if (allowed) ++operatorOverreach;
        } else {
            if (!allowed) ++operatorOverreach;
            _expectRevert(reason);
        }
        _checkIndices(false);
    }

    /// @dev The admin takes reserves out, up to all of them: suppliers must stay covered (the base solvency
    ///      invariant) and the index untouched.
    function withdrawReserves(uint256 fractionBps) external onlyTouches(address(0), address(0)) {
        vault.accrue();
        IPrimeVault.MarketState memory s = vault.marketState();
        uint256 cash = usdc.balanceOf(address(vault));
        if (cash + s.totalBorrow <= s.totalSupply) return;
        uint256 available = cash + s.totalBorrow - s.totalSupply;
        uint256 amount = available * bound(fractionBps, 1, 10_000) / 10_000;
        if (amount == 0 || amount > cash) return;
        vm.prank(admin);
        try vault.withdrawReserves(admin, amount) {
            IPrimeVault.MarketState memory after_ = vault.marketState();
            if (usdc.balanceOf(address(vault)) + after_.totalBorrow < after_.totalSupply) {
                ++reservesOverdrawn;
            }
        } catch (bytes memory reason) {
            if (bytes4(reason) != IPrimeVaultErrors.InsufficientReserves.selector) ++unexpectedReverts;
        }
        _checkIndices(false);
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

    function _checkLenderPrice(bool badDebtAllowed) internal {
        uint256 price = lender.convertToAssets(1e24);
        if (price + 1 < lastLenderPrice && !badDebtAllowed) ++lenderShortchanged;
        lastLenderPrice = price;
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
