// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {FeeToken} from "./utils/FeeToken.sol";
import {MockPriceFeed} from "../../contracts/devnet/mocks/MockPriceFeed.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";
import {MockERC20} from "../../contracts/devnet/mocks/MockERC20.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {AssetParams} from "../../contracts/interfaces/IPrimeVaultGovernance.sol";

contract CollateralTest is VaultFixture {
    function test_depositsInEachDecimalSize() public {
        _deposit(alice, alice, weth, 1.5e18);
        _deposit(alice, alice, wbtc, 0.25e8);
        _deposit(alice, alice, usdc, 100e6);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 1.5e18);
        assertEq(vault.collateralBalanceOf(alice, address(wbtc)), 0.25e8);
        assertEq(vault.baseBalanceOf(alice), 100e6);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        // 1.5 x 3,000 + 0.25 x 60,000 = 19,500
        assertEq(h.collateralValue, 19_500e6);
        assertEq(h.equity, 19_600e6);
        assertEq(h.initialRequirement, 3900e6); // 20%
        assertEq(h.maintenanceRequirement, 2925e6); // 15%
        assertFalse(h.liquidatable);
    }

    function test_depositIntoAnyAccountNeedsNoPermission() public {
        _deposit(bob, alice, weth, 1e18);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 1e18);
    }

    function test_withdrawReturnsTokensAndClearsTheAsset() public {
        _deposit(alice, alice, weth, 1e18);
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 1e18, alice);
        assertEq(weth.balanceOf(alice), 1e18);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 0);
        (address[] memory page,) = vault.listedAccounts(1, 1);
        assertEq(page[0], alice, "an account stays listed after it empties");
    }

    /// @dev An amount past MAX_AMOUNT (2^96 - 1) is refused by name, for collateral and base alike: it used to
    ///      overflow the supply cap's sum (Panic 0x11) or a balance cast (SafeCast).
    function test_anAmountTooLargeToBookIsRefusedByName() public {
        _fund(alice, weth, type(uint256).max);
        uint256[3] memory amounts = [uint256(2) ** 96, 2 ** 128, type(uint256).max];
        for (uint256 i; i < amounts.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IPrimeVaultErrors.AmountTooLarge.selector, amounts[i], type(uint96).max
                )
            );
            vm.prank(alice);
            vault.deposit(alice, address(weth), amounts[i]);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IPrimeVaultErrors.AmountTooLarge.selector, amounts[i], type(uint96).max
                )
            );
            vm.prank(alice);
            vault.deposit(alice, address(usdc), amounts[i]);
        }
    }

    /// @dev `depositWithPermit` of an asset without code: the permit's call would revert with no data, so the asset
    ///      is checked first.
    function test_aPermitDepositOfAnUnknownAssetIsRefusedByName() public {
        address nothing = makeAddr("not a token");
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownAsset.selector, nothing));
        vm.prank(alice);
        vault.depositWithPermit(alice, nothing, 1e18, block.timestamp, 27, bytes32(0), bytes32(0));
    }

    /// @dev Any window of the account list, however far or long, is a page of what is there (a limit of
    ///      type(uint256).max used to overflow `offset + limit`).
    function test_listedAccountsTakesAnyWindow() public {
        _deposit(alice, alice, weth, 1e18);
        (address[] memory page, uint256 total) = vault.listedAccounts(1, type(uint256).max);
        assertEq(total, 2);
        assertEq(page.length, 1);
        assertEq(page[0], alice);
        (page,) = vault.listedAccounts(type(uint256).max, type(uint256).max);
        assertEq(page.length, 0);
        (page,) = vault.listedAccounts(0, 1);
        assertEq(page.length, 1);
    }

    function test_unknownAssetReverts() public {
        MockERC20 other = new MockERC20("Other", "OTH", 18);
        _fund(alice, other, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownAsset.selector, address(other)));
        vm.prank(alice);
        vault.deposit(alice, address(other), 1e18);
    }

    function test_zeroAmountReverts() public {
        vm.expectRevert(IPrimeVaultErrors.ZeroAmount.selector);
        vm.prank(alice);
        vault.deposit(alice, address(weth), 0);
    }

    function test_supplyCapIsEnforced() public {
        _fund(alice, wbtc, 10_001e8);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.SupplyCapExceeded.selector, address(wbtc), 10_001e8, 10_000e8
            )
        );
        vm.prank(alice);
        vault.deposit(alice, address(wbtc), 10_001e8);
    }

    function test_withdrawMoreThanBalanceReverts() public {
        _deposit(alice, alice, weth, 1e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.InsufficientCollateral.selector, alice, address(weth), 1e18, 2e18
            )
        );
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 2e18, alice);
    }

    function test_feeOnTransferTokenIsRefused() public {
        FeeToken fee = new FeeToken();
        vm.prank(admin);
        vault.listAsset(address(fee), AssetParams(address(ethFeed), STALENESS, 5000, 4000, 500, 1e27));
        fee.mint(alice, 100e18);
        vm.prank(alice);
        fee.approve(address(vault), type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.FeeOnTransferNotSupported.selector, address(fee), 100e18, 99e18
            )
        );
        vm.prank(alice);
        vault.deposit(alice, address(fee), 100e18);
    }

    function test_listingRefusesOddDecimals() public {
        MockERC20 odd = new MockERC20("Two", "TWO", 2);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.UnsupportedDecimals.selector, address(odd), 2)
        );
        vm.prank(admin);
        vault.listAsset(address(odd), AssetParams(address(ethFeed), STALENESS, 5000, 4000, 500, 1e27));
    }

    /// @dev A valuation divides by 10**(token + feed - base decimals), computed by the EXP opcode, which wraps past
    ///      10**77: a feed with more than 36 decimals is refused at listing.
    function test_listingRefusesAFeedWithTooManyDecimals() public {
        MockERC20 token = new MockERC20("Token", "TKN", 18);
        MockPriceFeed wide = new MockPriceFeed("TKN / USD", 60, 1e60, address(this));
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.UnsupportedFeedDecimals.selector, address(wide), 60)
        );
        vm.prank(admin);
        vault.listAsset(address(token), AssetParams(address(wide), STALENESS, 5000, 4000, 500, 1e27));
    }

    function testFuzz_depositWithdrawRoundTrip(uint96 amount) public {
        uint256 a = bound(amount, 1, 1_000_000e18);
        _deposit(alice, alice, weth, a);
        vm.prank(alice);
        vault.withdraw(alice, address(weth), a, alice);
        assertEq(weth.balanceOf(alice), a);
        (uint256 total,) = vault.assetTotals(address(weth));
        assertEq(total, 0);
    }
}
