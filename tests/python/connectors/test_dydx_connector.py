"""The dYdX connector through the official client against the replica served for real (the validator's gRPC
server, the indexer's HTTP server, a block ticker): IOC fills at makers' prices over two levels with the rest
cancelled, orders outside the block window refused, distinct client ids within one block, reduce-only, the client's
rounding, a sub-tick limit refused before sending, cancellation, and fills, positions, funding, equity and gated
withdrawals read back from the indexer."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.network import NodeConfig, insecure_channel
from dydx_v4_client.node.builder import TxOptions
from dydx_v4_client.node.client import NodeClient
from dydx_v4_client.node.market import Market as ClientMarket
from dydx_v4_client.node.message import deposit, place_order, transfer, withdraw
from dydx_v4_client.wallet import Wallet
from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

from keeper.cli.main import cli
from keeper.connectors.dydx import (
    DuplicateClientIdError,
    DydxConnector,
    DydxSettings,
    DydxTxRejectedError,
    LimitBelowTickError,
    OrderRequest,
    Side,
    TimeInForce,
)
from keeper.connectors.dydx.authenticators import trading_public_key
from keeper.connectors.dydx.errors import DydxAuthenticatorError, DydxOwnerKeyMissingError
from keeper.devnet.dydx.chain import BUY, SELL
from keeper.exceptions import ConfigError

from .dydx_replica import ADDRESS, BTC, MNEMONIC, Bench

D = Decimal


async def official_client(bench: Bench) -> tuple[Any, Wallet, ClientMarket]:
    """The official client wired by hand, for what the connector refuses to send."""
    channel = insecure_channel(bench.replica.validator_url.removeprefix("http://"))
    node = await NodeClient.connect(NodeConfig(bench.chain.chain_id, "", "usdc", channel))
    wallet = await Wallet.from_mnemonic(node, MNEMONIC, ADDRESS)
    market = ClientMarket(dict(BTC))
    return node, wallet, market


def btc_buy(market: ClientMarket, client_id: int, good_til_block: int) -> Any:
    """A 0.1 BTC IOC buy at 60,000 built by the client's own helpers."""
    order_id = market.order_id(ADDRESS, 0, client_id, 0)
    return market.order(order_id, "LIMIT", 1, 0.1, 60_000.0, 1, False, good_til_block=good_til_block)


def run(scenario: Any) -> None:
    asyncio.run(asyncio.wait_for(scenario, 30))


def test_an_ioc_order_fills_at_the_makers_prices_over_two_levels_and_the_rest_is_cancelled(dydx: Bench) -> None:
    dydx.seed("BTC-USD", SELL, (60_000, "0.1"), (60_050, "0.1"), (60_200, "0.5"))

    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            placed = await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.3"), D(60_100)))
            assert placed.good_til_block == placed.placed_at_height + 20
            result = await connector.order_result(placed)
            assert [(f.price, f.size, f.liquidity) for f in result.fills] == [
                (D(60_000), D("0.1"), "TAKER"),
                (D(60_050), D("0.1"), "TAKER"),
            ]
            assert (result.filled_size, result.remaining_size, result.average_price) == (D("0.2"), D("0.1"), D(60_025))
            assert [f.fee for f in result.fills] == [D(3), D("3.0025")]  # 5 bps taker
            book = await connector.order_book("BTC-USD")
            assert [(level.price, level.size) for level in book.asks] == [(D(60_200), D("0.5"))]
            assert book.bids == (), "the unfilled 0.1 was cancelled, not left resting"

            account = await connector.subaccount()
            (position,) = account.positions
            assert (position.ticker, position.size, position.entry_price) == ("BTC-USD", D("0.2"), D(60_025))
            assert account.usdc == D(100_000) - D(12_005) - D("6.0025")
            assert account.equity == account.usdc + D("0.2") * 60_000
            assert account.free_collateral == account.equity - D("0.2") * 60_000 * D("0.05")
            assert [f.fill_id for f in await connector.fills(ticker="BTC-USD")] == [f.fill_id for f in result.fills]
            assert await connector.fills(ticker="ETH-USD") == []

    run(scenario())


