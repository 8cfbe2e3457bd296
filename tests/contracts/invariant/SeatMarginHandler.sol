// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {RabbitXSeatAdapter} from "../../../contracts/adapters/RabbitXSeatAdapter.sol";
import {TradingModule} from "../../../contracts/TradingModule.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {RabbitXCustody} from "../../../contracts/devnet/venues/RabbitXCustody.sol";

/// @dev Moves margin between the vault and a seat as a leaked executor key would, with the exchange paying back what
///      it likes, strangers sending tokens to the seat and the admin capping it and writing off: the executor's
///      deposits and reports (any collateral, any credited amount), withdrawal requests and claims; the exchange's
///      signed payments out of custody; donations; the admin's cap and write-offs. Ghosts: every token the vault sent
///      the seat and got back, and every deposit that left the vault's net margin sent above the cap it met.
contract SeatMarginHandler is Test {
    TradingModule internal immutable trading;
    RabbitXSeatAdapter internal immutable seat;
    RabbitXCustody internal immutable custody;
    MockERC20 internal immutable usdc;
    address internal immutable keeper;
    address internal immutable admin;
    uint256 internal immutable exchangeKey;
    uint8 internal immutable venue;

    uint256 public ghostSent; // base units the vault sent the seat
    uint256 public ghostReturned; // base units the seat forwarded back
    uint256 public ghostDonated; // base units strangers sent the seat
    uint256 public capBreaches; // deposits that left the net margin sent above the cap they met
    uint256 internal _withdrawalId;

    constructor(
        TradingModule trading_,
        RabbitXSeatAdapter seat_,
        RabbitXCustody custody_,
        MockERC20 usdc_,
        address keeper_,
        address admin_,
        uint256 exchangeKey_,
        uint8 venue_
    ) {
        (trading, seat, custody, usdc, keeper, admin, exchangeKey, venue) =
        (trading_, seat_, custody_, usdc_, keeper_, admin_, exchangeKey_, venue_);
    }

    function deposit(uint256 amount) external {
        amount = bound(amount, 1, 200_000e6);
        vm.prank(keeper);
        try trading.depositMargin(venue, amount) {
            ghostSent += amount;
            if (ghostSent > ghostReturned && ghostSent - ghostReturned > seat.marginCap()) ++capBreaches;
        } catch {} // above the cap, or the vault short of cash: refused, as it should be
    }

    /// @dev Whatever the executor says: a loss of everything, a gain, more credited than was ever sent.
    function report(int256 netCollateral, uint256 credited) external {
        netCollateral = bound(netCollateral, -1e12, 1e12);
        credited = bound(credited, 0, ghostSent * 2 + 1);
        int256[] memory zero = new int256[](2);
        vm.warp(block.timestamp + 1);
        vm.prank(keeper);
        seat.report(zero, zero, netCollateral, 0, 0, credited);
    }

    function requestWithdrawal(uint256 amount) external {
        amount = bound(amount, 1, 200_000e6);
        vm.prank(keeper);
        trading.requestMarginWithdrawal(venue, amount);
    }

    /// @dev The exchange pays the seat what it likes of what its custody holds.
    function exchangePays(uint256 amount) external {
        uint256 held = usdc.balanceOf(address(custody));
        if (held == 0) return;
        amount = bound(amount, 1, held);
        uint256 id = ++_withdrawalId;
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(exchangeKey, custody.withdrawalDigest(id, address(seat), amount));
        custody.withdraw(id, address(seat), amount, v, r, s);
    }

    function donate(uint256 amount) external {
        amount = bound(amount, 1, 10_000e6);
        usdc.mint(address(seat), amount);
        ghostDonated += amount;
    }

    function claim() external {
        vm.prank(keeper);
        ghostReturned += trading.claimMarginWithdrawals(venue);
    }

    function setCap(uint256 cap) external {
        cap = bound(cap, 0, 1_000_000e6);
        vm.prank(admin);
        seat.setMarginCap(cap);
    }

    function writeOffDeposits(uint256 amount) external {
        uint256 inFlight = seat.depositsInFlight();
        if (inFlight == 0) return;
        vm.prank(admin);
        seat.writeOffDepositsInFlight(bound(amount, 1, inFlight), "lost");
    }

    function writeOffWithdrawals(uint256 amount) external {
        uint256 pending = seat.pendingWithdrawals();
        if (pending == 0) return;
        vm.prank(admin);
        seat.writeOffPendingWithdrawals(bound(amount, 1, pending), "cancelled");
    }
}
