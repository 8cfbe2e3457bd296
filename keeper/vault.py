"""Typed client for a deployed PrimeVault: reads in base units, writes through a `Sender`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.logs import DISCARD
from web3.types import BlockIdentifier, TxReceipt

from keeper.chain.artifacts import ARTIFACT_NAMES, load_artifact
from keeper.chain.deployment import Deployment, TokenInfo
from keeper.chain.revert import DecodedError, ErrorDecoder, revert_data
from keeper.chain.transactions import Sender
from keeper.exceptions import PrimeVaultError, TransactionReverted

MAX_UINT256 = 2**256 - 1
PERMISSIONS = {"withdraw": 1 << 0, "transfer": 1 << 1, "trade": 1 << 2}
MAX_PAGE_SIZE = 1000


def vault_error_decoder() -> ErrorDecoder:
    """Decodes every custom error any shipped contract reverts with: the vault and its liquidation module,
    the lens, the trading module, every adapter and venue, and the tokens."""
    return ErrorDecoder(*(load_artifact(name).abi for name in ARTIFACT_NAMES))


def sub_account(owner: str, sub_id: int) -> ChecksumAddress:
    """Sub-account `sub_id` (0..255) of `owner`: the owner's address XOR `sub_id`."""
    if not 0 <= sub_id <= 255:
        raise ValueError(f"sub-account id {sub_id} is out of range 0..255")
    return Web3.to_checksum_address((int(owner, 16) ^ sub_id).to_bytes(20, "big"))


@dataclass(frozen=True)
class AccountHealth:
    """Health of one sub-account, all in base units (see `IPrimeVault.AccountHealth`)."""

    base_balance: int
    debt: int
    collateral_value: int
    unrealized_pnl: int
    equity: int
    initial_requirement: int
    maintenance_requirement: int
    liquidatable: bool


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


@dataclass(frozen=True)
class AssetConfig:
    address: ChecksumAddress
    feed: ChecksumAddress
    max_staleness: int
    initial_haircut_bps: int
    maintenance_haircut_bps: int
    liquidation_penalty_bps: int
    index: int
    scale_exponent: int


@dataclass(frozen=True)
class MarketState:
    supply_index: int
    borrow_index: int
    last_accrual_time: int
    total_supply: int
    total_borrow: int
    utilization_wad: int
    supply_rate_per_second: int
    borrow_rate_per_second: int
    reserves: int


@dataclass(frozen=True)
class LiquidationEvent:
    account: ChecksumAddress
    debt_cleared: int
    shortfall: int


@dataclass(frozen=True)
class LiquidationResult:
    liquidated: tuple[LiquidationEvent, ...]
    bad_debt: int
    reward: int
    gas_used: int
    block: int
    # Accounts the vault left out with `LiquidationSkipped` (their prices are unusable), with the reason.
    skipped: tuple[tuple[ChecksumAddress, DecodedError], ...] = ()


