// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PERMISSION_TRADE, PERMISSION_WITHDRAW} from "../../../contracts/interfaces/IPrimeVault.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {PrimeVaultBundler} from "../../../contracts/periphery/PrimeVaultBundler.sol";
import {TradingFixture} from "../utils/TradingFixture.sol";

/// @notice A depositor with a key (for permits) who already holds WETH in the vault and made the bundler its
///         operator.
abstract contract BundleFixture is TradingFixture {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    PrimeVaultBundler internal bundler;
    uint256 internal traderKey = 0x7EAD;
    address internal trader;

    function setUp() public virtual override {
        super.setUp();
        bundler = new PrimeVaultBundler(vault, trading);
        trader = vm.addr(traderKey);
        _deposit(trader, trader, weth, 1e18);
        _fund(trader, weth, 10e18);
        vm.prank(trader);
        vault.setOperator(trader, address(bundler), PERMISSION_WITHDRAW | PERMISSION_TRADE);
    }

    function _permit(MockERC20 token, address spender, uint256 value, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        bytes32 structHash = keccak256(
            abi.encode(PERMIT_TYPEHASH, trader, spender, value, token.nonces(trader), deadline)
        );
        return
            vm.sign(traderKey, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
    }

    function _bundlePermit(uint256 value) internal view returns (PrimeVaultBundler.Permit memory p) {
        p.deadline = block.timestamp + 1 hours;
        (p.v, p.r, p.s) = _permit(weth, address(bundler), value, p.deadline);
    }

    function _ethBuy() internal view returns (PrimeVaultBundler.OrderParams memory) {
        return PrimeVaultBundler.OrderParams(ETH_MARKET, 1e18, 3_100e18, block.timestamp + 1 hours, false);
    }
}
