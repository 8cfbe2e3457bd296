"""The lens page decoder against web3's: random pages ABI-encoded as the lens encodes them (negative balances, values
past 128 bits, positions in any slots, empty pages) decode to the same accounts both ways; malformed returndata is
refused; the sparse health pass agrees with the dense one; exact sums of position sizes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from eth_abi import encode
from web3 import Web3

from keeper.client.lens import AccountSnapshot, _snapshot, snapshots
from keeper.client.page_decoder import accounts_calldata, decode_accounts_page
from keeper.exceptions import LensDecodeError
from keeper.risk.account_book import AccountBookBuilder, checksum_addresses
from keeper.risk.health import WAD, ExactHealth, PerpArrays, RiskParameters, compute_health, exact_health
from keeper.risk.margin import gross_legs
from keeper.risk.screening import screen
from keeper.risk.wide_ints import WideInts

PAGE_TYPES = ["(address,int256,uint256[],uint16,(int128,uint128,int256)[],bool)[]", "uint256"]
PARAMS = RiskParameters(
    prices=[3000 * 10**8, 60_000 * 10**8, 10**8],
    scale_exponents=[20, 10, 20],
    initial_haircut_bps=[2000, 2000, 3000],
    maintenance_haircut_bps=[1500, 1500, 2500],
    perp_marks=[60_000 * 10**18, 3000 * 10**18, 150 * 10**18, 10**18],
    perp_initial_bps=[1000] * 4,
    perp_maintenance_bps=[500] * 4,
    funding_indexes=[k * 10**15 for k in range(16)],
)


def arrays(accounts: Sequence[AccountSnapshot], params: RiskParameters) -> tuple[np.ndarray, np.ndarray, PerpArrays]:
    """Base balances (n,), collateral (n, assets) and positions (n, slots) as float64 arrays, one account object at a
    time: the reference the column decoder is checked against."""
    n = len(accounts)
    base = np.fromiter((a.base_balance for a in accounts), dtype=np.float64, count=n)
    collateral = np.array([a.collateral for a in accounts], dtype=np.float64).reshape(n, len(params.prices))
    sizes, entries, funding = (np.zeros((n, params.slots)) for _ in range(3))
    for i, account in enumerate(accounts):
        for p in account.positions:
            sizes[i, p.slot] = p.size / WAD
            entries[i, p.slot] = p.entry_price / WAD
            funding[i, p.slot] = p.funding_index / WAD
    return base, collateral, PerpArrays.build(sizes, entries, funding)


def _value(rng: random.Random, bits: int, signed: bool) -> int:
    """Mostly realistic magnitudes, sometimes the type's extremes."""
    roll = rng.random()
    top = 2 ** (bits - 1) if signed else 2**bits
    if roll < 0.05:
        magnitude = top - 1
    elif roll < 0.1:
        magnitude = rng.randrange(2**126, top)
    else:
        magnitude = rng.randrange(0, 10 ** rng.randrange(1, 30))
    return -magnitude if signed and rng.random() < 0.4 and magnitude else magnitude


def random_rows(rng: random.Random, n: int, assets: int = 3) -> list[tuple[object, ...]]:
    rows = []
    for _ in range(n):
        slots = [s for s in range(16) if rng.random() < 0.15]
        positions = [(_value(rng, 128, True), _value(rng, 128, False), _value(rng, 256, True)) for _ in slots]
        rows.append(
            (
                "0x" + rng.randbytes(20).hex(),
                _value(rng, 256, True),
                [_value(rng, 256, False) if rng.random() < 0.7 else 0 for _ in range(assets)],
                sum(1 << s for s in slots),
                positions,
                rng.random() < 0.2,
            )
        )
    return rows


def _web3_decoded(rows: list[tuple[object, ...]]) -> list[AccountSnapshot]:
    return [_snapshot(*row) for row in rows]  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(6))
def test_random_pages_decode_as_web3_decodes_them(seed: int) -> None:
    rng = random.Random(seed)
    rows = random_rows(rng, rng.choice([0, 1, 7, 200]))
    total = len(rows) + rng.randrange(0, 5000)
    data = encode(PAGE_TYPES, [rows, total])
    book, decoded_total = decode_accounts_page(data, first_index=4000, assets=3)
    assert decoded_total == total
    assert snapshots(book) == _web3_decoded(rows)
    assert book.indexes.tolist() == list(range(4000, 4000 + len(rows)))
    expected_legs = gross_legs((p.slot, p.size) for a in _web3_decoded(rows) for p in a.positions)
    assert book.gross_legs() == expected_legs


