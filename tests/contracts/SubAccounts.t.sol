// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {PERMISSION_WITHDRAW, PERMISSION_TRANSFER} from "../../contracts/interfaces/IPrimeVault.sol";

contract SubAccountsTest is VaultFixture {
    function _sub(address owner, uint8 id) internal pure returns (address) {
        return address(uint160(owner) ^ id);
    }

    /// @dev A base transfer past MAX_AMOUNT is refused by name (it used to fail a SafeCast).
    function test_aBaseTransferTooLargeIsRefusedByName() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AmountTooLarge.selector, type(uint256).max, type(uint96).max
            )
        );
        vm.prank(alice);
        vault.transfer(alice, _sub(alice, 1), address(usdc), type(uint256).max);
    }

    function test_ownerActsOnEverySubAccount() public {
        address sub7 = _sub(alice, 7);
        _deposit(alice, sub7, weth, 2e18);
        vm.prank(alice);
        vault.withdraw(sub7, address(weth), 1e18, alice);
        assertEq(vault.collateralBalanceOf(sub7, address(weth)), 1e18);
        assertEq(weth.balanceOf(alice), 1e18);
        assertEq(vault.ownerOf(sub7), alice);
        assertEq(vault.ownerOf(_sub(alice, 255)), alice, "one prefix, one owner");
    }

    function test_strangerCannotWithdraw() public {
        _deposit(alice, alice, weth, 1e18);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bob, alice, PERMISSION_WITHDRAW)
        );
        vm.prank(bob);
        vault.withdraw(alice, address(weth), 1e18, bob);
    }

    function test_prefixCollisionCannotTakeOverRecordedOwner() public {
        _deposit(alice, alice, weth, 1e18);
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 1, alice); // records alice as owner
        address twin = _sub(alice, 1); // an address with alice's prefix, as if ground
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, twin, alice, PERMISSION_WITHDRAW)
        );
        vm.prank(twin);
        vault.withdraw(alice, address(weth), 1, twin);
    }

    function test_operatorNeedsTheRightPermission() public {
        _deposit(alice, alice, weth, 1e18);
        vm.prank(alice);
        vault.setOperator(alice, bob, PERMISSION_TRANSFER);
        assertEq(vault.operatorPermissions(alice, bob), PERMISSION_TRANSFER);

        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bob, alice, PERMISSION_WITHDRAW)
        );
        vm.prank(bob);
        vault.withdraw(alice, address(weth), 1e18, bob);

        vm.prank(bob);
        vault.transfer(alice, _sub(alice, 1), address(weth), 4e17);
        assertEq(vault.collateralBalanceOf(_sub(alice, 1), address(weth)), 4e17);

        vm.prank(alice);
        vault.setOperator(alice, bob, PERMISSION_WITHDRAW);
        vm.prank(bob);
        vault.withdraw(alice, address(weth), 6e17, bob);
        assertEq(weth.balanceOf(bob), 6e17);
    }

    function test_onlyOwnerSetsOperators() public {
        vm.prank(alice);
        vault.setOperator(alice, bob, PERMISSION_WITHDRAW);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bob, alice, 0));
        vm.prank(bob);
        vault.setOperator(alice, bob, type(uint256).max);
    }

    function test_transferBetweenOwnSubAccountsIsOneCall() public {
        _deposit(alice, alice, wbtc, 1e8);
        vm.prank(alice);
        vault.transfer(alice, _sub(alice, 3), address(wbtc), 25e6);
        assertEq(vault.collateralBalanceOf(alice, address(wbtc)), 75e6);
        assertEq(vault.collateralBalanceOf(_sub(alice, 3), address(wbtc)), 25e6);
        (uint256 total,) = vault.assetTotals(address(wbtc));
        assertEq(total, 1e8, "a transfer leaves the total unchanged");
    }

    function test_transferOfBaseBorrowsOnTheSource() public {
        _deposit(alice, alice, weth, 1e18);
        vm.prank(alice);
        vault.transfer(alice, _sub(alice, 1), address(usdc), 1000e6);
        assertEq(vault.baseBalanceOf(alice), -1000e6);
        assertEq(vault.baseBalanceOf(_sub(alice, 1)), 1000e6);
    }

    function test_transferToAnotherOwnerReverts() public {
        _deposit(alice, alice, weth, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotSameOwner.selector, alice, bob));
        vm.prank(alice);
        vault.transfer(alice, bob, address(weth), 1e18);
    }

    function test_transferThatBreaksHealthReverts() public {
        _openBorrower(alice, 2000e6);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InsufficientEquity.selector, alice, int256(-2000e6), 0)
        );
        vm.prank(alice);
        vault.transfer(alice, _sub(alice, 1), address(weth), 1e18);
    }

    function testFuzz_subAccountsShareOwner(address owner, uint8 a, uint8 b) public {
        vm.assume(owner != address(0) && uint160(owner) > 0xff);
        // An owner is a wallet: not a deployed contract (the vault itself cannot pull tokens from itself),
        // a precompile or a cheatcode address.
        vm.assume(owner.code.length == 0);
        assumeNotPrecompile(owner);
        assumeNotForgeAddress(owner);
        // A prefix already recorded for someone else (a fixture address) is not this owner's.
        vm.assume(vault.ownerOf(owner) == address(0) || vault.ownerOf(owner) == owner);
        address from = _sub(owner, a);
        address to = _sub(owner, b);
        vm.assume(from != to);
        _deposit(owner, from, weth, 1e18);
        vm.prank(owner);
        vault.transfer(from, to, address(weth), 1e18);
        assertEq(vault.collateralBalanceOf(to, address(weth)), 1e18);
        assertEq(vault.collateralBalanceOf(from, address(weth)), 0);
    }
}
