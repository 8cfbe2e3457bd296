// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {RabbitXCustodyFixture} from "../../utils/RabbitXCustodyFixture.sol";
import {RabbitXCustody} from "../../../../contracts/devnet/venues/RabbitXCustody.sol";

contract RabbitXCustodySignerRotationTest is RabbitXCustodyFixture {
    uint256 internal constant NEW_KEY = 0xa11;

    function setUp() public override {
        super.setUp();
        _deposit(10_000e6);
    }

    function test_theOwnerRotatesTheSigner() public {
        (uint8 v, bytes32 r, bytes32 s) = _sign(SIGNER_KEY, 1, trader, 100e6);
        vm.expectEmit(address(custody));
        emit RabbitXCustody.SignerChanged(signer, vm.addr(NEW_KEY));
        vm.prank(owner);
        custody.changeSigner(vm.addr(NEW_KEY));
        assertEq(custody.signer(), vm.addr(NEW_KEY));

        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyInvalidSignature.selector, 1, signer)
        );
        custody.withdraw(1, trader, 100e6, v, r, s);
        _withdraw(NEW_KEY, 1, trader, 100e6);
        assertTrue(custody.processedWithdrawals(1));
    }

    function test_onlyTheOwnerRotates() public {
        address stranger = makeAddr("stranger");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        custody.changeSigner(stranger);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, signer));
        custody.changeSigner(signer);
    }

    function test_theSignerCannotBeZero() public {
        vm.prank(owner);
        vm.expectRevert(RabbitXCustody.RabbitXCustodyZeroAddress.selector);
        custody.changeSigner(address(0));
    }

    function test_constructionSetsAndAnnouncesTheSigner() public {
        vm.expectEmit();
        emit RabbitXCustody.SignerChanged(address(0), signer);
        RabbitXCustody fresh = new RabbitXCustody(usdc, signer, owner);
        assertEq(fresh.signer(), signer);
        assertEq(address(fresh.paymentToken()), address(usdc));
        assertEq(fresh.owner(), owner);
        vm.expectRevert(RabbitXCustody.RabbitXCustodyZeroAddress.selector);
        new RabbitXCustody(usdc, address(0), owner);
    }

    function test_ownershipMovesInTwoSteps() public {
        address next = makeAddr("next");
        vm.prank(owner);
        custody.transferOwnership(next);
        assertEq(custody.owner(), owner, "not before it is accepted");
        vm.prank(next);
        custody.acceptOwnership();
        vm.prank(next);
        custody.changeSigner(vm.addr(NEW_KEY));
        assertEq(custody.signer(), vm.addr(NEW_KEY));
    }
}
