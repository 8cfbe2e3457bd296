// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {
    BPS,
    WAD,
    LIQUIDATION_TARGET_BUFFER_BPS,
    PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS,
    BACKSTOP_PRICE_BAND_BPS
} from "../../../contracts/libraries/ConstantsLib.sol";
import {InterestLib} from "../../../contracts/libraries/InterestLib.sol";
import {PerpMathLib} from "../../../contracts/libraries/PerpMathLib.sol";
import {ValueLib} from "../../../contracts/libraries/ValueLib.sol";

/// @notice The documented values of the protocol constants (docs/risk.md) and the relations the liquidation
///         and trading modules rely on.
contract ConstantsLibTest is Test {
    function test_units() public pure {
        assertEq(BPS, 10_000);
        assertEq(WAD, 1e18);
    }

    /// @dev The libraries keep their own copies of the units; they must agree with the shared ones.
    function test_libraryCopiesAgree() public pure {
        assertEq(ValueLib.BPS, BPS);
        assertEq(InterestLib.WAD, WAD);
        assertEq(PerpMathLib.WAD, WAD);
    }

    /// @dev docs/risk.md: liquidation restores the maintenance requirement plus a 5% buffer.
    function test_liquidationTargetBuffer() public pure {
        assertEq(LIQUIDATION_TARGET_BUFFER_BPS, 500);
        // target = M + ceil(M x 5%): 405 -> 425.25 in the docs' example (in cents: 40,500 -> 42,525).
        assertEq(40_500 + 40_500 * LIQUIDATION_TARGET_BUFFER_BPS / BPS, 42_525);
    }

    /// @dev With the largest allowed discount (penalty == maintenance haircut), a unit of collateral absorbed
    ///      relieves value x (haircut x (1 + buffer) - haircut) = value x haircut x buffer: positive only
    ///      because the buffer is.
    function test_bufferKeepsCollateralReliefPositive() public pure {
        assertGt(LIQUIDATION_TARGET_BUFFER_BPS, 0);
        assertLt(LIQUIDATION_TARGET_BUFFER_BPS, BPS);
    }

    /// @dev docs/risk.md: the perp penalty is 20% of the maintenance margin, 1% of notional at 5%.
    function test_perpPenaltyShare() public pure {
        assertEq(PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS, 2000);
        assertEq(500 * PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS / BPS, 100);
        // A penalty never exceeds the maintenance margin it is a share of.
        assertLe(PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS, BPS);
    }

    /// @dev docs/risk.md: each unit of perp maintenance moved to the backstop lowers the target by
    ///      1.05 - 0.2 = 0.85. LiquidationModule computes BPS + buffer - share: it must not underflow and
    ///      must stay positive, or `g = ceil((target - E) / (Mp x 0.85))` would divide by zero.
    function test_perpReliefPerUnitOfMaintenance() public pure {
        assertGt(BPS + LIQUIDATION_TARGET_BUFFER_BPS, PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS);
        assertEq(BPS + LIQUIDATION_TARGET_BUFFER_BPS - PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS, 8500);
    }

    /// @dev docs/risk.md: the backstop unwinds within 5% of the oracle; the lower edge mark x (BPS - band) / BPS
    ///      must stay positive.
    function test_backstopPriceBand() public pure {
        assertEq(BACKSTOP_PRICE_BAND_BPS, 500);
        assertLt(BACKSTOP_PRICE_BAND_BPS, BPS);
        // At a mark of 3,000: limits between 2,850 and 3,150.
        assertEq(3000 * (BPS - BACKSTOP_PRICE_BAND_BPS) / BPS, 2850);
        assertEq(3000 * (BPS + BACKSTOP_PRICE_BAND_BPS) / BPS, 3150);
    }
}
