// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PERMISSION_TRADE} from "../../../contracts/interfaces/IPrimeVault.sol";
import {ISessionKeys} from "../../../contracts/interfaces/ISessionKeys.sol";
import {SessionKeys} from "../../../contracts/periphery/SessionKeys.sol";
import {TradingFixture} from "../utils/TradingFixture.sol";

abstract contract SessionFixture is TradingFixture {
    SessionKeys internal sessions;
    uint256 internal botKey = 0xB07;
    address internal bot;

    function setUp() public virtual override {
        super.setUp();
        sessions = new SessionKeys(trading);
        bot = vm.addr(botKey);
        _deposit(alice, alice, weth, 10e18);
        vm.prank(alice);
        vault.setOperator(alice, address(sessions), PERMISSION_TRADE);
    }

    /// @dev Sub-account 0, ETH only, 10,000 USD per order, 25,000 in all, for a day.
    function _scope() internal view returns (ISessionKeys.Scope memory) {
        return ISessionKeys.Scope({
            subAccounts: 1,
            markets: 1 << ETH_MARKET,
            maxNotionalPerOrder: 10_000e18,
            maxNotionalTotal: 25_000e18,
            expiry: uint64(block.timestamp + 1 days)
        });
    }

    function _grant() internal {
        bytes memory accepted = _accept(botKey, bot, alice);
        vm.prank(alice);
        sessions.grant(bot, _scope(), accepted);
    }

    /// @dev `privateKey` signs key `key`'s acceptance of `owner`'s grant: EIP-712 over
    ///      `SessionAccept(address key,address owner)`, hashed here from the type string rather than read from the
    ///      contract.
    function _accept(uint256 privateKey, address key, address owner) internal view returns (bytes memory) {
        bytes32 structHash =
            keccak256(abi.encode(keccak256("SessionAccept(address key,address owner)"), key, owner));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", sessions.domainSeparator(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(privateKey, digest);
        return abi.encodePacked(r, s, v);
    }

    function _botBuys(int256 size, uint256 limit) internal returns (uint256) {
        vm.prank(bot);
        return sessions.submit(0, ETH_MARKET, size, limit, block.timestamp + 1 hours, false);
    }
}
