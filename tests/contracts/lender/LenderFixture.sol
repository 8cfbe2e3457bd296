// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "../utils/VaultFixture.sol";
import {PrimeVaultLender} from "../../../contracts/periphery/PrimeVaultLender.sol";

abstract contract LenderFixture is VaultFixture {
    PrimeVaultLender internal lenderVault;

    function setUp() public virtual override {
        super.setUp();
        lenderVault = new PrimeVaultLender(vault, "PrimeVault USDC lender", "pvUSDC");
    }

    function _lend(address who, uint256 assets) internal returns (uint256 shares) {
        _fund(who, usdc, assets);
        vm.startPrank(who);
        usdc.approve(address(lenderVault), assets);
        shares = lenderVault.deposit(assets, who);
        vm.stopPrank();
    }
}