class VaultClient:
    """Reads and writes one PrimeVault deployment. Writes need a `Sender`."""

    def __init__(self, w3: Web3, deployment: Deployment, sender: Sender | None = None) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.sender = sender
        self._abi = load_artifact("PrimeVault").abi
        self._token_abi = load_artifact("MockERC20").abi
        self.contract: Contract = w3.eth.contract(address=deployment.vault, abi=self._abi)
        self.lens: Contract = w3.eth.contract(address=deployment.lens, abi=load_artifact("PrimeVaultLens").abi)
        self.decoder = vault_error_decoder()

    # ------------------------------------------------------------------ reads

    def token(self, symbol: str) -> TokenInfo:
        return self.deployment.token(symbol)

    def token_contract(self, symbol: str) -> Contract:
        return self.w3.eth.contract(address=self.token(symbol).address, abi=self._token_abi)

    def health(self, account: str, block: BlockIdentifier = "latest") -> AccountHealth:
        raw = self.read("read account health", self.contract.functions.accountHealth(_checksum(account)), block)
        return AccountHealth(*raw)

    def owner_of(self, account: str) -> ChecksumAddress:
        return Web3.to_checksum_address(self.contract.functions.ownerOf(_checksum(account)).call())

    def available_liquidity(self) -> int:
        """Base units the vault holds, which is what can be borrowed or withdrawn right now."""
        return int(self.token_contract(self.deployment.base.symbol).functions.balanceOf(self.deployment.vault).call())

    def base_balance(self, account: str) -> int:
        return int(self.contract.functions.baseBalanceOf(_checksum(account)).call())

    def collateral_balance(self, account: str, symbol: str) -> int:
        address = self.token(symbol).address
        return int(self.contract.functions.collateralBalanceOf(_checksum(account), address).call())

    def is_liquidatable(self, account: str, block: BlockIdentifier = "latest") -> bool:
        return bool(self.read("check liquidatable", self.contract.functions.isLiquidatable(account), block))

    def prices(self, block: BlockIdentifier = "latest") -> tuple[list[int], list[bool]]:
        """Every collateral price (feed units) and whether it is usable; an unusable one reads as 0."""
        fn = self.lens.functions.prices(self.deployment.vault)
        prices, usable = self.read("read prices", fn, block)
        return [int(p) for p in prices], [bool(u) for u in usable]

    def asset_configs(self) -> list[AssetConfig]:
        addresses = self.contract.functions.collateralAssets().call()
        configs = []
        for address in addresses:
            raw = self.contract.functions.assetConfig(address).call()
            configs.append(AssetConfig(address, *raw))
        return configs

    def market(self) -> MarketState:
        return MarketState(*self.contract.functions.marketState().call())

    def account_count(self, block: BlockIdentifier = "latest") -> int:
        return int(self.contract.functions.accountCount().call(block_identifier=block))

    def accounts_page(
        self, offset: int, limit: int, block: BlockIdentifier = "latest"
    ) -> tuple[list[AccountSnapshot], int]:
        page, total = self.lens.functions.accounts(self.deployment.vault, offset, limit).call(block_identifier=block)
        rows = [_snapshot(*row) for row in page]
        return rows, int(total)

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

    # ------------------------------------------------------------------ writes

    def deposit(self, account: str, symbol: str, amount: int) -> TxReceipt:
        token = self.token(symbol)
        self._approve(symbol, amount)
        fn = self.contract.functions.deposit(_checksum(account), token.address, amount)
        return self._sender().transact(f"deposit {symbol}", fn)

    def withdraw(self, account: str, symbol: str, amount: int, receiver: str | None = None) -> TxReceipt:
        sender = self._sender()
        fn = self.contract.functions.withdraw(
            _checksum(account), self.token(symbol).address, amount, _checksum(receiver or sender.address)
        )
        return sender.transact(f"withdraw {symbol}", fn)

    def repay(self, account: str, amount: int | None = None) -> TxReceipt:
        """Repays `amount` of base debt, or all of it when `amount` is None."""
        if amount is None:
            debt = max(-self.base_balance(account), 0)
            # Interest accrues until the transaction is mined: approve a little more than today's debt.
            self._approve(self.deployment.base.symbol, debt + debt // 1000 + 1)
            amount = MAX_UINT256
        else:
            self._approve(self.deployment.base.symbol, amount)
        return self._sender().transact("repay", self.contract.functions.repay(_checksum(account), amount))

    def transfer(self, source: str, target: str, symbol: str, amount: int) -> TxReceipt:
        fn = self.contract.functions.transfer(_checksum(source), _checksum(target), self.token(symbol).address, amount)
        return self._sender().transact(f"transfer {symbol}", fn)

    def set_operator(self, account: str, operator: str, permissions: int) -> TxReceipt:
        fn = self.contract.functions.setOperator(_checksum(account), _checksum(operator), permissions)
        return self._sender().transact("set operator", fn)

    def liquidate(self, accounts: Sequence[str], gas: int | None = None) -> LiquidationResult:
        fn = self.contract.functions.liquidate([_checksum(a) for a in accounts])
        receipt = self._sender().transact("liquidate", fn, gas=gas)
        return self._liquidation_result(receipt)

    def liquidate_batches(self, batches: Sequence[Sequence[str]]) -> list[LiquidationResult | TransactionReverted]:
        """Sends every batch before waiting for any (consecutive nonces, so that they can share a block);
        returns each batch's result, or its decoded revert if it failed."""
        fns = [self.contract.functions.liquidate([_checksum(a) for a in batch]) for batch in batches]
        return [
            outcome if isinstance(outcome, TransactionReverted) else self._liquidation_result(outcome)
            for outcome in self._sender().transact_all("liquidate", fns)
        ]

    # ------------------------------------------------------------------ helpers

    def _liquidation_result(self, receipt: TxReceipt) -> LiquidationResult:
        events = self.contract.events
        liquidated = tuple(
            LiquidationEvent(e["args"]["account"], e["args"]["debtCleared"], e["args"]["shortfall"])
            for e in events.Liquidated().process_receipt(receipt, errors=DISCARD)
        )
        bad_debt = sum(e["args"]["amount"] for e in events.BadDebt().process_receipt(receipt, errors=DISCARD))
        reward = sum(e["args"]["reward"] for e in events.LiquidatorRewarded().process_receipt(receipt, errors=DISCARD))
        skipped = tuple(
            (e["args"]["account"], self.decoder.decode(bytes(e["args"]["reason"])))
            for e in events.LiquidationSkipped().process_receipt(receipt, errors=DISCARD)
        )
        return LiquidationResult(liquidated, bad_debt, reward, receipt["gasUsed"], receipt["blockNumber"], skipped)

    def _approve(self, symbol: str, amount: int) -> None:
        """Approves the vault for exactly `amount` when the allowance is short: never an unlimited approval, so a
        wallet exposes to the vault no more than the transaction it is about to send."""
        sender = self._sender()
        token = self.token_contract(symbol)
        if token.functions.allowance(sender.address, self.deployment.vault).call() < amount:
            sender.transact(f"approve {symbol}", token.functions.approve(self.deployment.vault, amount))

    def read(self, action: str, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """Calls `fn` at `block`; a revert raises `TransactionReverted` with the decoded error."""
        try:
            return fn.call(block_identifier=block)
        except (ContractLogicError, Web3RPCError) as exc:
            data = revert_data(exc)
            if data is None:
                raise
            raise TransactionReverted(action, self.decoder.decode(data)) from None

    def _sender(self) -> Sender:
        if self.sender is None:
            raise PrimeVaultError("this action sends a transaction: give a key (--keystore or --dev-account)")
        return self.sender


def _snapshot(
    account: str, base: int, collateral: Sequence[int], open_slots: int, positions: Sequence[Sequence[int]]
) -> AccountSnapshot:
    slots = [slot for slot in range(16) if open_slots >> slot & 1]
    return AccountSnapshot(
        Web3.to_checksum_address(account),
        int(base),
        tuple(int(c) for c in collateral),
        tuple(PerpPosition(slot, int(p[0]), int(p[1]), int(p[2])) for slot, p in zip(slots, positions, strict=True)),
    )


def _checksum(address: str) -> ChecksumAddress:
    return Web3.to_checksum_address(address)
