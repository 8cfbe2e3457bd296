// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

import {MockERC20} from "../../contracts/devnet/mocks/MockERC20.sol";
import {Test} from "forge-std/Test.sol";

/// @notice ERC-2612 on the local tokens: an approval by signature, once, before its deadline.
contract PermitTest is Test {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    MockERC20 internal usdc = new MockERC20("USD Coin", "USDC", 6);

    function _sign(uint256 key, address spender, uint256 value, uint256 nonce, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                usdc.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(PERMIT_TYPEHASH, vm.addr(key), spender, value, nonce, deadline))
            )
        );
        return vm.sign(key, digest);
    }

    function test_aSignedPermitApprovesOnceBeforeItsDeadline() public {
        uint256 key = 0xA11CE;
        address owner = vm.addr(key);
        address spender = makeAddr("spender");
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _sign(key, spender, 500e6, 0, deadline);
        usdc.permit(owner, spender, 500e6, deadline, v, r, s);
        assertEq(usdc.allowance(owner, spender), 500e6);
        assertEq(usdc.nonces(owner), 1);

        vm.expectRevert(); // replayed: the nonce moved on, so the signature recovers another signer
        usdc.permit(owner, spender, 500e6, deadline, v, r, s);

        (v, r, s) = _sign(key, spender, 1e6, 1, block.timestamp - 1);
        vm.expectRevert(
            abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, block.timestamp - 1)
        );
        usdc.permit(owner, spender, 1e6, block.timestamp - 1, v, r, s);
    }
}
