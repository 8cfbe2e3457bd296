"""The RabbitX-style exchange's chain side, end to end: a deposit on the custody contract (anvil) is credited by the
devnet exchange (a real server) after its confirmations, as the connector's `balance()` shows; a withdrawal asked for
through the connector comes back with the exchange's signature, which the contract pays once and refuses again
with its named error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from keeper.chain.anvil import Anvil
from keeper.chain.artifacts import load_artifact
from keeper.chain.keys import dev_account
from keeper.chain.revert import ErrorDecoder, error_decoder
from keeper.chain.transactions import Sender
from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.models import Withdrawal
from keeper.devnet.rabbitx.app import DevnetConfig
from keeper.devnet.rabbitx.chain_watcher import ChainWatchConfig, ChainWatcher
from keeper.devnet.rabbitx.exchange import ExchangeConfig
from keeper.devnet.rabbitx.withdrawals import sign_withdrawal
from keeper.exceptions import TransactionReverted

from .conftest import service_on_thread
from .rabbitx_service import SIGNER_KEY, RabbitXService

pytestmark = pytest.mark.chain  # its own anvil

D = Decimal
T = TypeVar("T")

CONFIRMATIONS = 3
TRADER = 3  # anvil dev accounts: the trader's wallet, and the keeper that submits the claim
KEEPER = 4


@dataclass
class Custody:
    """A fresh USDC (6 decimals, open faucet) and the exchange's custody contract over it, signer SIGNER_KEY."""

    w3: Web3
    url: str
    usdc: Contract
    contract: Contract
    decoder: ErrorDecoder
    deployed_at: int

    def sender(self, index: int) -> Sender:
        return Sender(self.w3, dev_account(index), self.decoder)

    def mine(self, blocks: int) -> None:
        for _ in range(blocks):
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    """An anvil of this module's own: the session chain in tests/python/conftest.py deploys the whole protocol,
    and this needs only a token and the custody contract."""
    with Anvil() as anvil:
        yield anvil


@pytest.fixture
def custody(node: Anvil) -> Custody:
    w3 = Web3(Web3.HTTPProvider(node.url))
    token, vault = load_artifact("MockERC20"), load_artifact("RabbitXCustody")
    decoder = error_decoder()
    deployer = Sender(w3, dev_account(0), decoder)
    usdc = deployer.deploy(
        "deploy USDC",
        w3.eth.contract(abi=token.abi, bytecode=token.bytecode).constructor("USD Coin", "USDC", 6),
    )
    signer = Account.from_key(SIGNER_KEY).address
    factory = w3.eth.contract(abi=vault.abi, bytecode=vault.bytecode)
    address = deployer.deploy("deploy RabbitXCustody", factory.constructor(usdc, signer, deployer.address))
    return Custody(
        w3,
        node.url,
        w3.eth.contract(address=usdc, abi=token.abi),
        w3.eth.contract(address=address, abi=vault.abi),
        decoder,
        w3.eth.block_number,
    )


@pytest.fixture
def exchange(custody: Custody, tmp_path: Path) -> Iterator[RabbitXService]:
    address = custody.contract.address
    config = DevnetConfig(
        ExchangeConfig(signer_key=SIGNER_KEY, custody_address=address, chain_id=custody.w3.eth.chain_id),
        funding_interval=0,
        liquidation_interval=0,
        chain=ChainWatchConfig(
            custody.url, address, confirmations=CONFIRMATIONS, poll_interval=0.02, from_block=custody.deployed_at
        ),
    )
    with service_on_thread(config, tmp_path / "keeper-data") as service:
        yield service


async def _eventually(read: Callable[[], Awaitable[T]], until: Callable[[T], bool], timeout: float = 5.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout}s")
        await asyncio.sleep(0.02)


