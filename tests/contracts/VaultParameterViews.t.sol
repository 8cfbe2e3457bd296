// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";

/// @notice The vault's parameter views an integrator needs to reproduce its arithmetic: the rate model and
///         the partial-liquidation target (the liquidation shares are `lendingParams`, in Governance.t.sol).
contract VaultParameterViewsTest is VaultFixture {
    function _rateModel() internal view returns (uint256[5] memory r) {
        (r[0], r[1], r[2], r[3], r[4]) = vault.rateModel();
    }

    function test_rateModelReadsTheConstructorDefaults() public view {
        uint256[5] memory r = _rateModel();
        assertEq(r[0], uint256(0.01e18) / 365 days, "base: 1% a year, per second");
        assertEq(r[1], uint256(0.05e18) / 365 days, "slope to the kink");
        assertEq(r[2], uint256(3e18) / 365 days, "slope past the kink");
        assertEq(r[3], 0.8e18, "kink");
        assertEq(r[4], 0.1e18, "reserve factor");
    }

    function test_rateModelReadsWhatGovernanceSet() public {
        vm.prank(admin);
        vault.setRateModel(0.02e18, 0.1e18, 2e18, 0.9e18, 0.1234e18);
        uint256[5] memory r = _rateModel();
        assertEq(r[0], uint256(0.02e18) / 365 days);
        assertEq(r[1], uint256(0.1e18) / 365 days);
        assertEq(r[2], uint256(2e18) / 365 days);
        assertEq(r[3], 0.9e18);
        assertEq(r[4], 0.1234e18);
    }

    /// @dev The reserve factor is kept in whole basis points: 12.345% is refused, not cut to 12.34%.
    function test_aReserveFactorBetweenBasisPointsIsRefused() public {
        vm.prank(admin);
        vm.expectRevert(IPrimeVaultErrors.InvalidRateModel.selector);
        vault.setRateModel(0.02e18, 0.1e18, 2e18, 0.9e18, 0.12345e18);
        assertEq(_rateModel()[4], 0.1e18, "the model in place is kept");
    }

    /// @dev Past the kink, so every term of the model counts.
    function test_rateModelReproducesTheRatesAccrualApplies() public {
        _deposit(alice, alice, weth, 400e18); // 1,200,000, so 960,000 can be borrowed
        _borrow(alice, alice, 900_000e6); // 90% of the lender's 1,000,000
        uint256[5] memory r = _rateModel();
        IPrimeVault.MarketState memory s = vault.marketState();
        uint256 u = s.utilizationWad;
        assertGt(u, r[3], "past the kink");
        uint256 borrowRate = r[0] + r[1] * r[3] / 1e18 + r[2] * (u - r[3]) / 1e18;
        assertEq(s.borrowRatePerSecond, borrowRate);
        assertEq(s.supplyRatePerSecond, borrowRate * u * (1e18 - r[4]) / 1e36, "one rounding, down");
    }

    /// @dev docs/risk.md's worked example: the account ends at maintenance + the buffer, within rounding.
    function test_liquidationTargetBufferIsWhereAPartialLiquidationStops() public {
        uint256 buffer = vault.liquidationTargetBufferBps();
        assertEq(buffer, 500);
        _openBorrower(alice, 2400e6);
        _setEthPrice(2700e8);
        address[] memory accounts = new address[](1);
        accounts[0] = alice;
        vm.prank(keeper);
        vault.liquidate(accounts);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertApproxEqAbs(h.equity, int256(h.maintenanceRequirement * (10_000 + buffer) / 10_000), 2);
    }
}
