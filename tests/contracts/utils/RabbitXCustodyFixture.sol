// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {RabbitXCustody} from "../../../contracts/devnet/venues/RabbitXCustody.sol";

/// @dev The devnet RabbitX's custody contract over a 6-decimal USDC, its signer a fixed key (the one the Python
///      connector tests give the replica, `SIGNER_KEY = "0x" + "5e" * 32`), deployed at a fixed address so that
///      signatures the replica's Python signer made for that address verify here (the connector tests'
///      `CUSTODY`).
abstract contract RabbitXCustodyFixture is Test {
    uint256 internal constant SIGNER_KEY = 0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e;
    /// @dev Where the Python vectors were signed for (chain id 31337, forge's default).
    address internal constant CUSTODY = 0x00000000000000000000000000000000000c0dE5;

    MockERC20 internal usdc;
    RabbitXCustody internal custody;
    address internal signer;
    address internal owner = makeAddr("owner");
    address internal trader = 0x00000000000000000000000000000000000A11cE;

    function setUp() public virtual {
        signer = vm.addr(SIGNER_KEY);
        usdc = new MockERC20("USD Coin", "USDC", 6);
        deployCodeTo("RabbitXCustody.sol:RabbitXCustody", abi.encode(address(usdc), signer, owner), CUSTODY);
        custody = RabbitXCustody(CUSTODY);
        usdc.mint(trader, 1_000_000e6);
        vm.prank(trader);
        usdc.approve(address(custody), 1_000_000e6);
    }

    function _deposit(uint256 amount) internal returns (uint256 id) {
        vm.prank(trader);
        id = custody.deposit(amount);
    }

    /// @dev The exchange's signature over withdrawal (id, to, amount), made with `key`.
    function _sign(uint256 key, uint256 id, address to, uint256 amount)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        (v, r, s) = vm.sign(key, custody.withdrawalDigest(id, to, amount));
    }

    function _withdraw(uint256 key, uint256 id, address to, uint256 amount) internal {
        (uint8 v, bytes32 r, bytes32 s) = _sign(key, id, to, amount);
        custody.withdraw(id, to, amount, v, r, s);
    }
}
