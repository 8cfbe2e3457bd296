// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MockERC20} from "../../../../contracts/devnet/mocks/MockERC20.sol";

/// @notice A listed token whose `balanceOf` goes bad: it reverts (a paused or broken upgrade, a blocklist), answers
///         with no data, answers more than any int256, or burns all the gas it is given.
contract BrokenToken is MockERC20 {
    enum Mode {
        Fine,
        Reverts,
        NoData,
        Huge,
        BurnsGas
    }

    Mode public mode;

    constructor() MockERC20("Broken", "BRK", 18) {}

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function balanceOf(address who) public view override returns (uint256) {
        if (mode == Mode.Reverts) revert("token paused");
        if (mode == Mode.NoData) {
            assembly ("memory-safe") {
                return(0, 0)
            }
        }
        if (mode == Mode.Huge) return type(uint256).max;
        if (mode == Mode.BurnsGas) {
            while (true) {}
        }
        return super.balanceOf(who);
    }
}
