// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IExtSloads} from "../interfaces/IExtSloads.sol";
import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {InterestLib} from "../libraries/InterestLib.sol";
import {MathLib} from "../libraries/MathLib.sol";
import {OracleLib} from "../libraries/OracleLib.sol";

/// @title PrimeVaultLens
/// @notice Batch reads for keepers and front ends, after Gearbox's account compressor: one `eth_call`
///         returns a whole page of accounts in the compact form needed to rebuild all health off-chain.
/// @dev Stateless and permissionless; it only reads. Kept out of the core so the core stays under the
///      contract size limit.
contract PrimeVaultLens {
    /// @notice Largest page `accounts` returns; keeps one page well under common `eth_call` gas caps.
    uint256 public constant MAX_PAGE_SIZE = 1000;

    /// @notice Venue slots per market in the trading module's slot numbering (market x VENUE_SLOTS + venue).
    uint256 public constant VENUE_SLOTS = 4;

    // Storage slots of the mappings the lens reads (see `_page`).
    uint256 private constant VAULT_ACCOUNTS_SLOT = 9;
    uint256 private constant VAULT_COLLATERAL_SLOT = 10;

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

    /// @notice Everything a keeper's risk pass needs besides the accounts, at one block. Per collateral asset
    ///         (in `collateralAssets()` order) and per perp market (in `markets()` order).
    struct RiskState {
        uint256 blockNumber;
        uint256 timestamp;
        uint256 supplyIndex; // the vault's indexes accrued to `timestamp`, as its views use them
        uint256 borrowIndex;
        uint256[] prices; // feed-scaled; 0 where unusable (stale, non-positive, reverting)
        bool[] usable;
        uint8[] scaleExponents;
        uint16[] initialHaircutBps;
        uint16[] maintenanceHaircutBps;
        uint256[] marks; // USD WAD; 0 where the market's price is unusable
        bool[] marksUsable; // false also where a venue cannot report the market's funding index
        uint16[] perpInitialBps;
        uint16[] perpMaintenanceBps;
        int256[] fundingIndexes; // per slot, market x VENUE_SLOTS + venue, for the listed markets; 0 if unreadable
    }

    /// @notice Accounts [offset, offset + limit) of `vault` with their balances, and the total count.
    function accounts(IPrimeVault vault, uint256 offset, uint256 limit)
        external
        view
        returns (AccountSnapshot[] memory page, uint256 total)
    {
        if (limit == 0 || limit > MAX_PAGE_SIZE) revert InvalidPageSize(limit, MAX_PAGE_SIZE);
        return _page(vault, new address[](0), offset, limit);
    }

    /// @notice The risk state and a page of accounts in one call, for a keeper that follows the vault's events:
    ///         `touched` (any addresses, in order) and then the listed accounts [from, from + limit).
    /// @dev `page` is ABI-encoded `(AccountSnapshot[] page, uint256 total)`, exactly what `accounts` returns, so
    ///      one decoder reads both. An address the vault never listed reads as an empty account; `limit` may
    ///      be 0 (no listed accounts), and `touched.length + limit` is at most MAX_PAGE_SIZE.
    function follow(IPrimeVault vault, address[] calldata touched, uint256 from, uint256 limit)
        external
        view
        returns (RiskState memory state, bytes memory page)
    {
        if (touched.length + limit > MAX_PAGE_SIZE) {
            revert InvalidPageSize(touched.length + limit, MAX_PAGE_SIZE);
        }
        state = riskState(vault);
        (AccountSnapshot[] memory rows, uint256 total) = _page(vault, touched, from, limit);
        page = abi.encode(rows, total);
    }

    /// @notice Prices, haircuts, marks, margins, funding indexes and the vault's interest indexes at this block.
    ///         Never reverts on a bad feed or a venue that cannot read its market: those read as unusable.
    function riskState(IPrimeVault vault) public view returns (RiskState memory s) {
        s.blockNumber = block.number;
        s.timestamp = block.timestamp;
        IPrimeVault.MarketState memory market = vault.marketState();
        (s.supplyIndex, s.borrowIndex) = (market.supplyIndex, market.borrowIndex);
        (s.prices, s.usable) = prices(vault);
        address[] memory assets = vault.collateralAssets();
        s.scaleExponents = new uint8[](assets.length);
        s.initialHaircutBps = new uint16[](assets.length);
        s.maintenanceHaircutBps = new uint16[](assets.length);
        for (uint256 i; i < assets.length; ++i) {
            IPrimeVault.AssetConfig memory c = vault.assetConfig(assets[i]);
            (s.scaleExponents[i], s.initialHaircutBps[i], s.maintenanceHaircutBps[i]) =
            (c.scaleExponent, c.initialHaircutBps, c.maintenanceHaircutBps);
        }
        ITradingModule trading = ITradingModule(vault.tradingModule());
        if (address(trading) != address(0)) _readPerp(trading, s);
    }

    function _readPerp(ITradingModule trading, RiskState memory s) private view {
        ITradingModule.PerpMarket[] memory markets = trading.markets();
        address[] memory venues = trading.venues();
        uint256 n = markets.length;
        (s.marks, s.marksUsable) = (new uint256[](n), new bool[](n));
        (s.perpInitialBps, s.perpMaintenanceBps) = (new uint16[](n), new uint16[](n));
        s.fundingIndexes = new int256[](n * VENUE_SLOTS);
        for (uint256 m; m < n; ++m) {
            ITradingModule.PerpMarket memory market = markets[m];
            uint256 answer = OracleLib.tryRead(market.feed, market.maxStaleness);
            // Marks are WAD whatever the feed's decimals, as the trading module reads them.
            s.marks[m] = answer * 10 ** (18 - market.feedDecimals);
            s.marksUsable[m] = answer != 0;
            (s.perpInitialBps[m], s.perpMaintenanceBps[m]) =
            (market.initialMarginBps, market.maintenanceMarginBps);
            for (uint256 v; v < venues.length; ++v) {
                // A venue that refuses to read a bad price makes the market unusable, not the whole read.
                try IVenueAdapter(venues[v]).fundingIndex(uint8(m)) returns (int256 index) {
                    s.fundingIndexes[m * VENUE_SLOTS + v] = index;
                } catch {
                    s.marksUsable[m] = false;
                }
            }
            if (!s.marksUsable[m]) s.marks[m] = 0;
        }
    }

    /// @dev Reads the vault's part from its storage in two `extSloads` calls per page (the accounts' records,
    ///      the collateral they hold) instead of a call per account and asset, zero balances included; positions
    ///      come from the trading module's view, one call per account the vault records as trading. The slots
    ///      follow PrimeVault's layout of this version (`forge inspect PrimeVault storageLayout`); the lens's
    ///      tests compare every field with the contracts' own views.
    function _page(IPrimeVault vault, address[] memory touched, uint256 offset, uint256 limit)
        private
        view
        returns (AccountSnapshot[] memory page, uint256 total)
    {
        address[] memory listed;
        (listed, total) = vault.listedAccounts(offset, limit);
        page = new AccountSnapshot[](touched.length + listed.length);
        for (uint256 k; k < page.length; ++k) {
            page[k].account = k < touched.length ? touched[k] : listed[k - touched.length];
        }
        bool[] memory tradingAccounts = _readBalances(vault, page);
        ITradingModule trading = ITradingModule(vault.tradingModule());
        for (uint256 k; k < page.length; ++k) {
            if (tradingAccounts[k]) {
                (page[k].openSlots, page[k].positions) = trading.positionsOf(page[k].account);
            }
        }
    }

    /// @dev Base balances (present value at the accrued indexes, rounded as `baseBalanceOf`) and the collateral
    ///      balances of the assets each account's mask says it holds (the others are zero). Returns which
    ///      accounts the vault records as trading.
    function _readBalances(IPrimeVault vault, AccountSnapshot[] memory page)
        private
        view
        returns (bool[] memory tradingAccounts)
    {
        address[] memory assets = vault.collateralAssets();
        IPrimeVault.MarketState memory market = vault.marketState();
        bytes32[] memory slots = new bytes32[](page.length);
        for (uint256 k; k < page.length; ++k) {
            slots[k] = keccak256(abi.encode(page[k].account, VAULT_ACCOUNTS_SLOT));
        }
        bytes32[] memory records = IExtSloads(address(vault)).extSloads(slots);
        uint256 held = 0;
        uint256[] memory masks = new uint256[](page.length);
        tradingAccounts = new bool[](page.length);
        for (uint256 k; k < page.length; ++k) {
            uint256 record = uint256(records[k]);
            // Account: int104 principal, uint16 assetsIn, then bools listed, portfolio and trading.
            int256 principal = int104(uint104(record));
            tradingAccounts[k] = (record >> 136) & 1 == 1;
            page[k].baseBalance = InterestLib.presentValue(principal, market.supplyIndex, market.borrowIndex);
            masks[k] = (record >> 104) & ((1 << assets.length) - 1);
            held += MathLib.popCount(masks[k]);
            page[k].collateral = new uint256[](assets.length);
        }
        slots = new bytes32[](held);
        uint256 j = 0;
        for (uint256 k; k < page.length; ++k) {
            bytes32 inner = keccak256(abi.encode(page[k].account, VAULT_COLLATERAL_SLOT));
            for (uint256 i; masks[k] >> i != 0; ++i) {
                if ((masks[k] >> i) & 1 == 1) slots[j++] = keccak256(abi.encode(assets[i], inner));
            }
        }
        bytes32[] memory balances = IExtSloads(address(vault)).extSloads(slots);
        j = 0;
        for (uint256 k; k < page.length; ++k) {
            for (uint256 i; masks[k] >> i != 0; ++i) {
                if ((masks[k] >> i) & 1 == 1) page[k].collateral[i] = uint256(balances[j++]);
            }
        }
    }

    /// @notice Oracle price of every collateral asset of `vault`, in `collateralAssets()` order, each scaled
    ///         by its feed, and whether it is usable. A stale, non-positive or reverting feed reads as price 0
    ///         with `usable[i] == false` instead of reverting, so one bad feed does not stop a keeper's scan
    ///         of the accounts that do not hold that asset.
    function prices(IPrimeVault vault) public view returns (uint256[] memory result, bool[] memory usable) {
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