def test_an_order_outside_the_block_window_is_refused_by_the_validator(dydx: Bench) -> None:
    dydx.replica.produce_blocks(5)

    async def scenario() -> None:
        async with DydxConnector(dydx.settings(good_til_blocks=1)) as connector:
            real_height = connector.height

            async def stale_height() -> int:
                return await real_height() - 3  # a keeper that read the height three blocks ago

            connector.height = stale_height  # type: ignore[method-assign]
            with pytest.raises(DydxTxRejectedError) as caught:
                await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
            assert (caught.value.codespace, caught.value.code) == ("clob", 10)

        # Past the short block window: built with the official client directly (the connector cannot build one).
        node, wallet, market = await official_client(dydx)
        dydx.replica.pause_blocks()  # the height stays what was read: 25 blocks ahead stays past the window
        height = await node.latest_block_height()
        response = await node.place_order(wallet, btc_buy(market, client_id=1, good_til_block=height + 25))
        assert (response.tx_response.codespace, response.tx_response.code) == ("clob", 11)
        assert response.tx_response.raw_log == (
            "The GoodTilBlock of the message is further than ShortBlockWindow blocks into the future"
        ), "the chain's words (x/clob ErrGoodTilBlockExceedsShortBlockWindow)"
        dydx.replica.resume_blocks()

    run(scenario())


def test_client_ids_differ_within_one_block_where_the_block_number_would_collide(dydx: Bench) -> None:
    dydx.seed("ETH-USD", SELL, (3_000, "5"))

    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            dydx.replica.pause_blocks()
            first = await connector.place_order(OrderRequest("ETH-USD", Side.BUY, D(1), D(3_001)))
            second = await connector.place_order(OrderRequest("ETH-USD", Side.BUY, D(2), D(3_001)))
            assert first.placed_at_height == second.placed_at_height
            assert first.client_id != second.client_id
            with pytest.raises(DuplicateClientIdError):
                await connector.place_order(
                    OrderRequest("ETH-USD", Side.BUY, D(1), D(3_001), client_id=first.client_id)
                )
            dydx.replica.resume_blocks()
            results = [await connector.order_result(order) for order in (first, second)]
            assert [r.filled_size for r in results] == [D(1), D(2)]

        # Two orders with one id in one block (as ids taken from the block number would be): the second is refused.
        node, wallet, market = await official_client(dydx)
        height = await node.latest_block_height()
        dydx.replica.pause_blocks()
        codes = [
            (
                await node.place_order(wallet, btc_buy(market, client_id=height, good_til_block=height + 5))
            ).tx_response.code
            for _ in range(2)
        ]
        assert codes == [0, 20]

    run(scenario())


def test_reduce_only_never_fills_past_zero(dydx: Bench) -> None:
    dydx.seed("BTC-USD", SELL, (60_000, "1"))
    dydx.seed("BTC-USD", BUY, (59_900, "1"))

    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            opened = await connector.order_result(
                await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
            )
            assert opened.filled_size == D("0.1")
            closing = await connector.place_order(
                OrderRequest("BTC-USD", Side.SELL, D("0.3"), D(59_000), reduce_only=True)
            )
            closed = await connector.order_result(closing)
            assert (closing.reduce_only, closed.filled_size, closed.fills[0].price) == (True, D("0.1"), D(59_900))
            assert (await connector.subaccount()).positions == ()
            nothing = await connector.place_order(
                OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000), reduce_only=True)
            )
            assert (await connector.order_result(nothing)).fills == ()

    run(scenario())


def test_a_sell_limit_rounds_as_the_client_rounds_and_a_sub_tick_limit_is_never_sent(dydx: Bench) -> None:
    dydx.seed("BTC-USD", BUY, (60_049, "1"))

    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            placed = await connector.place_order(OrderRequest("BTC-USD", Side.SELL, D("0.29"), D("60049.7")))
            helper = ClientMarket(dict(connector.market("BTC-USD").row))
            assert (placed.subticks, placed.quantums) == (
                helper.calculate_subticks(60049.7),
                helper.calculate_quantums(0.29),
            )
            assert placed.price == D(60_049), "rounded down to the tick, as the client rounds"
            result = await connector.order_result(placed)
            assert (result.filled_size, result.fills[0].price) == (placed.size, D(60_049))

            sent = dict(dydx.chain.live_ids)
            with pytest.raises(LimitBelowTickError):
                await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D("0.99")))
            assert dydx.chain.live_ids == sent, "nothing reached the validator"

    run(scenario())


