// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./VaultFixture.sol";
import {RABBIT_WITHDRAWAL_DELAY, deployDydx, deployRabbit} from "./VenueDeployment.sol";
import {TradingModule} from "../../../contracts/TradingModule.sol";
import {DydxAdapter} from "../../../contracts/adapters/DydxAdapter.sol";
import {RabbitAdapter} from "../../../contracts/adapters/RabbitAdapter.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {DydxStyleVenue} from "../../../contracts/devnet/venues/DydxStyleVenue.sol";
import {RabbitStyleVenue} from "../../../contracts/devnet/venues/RabbitStyleVenue.sol";

/// @dev The vault with its trading module, both venues behind their adapters, margin posted at each.
abstract contract TradingFixture is VaultFixture {
    TradingModule internal trading;
    DydxStyleVenue internal dydx;
    RabbitStyleVenue internal rabbit;
    DydxAdapter internal dydxAdapter;
    RabbitAdapter internal rabbitAdapter;

    uint8 internal constant BTC_MARKET = 0;
    uint8 internal constant ETH_MARKET = 1;
    uint8 internal constant DYDX = 0;
    uint8 internal constant RABBIT = 1;
    uint256 internal constant WITHDRAWAL_DELAY = RABBIT_WITHDRAWAL_DELAY;

    function setUp() public virtual override {
        super.setUp();
        dydx = deployDydx(usdc, address(btcFeed), address(ethFeed), address(this));
        rabbit = deployRabbit(usdc, address(btcFeed), address(ethFeed), address(this));
        trading = new TradingModule(vault, admin);

        uint32[] memory pairs = new uint32[](2);
        (pairs[0], pairs[1]) = (0, 1);
        dydxAdapter = new DydxAdapter(address(trading), dydx, usdc, pairs);
        string[] memory ids = new string[](2);
        (ids[0], ids[1]) = ("BTC-USD", "ETH-USD");
        rabbitAdapter = new RabbitAdapter(address(trading), rabbit, usdc, ids);

        vm.startPrank(admin);
        vault.setTradingModule(address(trading));
        trading.addVenue(dydxAdapter);
        trading.addVenue(rabbitAdapter);
        trading.addMarket("BTC-USD", address(btcFeed), STALENESS, 1000, 500);
        trading.addMarket("ETH-USD", address(ethFeed), STALENESS, 1000, 500);
        trading.grantRole(trading.EXECUTOR_ROLE(), keeper);
        vm.stopPrank();

        vm.startPrank(keeper);
        trading.depositMargin(DYDX, 100_000e6);
        trading.depositMargin(RABBIT, 100_000e6);
        vm.stopPrank();
    }

    function _submit(address who, address account, uint8 market, int256 size, uint256 limit)
        internal
        returns (uint256 id)
    {
        vm.prank(who);
        id = trading.submitOrder(account, market, size, limit, block.timestamp + 1 hours, false);
    }

    function _execute(uint256 id, uint8[] memory venues, uint256[] memory sizes) internal {
        ITradingModule.Execution[] memory batch = new ITradingModule.Execution[](1);
        batch[0] = ITradingModule.Execution(id, venues, sizes);
        vm.prank(keeper);
        trading.executeOrders(batch);
    }

    function _executeOn(uint256 id, uint8 venue, uint256 size) internal {
        uint8[] memory venues = new uint8[](1);
        uint256[] memory sizes = new uint256[](1);
        (venues[0], sizes[0]) = (venue, size);
        _execute(id, venues, sizes);
    }

    function _executeSplit(uint256 id, uint256 dydxSize, uint256 rabbitSize) internal {
        uint8[] memory venues = new uint8[](2);
        uint256[] memory sizes = new uint256[](2);
        (venues[0], venues[1], sizes[0], sizes[1]) = (DYDX, RABBIT, dydxSize, rabbitSize);
        _execute(id, venues, sizes);
    }

    function _status(uint256 id) internal view returns (ITradingModule.OrderStatus) {
        return trading.order(id).status;
    }
}
