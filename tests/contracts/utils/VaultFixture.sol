// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {PrimeVault} from "../../../contracts/PrimeVault.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {AssetParams} from "../../../contracts/interfaces/IPrimeVaultGovernance.sol";

/// @dev The local deployment in miniature: USDC (6), WETH (18) and WBTC (8) with 8-decimal feeds.
abstract contract VaultFixture is Test {
    PrimeVault internal vault;
    MockERC20 internal usdc;
    MockERC20 internal weth;
    MockERC20 internal wbtc;
    MockPriceFeed internal ethFeed;
    MockPriceFeed internal btcFeed;

    address internal admin = makeAddr("admin");
    address internal riskManager = makeAddr("riskManager");
    address internal guardian = makeAddr("guardian");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal lender = makeAddr("lender");
    address internal keeper = makeAddr("keeper");

    int256 internal constant ETH_PRICE = 3000e8;
    int256 internal constant BTC_PRICE = 60_000e8;
    uint32 internal constant STALENESS = 1 hours;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        usdc = new MockERC20("USD Coin", "USDC", 6);
        weth = new MockERC20("Wrapped Ether", "WETH", 18);
        wbtc = new MockERC20("Wrapped Bitcoin", "WBTC", 8);
        ethFeed = new MockPriceFeed("ETH / USD", 8, ETH_PRICE, address(this));
        btcFeed = new MockPriceFeed("BTC / USD", 8, BTC_PRICE, address(this));

        vault = new PrimeVault(address(usdc), admin);
        vm.startPrank(admin);
        vault.listAsset(
            address(weth), AssetParams(address(ethFeed), STALENESS, 2000, 1500, 500, 1_000_000e18)
        );
        vault.listAsset(address(wbtc), AssetParams(address(btcFeed), STALENESS, 2000, 1500, 600, 10_000e8));
        vault.grantRole(vault.RISK_MANAGER_ROLE(), riskManager);
        vault.grantRole(vault.PAUSE_GUARDIAN_ROLE(), guardian);
        vm.stopPrank();

        _supplyBase(lender, 1_000_000e6);
    }

    function _fund(address who, MockERC20 token, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(vault), type(uint256).max);
    }

    function _deposit(address who, address account, MockERC20 token, uint256 amount) internal {
        _fund(who, token, amount);
        vm.prank(who);
        vault.deposit(account, address(token), amount);
    }

    function _supplyBase(address who, uint256 amount) internal {
        _deposit(who, who, usdc, amount);
    }

    function _borrow(address who, address account, uint256 amount) internal {
        vm.prank(who);
        vault.withdraw(account, address(usdc), amount, who);
    }

    /// @dev 1 WETH (2,400 of initial-haircut value at 3,000) and a borrow of `debt`.
    function _openBorrower(address who, uint256 debt) internal {
        _deposit(who, who, weth, 1e18);
        _borrow(who, who, debt);
    }

    /// @dev The vault's own record of whether `account` trades (`Account.trading`: bit 136 of its record in
    ///      the `_accounts` mapping, storage slot 9), read as its health checks and liquidation read it.
    function _vaultRecordsTrading(address account) internal view returns (bool) {
        uint256 record = uint256(vm.load(address(vault), keccak256(abi.encode(account, uint256(9)))));
        return (record >> 136) & 1 == 1;
    }

    function _setEthPrice(int256 price) internal {
        ethFeed.setAnswer(price);
    }
}