def test_a_resting_order_is_cancelled_and_an_expired_one_needs_no_cancel(dydx: Bench) -> None:
    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            resting = await connector.place_order(
                OrderRequest("ETH-USD", Side.BUY, D(2), D("2990.05"), time_in_force=TimeInForce.GOOD_TIL_BLOCK)
            )
            book = await connector.order_book("ETH-USD")
            assert [(level.price, level.size) for level in book.bids] == [(D(2990), D(2))]
            assert await connector.cancel_order(resting)
            assert (await connector.order_book("ETH-USD")).bids == ()
            dydx.seed("ETH-USD", SELL, (2_980, "1"))
            assert (await connector.order_result(resting)).fills == (), "the maker found nothing to cross"

            short = await connector.place_order(
                OrderRequest("ETH-USD", Side.BUY, D(1), D(2_000), time_in_force=TimeInForce.GOOD_TIL_BLOCK)
            )
            dydx.replica.produce_blocks(21)
            assert not await connector.cancel_order(short)

    run(scenario())


def test_fills_positions_funding_and_equity_are_read_back_from_the_indexer(dydx: Bench) -> None:
    dydx.seed("ETH-USD", BUY, (2_999, "10"))

    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            sold = await connector.order_result(
                await connector.place_order(OrderRequest("ETH-USD", Side.SELL, D(4), D(2_999)))
            )
            before = await connector.subaccount()
            dydx.chain.settle_funding("ETH-USD", D("0.0001"))  # longs pay shorts
            (rate,) = await connector.funding_rates("ETH-USD")
            assert (rate.ticker, rate.rate, rate.price) == ("ETH-USD", D("0.0001"), D(3_000))
            after = await connector.subaccount()
            (position,) = after.positions
            assert (position.size, position.entry_price, position.net_funding) == (D(-4), D(2_999), D("1.2"))
            assert after.equity - before.equity == D("1.2")
            assert after.usdc == D(100_000) + D(11_996) - sold.fills[0].fee + D("1.2")
            assert position.unrealized_pnl == (D(3_000) - D(2_999)) * -4
            fills = await connector.fills(since_height=sold.order.placed_at_height)
            assert [(f.side, f.size, f.order_id) for f in fills] == [(Side.SELL, D(4), sold.order.indexer_order_id)]

    run(scenario())


def test_withdrawals_leave_the_subaccount_for_the_owners_bank_unless_gated(dydx: Bench) -> None:
    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            tx_hash = await connector.withdraw(D(250))
            assert len(tx_hash) == 64
            assert (await connector.subaccount()).usdc == D(99_750)
            assert await connector.bank_balance() == D(250)
            await connector.withdraw(D("0.5"))  # the sequence advanced: a second signed transaction goes through

            dydx.chain.mark_negative_collateral()
            with pytest.raises(DydxTxRejectedError, match="WithdrawalsAndTransfersBlocked"):
                await connector.withdraw(D(100))
            dydx.replica.produce_blocks(51)
            await connector.withdraw(D(100))
            assert (await connector.subaccount()).usdc == D("99649.5")
            with pytest.raises(DydxTxRejectedError, match="free collateral"):
                await connector.withdraw(D(200_000))
            assert await connector.bank_balance() == D("350.5")

    run(scenario())


# Permissioned keys: the owner grants a trading key an authenticator; the trading key trades and cannot withdraw.

TRADING_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
OTHER_KEY = "0x" + "5a" * 32


def trading_settings(bench: Bench, authenticator_id: int, **overrides: Any) -> DydxSettings:
    """A keeper holding only the trading key: the owner's address instead of the mnemonic."""
    return dataclasses.replace(
        bench.settings(**overrides), mnemonic=None, trading_key=TRADING_KEY, authenticator_id=authenticator_id,
        address=ADDRESS,
    )  # fmt: skip


async def grant(bench: Bench, clob_pair_ids: list[int] | None = None) -> int:
    async with DydxConnector(bench.settings()) as owner:
        return await owner.grant_trading_key(trading_public_key(TRADING_KEY), clob_pair_ids)


async def by_hand(bench: Bench, key: str, message: Any, authenticator_id: int) -> Any:
    """`message` signed by `key` selecting the owner's authenticator, built and broadcast by the official client."""
    channel = insecure_channel(bench.replica.validator_url.removeprefix("http://"))
    node = await NodeClient.connect(NodeConfig(bench.chain.chain_id, "", "usdc", channel))
    owner = await node.get_account(ADDRESS)
    options = TxOptions([authenticator_id], owner.sequence, owner.account_number)
    response = await node.broadcast_message(
        Wallet(KeyPair.from_hex(key.removeprefix("0x")), 0, 0), message, tx_options=options
    )
    return response.tx_response