def test_floats_follow_the_exact_values() -> None:
    values = [0, 1, -1, 2**64, -(2**64) - 5, 2**127 - 1, -(2**127), 2**200, -(2**255), 10**30]
    wide = WideInts.from_ints(values)
    assert [wide.exact(k) for k in range(len(values))] == values
    assert np.allclose(wide.floats(), [float(v) for v in values], rtol=1e-15)
    signed = WideInts.from_words(
        np.frombuffer(encode(["int256"] * 10, values), ">u8").reshape(-1, 4).astype(np.uint64), True
    )
    assert [signed.exact(k) for k in range(len(values))] == values


def test_a_page_in_any_tuple_order_still_decodes() -> None:
    # Offsets are followed, not assumed: swap the first two tuples' offsets and the accounts swap too.
    rng = random.Random(11)
    rows = random_rows(rng, 2)
    data = bytearray(encode(PAGE_TYPES, [rows, 2]))
    first, second = data[96:128], data[128:160]
    data[96:128], data[128:160] = second, first
    book, _ = decode_accounts_page(bytes(data), 0)
    assert snapshots(book) == _web3_decoded([rows[1], rows[0]])


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "misaligned offset",
        "offset past the end",
        "slots without positions",
        "wide address",
        "portfolio not a bool",
        "assets",
    ],
)
def test_malformed_returndata_is_refused(damage: str) -> None:
    rng = random.Random(3)
    rows = random_rows(rng, 3)
    rows[0] = (rows[0][0], 5, [1, 2, 3], 0b101, [(1, 2, 3), (4, 5, 6)], True)
    data = bytearray(encode(PAGE_TYPES, [rows, 3]))
    first_tuple = 64 + 32 + int.from_bytes(data[96:128])
    assets = 3
    if damage == "truncated":
        data = data[:-64]
    elif damage == "misaligned offset":
        data[96:128] = (int.from_bytes(data[96:128]) + 1).to_bytes(32)
    elif damage == "offset past the end":
        data[first_tuple + 64 : first_tuple + 96] = (len(data) * 2).to_bytes(32)
    elif damage == "slots without positions":
        data[first_tuple + 96 : first_tuple + 128] = (0b111).to_bytes(32)
    elif damage == "wide address":
        data[first_tuple] = 1
    elif damage == "portfolio not a bool":
        data[first_tuple + 160 : first_tuple + 192] = (2).to_bytes(32)
    else:
        assets = 4
    with pytest.raises(LensDecodeError):
        decode_accounts_page(bytes(data), 0, assets)


def test_the_sparse_screen_reaches_the_dense_screens_decisions() -> None:
    rng = random.Random(5)
    rows = []
    for k in range(3000):
        slots = [s for s in range(16) if rng.random() < 0.15]
        positions = [
            (rng.randrange(-(5 * 10**18), 5 * 10**18), rng.randrange(10**18, 70_000 * 10**18), rng.randrange(10**16))
            for _ in slots
        ]
        collateral = [rng.randrange(10**19), rng.randrange(10**8), rng.randrange(10**22)]
        rows.append(
            (
                "0x" + k.to_bytes(20).hex(),
                rng.randrange(-(60_000 * 10**6), 10_000 * 10**6),
                collateral,
                sum(1 << s for s in slots),
                positions,
                False,
            )
        )
    book, _ = decode_accounts_page(encode(PAGE_TYPES, [rows, len(rows)]), 0, 3)
    base, collateral, perp = arrays(_web3_decoded(rows), PARAMS)
    dense = compute_health(base, collateral, PARAMS, perp)
    sparse = screen(book, PARAMS)
    assert 200 < len(sparse.due) < 2800, "a mix of healthy and due accounts"
    assert set(sparse.due.tolist()) == set(np.flatnonzero(dense.liquidatable).tolist())
    assert np.allclose(sparse.health.equity, dense.equity, rtol=1e-12, atol=1e-3)
    assert np.allclose(sparse.health.maintenance_requirement, dense.maintenance_requirement, rtol=1e-12, atol=1e-3)


