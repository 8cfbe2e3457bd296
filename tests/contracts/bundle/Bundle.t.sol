// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {PrimeVaultBundler} from "../../../contracts/periphery/PrimeVaultBundler.sol";
import {BundleFixture} from "./BundleFixture.sol";

/// @notice One transaction, one signature: a permit-aware deposit, and deposit + borrow + order through the
///         bundler.
contract BundleTest is BundleFixture {
    function test_depositWithPermitNeedsNoApproval() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(weth, address(vault), 2e18, deadline);
        vm.prank(trader);
        vault.depositWithPermit(trader, address(weth), 2e18, deadline, v, r, s);
        assertEq(vault.collateralBalanceOf(trader, address(weth)), 3e18);
        assertEq(weth.allowance(trader, address(vault)), 0, "the permit was for exactly the deposit");
    }

    function test_aReplayedPermitDoesNotBlockTheDeposit() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(weth, address(vault), 2e18, deadline);
        weth.permit(trader, address(vault), 2e18, deadline, v, r, s); // someone saw it in the mempool
        vm.prank(trader);
        vault.depositWithPermit(trader, address(weth), 2e18, deadline, v, r, s);
        assertEq(vault.collateralBalanceOf(trader, address(weth)), 3e18);
    }

    function test_aBadPermitLeavesAPlainDepositThatFails() public {
        vm.prank(trader);
        weth.approve(address(vault), 0);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(weth, address(vault), 1e18, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(vault), 0, 2e18)
        );
        vm.prank(trader);
        vault.depositWithPermit(trader, address(weth), 2e18, deadline, v, r, s); // signed for 1, asked for 2
    }

    function test_depositBorrowAndOrderInOneTransaction() public {
        uint256 usdcBefore = usdc.balanceOf(trader);
        PrimeVaultBundler.Permit memory p = _bundlePermit(2e18);
        PrimeVaultBundler.OrderParams memory buy = _ethBuy();
        vm.prank(trader);
        uint256 id = bundler.depositBorrowAndSubmit(trader, address(weth), 2e18, p, 1_000e6, buy);
        assertEq(vault.collateralBalanceOf(trader, address(weth)), 3e18);
        assertEq(usdc.balanceOf(trader), usdcBefore + 1_000e6, "borrowed to the owner");
        assertEq(vault.baseBalanceOf(trader), -1_000e6);
        ITradingModule.Order memory o = trading.order(id);
        assertEq(o.account, trader);
        assertEq(o.size, 1e18);
        assertEq(weth.balanceOf(address(bundler)), 0, "the bundler keeps nothing");
        assertEq(weth.allowance(address(bundler), address(vault)), 0);
    }

    function test_onlyTheOwnerBundles() public {
        PrimeVaultBundler.Permit memory p = _bundlePermit(2e18);
        PrimeVaultBundler.OrderParams memory none;
        vm.expectRevert(abi.encodeWithSelector(PrimeVaultBundler.BundlerNotOwner.selector, bob, trader));
        vm.prank(bob);
        bundler.depositBorrowAndSubmit(trader, address(weth), 0, p, 1_000e6, none); // borrowing someone else's
    }

    /// @dev An asset the vault does not take is refused by the vault's UnknownAsset before anything is tried: an
    ///      address without code (the permit's call reverted with no data, outside the try/catch) or a contract
    ///      that is no token (its pull reverted with no data).
    function test_anUnknownAssetIsRefusedByName() public {
        address[2] memory assets = [makeAddr("not a token"), address(trading)];
        PrimeVaultBundler.Permit memory p = _bundlePermit(1e18);
        PrimeVaultBundler.OrderParams memory none;
        for (uint256 i; i < assets.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownAsset.selector, assets[i]));
            vm.prank(trader);
            bundler.depositBorrowAndSubmit(trader, assets[i], 1e18, p, 0, none);
        }
    }
}
