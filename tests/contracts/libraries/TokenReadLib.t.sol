// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {BrokenToken} from "../utils/mocks/BrokenToken.sol";
import {TokenReadLibHarness} from "./harnesses/TokenReadLibHarness.sol";

contract TokenReadLibTest is Test {
    TokenReadLibHarness internal lib = new TokenReadLibHarness();
    BrokenToken internal token = new BrokenToken();
    address internal holder = makeAddr("holder");

    function test_aTokenThatAnswersGivesItsBalance() public {
        token.mint(holder, 7e18);
        assertEq(lib.tryBalanceOf(address(token), holder), 7e18);
    }

    /// @dev A token that reverts, answers nothing, answers beyond 2^128 - 1 or burns its gas reads as holding nothing,
    ///      and the caller keeps the rest of its gas.
    function test_aTokenThatCannotAnswerReadsAsNothing() public {
        token.mint(holder, 7e18);
        BrokenToken.Mode[4] memory modes = [
            BrokenToken.Mode.Reverts,
            BrokenToken.Mode.NoData,
            BrokenToken.Mode.Huge,
            BrokenToken.Mode.BurnsGas
        ];
        for (uint256 i; i < modes.length; ++i) {
            token.setMode(modes[i]);
            uint256 gasBefore = gasleft();
            assertEq(lib.tryBalanceOf(address(token), holder), 0);
            assertLt(gasBefore - gasleft(), 120_000, "the read's 100,000 and the call around it");
        }
    }

    function test_anAddressWithoutCodeReadsAsNothing() public view {
        assertEq(lib.tryBalanceOf(address(0xC0DE), holder), 0);
    }
}
