// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {InterestLib} from "../../../../contracts/libraries/InterestLib.sol";

/// @notice Exposes InterestLib's internal functions externally, so tests can expect their reverts.
contract InterestLibHarness {
    function utilization(uint256 totalSupply, uint256 totalBorrow) external pure returns (uint256) {
        return InterestLib.utilization(totalSupply, totalBorrow);
    }

    function borrowRate(InterestLib.RateModel memory m, uint256 u) external pure returns (uint256) {
        return InterestLib.borrowRate(m, u);
    }

    function supplyRate(InterestLib.RateModel memory m, uint256 u, uint256 reserveFactorBps)
        external
        pure
        returns (uint256)
    {
        return InterestLib.supplyRate(m, u, reserveFactorBps);
    }

    function grow(uint256 index, uint256 ratePerSecond, uint256 elapsed) external pure returns (uint256) {
        return InterestLib.grow(index, ratePerSecond, elapsed);
    }

    function presentValue(int256 principal, uint256 supplyIndex, uint256 borrowIndex)
        external
        pure
        returns (int256)
    {
        return InterestLib.presentValue(principal, supplyIndex, borrowIndex);
    }

    function principalValue(int256 value, uint256 supplyIndex, uint256 borrowIndex)
        external
        pure
        returns (int256)
    {
        return InterestLib.principalValue(value, supplyIndex, borrowIndex);
    }

    function perSecond(uint256 perYear) external pure returns (uint64) {
        return InterestLib.perSecond(perYear);
    }
}