def test_deposit_credit_withdrawal_claim_round_trip(custody: Custody, exchange: RabbitXService) -> None:
    trader: LocalAccount = dev_account(TRADER)
    usdc = custody.usdc
    trader_sends = custody.sender(TRADER)
    trader_sends.transact("mint", usdc.functions.mint(trader.address, 1_000 * 10**6))
    trader_sends.transact("approve", usdc.functions.approve(custody.contract.address, 1_000 * 10**6))

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            credentials = await RabbitXClient(session, exchange.url).onboard("0x" + trader.key.hex(), trader.address)
        async with RabbitXConnector(exchange.settings(credentials)) as connector:
            assert (await connector.balance()).balance == 0

            receipt = trader_sends.transact("deposit", custody.contract.functions.deposit(1_000 * 10**6))
            (event,) = custody.contract.events.Deposit().process_receipt(receipt, errors=DISCARD)
            assert (event["args"]["id"], event["args"]["trader"]) == (1, trader.address)

            # Mined, so one confirmation of three: the exchange waits.
            custody.mine(CONFIRMATIONS - 2)
            await asyncio.sleep(0.3)
            assert (await connector.balance()).balance == 0, "credited before its confirmations"
            custody.mine(1)
            balance = await _eventually(connector.balance, lambda b: b.balance > 0)
            assert (balance.balance, balance.withdrawable) == (D(1000), D(1000))

            # Reading the same blocks again (a restarted watcher) credits nothing twice.
            async def rewind() -> None:
                assert exchange.devnet.chain_watcher is not None
                exchange.devnet.chain_watcher.next_block = custody.deployed_at

            await exchange.on_service(rewind)
            custody.mine(1)
            await asyncio.sleep(0.3)
            assert (await connector.balance()).balance == D(1000)

            requested = await connector.request_withdrawal(D("250.5"))
            assert requested.pending and requested.claim is None, "pending for its processing block first"
            assert await connector.withdrawal_claim(requested) == requested, "nothing to claim yet"

            async def claimable() -> list[Withdrawal]:
                return [w for w in await connector.withdrawals() if w.claimable]

            [listed] = await _eventually(claimable, bool)
            withdrawal = await connector.withdrawal_claim(listed)
            assert withdrawal.status == "claimable" and withdrawal.claim is not None
            claim = withdrawal.claim
            assert (claim.withdrawal_id, claim.trader, claim.amount_units) == (1, trader.address, 250_500_000)
            assert (await connector.balance()).balance == D("749.5")

            # The keeper, not the trader, submits the claim; the tokens go to the trader.
            keeper_sends = custody.sender(KEEPER)
            before = usdc.functions.balanceOf(trader.address).call()
            receipt = keeper_sends.transact("claim", custody.contract.functions.withdraw(*claim.arguments()))
            assert usdc.functions.balanceOf(trader.address).call() == before + 250_500_000
            (paid,) = custody.contract.events.WithdrawalReceipt().process_receipt(receipt, errors=DISCARD)
            assert (paid["args"]["id"], paid["args"]["amount"]) == (1, 250_500_000)

            with pytest.raises(TransactionReverted) as again:
                keeper_sends.transact("claim again", custody.contract.functions.withdraw(*claim.arguments()))
            assert again.value.error.name == "RabbitXCustodyWithdrawalAlreadyProcessed"
            assert again.value.error.args == {"id": 1}
            assert usdc.functions.balanceOf(trader.address).call() == before + 250_500_000

            # After its confirmations the exchange marks the withdrawal paid.
            custody.mine(CONFIRMATIONS)

            async def status() -> str:
                rows = await connector.client.private("GET", "/balanceops", params={"ops_type": "withdrawal"})
                return str(rows[0]["status"])

            await _eventually(status, lambda s: s == "success")

    asyncio.run(scenario())


def test_a_claim_signed_by_another_key_is_refused(custody: Custody) -> None:
    """A claim whose signer is not the contract's (another exchange key) reverts with the recovered signer."""
    other = "0x" + "77" * 32
    trader = dev_account(TRADER).address
    signed = sign_withdrawal(other, 5, trader, 1, custody.w3.eth.chain_id, custody.contract.address)
    call = custody.contract.functions.withdraw(
        5, trader, 1, signed.v, bytes.fromhex(signed.r[2:]), bytes.fromhex(signed.s[2:])
    )
    with pytest.raises(TransactionReverted) as refused:
        custody.sender(KEEPER).transact("claim", call)
    assert refused.value.error.name == "RabbitXCustodyInvalidSignature"
    assert refused.value.error.args == {"id": 5, "recovered": Account.from_key(other).address}


class _Ledger:
    """Records what the watcher passes on; refuses deposit ids in `refuse`, as the exchange refuses a deposit id it
    credited with another amount."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.deposits: list[tuple[str, int, str]] = []
        self.paid: list[int] = []

    def credit_deposit(self, trader: str, amount: int, deposit_id: str) -> bool:
        if deposit_id in self.refuse:
            raise ValueError(f"deposit {deposit_id} was credited with another amount")
        self.deposits.append((trader, amount, deposit_id))
        return True

    def withdrawal_claimed(self, withdrawal_id: int, txhash: str = "") -> bool:
        self.paid.append(withdrawal_id)
        return True


def test_the_watcher_reads_only_confirmed_blocks_and_a_refused_event_stops_nothing(custody: Custody) -> None:
    trader = dev_account(TRADER)
    sends = custody.sender(TRADER)
    sends.transact("mint", custody.usdc.functions.mint(trader.address, 30))
    sends.transact("approve", custody.usdc.functions.approve(custody.contract.address, 30))
    for amount in (10, 20):
        sends.transact("deposit", custody.contract.functions.deposit(amount))
    ledger = _Ledger(refuse={"1"})
    config = ChainWatchConfig(custody.url, custody.contract.address, confirmations=2, from_block=custody.deployed_at)

    async def scenario() -> None:
        watcher = ChainWatcher(ledger, config)
        try:
            head = custody.w3.eth.block_number
            assert await watcher.poll() == [], "the last deposit has one confirmation of two; the first was refused"
            assert watcher.next_block == head and ledger.deposits == []
            custody.mine(1)
            (event,) = await watcher.poll()
            assert (event.kind, event.id, event.amount, event.trader) == ("deposit", 2, 20, trader.address)
            assert ledger.deposits == [(trader.address, 20, "2")]
            assert await watcher.poll() == []
        finally:
            await watcher.close()

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="confirmations must be at least 1"):
        ChainWatchConfig(custody.url, custody.contract.address, confirmations=0)
