// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RabbitXCustodyFixture} from "../../utils/RabbitXCustodyFixture.sol";
import {RabbitXCustody} from "../../../../contracts/devnet/venues/RabbitXCustody.sol";

contract RabbitXCustodyClaimTest is RabbitXCustodyFixture {
    /// @dev Computed by the replica's signer, keeper/devnet/rabbitx/withdrawals.py:
    ///      sign_withdrawal("0x" + "5e" * 32, 7, "0x00000000000000000000000000000000000A11cE", 250_500_000, 31337,
    ///      "0x00000000000000000000000000000000000c0dE5"); tests/python/devnet/test_rabbitx_withdrawals.py asserts
    ///      the same values.
    uint256 internal constant PY_ID = 7;
    uint256 internal constant PY_AMOUNT = 250_500_000;
    bytes32 internal constant PY_DOMAIN = 0xd5b51cb130e1a577a9d0116bbe730a73847e8680d86b17b159b0c305f95cf0be;
    bytes32 internal constant PY_DIGEST = 0xfc9023572e71eebe14dfc6d47c8561c2161899c39409a24622f9e8c8fc6c9d29;
    uint8 internal constant PY_V = 27;
    bytes32 internal constant PY_R = 0xb6d292a609066453dcfcd3471c4c4d631b837916c6735af359dcdbe448a25bfd;
    bytes32 internal constant PY_S = 0x3cf1edfdf12f29d99ec80e4b499dd2c20582b55cfcf24d221878bd48c3ffaa50;

    function setUp() public override {
        super.setUp();
        _deposit(10_000e6);
    }

    function test_theReplicasPythonSignaturePays() public {
        assertEq(block.chainid, 31337);
        assertEq(custody.domainSeparator(), PY_DOMAIN, "domain as eth_account encodes it");
        assertEq(
            custody.withdrawalDigest(PY_ID, trader, PY_AMOUNT), PY_DIGEST, "digest as eth_account hashes it"
        );
        uint256 before = usdc.balanceOf(trader);
        vm.expectEmit(address(custody));
        emit RabbitXCustody.WithdrawalReceipt(PY_ID, trader, PY_AMOUNT);
        vm.prank(makeAddr("anyone")); // anyone may submit; the tokens go to the trader
        custody.withdraw(PY_ID, trader, PY_AMOUNT, PY_V, PY_R, PY_S);
        assertEq(usdc.balanceOf(trader), before + PY_AMOUNT);
        assertTrue(custody.processedWithdrawals(PY_ID));
    }

    function test_aSignedWithdrawalPaysTheTrader() public {
        address to = makeAddr("to");
        _withdraw(SIGNER_KEY, 1, to, 1234e6);
        assertEq(usdc.balanceOf(to), 1234e6);
        assertEq(usdc.balanceOf(address(custody)), 10_000e6 - 1234e6);
        assertTrue(custody.processedWithdrawals(1));
        assertFalse(custody.processedWithdrawals(2));
    }

    function test_theSignatureBindsAmountAndTrader() public {
        (uint8 v, bytes32 r, bytes32 s) = _sign(SIGNER_KEY, 3, trader, 100e6);
        address recoveredForMore = ecrecover(custody.withdrawalDigest(3, trader, 101e6), v, r, s);
        vm.expectRevert(
            abi.encodeWithSelector(
                RabbitXCustody.RabbitXCustodyInvalidSignature.selector, 3, recoveredForMore
            )
        );
        custody.withdraw(3, trader, 101e6, v, r, s);
        address other = makeAddr("other");
        address recoveredForOther = ecrecover(custody.withdrawalDigest(3, other, 100e6), v, r, s);
        vm.expectRevert(
            abi.encodeWithSelector(
                RabbitXCustody.RabbitXCustodyInvalidSignature.selector, 3, recoveredForOther
            )
        );
        custody.withdraw(3, other, 100e6, v, r, s);
        custody.withdraw(3, trader, 100e6, v, r, s);
    }

    function test_zeroAmountAndZeroTraderAreRefused() public {
        (uint8 v, bytes32 r, bytes32 s) = _sign(SIGNER_KEY, 4, trader, 0);
        vm.expectRevert(RabbitXCustody.RabbitXCustodyZeroAmount.selector);
        custody.withdraw(4, trader, 0, v, r, s);
        (v, r, s) = _sign(SIGNER_KEY, 4, address(0), 1e6);
        vm.expectRevert(RabbitXCustody.RabbitXCustodyZeroAddress.selector);
        custody.withdraw(4, address(0), 1e6, v, r, s);
    }

    function test_moreThanTheContractHoldsReverts() public {
        (uint8 v, bytes32 r, bytes32 s) = _sign(SIGNER_KEY, 5, trader, 10_001e6);
        vm.expectRevert();
        custody.withdraw(5, trader, 10_001e6, v, r, s);
        assertFalse(custody.processedWithdrawals(5), "a failed payment does not use the id");
    }
}
