"""The route margin takes between Ethereum and a dYdX subaccount, leg by leg through the connector against the
replicas of dYdX and Noble: a withdrawal pays the owner's dYdX bank balance only (any other recipient is refused
with sending code 6, as the chain's ValidateBasic refuses it), IBC carries USDC to Noble under x/ratelimit's hourly
capacity and back (in flight until the next block), MsgDepositToSubaccount brings it into the subaccount, and
Noble's MsgDepositForBurn sends it to Ethereum, found again by Noble's transaction search and attested by the
attestation route."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

import grpc
import httpx
import pytest
from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.network import NodeConfig, insecure_channel
from dydx_v4_client.node.client import NodeClient
from dydx_v4_client.node.message import deposit, transfer, withdraw
from dydx_v4_client.wallet import Wallet
from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

from keeper.client.bridge import CctpMessage
from keeper.connectors.dydx import DydxConnector, DydxTxRejectedError
from keeper.connectors.dydx.noble import rebech
from keeper.devnet.dydx.chain import WITHDRAWAL_FLOOR

from .dydx_replica import ADDRESS, MNEMONIC, Bench

D = Decimal
NOBLE = rebech(ADDRESS, "noble")
ADAPTER = "0x00000000000000000000000000000000000a11ce"


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, timeout=60))


def test_a_withdrawal_to_anything_but_a_dydx_address_is_refused_with_code_6(dydx: Bench) -> None:
    """MsgWithdrawFromSubaccount signed by the owner to its Noble twin, to an Ethereum address, to a malformed
    address: the chain refuses each, in the client's simulation and in CheckTx (sending code 6, "Account address is
    invalid"), and the subaccount keeps its USDC."""

    async def scenario() -> None:
        channel = insecure_channel(dydx.replica.validator_url.removeprefix("http://"))
        node = await NodeClient.connect(NodeConfig(dydx.chain.chain_id, "", "usdc", channel))
        wallet = await Wallet.from_mnemonic(node, MNEMONIC, ADDRESS)
        sender = SubaccountId(owner=ADDRESS, number=0)
        for recipient in (NOBLE, "0x" + "ab" * 20, "dydx1notanaddress"):
            with pytest.raises(grpc.RpcError) as simulated:
                await node.withdraw(wallet, sender, recipient, 0, 100 * 10**6)
            assert "[sending code 6]" in simulated.value.details()
            tx = node.builder.build(wallet, withdraw(sender, recipient, 0, 100 * 10**6))
            answer = (await node.broadcast(tx)).tx_response
            assert (answer.codespace, answer.code) == ("sending", 6), recipient
            assert "Account address is invalid" in answer.raw_log
        assert dydx.chain.subaccounts[(ADDRESS, 0)].usdc_quantums == 100_000 * 10**6
        assert dydx.chain.bank == {} and dydx.chain.transfers == []

    run(scenario())


def test_usdc_crosses_to_noble_and_back_into_the_subaccount(dydx: Bench) -> None:
    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            assert connector.noble_address == NOBLE and connector.can_move_margin
            await connector.withdraw(D(300))
            dydx.replica.pause_blocks()
            await connector.send_to_noble(D(300))
            assert (await connector.bank_balance(), await connector.noble_balance()) == (D(0), D(0)), "in flight"
            dydx.replica.produce_blocks()  # the relayer delivers it with the next block
            assert (await connector.bank_balance(), await connector.noble_balance()) == (D(0), D(300))
            await connector.noble_to_dydx(D(120))
            assert (await connector.bank_balance(), await connector.noble_balance()) == (D(0), D(180))
            dydx.replica.produce_blocks()
            assert (await connector.bank_balance(), await connector.noble_balance()) == (D(120), D(180))
            await connector.deposit(D(120))
            assert (await connector.subaccount()).usdc == D(99_820)
            with pytest.raises(DydxTxRejectedError, match="insufficient funds"):
                await connector.deposit(D(1))
            with pytest.raises(DydxTxRejectedError, match="insufficient funds"):
                await connector.noble_to_dydx(D(181))
            dydx.replica.produce_blocks()
            kinds = sorted((t.kind, t.size, t.sender, t.recipient) for t in await connector.transfers())
            assert kinds == [("DEPOSIT", D(120), ADDRESS, ADDRESS), ("WITHDRAWAL", D(300), ADDRESS, ADDRESS)]

    run(scenario())