def test_a_trading_key_places_and_cancels_orders_and_cannot_withdraw_or_transfer(dydx: Bench) -> None:
    dydx.seed("ETH-USD", SELL, (3_000, "1"))

    async def scenario() -> None:
        authenticator_id = await grant(dydx)
        (stored,) = dydx.chain.account_authenticators(ADDRESS)
        assert (stored.id, stored.type) == (authenticator_id, "AllOf")
        async with DydxConnector(trading_settings(dydx, authenticator_id)) as trader:
            assert (trader.address, trader.can_withdraw) == (ADDRESS, False)
            result = await trader.order_result(
                await trader.place_order(OrderRequest("ETH-USD", Side.BUY, D(1), D(3_001)))
            )
            assert (result.filled_size, result.fills[0].price) == (D(1), D(3_000))
            assert dydx.chain.subaccounts[(ADDRESS, 0)].positions[1].quantums == 10**9, "the owner's subaccount"
            resting = await trader.place_order(
                OrderRequest("ETH-USD", Side.BUY, D(1), D(2_000), time_in_force=TimeInForce.GOOD_TIL_BLOCK)
            )
            assert (await trader.order_book("ETH-USD")).bids
            assert await trader.cancel_order(resting)
            assert (await trader.order_book("ETH-USD")).bids == ()

            usdc = dydx.chain.subaccounts[(ADDRESS, 0)].usdc_quantums
            with pytest.raises(DydxOwnerKeyMissingError, match=r"dydx\.mnemonic"):
                await trader.withdraw(D(100))
        # Signed by hand with the trading key and the authenticator: the chain refuses both at the message filter.
        sender = SubaccountId(owner=ADDRESS, number=0)
        withdrawal = withdraw(sender, ADDRESS, 0, 100 * 10**6)
        moved = transfer(sender, SubaccountId(owner=ADDRESS, number=1), 0, 100 * 10**6)
        dydx.chain.bank[ADDRESS] = 100 * 10**6
        deposited = deposit(ADDRESS, sender, 0, 100 * 10**6)
        for message in (withdrawal, moved, deposited):
            refused = await by_hand(dydx, TRADING_KEY, message, authenticator_id)
            assert (refused.codespace, refused.code) == ("sdk", 4)
            assert "Message type verification failed" in refused.raw_log
        # Another key naming the authenticator fails its signature check.
        market = ClientMarket(dict(BTC))
        order = market.order(market.order_id(ADDRESS, 0, 77, 0), "LIMIT", 1, 0.1, 60_000.0, 1, False,
                             good_til_block=dydx.chain.height + 5)  # fmt: skip
        forged = await by_hand(dydx, OTHER_KEY, place_order(order), authenticator_id)
        assert (forged.codespace, forged.code) == ("accountplus", 100)
        assert dydx.chain.subaccounts[(ADDRESS, 0)].usdc_quantums == usdc and (ADDRESS, 1) not in dydx.chain.subaccounts

    run(scenario())


def test_orders_outside_the_authenticators_markets_or_subaccount_are_refused(dydx: Bench) -> None:
    dydx.seed("ETH-USD", SELL, (3_000, "1"))

    async def scenario() -> None:
        authenticator_id = await grant(dydx, clob_pair_ids=[1])  # ETH-USD only
        async with DydxConnector(trading_settings(dydx, authenticator_id)) as trader:
            with pytest.raises(DydxTxRejectedError) as caught:
                await trader.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
            assert (caught.value.codespace, caught.value.code) == ("accountplus", 102)
            filled = await trader.order_result(
                await trader.place_order(OrderRequest("ETH-USD", Side.BUY, D(1), D(3_000)))
            )
            assert filled.filled_size == D(1)
        async with DydxConnector(trading_settings(dydx, authenticator_id, subaccount_number=1)) as elsewhere:
            with pytest.raises(DydxTxRejectedError) as caught:
                await elsewhere.place_order(OrderRequest("ETH-USD", Side.BUY, D(1), D(3_000)))
            assert (caught.value.codespace, caught.value.code) == ("accountplus", 103)
        assert (ADDRESS, 1) not in dydx.chain.subaccounts

    run(scenario())


