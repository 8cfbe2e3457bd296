// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IExtSloads} from "../interfaces/IExtSloads.sol";
import {IPortfolioMargin} from "../interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {InterestLib} from "../libraries/InterestLib.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {VenueViewLib} from "../libraries/VenueViewLib.sol";

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

    /// @notice `vault` is not a PrimeVault: it has no code (the zero address, an account) or does not answer the
    ///         vault's `supplyIndex()` (a token, another contract); there is nothing to read.
    error NotAVault(address vault);

    /// @notice `vault` has no portfolio rule set (`setPortfolioMargin`).
    error NoPortfolioRule(address vault);

    /// @notice One account's balances and positions.
    struct AccountSnapshot {
        address account;
        int256 baseBalance; // present value, rounded as the vault rounds it (debt up)
        uint256[] collateral; // balance per collateral asset, in `collateralAssets()` order
        uint16 openSlots; // bit per open (market, venue) slot of the trading module
        ITradingModule.Position[] positions; // in slot order
        bool portfolio; // margined by the portfolio rule (`setPortfolioMode`) instead of haircuts and perp margins
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
        bool[] marksUsable;
        uint16[] perpInitialBps;
        uint16[] perpMaintenanceBps;
        // Per slot, market x VENUE_SLOTS + venue, for the listed markets; FUNDING_UNREADABLE where the venue cannot
        // answer, where a liquidation counts no funding since each position's last booking
        // (`IPerpRisk.liquidationRisk`).
        int256[] fundingIndexes;
    }

    /// @notice What `RiskState.fundingIndexes` holds for a venue that cannot report a market's funding index.
    int256 public constant FUNDING_UNREADABLE = type(int256).min;

    /// @notice Gas each venue's `fundingIndex` gets in `riskState`: one that burns all it is given reads as
    ///         FUNDING_UNREADABLE instead of leaving the read too little gas to finish.
    uint256 public constant VENUE_VIEW_GAS = 200_000;

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
        _requireVault(vault);
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
    ///         Never reverts on a bad feed or a venue that cannot answer: a bad price reads as unusable, a venue's
    ///         funding index as `FUNDING_UNREADABLE`.
    function riskState(IPrimeVault vault) public view returns (RiskState memory s) {
        _requireVault(vault);
        s.blockNumber = block.number;
        s.timestamp = block.timestamp;
        (s.supplyIndex, s.borrowIndex) = (vault.supplyIndex(), vault.borrowIndex());
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
        _requireVault(vault);
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
                // A venue that cannot answer (its own oracle stale, paused, no answer at all) is flagged, not the
                // market: the vault still liquidates at its own mark. An index past `int128` is none, as the trading
                // module takes it.
                (bool answered, bytes32 word) = VenueViewLib.firstWord(
                    venues[v], abi.encodeCall(IVenueAdapter.fundingIndex, (uint8(m))), VENUE_VIEW_GAS, 32
                );
                int256 index = int256(uint256(word));
                s.fundingIndexes[m * VENUE_SLOTS + v] =
                    answered && index == int128(index) ? index : FUNDING_UNREADABLE;
            }
        }
    }

    /// @dev `(AccountSnapshot[] page, uint256 total)` ABI-encoded for `touched` and then the listed accounts
    ///      [offset, offset + limit), written word by word into one buffer instead of built as structs and
    ///      encoded, so that memory (whose cost grows with its square) stays near the size of the answer and a
    ///      page of thousands fits an `eth_call`: the accounts' records are read where the page's tuple offsets go,
    ///      and a trader's positions are copied from the trading module's answer straight into its tuple. The
    ///      vault's part is read from its storage in four `extSloads` calls whatever the page's size (the list's
    ///      length, the listed addresses, the accounts' records, the collateral their masks say they hold), each
    ///      answer written over its request; positions come from the trading module's view, one call per account
    ///      the vault records as trading. The slots follow PrimeVault's layout of this version (`forge inspect
    ///      PrimeVault storageLayout`); the lens's tests compare every field with the contracts' own views.
    ///      Layout: [0x40, total, n, n tuple offsets, n tuples]; a tuple is [account, baseBalance, collateral
    ///      offset, openSlots, positions offset, portfolio], its collateral [A, A balances], its positions [p, 3
    ///      words each].
    function _encodePage(IPrimeVault vault, address[] memory touched, uint256 offset, uint256 limit)
        private
        view
        returns (bytes memory page)
    {
        address[] memory assets = vault.collateralAssets();
        // The indexes alone: `marketState` values reserves, which asks every venue (and reverts with one that
        // cannot answer).
        IPrimeVault.MarketState memory market;
        (market.supplyIndex, market.borrowIndex) = (vault.supplyIndex(), vault.borrowIndex());
        (bytes32[] memory addresses, uint256 total) = _readAddresses(vault, touched, offset, limit);
        bytes32[] memory records = _readRecords(vault, addresses);
        _writeTuples(vault, addresses, records, market, assets.length);
        assembly ("memory-safe") {
            page := sub(records, 0x60)
            mstore(add(page, 0x20), 0x40)
            mstore(add(page, 0x40), total) // and the third word is the records' length, n
        }
        _writeCollateral(vault, page, assets, addresses);
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

    /// @dev The accounts' records: int104 principal, uint16 assetsIn, then bools listed, portfolio and trading. The
    ///      buffer is the last allocation, with three free words before its length, so that the page can start there
    ///      (`_writeTuples`): its length word is the page's third word (n) and its records are where the page's
    ///      tuple offsets go, one memory word an account fewer than a buffer of their own.
    function _readRecords(IPrimeVault vault, bytes32[] memory addresses)
        private
        view
        returns (bytes32[] memory records)
    {
        uint256 n = addresses.length;
        assembly ("memory-safe") {
            records := add(mload(0x40), 0x60)
            mstore(records, n)
            mstore(0x40, add(records, shl(5, add(n, 1))))
            mstore(0x20, VAULT_ACCOUNTS_SLOT)
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                mstore(0, mload(add(addresses, shl(5, add(k, 1)))))
                mstore(add(records, shl(5, add(k, 1))), keccak256(0, 0x40))
            }
        }
        _extSloadsInPlace(vault, records, 0, n);
    }

    /// @dev Every tuple of the page but its collateral balances (`_writeCollateral`), from the three words before
    ///      `records` on (the page's first words, `_encodePage`): each record is read and its word then holds its
    ///      tuple's offset, and each tuple is written past the free memory, which nothing else uses meanwhile, and
    ///      claimed at the end. A tuple holds the account, its base balance, the arrays' offsets and lengths, the
    ///      portfolio bool, and the open slots and positions of a trading account, copied from `positionsOf`'s
    ///      returndata, whose array is already the tuple's. The account word carries the record's collateral mask
    ///      above the address until `_writeCollateral` reads it (and clears it), the records being gone by then. The
    ///      base balance is the present value of the principal at the vault's accrued indexes, rounded as
    ///      `InterestLib.presentValue` rounds it for `baseBalanceOf` (supply down, debt up; the products need no
    ///      overflow check: principals fit 104 bits and indexes 64). Few stack slots: names would not fit.
    function _writeTuples(
        IPrimeVault vault,
        bytes32[] memory addresses,
        bytes32[] memory records,
        IPrimeVault.MarketState memory market,
        uint256 assetCount
    ) private view {
        // Both selectors in one word: positionsOf's in the low four bytes, tradingModule's above.
        uint256 selectors = uint256(uint32(IPrimeVault.tradingModule.selector)) << 32
            | uint256(uint32(ITradingModule.positionsOf.selector));
        uint256 scale = InterestLib.INDEX_SCALE;
        assembly ("memory-safe") {
            let end := add(records, shl(5, add(mload(records), 1)))
            let cursor := end // the next tuple; offsets are relative to the array's contents (records + 0x20)
            let module := 0 // the trading module, asked for at the first trading account
            for { let ptr := add(records, 0x20) } lt(ptr, end) { ptr := add(ptr, 0x20) } {
                let record := mload(ptr)
                mstore(ptr, sub(cursor, add(records, 0x20)))
                calldatacopy(cursor, calldatasize(), shl(5, add(8, assetCount))) // memory past the free pointer may be dirty
                // The account, and above it the record's assetsIn bits of listed assets, for `_writeCollateral`.
                mstore(
                    cursor,
                    or(
                        mload(add(addresses, sub(ptr, records))),
                        shl(160, and(shr(104, record), not(shl(assetCount, not(0)))))
                    )
                )
                {
                    let principal := signextend(12, record) // the record's int104
                    let base := div(mul(principal, mload(market)), scale) // supply index
                    if slt(principal, 0) {
                        base := sub(
                            0,
                            div(add(mul(sub(0, principal), mload(add(market, 0x20))), sub(scale, 1)), scale)
                        )
                    }
                    mstore(add(cursor, 0x20), base)
                }
                mstore(add(cursor, 0x40), 0xc0)
                mstore(add(cursor, 0x80), add(0xe0, shl(5, assetCount))) // positions: [p, 3 words each]
                mstore(add(cursor, 0xa0), and(shr(128, record), 1))
                mstore(add(cursor, 0xc0), assetCount)
                if and(shr(136, record), 1) {
                    if iszero(module) {
                        mstore(0, shl(224, shr(32, selectors)))
                        if iszero(staticcall(gas(), vault, 0, 4, 0, 0x20)) { revert(0, 0) }
                        module := mload(0)
                    }
                    mstore(0, shl(224, selectors))
                    mstore(4, and(mload(cursor), 0xffffffffffffffffffffffffffffffffffffffff))
                    if iszero(staticcall(gas(), module, 0, 0x24, 0, 0)) {
                        returndatacopy(0, 0, returndatasize())
                        revert(0, returndatasize())
                    }
                    // (uint16 openSlots, Position[] positions): [openSlots, 0x40, p, p x (size, entry, funding)].
                    let held := add(cursor, add(0xe0, shl(5, assetCount)))
                    returndatacopy(add(cursor, 0x60), 0, 0x20)
                    returndatacopy(held, 0x40, 0x20)
                    if iszero(eq(returndatasize(), add(0x60, mul(0x60, mload(held))))) {
                        revert(0, 0)
                    }
                    returndatacopy(add(held, 0x20), 0x60, mul(0x60, mload(held)))
                }
                cursor := add(
                    add(cursor, shl(5, add(8, assetCount))),
                    mul(0x60, mload(add(cursor, add(0xe0, shl(5, assetCount)))))
                )
            }
            mstore(sub(records, 0x60), sub(cursor, sub(records, 0x40))) // the page's length: from its first word
            mstore(0x40, cursor)
        }
    }

    /// @dev Reads the collateral balances the accounts' masks name (the others stay zero) and writes each into its
    ///      cell of `page`, clearing the mask `_writeTuples` left above the account's address. The slots are computed
    ///      into `scratch` (the addresses' buffer, no longer needed) when they fit, as they do when accounts hold one
    ///      asset each.
    function _writeCollateral(
        IPrimeVault vault,
        bytes memory page,
        address[] memory assets,
        bytes32[] memory scratch
    ) private view {
        uint256 n;
        uint256 held;
        assembly ("memory-safe") {
            n := mload(add(page, 0x60))
            let offsets := add(page, 0x80) // tuple k starts at offsets + offsets[k]
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                for { let bits := shr(160, mload(add(offsets, mload(add(offsets, shl(5, k)))))) } bits {
                    bits := and(bits, sub(bits, 1))
                } { held := add(held, 1) }
            }
        }
        bytes32[] memory slots = held <= scratch.length ? scratch : new bytes32[](held);
        assembly ("memory-safe") {
            let offsets := add(page, 0x80)
            let slot := slots
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                let word := mload(add(offsets, mload(add(offsets, shl(5, k)))))
                let bits := shr(160, word)
                if bits {
                    mstore(0, and(word, 0xffffffffffffffffffffffffffffffffffffffff)) // the account
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
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                let tuple := add(offsets, mload(add(offsets, shl(5, k))))
                let word := mload(tuple)
                let bits := shr(160, word)
                if bits {
                    mstore(tuple, and(word, 0xffffffffffffffffffffffffffffffffffffffff))
                    // The tuple's collateral cells, after its six words and the array's length.
                    for { let cell := add(tuple, 0xe0) } bits { cell := add(cell, 0x20) } {
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

    /// @dev A call to an address without code, or to a contract that is not a vault, reverts with no data or fails
    ///      to decode: named here instead (what answers the vault's `supplyIndex()` is taken for one).
    function _requireVault(IPrimeVault vault) private view {
        // slither-disable-next-line unused-return (only whether it answers matters, not the index)
        (bool answered,) =
            VenueViewLib.firstWord(address(vault), abi.encodeCall(IPrimeVault.supplyIndex, ()), gasleft(), 32);
        if (!answered || address(vault).code.length == 0) revert NotAVault(address(vault));
    }

    /// @notice Oracle price of every collateral asset of `vault`, in `collateralAssets()` order, each scaled
    ///         by its feed, and whether it is usable. A stale, non-positive or reverting feed reads as price 0
    ///         with `usable[i] == false` instead of reverting, so one bad feed does not stop a keeper's scan
    ///         of the accounts that do not hold that asset.
    function prices(IPrimeVault vault) public view returns (uint256[] memory result, bool[] memory usable) {
        _requireVault(vault);
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
