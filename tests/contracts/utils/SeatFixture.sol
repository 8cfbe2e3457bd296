// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AsyncOrderFixture} from "./AsyncOrderFixture.sol";
import {RabbitXSeatAdapter} from "../../../contracts/adapters/RabbitXSeatAdapter.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";
import {IRabbitXCustody} from "../../../contracts/interfaces/venues/IRabbitXCustody.sol";
import {RabbitXCustody} from "../../../contracts/devnet/venues/RabbitXCustody.sol";

/// @dev The trading fixture with a third venue: a seat at an off-chain RabbitX-style exchange behind its custody
///      contract, whose withdrawals the exchange's key `EXCHANGE_KEY` signs.
abstract contract SeatFixture is AsyncOrderFixture {
    uint256 internal constant EXCHANGE_KEY = 0xe5c4a9;
    uint8 internal constant SEAT = 2;
    /// @dev 1 USD per BTC per second: 3,600 an hour, about 6% of the price.
    uint256 internal constant BTC_FUNDING_CAP = 1e18;
    uint256 internal constant ETH_FUNDING_CAP = 0.05e18;

    RabbitXCustody internal custody;
    RabbitXSeatAdapter internal seat;

    function setUp() public virtual override {
        super.setUp();
        custody = new RabbitXCustody(usdc, vm.addr(EXCHANGE_KEY), admin);
        IVenueAdapter.MarketParams[] memory markets = new IVenueAdapter.MarketParams[](2);
        markets[0] = IVenueAdapter.MarketParams(0.0001e18, 1e18, 50_000, 30_000, 700, 0, 0, 0);
        markets[1] = IVenueAdapter.MarketParams(0.001e18, 0.1e18, 50_000, 30_000, 700, 0, 0, 0);
        uint256[] memory caps = new uint256[](2);
        (caps[0], caps[1]) = (BTC_FUNDING_CAP, ETH_FUNDING_CAP);
        seat = new RabbitXSeatAdapter(address(trading), IRabbitXCustody(address(custody)), markets, caps);
        vm.prank(admin);
        trading.addVenue(seat);
    }

    function _report(int256 btcPosition, int256 btcFunding, int256 netCollateral, uint256 credited) internal {
        int256[] memory positions = new int256[](2);
        int256[] memory funding = new int256[](2);
        (positions[0], funding[0]) = (btcPosition, btcFunding);
        vm.prank(keeper);
        seat.report(positions, funding, netCollateral, 0, 0, credited);
    }

    /// @dev The exchange pays withdrawal `id` of `amount` to the seat with its signature, submitted by anyone.
    function _payWithdrawal(uint256 id, uint256 amount) internal {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(EXCHANGE_KEY, custody.withdrawalDigest(id, address(seat), amount));
        custody.withdraw(id, address(seat), amount, v, r, s);
    }
}