def test_calldata_is_the_abi_encoding() -> None:
    vault = "0x" + "ab" * 20
    assert accounts_calldata(b"\x01\x02\x03\x04", vault, 7, 1000) == b"\x01\x02\x03\x04" + encode(
        ["address", "uint256", "uint256"], [vault, 7, 1000]
    )


@pytest.mark.parametrize("seed", range(4))
def test_pages_built_into_one_book_read_as_the_rows_do(seed: int) -> None:
    """The builder (what a full read fills page by page) holds exactly the rows of its pages, values too wide for
    the limbs included, with more positions than it first made room for."""
    rng = random.Random(seed)
    pages = [random_rows(rng, n) for n in (0, 1, 250, 300, 150)]
    count = sum(len(p) for p in pages)
    builder = AccountBookBuilder(count, 3)
    start = 0
    for rows in pages:
        page, _ = decode_accounts_page(encode(PAGE_TYPES, [rows, count]), first_index=start, assets=3)
        builder.add(page)
        start += len(rows)
    book = builder.build()
    every = [row for rows in pages for row in rows]
    assert snapshots(book) == _web3_decoded(every)
    assert book.indexes.tolist() == list(range(count))
    assert len(book.position_rows) > 1024, "more positions than the builder's first allocation"
    with pytest.raises(ValueError, match="sized for"):
        builder.add(decode_accounts_page(encode(PAGE_TYPES, [random_rows(rng, 1), 1]), 0, 3)[0])


def test_addresses_are_spelled_as_web3_spells_them() -> None:
    """The book's checksummed addresses (EIP-55, cased on arrays) equal web3's, for random addresses and the
    all-digit and all-letter extremes; an empty selection is an empty list."""
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, size=(2000, 20), dtype=np.uint8)
    raw[0], raw[1], raw[2] = 0, 0xFF, 0xAB
    assert checksum_addresses(raw) == [Web3.to_checksum_address(bytes(a)) for a in raw]
    assert checksum_addresses(raw[:0]) == []


def test_a_venue_without_a_funding_index_is_judged_as_the_vault_liquidates() -> None:
    """Where a venue cannot report its funding index, the vault's liquidation counts no funding since each position's
    last booking (`liquidationRisk`); the screen judges those accounts exactly, as if each position there had been
    booked at the index the lens would have read."""
    rng = random.Random(11)
    unreadable = frozenset({1, 4, 9})  # BTC at venue 1, ETH at venue 0, SOL at venue 1
    rows = []
    for k in range(600):
        slots = [s for s in range(16) if rng.random() < 0.2]
        positions = [
            (rng.randrange(-(5 * 10**18), 5 * 10**18), rng.randrange(10**18, 70_000 * 10**18), rng.randrange(10**22))
            for _ in slots
        ]
        collateral = [rng.randrange(10**19), rng.randrange(10**8), rng.randrange(10**22)]
        base = rng.randrange(-(60_000 * 10**6), 10_000 * 10**6)
        rows.append(("0x" + k.to_bytes(20).hex(), base, collateral, sum(1 << s for s in slots), positions, False))
    book, _ = decode_accounts_page(encode(PAGE_TYPES, [rows, len(rows)]), 0, 3)
    params = replace(PARAMS, unreadable_funding=unreadable)
    found = screen(book, params)

    def booked_now(row: int) -> ExactHealth:
        """The row's health with its positions at unreadable slots booked now: funding at entry equal to the index
        the lens would have read, so none owed."""
        base, balances, positions = book.exact_row(row)
        at = [(s, size, entry, PARAMS.funding_indexes[s] if s in unreadable else f) for s, size, entry, f in positions]
        return exact_health(base, balances, PARAMS, at)

    expected = {row for row in range(len(book)) if booked_now(row).liquidatable}
    assert set(found.due.tolist()) == expected
    plain = set(screen(book, PARAMS).due.tolist())
    assert plain != expected, "funding at entry up to 10,000 USD a unit changes some decisions"
    # The figures the order and the reports read are the exact ones too.
    for row in set(book.position_rows[np.isin(book.position_slots, list(unreadable))].tolist()):
        assert found.health.equity[row] == float(booked_now(row).equity)
    deficits = (found.health.equity - found.health.maintenance_requirement)[found.due]
    assert (np.diff(deficits) >= 0).all(), "most underwater first"
