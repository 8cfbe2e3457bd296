// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RabbitXCustodyFixture} from "../../utils/RabbitXCustodyFixture.sol";
import {RabbitXCustody} from "../../../../contracts/devnet/venues/RabbitXCustody.sol";
import {FeeToken} from "../../utils/FeeToken.sol";

contract RabbitXCustodyDepositTest is RabbitXCustodyFixture {
    function test_depositPullsTheTokenAndEmitsIncreasingIds() public {
        vm.expectEmit(address(custody));
        emit RabbitXCustody.Deposit(1, trader, 500e6);
        assertEq(_deposit(500e6), 1);
        vm.expectEmit(address(custody));
        emit RabbitXCustody.Deposit(2, trader, 250e6);
        assertEq(_deposit(250e6), 2);
        assertEq(custody.nextDepositId(), 3);
        assertEq(usdc.balanceOf(address(custody)), 750e6);
        assertEq(usdc.balanceOf(trader), 1_000_000e6 - 750e6);
    }

    function test_depositOfZeroIsRefused() public {
        vm.expectRevert(RabbitXCustody.RabbitXCustodyZeroAmount.selector);
        _deposit(0);
    }

    function test_depositWithoutAllowanceReverts() public {
        address stranger = makeAddr("stranger");
        usdc.mint(stranger, 100e6);
        vm.prank(stranger);
        vm.expectRevert();
        custody.deposit(100e6);
        assertEq(custody.nextDepositId(), 1, "no id used by a failed deposit");
    }

    function test_aFeeOnTransferTokenIsRefused() public {
        FeeToken fee = new FeeToken();
        RabbitXCustody taxed = new RabbitXCustody(fee, signer, owner);
        fee.mint(trader, 100e6);
        vm.startPrank(trader);
        fee.approve(address(taxed), 100e6);
        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyTransferShortfall.selector, 100e6, 99e6)
        );
        taxed.deposit(100e6);
        vm.stopPrank();
    }

    function testFuzz_depositIdsCount(uint8 count, uint256 amount) public {
        amount = bound(amount, 1, 1000e6);
        for (uint256 i = 1; i <= count; ++i) {
            assertEq(_deposit(amount), i);
        }
        assertEq(usdc.balanceOf(address(custody)), uint256(count) * amount);
    }
}
