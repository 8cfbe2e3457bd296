"""PrimeVaultLens: every account's balances a page at a time, and every collateral price, each in one call."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import BlockIdentifier, RPCEndpoint

from keeper.chain.revert import revert_data
from keeper.client.base import ContractClient
from keeper.client.page_decoder import accounts_calldata, decode_accounts_page
from keeper.exceptions import TransactionReverted
from keeper.risk.account_book import AccountBook, AccountBookBuilder

MAX_PAGE_SIZE = 1000
# Pages asked for in one JSON-RPC batch request during a full read (at 1,000 accounts a page, 25 pages answer in
# about a megabyte): a full read of 100,000 accounts is five HTTP requests instead of a hundred.
PAGES_PER_BATCH = 25
MAX_SLOTS = 16  # the lens's `openSlots` bitmap: market x MAX_VENUES + venue


@dataclass(frozen=True)
class PerpPosition:
    """One open position of an account, in the trading module's units (WAD)."""

    slot: int  # market x MAX_VENUES + venue
    size: int
    entry_price: int
    funding_index: int


@dataclass(frozen=True)
class AccountSnapshot:
    """One row of the lens's paged account view."""

    account: ChecksumAddress
    base_balance: int
    collateral: tuple[int, ...]
    positions: tuple[PerpPosition, ...] = ()


class CollateralPrices(NamedTuple):
    """Every collateral price in the vault's asset order: raw feed answers (each in its feed's decimals), an
    unusable one (stale or not positive) read as 0 and flagged."""

    prices: list[int]
    usable: list[bool]


# `follow`'s return: the RiskState tuple and the page's bytes.
RISK_STATE_TYPE = (
    "(uint256,uint256,uint256,uint256,uint256[],bool[],uint8[],uint16[],uint16[],uint256[],bool[],uint16[],uint16[],"
    "int256[])"
)


@dataclass(frozen=True)
class RiskState:
    """What a risk pass needs besides the accounts, at one block (the lens's `RiskState`): per collateral asset in
    the vault's order, per perp market in the trading module's order; unusable prices read as 0 and flagged."""

    block: int
    timestamp: int
    supply_index: int
    borrow_index: int
    prices: tuple[int, ...]  # feed answers, each in its feed's decimals
    usable: tuple[bool, ...]
    scale_exponents: tuple[int, ...]
    initial_haircut_bps: tuple[int, ...]
    maintenance_haircut_bps: tuple[int, ...]
    marks: tuple[int, ...]  # USD WAD
    marks_usable: tuple[bool, ...]
    perp_initial_bps: tuple[int, ...]
    perp_maintenance_bps: tuple[int, ...]
    funding_indexes: tuple[int, ...]  # per slot, market x MAX_VENUES + venue

    @property
    def unusable_assets(self) -> list[int]:
        return [i for i, ok in enumerate(self.usable) if not ok]

    @property
    def unusable_markets(self) -> frozenset[int]:
        return frozenset(m for m, ok in enumerate(self.marks_usable) if not ok)


