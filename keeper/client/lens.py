"""PrimeVaultLens: every account's balances a page at a time, and every collateral price, each in one call."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BadResponseFormat, ContractLogicError, Web3RPCError
from web3.types import BlockIdentifier, RPCEndpoint

from keeper.chain.revert import revert_data
from keeper.client.base import ContractClient
from keeper.client.page_decoder import accounts_calldata, decode_accounts_page
from keeper.exceptions import TransactionReverted
from keeper.risk.account_book import AccountBook, AccountBookBuilder

MAX_PAGE_SIZE = 5000  # the lens's own bound
# The gas the lens's page calls name: geth's, reth's and erigon's default `eth_call` cap (`--rpc.gascap`), which is
# not the block gas limit (nor, for calls, EIP-7825's transaction cap); anvil runs a call with any gas it names. A
# node that caps lower stops a page short, and the page is read again in halves (`raw_pages`).
DEFAULT_CALL_GAS = 50_000_000
# What a page is sized at per account against the call's gas: a lending account costs the lens 8,300 to 9,600 gas
# (its gas test; the answer's memory grows with the square of the page), a trader more (its positions).
PAGE_GAS_PER_ACCOUNT = 10_000
# The least gas the lens's calls are lowered to when a node refuses more (`LensClient._call_gas_lowered`): the risk
# state and a page of about a hundred accounts.
MIN_CALL_GAS = 2_000_000
# What nodes answer a call naming more gas than they take, spaces removed (Hardhat, Besu and Ganache: "exceeds block
# gas limit"; revm-based nodes that apply EIP-7825's cap to calls: "intrinsic gas too high", "gas limit too high").
_GAS_REFUSALS = ("exceedsblockgaslimit", "intrinsicgastoohigh", "gaslimittoohigh", "gaslimitgreaterthancap")
# Accounts asked for in one JSON-RPC batch request during a full read (about a megabyte of answer for every
# 3,000): a full read of 100,000 accounts is four HTTP requests instead of a hundred.
ACCOUNTS_PER_BATCH = 25_000
# `PrimeVaultLens.FUNDING_UNREADABLE`: a venue's funding index the lens could not read.
FUNDING_UNREADABLE = -(2**255)
MAX_SLOTS = 16  # the lens's `openSlots` bitmap: market x MAX_VENUES + venue


def page_size_for(call_gas: int) -> int:
    """Accounts a page can ask for with `call_gas`: 5,000 (the lens's bound) with 50,000,000, 3,000 with
    30,000,000."""
    return max(1, min(MAX_PAGE_SIZE, call_gas // PAGE_GAS_PER_ACCOUNT))


DEFAULT_PAGE_SIZE = page_size_for(DEFAULT_CALL_GAS)


def follow_page_size(page_size: int) -> int:
    """The listed accounts a `follow` call asks for beside the risk state: half a page, as `follow` answers its page
    inside a second encoding and so holds it twice in memory."""
    return max(1, page_size // 2)


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
    portfolio: bool = False  # margined by the portfolio rule


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
    funding_indexes: tuple[int, ...]  # per slot, market x MAX_VENUES + venue; FUNDING_UNREADABLE where unreadable

    @property
    def unreadable_funding(self) -> frozenset[int]:
        """The slots whose venue cannot report the funding index: a liquidation counts no funding there since each
        position's last booking (`IPerpRisk.liquidationRisk`)."""
        return frozenset(slot for slot, index in enumerate(self.funding_indexes) if index == FUNDING_UNREADABLE)

    @property
    def unusable_assets(self) -> list[int]:
        return [i for i, ok in enumerate(self.usable) if not ok]

    @property
    def unusable_markets(self) -> frozenset[int]:
        return frozenset(m for m, ok in enumerate(self.marks_usable) if not ok)


@dataclass(frozen=True)
class PortfolioRuleState:
    """The portfolio rule a vault uses, as `PrimeVaultLens.portfolioRule` reads it: each underlying's name and raw
    parameters (the contract's field order), and the underlying of every collateral asset (vault order) and perp
    market (market order), None where governance has not mapped one."""

    portfolio: ChecksumAddress
    maintenance_bps: int
    correlation_credit_bps: int
    names: tuple[str, ...]
    underlyings: tuple[tuple[int, ...], ...]
    asset_underlying: tuple[int | None, ...]
    market_underlying: tuple[int | None, ...]


class LensClient(ContractClient):
    def __init__(self, w3: Web3, lens: str, vault: ChecksumAddress, call_gas: int = DEFAULT_CALL_GAS) -> None:
        super().__init__(w3, lens, "PrimeVaultLens")
        self.vault = vault
        self.call_gas = call_gas  # the gas each page call (`accounts`, `follow`) names
        # The largest page read whole since a page ran out of gas under the node's own cap: pages stay at most that
        # (a node that caps below `call_gas`, or a book of traders), instead of each one failing once again.
        self._page_limit = MAX_PAGE_SIZE

    @property
    def page_size(self) -> int:
        """Accounts a page asks for: sized to `call_gas`, and never more than a page that ran out of gas held."""
        return min(page_size_for(self.call_gas), self._page_limit)

    def prices(self, block: BlockIdentifier = "latest") -> CollateralPrices:
        prices, usable = self.read("read prices", self.contract.functions.prices(self.vault), block)
        return CollateralPrices([int(p) for p in prices], [bool(u) for u in usable])

    def risk_state(self, block: BlockIdentifier = "latest") -> RiskState:
        """Prices, haircuts, marks, margins, funding and interest indexes at `block`, in one call."""
        raw = self.read("read the risk state", self.contract.functions.riskState(self.vault), block)
        return _risk_state(raw, block)

    def portfolio_rule(self, block: BlockIdentifier = "latest") -> PortfolioRuleState:
        """The vault's portfolio rule at `block`, in one call (PortfolioMargin's own views take one per underlying,
        asset and market)."""
        portfolio, maintenance, credit, names, params, asset_mapped, asset_index, market_mapped, market_index = (
            self.read("read the portfolio rule", self.contract.functions.portfolioRule(self.vault), block)
        )
        return PortfolioRuleState(
            Web3.to_checksum_address(portfolio),
            int(maintenance),
            int(credit),
            tuple(str(n) for n in names),
            tuple(tuple(int(x) for x in p) for p in params),
            tuple(int(i) if ok else None for ok, i in zip(asset_mapped, asset_index, strict=True)),
            tuple(int(i) if ok else None for ok, i in zip(market_mapped, market_index, strict=True)),
        )

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
        page_size: int = DEFAULT_PAGE_SIZE,
        assets: int | None = None,
        start: int = 0,
        first: AccountBook | None = None,
        total: int | None = None,
    ) -> AccountBook:
        """Every account from list index `start` on (after the rows of `first`, already read, if given), all at
        `block` (a number, so that every page reads the same state), decoded straight into columns allocated once
        for the whole book, in JSON-RPC batch requests of about `ACCOUNTS_PER_BATCH` accounts. Without `total` (the
        vault's account count at `block`) the first page is read alone first, for the count."""
        held = len(first) if first is not None else 0
        offset = start
        pages: list[AccountBook] = []
        if total is None:
            listed = start
            for at, raw in self.raw_pages([(start, page_size)], block):
                page, listed = decode_accounts_page(raw, at, assets)
                assets = page.assets if len(page) else assets
                pages.append(page)
                offset += len(page)
            total = listed if offset > start else start
        builder = AccountBookBuilder(held + max(total - start, 0), assets or 0)
        if first is not None:
            builder.add(first)
        for page in pages:
            builder.add(page)
        windows = [(at, min(page_size, total - at)) for at in range(offset, total, page_size)]
        per_batch = max(1, ACCOUNTS_PER_BATCH // page_size)
        for k in range(0, len(windows), per_batch):
            for at, raw in self.raw_pages(windows[k : k + per_batch], block):
                builder.add(decode_accounts_page(raw, at, assets)[0])
        return builder.build()

    def raw_pages(self, windows: Sequence[tuple[int, int]], block: BlockIdentifier) -> list[tuple[int, bytes]]:
        """The returndata of `accounts(vault, offset, limit)` for every (offset, limit) at `block`, in one JSON-RPC
        batch request (one `eth_call` each where the provider or the node does not take batches), as (offset,
        returndata) in order. A page that runs out of gas under the node's cap (traders cost the lens more than the
        page was sized for) is read again as two halves, down to single accounts."""
        calls = [accounts_calldata(self._accounts_selector, self.vault, at, limit) for at, limit in windows]
        requests = [self._call_request(c, block) for c in calls]
        batch = getattr(self.w3.provider, "make_batch_request", None) if len(calls) > 1 else None
        try:
            responses = batch(requests) if batch is not None else None
        except NotImplementedError:
            responses = None
        if not isinstance(responses, list):  # one page, or no batches here: one call each
            responses = [self.w3.provider.make_request(method, params) for method, params in requests]
        pages: list[tuple[int, bytes]] = []
        for (offset, limit), response in zip(windows, responses, strict=True):
            error = response.get("error")
            if error is None:
                result = response.get("result")
                if not isinstance(result, str):  # a null (or anything but data): the node's garbled answer
                    raise BadResponseFormat(f"eth_call answered {result!r} where a page of accounts was due")
                pages.append((offset, bytes(HexBytes(result))))
                continue
            if _out_of_gas(error) and limit > 1:
                half = limit // 2
                self._page_limit = min(self._page_limit, limit - half)
                pages.extend(self.raw_pages([(offset, half), (offset + half, limit - half)], block))
                continue
            if self._call_gas_lowered(error):
                pages.extend(self.raw_pages([(offset, limit)], block))
                continue
            self._refused("read accounts", error)
        return pages

    def follow(
        self, touched: Sequence[str], start: int, limit: int, block: BlockIdentifier = "latest"
    ) -> tuple[RiskState, AccountBook, int]:
        """In one `eth_call` at `block`: the risk state, the accounts `touched` (rows in that order, list index -1)
        followed by the listed accounts `start` to `start + limit` (their list indexes), and the vault's account
        count. `len(touched) + limit` is at most MAX_PAGE_SIZE; under a node's cap that stops the call short, fewer
        listed accounts are read (halving `limit`, down to one)."""
        selector = _selector(self.contract.functions.follow(self.vault, [], 0, 0).selector)
        while True:
            calldata = selector + abi_encode(
                ["address", "address[]", "uint256", "uint256"], [self.vault, list(touched), start, limit]
            )
            try:
                raw = self.call_raw("follow accounts", calldata, block)
                break
            except (ContractLogicError, Web3RPCError) as exc:
                error = _node_error(exc)
                if _out_of_gas(error) and limit > 1:
                    # `follow` holds its listed accounts twice (`follow_page_size`): twice as many did not fit a page.
                    limit //= 2
                    self._page_limit = min(self._page_limit, 2 * limit)
                elif not self._call_gas_lowered(error):
                    raise
        state, page = abi_decode([RISK_STATE_TYPE, "bytes"], raw)
        book, total = decode_accounts_page(page, start - len(touched), len(state[4]))
        if touched:
            book.indexes[: len(touched)] = -1
        return _risk_state(state, block), book, total

    @property
    def _accounts_selector(self) -> bytes:
        return _selector(self.contract.functions.accounts(self.vault, 0, 1).selector)

    def call_raw(self, action: str, calldata: bytes, block: BlockIdentifier) -> bytes:
        """One `eth_call` of this contract with `calldata` at `block`, naming `call_gas`: the raw returndata, web3's
        result normalisation and ABI decoding left out; a revert with data raises `TransactionReverted`, decoded (one
        without, what a read that ran out of gas answers, and the node's own errors raise as web3 raised them)."""
        try:
            return bytes(
                self.w3.eth.call({"to": self.address, "data": HexBytes(calldata), "gas": self.call_gas}, block)
            )
        except (ContractLogicError, Web3RPCError) as exc:
            data = revert_data(exc)
            if not data:
                raise
            raise TransactionReverted(action, self.decoder.decode(data)) from None

    def _call_request(self, calldata: bytes, block: BlockIdentifier) -> tuple[RPCEndpoint, list[Any]]:
        """A raw `eth_call` of this contract at `block` naming `call_gas`, for `make_request` or a batch."""
        at = hex(block) if isinstance(block, int) else block
        return RPCEndpoint("eth_call"), [
            {"to": self.address, "data": "0x" + calldata.hex(), "gas": hex(self.call_gas)},
            at,
        ]

    def _call_gas_lowered(self, error: Mapping[str, Any]) -> bool:
        """Halves `call_gas` when the node refused a call for naming more gas than it takes (Hardhat and Besu refuse
        more than the block gas limit, where geth caps it silently), unless it is down to MIN_CALL_GAS already: then
        the refusal is the node's answer. Whether the call is to be asked again."""
        message = str(error.get("message", "")).lower().replace(" ", "")
        if not any(words in message for words in _GAS_REFUSALS) or self.call_gas <= MIN_CALL_GAS:
            return False
        self.call_gas = max(MIN_CALL_GAS, self.call_gas // 2)
        return True

    def _refused(self, action: str, error: Mapping[str, Any]) -> NoReturn:
        """Raises what a node's error for a raw call says: the contract's revert, decoded, or the node's refusal."""
        data = error.get("data")
        if isinstance(data, str) and len(data) > 2:
            raise TransactionReverted(action, self.decoder.decode(bytes(HexBytes(data))))
        raise Web3RPCError(f"{action} failed: {error}")

    def iter_accounts(
        self, page_size: int = DEFAULT_PAGE_SIZE, block: BlockIdentifier = "latest"
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
    account: str,
    base: int,
    collateral: Sequence[int],
    open_slots: int,
    positions: Sequence[Sequence[int]],
    portfolio: bool,
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
        bool(portfolio),
    )


def _risk_state(fields: Sequence[Any], asked: BlockIdentifier) -> RiskState:
    """The lens's `RiskState` read at `asked`: a block number asked for is the state's block whatever `block.number`
    said in the call (anvil runs a call at its head in the next block's environment while that block is being mined:
    the keeper's follower took that for a reorganisation and read every account again)."""
    block, timestamp, supply_index, borrow_index = (int(f) for f in fields[:4])
    lists = [tuple(f) for f in fields[4:]]
    return RiskState(asked if isinstance(asked, int) else block, timestamp, supply_index, borrow_index, *lists)


def _node_error(exc: ContractLogicError | Web3RPCError) -> Mapping[str, Any]:
    """The node's JSON-RPC error behind web3's exception for a call that `call_raw` did not take for the contract's
    own revert (a revert without data is what a lens read that ran out of gas answers)."""
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict):
        return error
    return {"message": str(exc), "data": "0x" if isinstance(exc, ContractLogicError) else None}


def _out_of_gas(error: Mapping[str, Any]) -> bool:
    """Whether a node's error for a page's `eth_call` can be running out of gas: said so (anvil: "EVM error
    OutOfGas"; geth: "out of gas"), or a revert without a reason, which is what the lens answers when one of its
    reads runs out (the sixty-fourth of the gas it kept is enough to revert; its own errors all have reasons)."""
    message = str(error.get("message", "")).lower().replace(" ", "")
    return "outofgas" in message or error.get("data") in ("0x", "")


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
            bool(book.portfolio[row]),
        )
        for row in range(len(book))
        for base, collateral, positions in [book.exact_row(row)]
    ]
