// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IExtSloads} from "../interfaces/IExtSloads.sol";
import {IPortfolioMargin} from "../interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {InterestLib} from "../libraries/InterestLib.sol";
import {OracleLib} from "../libraries/OracleLib.sol";

/// @title PrimeVaultLens
/// @notice Batch reads for keepers and front ends, after Gearbox's account compressor: one `eth_call`
///         returns a whole page of accounts in the compact form needed to rebuild all health off-chain.
/// @dev Stateless and permissionless; it only reads. Kept out of the core so the core stays under the
///      contract size limit.
contract PrimeVaultLens {
    /// @notice Largest page `accounts` returns; keeps one page well under common `eth_call` gas caps.
    uint256 public constant MAX_PAGE_SIZE = 5000;

    /// @notice Venue slots per market in the trading module's slot numbering (market x VENUE_SLOTS + venue).
    uint256 public constant VENUE_SLOTS = 4;

    // Storage slots of the mappings the lens reads (see `_page`).
    uint256 private constant VAULT_ACCOUNTS_SLOT = 9;
    uint256 private constant VAULT_COLLATERAL_SLOT = 10;
    uint256 private constant VAULT_ACCOUNT_LIST_SLOT = 11;

    /// @notice A page size of zero or above MAX_PAGE_SIZE.
    error InvalidPageSize(uint256 limit, uint256 max);

    /// @notice `vault` is not a contract (the zero address, an account): there is nothing to read.
    error NotAContract(address vault);

    /// @notice `vault` has no portfolio rule set (`setPortfolioMargin`).
    error NoPortfolioRule(address vault);

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

    /// @notice The portfolio rule `vault` margins portfolio-mode accounts by, as governance set it: its parameters
    ///         per underlying (in the rule's order) and the underlying of every collateral asset (in
    ///         `collateralAssets()` order) and perp market (in `markets()` order); `mapped` false where governance
    ///         has not mapped one yet.
    struct PortfolioRule {
        address portfolio;
        uint16 maintenanceBps;
        uint16 correlationCreditBps;
        string[] names;
        IPortfolioMargin.UnderlyingParams[] underlyings;
        bool[] assetMapped;
        uint8[] assetUnderlying;
        bool[] marketMapped;
        uint8[] marketUnderlying;
    }

    /// @notice Accounts [offset, offset + limit) of `vault` with their balances, and the total count.
    /// @dev Costs about 8,300 gas an account in a page of 500 lending accounts and 9,000 in a page of 3,000 (the
    ///      lens's gas test): three cold storage reads an account and the answer's memory, whose cost grows with its
    ///      square. A trader's positions add a call to the trading module.
    /// @return The page's accounts, in list order.
    /// @return The number of accounts the vault lists.
    function accounts(IPrimeVault vault, uint256 offset, uint256 limit)
        external
        view
        returns (AccountSnapshot[] memory, uint256)
    {
        if (limit == 0 || limit > MAX_PAGE_SIZE) revert InvalidPageSize(limit, MAX_PAGE_SIZE);
        _requireContract(vault);
        bytes memory encoded = _encodePage(vault, new address[](0), offset, limit);
        assembly ("memory-safe") {
            return(add(encoded, 0x20), mload(encoded))
        }
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
        uint256 requested = limit > MAX_PAGE_SIZE ? limit : touched.length + limit;
        if (requested > MAX_PAGE_SIZE) revert InvalidPageSize(requested, MAX_PAGE_SIZE);
        state = riskState(vault);
        page = _encodePage(vault, touched, from, limit);
    }

    /// @notice Prices, haircuts, marks, margins, funding indexes and the vault's interest indexes at this block.
    ///         Never reverts on a bad feed or a venue that cannot read its market: those read as unusable.
    function riskState(IPrimeVault vault) public view returns (RiskState memory s) {
        _requireContract(vault);
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

    /// @notice `vault`'s portfolio rule in one call, where reading it from `PortfolioMargin` takes one call per
    ///         underlying, asset and market.
    function portfolioRule(IPrimeVault vault) external view returns (PortfolioRule memory r) {
        _requireContract(vault);
        IPortfolioMargin portfolio = IPortfolioMargin(vault.portfolioMargin());
        if (address(portfolio) == address(0)) revert NoPortfolioRule(address(vault));
        r.portfolio = address(portfolio);
        (r.maintenanceBps, r.correlationCreditBps) = portfolio.rule();
        uint256 count = portfolio.underlyingCount();
        r.names = new string[](count);
        r.underlyings = new IPortfolioMargin.UnderlyingParams[](count);
        for (uint256 u; u < count; ++u) {
            (r.names[u], r.underlyings[u]) = portfolio.underlying(uint8(u));
        }
        address[] memory assets = vault.collateralAssets();
        (r.assetMapped, r.assetUnderlying) = (new bool[](assets.length), new uint8[](assets.length));
        for (uint256 i; i < assets.length; ++i) {
            (r.assetMapped[i], r.assetUnderlying[i]) = portfolio.assetUnderlying(assets[i]);
        }
        ITradingModule trading = ITradingModule(vault.tradingModule());
        uint256 markets = address(trading) == address(0) ? 0 : trading.markets().length;
        (r.marketMapped, r.marketUnderlying) = (new bool[](markets), new uint8[](markets));
        for (uint256 m; m < markets; ++m) {
            (r.marketMapped[m], r.marketUnderlying[m]) = portfolio.marketUnderlying(uint8(m));
        }
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
            // Marks are WAD whatever the feed's decimals, as the trading module reads them.
            s.marks[m] = OracleLib.tryReadWad(market.feed, market.maxStaleness, market.feedDecimals);
            s.marksUsable[m] = s.marks[m] != 0;
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

    /// @dev `(AccountSnapshot[] page, uint256 total)` ABI-encoded for `touched` and then the listed accounts
    ///      [offset, offset + limit), written word by word into one buffer instead of built as structs and
    ///      encoded, so that memory (whose cost grows with its square) stays near the size of the answer and a
    ///      page of thousands fits an `eth_call`. The vault's part is read from its storage in four `extSloads`
    ///      calls whatever the page's size (the list's length, the listed addresses, the accounts' records, the
    ///      collateral their masks say they hold), each answer written over its request; positions come from the
    ///      trading module's view, one call per account the vault records as trading. The slots follow
    ///      PrimeVault's layout of this version (`forge inspect PrimeVault storageLayout`); the lens's tests
    ///      compare every field with the contracts' own views.
    ///      Layout: [0x40, total, n, n tuple offsets, n tuples]; a tuple is [account, baseBalance, collateral
    ///      offset, openSlots, positions offset], its collateral [A, A balances], its positions [p, 3 words each].
    function _encodePage(IPrimeVault vault, address[] memory touched, uint256 offset, uint256 limit)
        private
        view
        returns (bytes memory page)
    {
        address[] memory assets = vault.collateralAssets();
        (bytes32[] memory addresses, uint256 total) = _readAddresses(vault, touched, offset, limit);
        bytes32[] memory records = _readRecords(vault, addresses);
        (uint16[] memory openSlots, ITradingModule.Position[][] memory positions, uint256 positionCount) =
            _readPositions(vault, addresses, records);
        uint256 n = addresses.length;
        page = new bytes((3 + n + n * (7 + assets.length) + 3 * positionCount) * 32);
        _put(page, 0, 0x40);
        _put(page, 1, total);
        _put(page, 2, n);
        _writeTuples(vault, page, addresses, records, openSlots, positions, assets.length);
        _writeCollateral(vault, page, assets, records, addresses);
    }

    /// @dev `touched` and then the listed accounts [offset, offset + limit) (read from the list's slots,
    ///      keccak(slot) + index, after its length), as words, and the vault's account count.
    function _readAddresses(IPrimeVault vault, address[] memory touched, uint256 offset, uint256 limit)
        private
        view
        returns (bytes32[] memory addresses, uint256 total)
    {
        addresses = new bytes32[](1);
        addresses[0] = bytes32(VAULT_ACCOUNT_LIST_SLOT);
        _extSloadsInPlace(vault, addresses, 0, 1);
        total = uint256(addresses[0]);
        uint256 listed = offset < total ? (limit < total - offset ? limit : total - offset) : 0;
        uint256 count = touched.length;
        addresses = new bytes32[](count + listed);
        // Only a window inside the list has slots: an offset past its end may be any number.
        uint256 firstSlot = listed == 0 ? 0 : uint256(keccak256(abi.encode(VAULT_ACCOUNT_LIST_SLOT))) + offset;
        assembly ("memory-safe") {
            for { let k := 0 } lt(k, count) { k := add(k, 1) } {
                mstore(add(addresses, shl(5, add(k, 1))), mload(add(touched, shl(5, add(k, 1)))))
            }
            for { let j := 0 } lt(j, listed) { j := add(j, 1) } {
                mstore(add(addresses, shl(5, add(add(count, j), 1))), add(firstSlot, j))
            }
        }
        _extSloadsInPlace(vault, addresses, count, listed);
    }

    /// @dev The accounts' records: int104 principal, uint16 assetsIn, then bools listed, portfolio and trading.
    function _readRecords(IPrimeVault vault, bytes32[] memory addresses)
        private
        view
        returns (bytes32[] memory records)
    {
        uint256 n = addresses.length;
        records = new bytes32[](n);
        assembly ("memory-safe") {
            mstore(0x20, VAULT_ACCOUNTS_SLOT)
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                mstore(0, mload(add(addresses, shl(5, add(k, 1)))))
                mstore(add(records, shl(5, add(k, 1))), keccak256(0, 0x40))
            }
        }
        _extSloadsInPlace(vault, records, 0, n);
    }

    /// @dev The open slots and positions of each account the vault records as trading, in page order (one entry per
    ///      such account; the trading module is not asked about the others), and how many positions they hold.
    function _readPositions(IPrimeVault vault, bytes32[] memory addresses, bytes32[] memory records)
        private
        view
        returns (uint16[] memory openSlots, ITradingModule.Position[][] memory positions, uint256 count)
    {
        uint256 n = records.length;
        uint256 trading;
        assembly ("memory-safe") {
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                trading := add(trading, and(shr(136, mload(add(records, shl(5, add(k, 1))))), 1))
            }
        }
        openSlots = new uint16[](trading);
        positions = new ITradingModule.Position[][](trading);
        if (trading == 0) return (openSlots, positions, 0);
        ITradingModule module = ITradingModule(vault.tradingModule());
        uint256 t;
        for (uint256 k; k < n; ++k) {
            if (!_isTrading(records[k])) continue;
            (openSlots[t], positions[t]) = module.positionsOf(address(uint160(uint256(addresses[k]))));
            count += positions[t++].length;
        }
    }

    /// @dev Every tuple's offset and words but its collateral balances (`_writeCollateral`): the account, its base
    ///      balance, the arrays' offsets and lengths, and the open slots and positions of a trading account. The base
    ///      balance is the present value of the principal at the vault's accrued indexes, rounded as
    ///      `InterestLib.presentValue` rounds it for `baseBalanceOf` (supply down, debt up; the products need no
    ///      overflow check: principals fit 104 bits and indexes 64).
    function _writeTuples(
        IPrimeVault vault,
        bytes memory page,
        bytes32[] memory addresses,
        bytes32[] memory records,
        uint16[] memory openSlots,
        ITradingModule.Position[][] memory positions,
        uint256 assetCount
    ) private view {
        IPrimeVault.MarketState memory market = vault.marketState();
        uint256 scale = InterestLib.INDEX_SCALE;
        assembly ("memory-safe") {
            let tuples := add(page, 0x80) // offsets are relative to the array's contents, after its length
            let at := shl(5, mload(records)) // the next tuple, a byte offset from `tuples`
            let t := 0 // trading accounts seen
            let end := add(records, shl(5, add(mload(records), 1)))
            for { let record := add(records, 0x20) } lt(record, end) { record := add(record, 0x20) } {
                let tuple := add(tuples, at)
                mstore(add(tuples, sub(record, add(records, 0x20))), at)
                mstore(tuple, mload(add(addresses, sub(record, records))))
                let principal := signextend(12, mload(record)) // the record's int104
                let base := div(mul(principal, mload(market)), scale) // supply index
                if slt(principal, 0) {
                    base := sub(
                        0,
                        div(add(mul(sub(0, principal), mload(add(market, 0x20))), sub(scale, 1)), scale)
                    )
                }
                mstore(add(tuple, 0x20), base)
                mstore(add(tuple, 0x40), 0xa0)
                let held := add(tuple, add(0xc0, shl(5, assetCount))) // positions: [p, 3 words each]
                mstore(add(tuple, 0x80), sub(held, tuple))
                mstore(add(tuple, 0xa0), assetCount)
                let p := 0
                if and(shr(136, mload(record)), 1) {
                    t := add(t, 0x20)
                    mstore(add(tuple, 0x60), mload(add(openSlots, t)))
                    let list := mload(add(positions, t))
                    p := mload(list)
                    for { let q := 0 } lt(q, p) { q := add(q, 1) } {
                        let position := mload(add(list, shl(5, add(q, 1))))
                        let cell := add(held, mul(0x60, add(q, 1)))
                        mstore(sub(cell, 0x40), mload(position)) // size, sign-extended in memory as in the ABI
                        mstore(sub(cell, 0x20), mload(add(position, 0x20))) // entry price
                        mstore(cell, mload(add(position, 0x40))) // funding index at entry
                    }
                }
                mstore(held, p)
                at := add(sub(held, tuples), add(0x20, mul(0x60, p)))
            }
        }
    }

    /// @dev Reads the collateral balances the accounts' masks name (the others stay zero) and writes each into its
    ///      cell of `page`. The slots are computed into `scratch` (the addresses' buffer, no longer needed) when they
    ///      fit, as they do when accounts hold one asset each.
    function _writeCollateral(
        IPrimeVault vault,
        bytes memory page,
        address[] memory assets,
        bytes32[] memory records,
        bytes32[] memory scratch
    ) private view {
        uint256 n = records.length;
        uint256 mask = (1 << assets.length) - 1;
        uint256 held;
        assembly ("memory-safe") {
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                for { let bits := and(shr(104, mload(add(records, shl(5, add(k, 1))))), mask) } bits {
                    bits := and(bits, sub(bits, 1))
                } { held := add(held, 1) }
            }
        }
        bytes32[] memory slots = held <= scratch.length ? scratch : new bytes32[](held);
        assembly ("memory-safe") {
            let offsets := add(page, 0x80) // tuple k starts at offsets + offsets[k]
            let slot := slots
            let end := add(records, shl(5, add(n, 1)))
            for { let record := add(records, 0x20) } lt(record, end) { record := add(record, 0x20) } {
                let bits := and(shr(104, mload(record)), mask)
                if bits {
                    mstore(0, mload(add(offsets, mload(add(offsets, sub(record, add(records, 0x20))))))) // account
                    mstore(0x20, VAULT_COLLATERAL_SLOT)
                    mstore(0x20, keccak256(0, 0x40)) // the account's inner mapping
                    for { let asset := add(assets, 0x20) } bits { asset := add(asset, 0x20) } {
                        if and(bits, 1) {
                            mstore(0, mload(asset))
                            slot := add(slot, 0x20)
                            mstore(slot, keccak256(0, 0x40))
                        }
                        bits := shr(1, bits)
                    }
                }
            }
        }
        _extSloadsInPlace(vault, slots, 0, held);
        assembly ("memory-safe") {
            let offsets := add(page, 0x80)
            let read := slots
            let end := add(records, shl(5, add(n, 1)))
            for { let record := add(records, 0x20) } lt(record, end) { record := add(record, 0x20) } {
                let bits := and(shr(104, mload(record)), mask)
                if bits {
                    // The tuple's collateral cells, after its five words and the array's length.
                    let cell := add(add(offsets, mload(add(offsets, sub(record, add(records, 0x20))))), 0xc0)
                    for {} bits { cell := add(cell, 0x20) } {
                        if and(bits, 1) {
                            read := add(read, 0x20)
                            mstore(cell, mload(read))
                        }
                        bits := shr(1, bits)
                    }
                }
            }
        }
    }

    /// @dev `IExtSloads(vault).extSloads(buffer[from, from + count))`, each word written over its slot: the call's
    ///      head (selector, offset, length) is laid over the three words before `buffer[from]` and those words are
    ///      put back after, so that a page's reads need no memory beyond their answers. Bubbles a revert.
    function _extSloadsInPlace(IPrimeVault vault, bytes32[] memory buffer, uint256 from, uint256 count)
        private
        view
    {
        if (count == 0) return;
        bytes4 selector = IExtSloads.extSloads.selector;
        assembly ("memory-safe") {
            let data := add(add(buffer, 0x20), mul(from, 0x20))
            let saved0 := mload(sub(data, 0x60))
            let saved1 := mload(sub(data, 0x40))
            let saved2 := mload(sub(data, 0x20))
            mstore(sub(data, 0x60), shr(224, selector))
            mstore(sub(data, 0x40), 0x20)
            mstore(sub(data, 0x20), count)
            let size := mul(count, 0x20)
            let ok := staticcall(gas(), vault, sub(data, 0x44), add(size, 0x44), 0, 0)
            if iszero(ok) {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
            if iszero(eq(returndatasize(), add(size, 0x40))) { revert(0, 0) }
            returndatacopy(data, 0x40, size)
            mstore(sub(data, 0x60), saved0)
            mstore(sub(data, 0x40), saved1)
            mstore(sub(data, 0x20), saved2)
        }
    }

    /// @dev Word `index` of `buffer`'s contents.
    function _put(bytes memory buffer, uint256 index, uint256 value) private pure {
        assembly ("memory-safe") {
            mstore(add(add(buffer, 0x20), mul(index, 0x20)), value)
        }
    }

    /// @dev A call to an address without code reverts with no data: named here instead.
    function _requireContract(IPrimeVault vault) private view {
        if (address(vault).code.length == 0) revert NotAContract(address(vault));
    }

    function _isTrading(bytes32 record) private pure returns (bool) {
        return (uint256(record) >> 136) & 1 == 1;
    }

    /// @notice Oracle price of every collateral asset of `vault`, in `collateralAssets()` order, each scaled
    ///         by its feed, and whether it is usable. A stale, non-positive or reverting feed reads as price 0
    ///         with `usable[i] == false` instead of reverting, so one bad feed does not stop a keeper's scan
    ///         of the accounts that do not hold that asset.
    function prices(IPrimeVault vault) public view returns (uint256[] memory result, bool[] memory usable) {
        _requireContract(vault);
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