def test_ibc_sends_from_dydx_are_rate_limited_and_withdrawals_are_not(dydx: Bench) -> None:
    """x/ratelimit limits what leaves dYdX by IBC (an hour's capacity, 1M USDC at least), not MsgWithdrawFrom-
    Subaccount: with the hour's capacity nearly spent, a withdrawal to the bank goes through and its IBC send does
    not, until capacity returns; the USDC waits in the bank."""

    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            dydx.chain.withdrawals.append((time.monotonic(), WITHDRAWAL_FLOOR - D(50)))
            await connector.withdraw(D(100))
            with pytest.raises(DydxTxRejectedError, match=r"rate-limit capacity 1000000 \[ratelimit code 1001\]"):
                await connector.send_to_noble(D(100))
            assert await connector.bank_balance() == D(100)
            await connector.send_to_noble(D(50))
            dydx.chain.withdrawals.clear()  # the hour has passed
            await connector.send_to_noble(D(50))
            dydx.replica.produce_blocks()
            assert (await connector.bank_balance(), await connector.noble_balance()) == (D(0), D(100))

    run(scenario())


def test_noble_burns_towards_ethereum_and_finds_its_burns_again(dydx: Bench) -> None:
    async def scenario() -> None:
        dydx.replica.noble.credit(NOBLE, 75 * 10**6)
        async with DydxConnector(dydx.settings()) as connector:
            tx_hash = await connector.burn_to_ethereum(D(75), ADAPTER)
            assert await connector.noble_balance() == D(0)
            dydx.replica.produce_blocks()
            [burn] = await connector.noble_burns()
            assert (burn.tx_hash, burn.amount, burn.recipient) == (tx_hash, D(75), ADAPTER)
        async with httpx.AsyncClient() as client:
            answer = (await client.get(f"{dydx.replica.indexer_url}/v1/messages/4/{tx_hash}")).json()
        [row] = answer["messages"]
        message = CctpMessage.decode(bytes.fromhex(row["message"].removeprefix("0x")))
        assert (message.source_domain, message.destination_domain, message.amount) == (4, 0, 75 * 10**6)
        assert message.recipient.lower() == ADAPTER

    run(scenario())


def test_noble_refuses_a_transfer_from_the_owners_address_signed_by_another_key(dydx: Bench) -> None:
    other = KeyPair.from_mnemonic("legal winner thank year wave sausage worth useful legal winner thank yellow")
    dydx.replica.noble.credit(NOBLE, 10**6)

    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            connector._wallet.key = other  # the owner's Noble address, another key's signature
            with pytest.raises(DydxTxRejectedError, match=r"account noble1\w+ not found"):
                await connector.noble_to_dydx(D(1))
            assert dydx.replica.noble.balance(NOBLE) == 10**6

    run(scenario())


def test_transfers_deposits_and_withdrawals_dydx_validate_basic_refuses_are_refused(dydx: Bench) -> None:
    """What the chain's ValidateBasic refuses (x/sending's messages): a transfer to the sending subaccount itself, any
    asset but USDC (id 0), an amount of 0, a subaccount owner that is not an address or a number past 128,000. Each is
    refused in the client's simulation and in CheckTx with the chain's codespace and code, and moves nothing."""

    async def scenario() -> None:
        channel = insecure_channel(dydx.replica.validator_url.removeprefix("http://"))
        node = await NodeClient.connect(NodeConfig(dydx.chain.chain_id, "", "usdc", channel))
        wallet = await Wallet.from_mnemonic(node, MNEMONIC, ADDRESS)
        own, other = SubaccountId(owner=ADDRESS, number=0), SubaccountId(owner=ADDRESS, number=1)
        dydx.chain.bank[ADDRESS] = 50 * 10**6
        refused = [
            (transfer(own, own, 0, 10**6), ("sending", 1)),
            (transfer(own, other, 5, 10**6), ("sending", 1101)),
            (transfer(own, other, 0, 0), ("sending", 2)),
            (transfer(own, SubaccountId(owner="dydx1notanaddress", number=0), 0, 10**6), ("subaccounts", 201)),
            (transfer(own, SubaccountId(owner=ADDRESS, number=128_001), 0, 10**6), ("subaccounts", 200)),
            (withdraw(own, ADDRESS, 3, 10**6), ("sending", 1101)),
            (withdraw(own, ADDRESS, 0, 0), ("sending", 2)),
            (deposit(ADDRESS, own, 3, 10**6), ("sending", 1101)),
            (deposit(ADDRESS, own, 0, 0), ("sending", 2)),
        ]
        for message, (codespace, code) in refused:
            with pytest.raises(grpc.RpcError) as simulated:
                await node.simulate(node.builder.build(wallet, message))
            assert f"[{codespace} code {code}]" in simulated.value.details(), message
            answer = (await node.broadcast(node.builder.build(wallet, message))).tx_response
            assert (answer.codespace, answer.code) == (codespace, code), message
        assert dydx.chain.subaccounts[(ADDRESS, 0)].usdc_quantums == 100_000 * 10**6
        assert (ADDRESS, 1) not in dydx.chain.subaccounts
        assert dydx.chain.bank == {ADDRESS: 50 * 10**6} and dydx.chain.transfers == []

    run(scenario())
