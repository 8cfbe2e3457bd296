// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";
import {OracleLib} from "../libraries/OracleLib.sol";

/// @title PrimeVaultLens
/// @notice Batch reads for keepers and front ends, after Gearbox's account compressor: one `eth_call`
///         returns a whole page of accounts in the compact form needed to rebuild all health off-chain.
/// @dev Stateless and permissionless; it only reads. Kept out of the core so the core stays under the
///      contract size limit.
contract PrimeVaultLens {
    /// @notice Largest page `accounts` returns; keeps one page well under common `eth_call` gas caps.
    uint256 public constant MAX_PAGE_SIZE = 1000;

    /// @notice A page size of zero or above MAX_PAGE_SIZE.
    error InvalidPageSize(uint256 limit, uint256 max);

    /// @notice One account's balances and positions.
    struct AccountSnapshot {
        address account;
        int256 baseBalance; // present value, rounded as the vault rounds it (debt up)
        uint256[] collateral; // balance per collateral asset, in `collateralAssets()` order
        uint16 openSlots; // bit per open (market, venue) slot of the trading module
        ITradingModule.Position[] positions; // in slot order
    }

    /// @notice Accounts [offset, offset + limit) of `vault` with their balances, and the total count.
    function accounts(IPrimeVault vault, uint256 offset, uint256 limit)
        external
        view
        returns (AccountSnapshot[] memory page, uint256 total)
    {
        if (limit == 0 || limit > MAX_PAGE_SIZE) revert InvalidPageSize(limit, MAX_PAGE_SIZE);
        address[] memory listed;
        (listed, total) = vault.listedAccounts(offset, limit);
        address[] memory assets = vault.collateralAssets();
        ITradingModule trading = ITradingModule(vault.tradingModule());
        page = new AccountSnapshot[](listed.length);
        for (uint256 k; k < listed.length; ++k) {
            AccountSnapshot memory row = page[k];
            row.account = listed[k];
            row.baseBalance = vault.baseBalanceOf(listed[k]);
            row.collateral = new uint256[](assets.length);
            for (uint256 i; i < assets.length; ++i) {
                row.collateral[i] = vault.collateralBalanceOf(listed[k], assets[i]);
            }
            if (address(trading) != address(0)) {
                (row.openSlots, row.positions) = trading.positionsOf(listed[k]);
            }
        }
    }

    /// @notice Oracle price of every collateral asset of `vault`, in `collateralAssets()` order, each scaled
    ///         by its feed, and whether it is usable. A stale, non-positive or reverting feed reads as price 0
    ///         with `usable[i] == false` instead of reverting, so one bad feed does not stop a keeper's scan
    ///         of the accounts that do not hold that asset.
    function prices(IPrimeVault vault) external view returns (uint256[] memory result, bool[] memory usable) {
        address[] memory assets = vault.collateralAssets();
        result = new uint256[](assets.length);
        usable = new bool[](assets.length);
        for (uint256 i; i < assets.length; ++i) {
            IPrimeVault.AssetConfig memory c = vault.assetConfig(assets[i]);
            result[i] = OracleLib.tryRead(c.feed, c.maxStaleness);
            usable[i] = result[i] != 0;
        }
    }
}