class LensClient(ContractClient):
    def __init__(self, w3: Web3, lens: str, vault: ChecksumAddress) -> None:
        super().__init__(w3, lens, "PrimeVaultLens")
        self.vault = vault

    def prices(self, block: BlockIdentifier = "latest") -> CollateralPrices:
        prices, usable = self.read("read prices", self.contract.functions.prices(self.vault), block)
        return CollateralPrices([int(p) for p in prices], [bool(u) for u in usable])

    def risk_state(self, block: BlockIdentifier = "latest") -> RiskState:
        """Prices, haircuts, marks, margins, funding and interest indexes at `block`, in one call."""
        return _risk_state(self.read("read the risk state", self.contract.functions.riskState(self.vault), block))

    def accounts_page(
        self, offset: int, limit: int, block: BlockIdentifier = "latest"
    ) -> tuple[list[AccountSnapshot], int]:
        """Accounts `offset` to `offset + limit` of the vault's list, and how many there are."""
        page, total = self.contract.functions.accounts(self.vault, offset, limit).call(block_identifier=block)
        return [_snapshot(*row) for row in page], int(total)

    def raw_page(self, offset: int, limit: int, block: BlockIdentifier = "latest") -> bytes:
        """The returndata of `accounts(vault, offset, limit)` at `block`, undecoded (one `eth_call`)."""
        calldata = accounts_calldata(self._accounts_selector, self.vault, offset, limit)
        return self.call_raw("read accounts", calldata, block)

    def book_page(
        self, offset: int, limit: int, block: BlockIdentifier = "latest", assets: int | None = None
    ) -> tuple[AccountBook, int]:
        """Accounts `offset` to `offset + limit` as numpy columns, and how many there are."""
        return decode_accounts_page(self.raw_page(offset, limit, block), offset, assets)

    def book(
        self,
        block: BlockIdentifier,
        page_size: int = MAX_PAGE_SIZE,
        assets: int | None = None,
        start: int = 0,
        first: AccountBook | None = None,
        total: int | None = None,
    ) -> AccountBook:
        """Every account from list index `start` on (after the rows of `first`, already read, if given), all at
        `block` (a number, so that every page reads the same state), decoded straight into columns allocated once
        for the whole book, in JSON-RPC batch requests of `PAGES_PER_BATCH` calls. Without `total` (the vault's
        account count at `block`) the first page is read alone first, for the count."""
        held = len(first) if first is not None else 0
        offset = start
        pages: list[AccountBook] = []
        if total is None:
            page, total = self.book_page(start, page_size, block, assets)
            assets = page.assets if len(page) else assets
            pages.append(page)
            offset += len(page)
            if not len(page):
                total = offset
        builder = AccountBookBuilder(held + max(total - start, 0), assets or 0)
        if first is not None:
            builder.add(first)
        for page in pages:
            builder.add(page)
        offsets = list(range(offset, total, page_size))
        for k in range(0, len(offsets), PAGES_PER_BATCH):
            part = offsets[k : k + PAGES_PER_BATCH]
            for at, raw in zip(part, self.raw_pages(part, page_size, block), strict=True):
                builder.add(decode_accounts_page(raw, at, assets)[0])
        return builder.build()

    def raw_pages(self, offsets: Sequence[int], limit: int, block: BlockIdentifier) -> list[bytes]:
        """The returndata of `accounts(vault, offset, limit)` for every offset at `block`, in one JSON-RPC batch
        request; one `eth_call` each where the provider or the node does not take batches."""
        calls = [accounts_calldata(self._accounts_selector, self.vault, offset, limit) for offset in offsets]
        at = hex(block) if isinstance(block, int) else block
        requests = [(RPCEndpoint("eth_call"), [{"to": self.address, "data": "0x" + c.hex()}, at]) for c in calls]
        batch = getattr(self.w3.provider, "make_batch_request", None)
        try:
            responses = batch(requests) if batch is not None else None
        except NotImplementedError:
            responses = None
        if not isinstance(responses, list):  # no batches here: one call each
            return [self.call_raw("read accounts", c, block) for c in calls]
        pages = []
        for response in responses:
            if "error" in response:
                data = response["error"].get("data")
                if not isinstance(data, str):
                    raise Web3RPCError(f"read accounts failed: {response['error']}")
                raise TransactionReverted("read accounts", self.decoder.decode(bytes(HexBytes(data))))
            pages.append(bytes(HexBytes(response["result"])))
        return pages

    def follow(
        self, touched: Sequence[str], start: int, limit: int, block: BlockIdentifier = "latest"
    ) -> tuple[RiskState, AccountBook, int]:
        """In one `eth_call` at `block`: the risk state, the accounts `touched` (rows in that order, list index -1)
        followed by the listed accounts `start` to `start + limit` (their list indexes), and the vault's account
        count. `len(touched) + limit` is at most MAX_PAGE_SIZE."""
        selector = _selector(self.contract.functions.follow(self.vault, [], 0, 0).selector)
        calldata = selector + abi_encode(
            ["address", "address[]", "uint256", "uint256"], [self.vault, list(touched), start, limit]
        )
        raw = self.call_raw("follow accounts", calldata, block)
        state, page = abi_decode([RISK_STATE_TYPE, "bytes"], raw)
        book, total = decode_accounts_page(page, start - len(touched), len(state[4]))
        if touched:
            book.indexes[: len(touched)] = -1
        return _risk_state(state), book, total

    @property
    def _accounts_selector(self) -> bytes:
        return _selector(self.contract.functions.accounts(self.vault, 0, 1).selector)

    def call_raw(self, action: str, calldata: bytes, block: BlockIdentifier) -> bytes:
        """One `eth_call` of this contract with `calldata` at `block`: the raw returndata, web3's result
        normalisation and ABI decoding left out; a revert raises `TransactionReverted`, decoded."""
        try:
            return bytes(self.w3.eth.call({"to": self.address, "data": HexBytes(calldata)}, block))
        except (ContractLogicError, Web3RPCError) as exc:
            data = revert_data(exc)
            if data is None:
                raise
            raise TransactionReverted(action, self.decoder.decode(data)) from None

    def iter_accounts(
        self, page_size: int = MAX_PAGE_SIZE, block: BlockIdentifier = "latest"
    ) -> Iterator[AccountSnapshot]:
        """Every account, one `eth_call` per page, all pages read at the same block."""
        offset = 0
        while True:
            rows, total = self.accounts_page(offset, page_size, block)
            yield from rows
            offset += len(rows)
            if offset >= total or not rows:
                return


def _snapshot(
    account: str, base: int, collateral: Sequence[int], open_slots: int, positions: Sequence[Sequence[int]]
) -> AccountSnapshot:
    # Positions come in the order of the set bits of `openSlots`.
    slots = [slot for slot in range(MAX_SLOTS) if open_slots >> slot & 1]
    return AccountSnapshot(
        Web3.to_checksum_address(account),
        int(base),
        tuple(int(c) for c in collateral),
        tuple(
            PerpPosition(slot, int(size), int(entry), int(funding))
            for slot, (size, entry, funding) in zip(slots, positions, strict=True)
        ),
    )


def _risk_state(fields: Sequence[Any]) -> RiskState:
    block, timestamp, supply_index, borrow_index = (int(f) for f in fields[:4])
    lists = [tuple(f) for f in fields[4:]]
    return RiskState(block, timestamp, supply_index, borrow_index, *lists)


def _selector(hex_selector: object) -> bytes:
    return bytes.fromhex(str(hex_selector).removeprefix("0x"))


def snapshots(book: AccountBook) -> list[AccountSnapshot]:
    """A book's accounts as objects (reports and tests; the scan itself stays on the columns)."""
    return [
        AccountSnapshot(
            book.address(row),
            base,
            tuple(collateral),
            tuple(PerpPosition(*position) for position in positions),
        )
        for row in range(len(book))
        for base, collateral, positions in [book.exact_row(row)]
    ]