def test_once_the_owner_removes_the_authenticator_the_trading_key_is_refused(dydx: Bench) -> None:
    dydx.seed("ETH-USD", SELL, (3_000, "2"))

    async def scenario() -> None:
        authenticator_id = await grant(dydx)
        async with DydxConnector(trading_settings(dydx, authenticator_id)) as trader:
            first = await trader.order_result(
                await trader.place_order(OrderRequest("ETH-USD", Side.BUY, D(1), D(3_000)))
            )
            assert first.filled_size == D(1)
            async with DydxConnector(dydx.settings()) as owner:
                await owner.remove_authenticator(authenticator_id)
                assert await owner.authenticators() == []
                with pytest.raises(DydxTxRejectedError, match=r"Authenticator is not found \[accountplus code 1\]"):
                    await owner.remove_authenticator(authenticator_id)  # refused in the simulation
            with pytest.raises(DydxTxRejectedError) as caught:
                await trader.place_order(OrderRequest("ETH-USD", Side.BUY, D(1), D(3_000)))
            assert (caught.value.codespace, caught.value.code) == ("accountplus", 1)
        with pytest.raises(DydxAuthenticatorError, match=f"authenticator {authenticator_id} is not on"):
            async with DydxConnector(trading_settings(dydx, authenticator_id)):
                pass
        assert dydx.chain.subaccounts[(ADDRESS, 0)].positions[1].quantums == 10**9, "one order filled, not two"

    run(scenario())


def test_the_keys_settings_are_checked_together() -> None:
    base = {"indexer_url": "http://i", "validator_url": "http://v:9090", "chain_id": "c"}
    trading_only = DydxSettings.from_mapping({**base, "trading_key": "0x" + TRADING_KEY, "authenticator_id": "3",
                                              "address": ADDRESS})  # fmt: skip
    assert (trading_only.mnemonic, trading_only.authenticator_id, trading_only.can_withdraw) == (None, 3, False)
    assert trading_only.owner_address == ADDRESS and TRADING_KEY not in repr(trading_only)
    both = DydxSettings.from_mapping({**base, "mnemonic": MNEMONIC, "trading_key": MNEMONIC, "authenticator_id": 0})
    assert both.owner_address == ADDRESS and both.can_withdraw
    with pytest.raises(ConfigError) as caught:
        DydxSettings.from_mapping({**base, "trading_key": "0x12", "address": "cosmos1xyz", "good_til_blocks": "x"})
    assert str(caught.value).split("; ") == [
        "dydx.good_til_blocks must be an integer, got 'x'",
        "dydx.trading_key must be a hex secp256k1 private key or a BIP-39 phrase",
        "dydx.authenticator_id is required with dydx.trading_key",
        "dydx.address must be a dydx1... address, got 'cosmos1xyz'",
    ]
    with pytest.raises(ConfigError, match=r"dydx\.mnemonic or dydx\.trading_key is required"):
        DydxSettings.from_mapping(base)
    other = Wallet(KeyPair.from_hex(TRADING_KEY), 0, 0).address
    with pytest.raises(ConfigError, match="is not the mnemonic's address"):
        DydxSettings.from_mapping({**base, "mnemonic": MNEMONIC, "address": other})
    with pytest.raises(ConfigError, match=r"dydx.address \(the owner's dydx1 address\) is required"):
        DydxSettings.from_mapping({**base, "trading_key": TRADING_KEY, "authenticator_id": 1})


def test_the_cli_grants_a_new_trading_key_and_prints_the_keepers_settings(dydx: Bench, tmp_path: Path) -> None:
    dydx.seed("ETH-USD", SELL, (3_000, "1"))
    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps({"rpc_url": "http://127.0.0.1:1111"}))
    toml = tmp_path / "keeper.toml"
    owner = {"indexer_url": dydx.replica.indexer_url, "validator_url": dydx.replica.validator_url,
             "chain_id": dydx.chain.chain_id}  # fmt: skip
    table = "".join(f"{name} = {json.dumps(value)}\n" for name, value in {**owner, "mnemonic": MNEMONIC}.items())
    toml.write_text(f'[keeper]\ndeployment = "{deployment}"\nseat_venues = "dydx-seat"\n[dydx]\n{table}')
    result = CliRunner().invoke(cli, ["keeper", "dydx-grant-trading-key", "--config", str(toml), "--market", "ETH-USD"])
    assert result.exit_code == 0, result.output
    printed = tomllib.loads(result.output)["dydx"]
    assert (printed["address"], printed["authenticator_id"]) == (ADDRESS, 0)
    assert "mnemonic" not in printed and MNEMONIC not in result.output

    async def scenario() -> None:
        async with DydxConnector(DydxSettings.from_mapping({**owner, **printed, "good_til_blocks": 20})) as trader:
            assert not trader.can_withdraw
            with pytest.raises(DydxTxRejectedError) as caught:
                await trader.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
            assert (caught.value.codespace, caught.value.code) == ("accountplus", 102), "ETH-USD only"
            placed = await trader.place_order(OrderRequest("ETH-USD", Side.BUY, D(1), D(3_000)))
            assert (await trader.order_result(placed)).filled_size == D(1)

    run(scenario())
