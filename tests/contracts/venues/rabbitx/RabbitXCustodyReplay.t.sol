// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RabbitXCustodyFixture} from "../../utils/RabbitXCustodyFixture.sol";
import {RabbitXCustody} from "../../../../contracts/devnet/venues/RabbitXCustody.sol";

contract RabbitXCustodyReplayTest is RabbitXCustodyFixture {
    function setUp() public override {
        super.setUp();
        _deposit(10_000e6);
    }

    function test_aWithdrawalIdPaysOnce() public {
        (uint8 v, bytes32 r, bytes32 s) = _sign(SIGNER_KEY, 9, trader, 100e6);
        custody.withdraw(9, trader, 100e6, v, r, s);
        uint256 balance = usdc.balanceOf(trader);
        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyWithdrawalAlreadyProcessed.selector, 9)
        );
        custody.withdraw(9, trader, 100e6, v, r, s);
        assertEq(usdc.balanceOf(trader), balance);
    }

    function test_anIdPaidOnceCannotPayAnotherSignedAmount() public {
        _withdraw(SIGNER_KEY, 9, trader, 100e6);
        (uint8 v, bytes32 r, bytes32 s) = _sign(SIGNER_KEY, 9, trader, 200e6);
        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyWithdrawalAlreadyProcessed.selector, 9)
        );
        custody.withdraw(9, trader, 200e6, v, r, s);
    }

    function test_aSignatureForAnotherContractDoesNotPayHere() public {
        RabbitXCustody other = new RabbitXCustody(usdc, signer, owner);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SIGNER_KEY, other.withdrawalDigest(9, trader, 100e6));
        address recovered = ecrecover(custody.withdrawalDigest(9, trader, 100e6), v, r, s);
        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyInvalidSignature.selector, 9, recovered)
        );
        custody.withdraw(9, trader, 100e6, v, r, s);
    }

    function test_aSignatureForAnotherChainDoesNotPay() public {
        (uint8 v, bytes32 r, bytes32 s) = _sign(SIGNER_KEY, 9, trader, 100e6);
        vm.chainId(1);
        address recovered = ecrecover(custody.withdrawalDigest(9, trader, 100e6), v, r, s);
        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyInvalidSignature.selector, 9, recovered)
        );
        custody.withdraw(9, trader, 100e6, v, r, s);
    }
}
