// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SeatFixture} from "../utils/SeatFixture.sol";
import {SeatMarginHandler} from "./SeatMarginHandler.sol";

/// @notice The seat's margin under a leaked executor key, a careless exchange, strangers and the admin: the cap bounds
///         what the vault sends net whatever the reports say, every token is accounted for, and the deposits in
///         flight never exceed what was sent and not credited.
contract SeatMarginInvariantsTest is SeatFixture {
    SeatMarginHandler internal handler;

    function setUp() public override {
        super.setUp();
        vm.prank(admin);
        seat.setMarginCap(300_000e6);
        handler = new SeatMarginHandler(trading, seat, custody, usdc, keeper, admin, EXCHANGE_KEY, SEAT);
        targetContract(address(handler));
    }

    /// @dev No deposit ever left the vault's net margin sent above the cap it met, whatever the executor reported.
    function invariant_theCapBoundsTheNetMarginSent() public view {
        assertEq(handler.capBreaches(), 0);
    }

    /// @dev Every token sent to the seat is in the exchange's custody, at the seat, or back in the vault.
    function invariant_everyTokenIsAccountedFor() public view {
        assertEq(
            usdc.balanceOf(address(custody)) + usdc.balanceOf(address(seat)) + handler.ghostReturned(),
            handler.ghostSent() + handler.ghostDonated()
        );
    }

    /// @dev Deposits in flight and those credited never add up to more than was sent.
    function invariant_depositsInFlightAreSentAndNotCredited() public view {
        assertLe(seat.depositsInFlight() + seat.lastReport().creditedDeposits, handler.ghostSent());
    }
}
