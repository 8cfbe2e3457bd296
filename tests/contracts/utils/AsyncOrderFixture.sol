// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TradingFixture} from "./TradingFixture.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";

/// @dev Asynchronous orders (v2) on the trading fixture. The local venues fill synchronously, so a test plays
///      the venue and the keeper: it trades at the venue as the module's account would (the adapter, pranked
///      as the module) and then reports that fill with a fresh venue fill id.
abstract contract AsyncOrderFixture is TradingFixture {
    uint256 internal fillNonce;

    function _spec(uint8 venue, uint256 size, uint256 limit)
        internal
        view
        returns (ITradingModule.ChildSpec memory)
    {
        return ITradingModule.ChildSpec(venue, size, limit, block.timestamp + 10 minutes);
    }

    function _commit(uint256 orderId, ITradingModule.ChildSpec[] memory specs) internal returns (uint256) {
        vm.prank(keeper);
        return trading.commitSplit(orderId, specs);
    }

    function _commitOne(uint256 orderId, uint8 venue, uint256 size, uint256 limit)
        internal
        returns (uint256)
    {
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(venue, size, limit);
        return _commit(orderId, specs);
    }

    function _commitTwo(uint256 orderId, uint256 dydxSize, uint256 rabbitSize, uint256 limit)
        internal
        returns (uint256)
    {
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](2);
        specs[0] = _spec(DYDX, dydxSize, limit);
        specs[1] = _spec(RABBIT, rabbitSize, limit);
        return _commit(orderId, specs);
    }

    /// @dev The venue fills `size` of child `childId` (at its own price, within the child's limit).
    function _venueTrade(uint256 childId, uint256 size) internal returns (uint256 price, uint256 fee) {
        ITradingModule.ChildOrder memory c = trading.childOrder(childId);
        ITradingModule.Order memory o = trading.order(c.orderId);
        IVenueAdapter adapter = IVenueAdapter(trading.venues()[c.venue]);
        vm.prank(address(trading));
        (price, fee) = adapter.trade(o.market, o.size > 0 ? int256(size) : -int256(size), c.limitPrice);
    }

    function _nextFillId() internal returns (bytes32) {
        return keccak256(abi.encode("venue fill", ++fillNonce));
    }

    /// @dev The venue fills and the keeper reports it.
    function _fill(uint256 childId, uint256 size)
        internal
        returns (bytes32 fillId, uint256 price, uint256 fee)
    {
        (price, fee) = _venueTrade(childId, size);
        fillId = _nextFillId();
        vm.prank(keeper);
        trading.reportFill(childId, fillId, price, size, fee);
    }

    /// @dev `account` buys `size` BTC at dYdX through a filled child: a position for reduce-only orders to close.
    function _holdBtcLong(address account, uint256 size) internal {
        uint256 id = _submit(account, account, BTC_MARKET, int256(size), 61_000e18);
        _fill(_commitOne(id, DYDX, size, 61_000e18), size);
    }

    function _reserved(address account) internal view returns (uint256 reservedMargin) {
        (reservedMargin,,) = trading.reservation(account);
    }

    function _childStatus(uint256 childId) internal view returns (ITradingModule.ChildStatus) {
        return trading.childOrder(childId).status;
    }

    /// @dev ceil(size x price x 10% initial margin), in USDC units.
    function _reservationAt(uint256 size, uint256 price) internal pure returns (uint256) {
        uint256 numerator = size * price * 1000;
        uint256 denominator = 1e18 * 10_000 * 1e12;
        return (numerator + denominator - 1) / denominator;
    }
}
