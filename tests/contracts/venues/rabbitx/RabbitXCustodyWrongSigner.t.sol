// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RabbitXCustodyFixture} from "../../utils/RabbitXCustodyFixture.sol";
import {RabbitXCustody} from "../../../../contracts/devnet/venues/RabbitXCustody.sol";

contract RabbitXCustodyWrongSignerTest is RabbitXCustodyFixture {
    function setUp() public override {
        super.setUp();
        _deposit(10_000e6);
    }

    function test_anotherKeysSignatureIsRefused() public {
        uint256 otherKey = 0xbad;
        (uint8 v, bytes32 r, bytes32 s) = _sign(otherKey, 1, trader, 100e6);
        address other = vm.addr(otherKey);
        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyInvalidSignature.selector, 1, other)
        );
        custody.withdraw(1, trader, 100e6, v, r, s);
        assertFalse(custody.processedWithdrawals(1), "a refused claim does not use the id");
        _withdraw(SIGNER_KEY, 1, trader, 100e6);
    }

    function test_aMalformedSignatureIsRefused() public {
        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyInvalidSignature.selector, 1, address(0))
        );
        custody.withdraw(1, trader, 100e6, 27, bytes32(0), bytes32(0));
    }

    function test_aHighSSignatureIsRefused() public {
        (uint8 v, bytes32 r, bytes32 s) = _sign(SIGNER_KEY, 1, trader, 100e6);
        // The same point with the other s (n - s) and flipped v: valid for ecrecover, refused by ECDSA.
        bytes32 highS =
            bytes32(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(s));
        vm.expectRevert(
            abi.encodeWithSelector(RabbitXCustody.RabbitXCustodyInvalidSignature.selector, 1, address(0))
        );
        custody.withdraw(1, trader, 100e6, v == 27 ? 28 : 27, r, highS);
    }
}
