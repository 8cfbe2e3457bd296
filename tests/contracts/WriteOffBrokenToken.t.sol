// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {BrokenToken} from "./utils/mocks/BrokenToken.sol";
import {MockPriceFeed} from "../../contracts/devnet/mocks/MockPriceFeed.sol";
import {AssetParams} from "../../contracts/interfaces/IPrimeVaultGovernance.sol";

/// @notice A batch's write-off reads the vault's balance of every listed asset. One listed token that stops
///         answering (held by no one) made every batch with an under-water account revert, so no such account
///         could be liquidated at all; it now counts as worth nothing to reserves.
contract WriteOffBrokenTokenTest is VaultFixture {
    BrokenToken internal broken;

    function setUp() public override {
        super.setUp();
        broken = new BrokenToken();
        MockPriceFeed feed = new MockPriceFeed("BRK / USD", 8, 1e8, address(this));
        vm.prank(admin);
        vault.listAsset(address(broken), AssetParams(address(feed), STALENESS, 5000, 4000, 500, 1_000_000e18));
    }

    function _twoUnderWater() internal returns (address[] memory batch) {
        _openBorrower(alice, 2400e6); // 1 WETH each
        _openBorrower(bob, 2300e6);
        _setEthPrice(2000e8); // both under water: shortfalls the write-off settles
        batch = new address[](2);
        (batch[0], batch[1]) = (alice, bob);
    }

    function _liquidatesBoth(BrokenToken.Mode mode) internal {
        address[] memory batch = _twoUnderWater();
        broken.setMode(mode);
        uint256 supplyIndex = vault.supplyIndex();
        vm.prank(keeper);
        assertEq(vault.liquidate(batch), 2);
        assertEq(vault.baseBalanceOf(alice), 0, "debt off the books");
        assertEq(vault.baseBalanceOf(bob), 0);
        assertLt(vault.supplyIndex(), supplyIndex, "the shortfall written off against suppliers");
    }

    function test_aTokenThatReverts() public {
        _liquidatesBoth(BrokenToken.Mode.Reverts);
    }

    function test_aTokenThatAnswersNothing() public {
        _liquidatesBoth(BrokenToken.Mode.NoData);
    }

    function test_aTokenThatAnswersBeyondInt256() public {
        _liquidatesBoth(BrokenToken.Mode.Huge);
    }

    /// A batch sent with the gas it needs (about 190,000 here) still completes: the token's read is capped, where it
    /// took 63/64 of the batch's gas and left too little for the rest.
    function test_aTokenThatBurnsGas() public {
        address[] memory batch = _twoUnderWater();
        broken.setMode(BrokenToken.Mode.BurnsGas);
        vm.prank(keeper);
        assertEq(vault.liquidate{gas: 600_000}(batch), 2);
    }

    function test_aTokenThatAnswersBooksItsDonationAsReserves() public {
        broken.mint(address(vault), 1_000e18); // a donation worth 1,000 USDC at 1 USD, sold at the store front
        address[] memory batch = _twoUnderWater();
        uint256 supplyIndex = vault.supplyIndex();
        vm.prank(keeper);
        assertEq(vault.liquidate(batch), 2);
        assertEq(vault.supplyIndex(), supplyIndex, "covered by the donation: nothing written off");
    }
}
