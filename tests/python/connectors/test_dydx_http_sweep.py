"""The dYdX replica under hostile input: the indexer's REST routes and the attestation route answer a 4xx in the
indexer's error shape naming what was wrong, never a 500; the indexer's WebSocket answers garbage with ``error``
messages and serves on; the validator refuses transactions that do not decode or are not signed as the chain does
(a CheckTx code, never an exception's text); nothing refused changes the chain; and subscribers that vanish do not
stop the others' updates."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.network import NodeConfig, insecure_channel
from dydx_v4_client.node.client import NodeClient
from dydx_v4_client.node.message import batch_cancel, cancel_order, place_order
from dydx_v4_client.wallet import Wallet
from google.protobuf.any_pb2 import Any as AnyProto
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2 as tendermint_query
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tendermint_grpc
from v4_proto.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from v4_proto.cosmos.tx.v1beta1 import service_pb2, service_pb2_grpc
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, SignerInfo, Tx, TxBody
from v4_proto.dydxprotocol.clob.order_pb2 import Order, OrderId
from v4_proto.dydxprotocol.clob.tx_pb2 import OrderBatch
from v4_proto.dydxprotocol.sending.transfer_pb2 import MsgWithdrawFromSubaccount
from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

from keeper.connectors.dydx import DydxConnector
from keeper.connectors.dydx.cctp import CctpAttestations
from keeper.connectors.dydx.errors import DydxRequestError, DydxResponseError
from tests.python.fault_proxy import serving

from .dydx_replica import ADDRESS, MNEMONIC, Bench

A = ADDRESS
LIMIT = "limit must be a positive integer that is not greater than max: 1000"
SUBACCOUNT = "subaccountNumber must be a non-negative integer less than 128001"
BAD_PATHS = [
    (f"/v4/fills?address={A}&subaccountNumber=0&limit=-5", 400, LIMIT),
    (f"/v4/fills?address={A}&subaccountNumber=0&limit=1e400", 400, LIMIT),
    (f"/v4/fills?address={A}&subaccountNumber=0&limit=0", 400, LIMIT),
    (f"/v4/transfers?address={A}&subaccountNumber=0&limit=1001", 400, LIMIT),
    ("/v4/candles/perpetualMarkets/BTC-USD?resolution=1MIN&limit=99999999999999999999", 400, LIMIT),
    ("/v4/perpetualMarkets?ticker=NOPE", 404, "NOPE not found in markets of type PERPETUAL"),
    ("/v4/perpetualMarkets?ticker=BTC-USD&market=ETH-USD", 400, "Only one of ticker or market may be provided"),
    (f"/v4/fills?address={A}&subaccountNumber=%D9%A1", 400, "subaccountNumber must be a non-negative integer"),
    (f"/v4/fills?address={A}&subaccountNumber=-1", 400, "subaccountNumber must be a non-negative integer"),
    (f"/v4/fills?address={A}&subaccountNumber=0&market=BTC-USD", 400, "market must be provided if marketType"),
    (f"/v4/fills?address={A}&subaccountNumber=0&market=NOPE&marketType=PERPETUAL", 404, "NOPE not found in markets"),
    (f"/v4/fills?address={A}&subaccountNumber=0&market=BTC-USD&marketType=FUTURE", 400, "marketType must be a valid"),
    (f"/v4/orders?address={A}&subaccountNumber=0&goodTilBlockBeforeOrAt=NaN", 400, "goodTilBlockBeforeOrAt must be"),
    (f"/v4/orders?address={A}&subaccountNumber=0&ticker=NOPE", 400, "ticker must be a valid ticker (BTC-USD, etc)"),
    (f"/v4/orders?address={A}&subaccountNumber=0&side=buy", 400, "side must be one of BUY,SELL"),
    (f"/v4/orders?address={A}&subaccountNumber=0&type=limit", 400, "type must be one of LIMIT,MARKET,STOP_LIMIT"),
    (f"/v4/orders?address={A}&subaccountNumber=0&status=OPEN,open", 400, "status must be one of OPEN,FILLED,"),
    (f"/v4/orders/parentSubaccountNumber?address={A}&parentSubaccountNumber=0&side=X", 400, "side must be one of"),
    ("/v4/orders/not-a-uuid", 400, "Invalid value"),
    (f"/v4/transfers?address={A}&subaccountNumber=0&createdBeforeOrAtHeight=-5", 400, "createdBeforeOrAtHeight"),
    (f"/v4/perpetualPositions?address={A}&subaccountNumber=0&limit=-1", 400, LIMIT),
    (f"/v4/perpetualPositions?address={A}&subaccountNumber=0&status=open", 400, "status must be a valid Position"),
    (
        f"/v4/perpetualPositions/parentSubaccountNumber?address={A}&parentSubaccountNumber=0&status=X",
        400,
        "status must",
    ),
    ("/v4/trades/perpetualMarket/BTC-USD?limit=-3", 400, LIMIT),
    ("/v4/historicalFunding/BTC-USD?limit=%C2%B2", 400, LIMIT),
    (f"/v4/addresses/{A}/parentSubaccountNumber/%C2%B2", 400, "parentSubaccountNumber must be a non-negative"),
    (f"/v4/addresses/{A}/parentSubaccountNumber/128", 400, "parentSubaccountNumber must be a non-negative"),
    (f"/v4/addresses/{A}/subaccountNumber/abc", 400, SUBACCOUNT),
    (f"/v4/addresses/{A}/subaccountNumber/128001", 400, SUBACCOUNT),
    (f"/v4/fills?address={A}&subaccountNumber=128001", 400, SUBACCOUNT),
    ("/v4/transfers?address=dydx1%27%3B--&subaccountNumber=0", 400, "address must be a valid dydx address"),
    ("/v4/addresses/dydx1%20x", 400, "address must be a valid address"),
    (f"/v4/fundingPayments?address={A}&subaccountNumber=0&page=-1", 400, "page must be a non-negative integer"),
    ("/v4/orders?address=&subaccountNumber=0", 400, "address and subaccountNumber are required"),
    ("/v4/orderbooks/perpetualMarket/NOPE", 404, "NOPE not found in markets of type PERPETUAL"),
    ("/v4/orderbooks/perpetualMarket/..%2F..%2Fetc", 404, "../../etc not found"),
    ("/v4/candles/perpetualMarkets/BTC-USD?resolution=1MIN&fromISO=garbage", 400, "fromISO must be an ISO 8601"),
    ("/v4/candles/perpetualMarkets/BTC-USD?resolution=2MINS", 400, "resolution must be a valid Candle Resolution"),
    ("/v4/sparklines?timePeriod=%E2%82%AC", 400, "timePeriod must be a valid Time Period"),
    ("/v1/messages/abc/0x12", 400, "domain must be a non-negative integer"),
]


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def chain_state(dydx: Bench) -> tuple[Any, ...]:
    with dydx.chain.lock:
        accounts = {key: (a.usdc_quantums, copy.deepcopy(a.positions)) for key, a in dydx.chain.subaccounts.items()}
        sequences = {address: account.sequence for address, account in dydx.chain.accounts.items()}
        return accounts, sequences, len(dydx.chain.orders), len(dydx.chain.fills), len(dydx.replica.noble.burns)


@pytest.mark.parametrize(("path", "status", "message"), BAD_PATHS)
def test_a_bad_indexer_request_is_a_4xx_in_the_indexers_shape(
    dydx: Bench, path: str, status: int, message: str
) -> None:
    code, body = get(dydx.replica.indexer_url + path)
    assert code == status, body
    (error,) = body["errors"]
    assert message in error["msg"] and "Traceback" not in error["msg"], error


def test_an_unknown_attestation_is_circles_404(dydx: Bench) -> None:
    assert get(dydx.replica.indexer_url + "/v1/messages/4/0x" + "ab" * 2000) == (
        404,
        {"error": "Message hash not found"},
    )


def signed_by_nobody(signature: bytes) -> bytes:
    """A withdrawal from the funded account's subaccount 0, carrying its public key but `signature`."""
    message = AnyProto()
    message.Pack(
        MsgWithdrawFromSubaccount(sender=SubaccountId(owner=ADDRESS, number=0), recipient=ADDRESS, quantums=10**6),
        type_url_prefix="/",
    )
    key = AnyProto()
    key.Pack(PubKey(key=KeyPair.from_mnemonic(MNEMONIC).public_key_bytes), type_url_prefix="/")
    tx = Tx(
        body=TxBody(messages=[message]),
        auth_info=AuthInfo(signer_infos=[SignerInfo(public_key=key, sequence=0)]),
        signatures=[signature],
    )
    return bytes(tx.SerializeToString())


@pytest.mark.parametrize(
    ("tx_bytes", "code", "log"),
    [
        (b"\xff\xff\xff", 2, "tx parse error"),  # not a transaction
        (b"\x0a\x05\x0a\x03\x0a\x01\xff", 2, "tx parse error"),  # a body whose message does not decode
        (signed_by_nobody(b"\x01\x02"), 4, "signature verification failed"),  # a signature of 2 bytes
        (signed_by_nobody(b"\x00" * 64), 4, "signature verification failed"),  # 64 bytes, r and s zero
        (b"", 4, "expected one signer and one signature"),
    ],
)
def test_a_transaction_the_chain_cannot_read_is_refused_with_its_code(
    dydx: Bench, tx_bytes: bytes, code: int, log: str
) -> None:
    before = chain_state(dydx)
    with grpc.insecure_channel(dydx.replica.validator_url.removeprefix("http://")) as channel:
        tx = service_pb2_grpc.ServiceStub(channel)
        answer = tx.BroadcastTx(service_pb2.BroadcastTxRequest(tx_bytes=tx_bytes), timeout=5).tx_response
        assert (answer.code, answer.codespace) == (code, "sdk") and log in answer.raw_log, answer
        if code == 2:
            with pytest.raises(grpc.RpcError) as refused:
                tx.Simulate(service_pb2.SimulateRequest(tx_bytes=tx_bytes), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNKNOWN
            assert refused.value.details() == "tx parse error [sdk code 2]"
        latest = tendermint_grpc.ServiceStub(channel).GetLatestBlock(tendermint_query.GetLatestBlockRequest())
        assert latest.block.header.height >= 1
    assert chain_state(dydx) == before


async def next_message(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
        if message["type"] == kind:
            return dict(message)


def test_socket_garbage_gets_error_messages_and_vanished_subscribers_do_not_stop_the_others(dydx: Bench) -> None:
    url = dydx.replica.indexer_url.replace("http://", "ws://") + "/v4/ws"
    before = chain_state(dydx)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(5):
                vanished = await session.ws_connect(url)
                await vanished.send_str(json.dumps({"type": "subscribe", "channel": "v4_block_height"}))
                await next_message(vanished, "subscribed")
                transport = vanished._response.connection.transport  # type: ignore[union-attr]
                assert transport is not None
                transport.abort()  # gone without a closing handshake, its updates still due
            async with session.ws_connect(url) as ws:
                await next_message(ws, "connected")
                await ws.send_bytes(b"\xff\x00")
                for frame, message in [
                    ("not json", "could not parse 'not json' as JSON"),
                    ("[]", "Invalid message type: None"),
                    ('{"type": 5}', "Invalid message type: 5"),
                    ('{"type": "subscribe", "channel": [1]}', "channel is not a valid channel"),
                    ('{"type": "subscribe", "channel": {"a": 1}}', "channel is not a valid channel"),
                    ('{"type": "subscribe", "channel": "v4_block_height", "id": [1]}', "id must be a string"),
                    ('{"type": "unsubscribe", "channel": "v4_trades", "id": {"a": 1}}', "id must be a string"),
                    ('{"type": "subscribe", "channel": "v4_trades", "id": "NOPE"}', "no market NOPE"),
                    (
                        '{"type": "subscribe", "channel": "v4_subaccounts", "id": "x/\u00b2"}',
                        "address/subaccountNumber",
                    ),
                    ('{"type": "subscribe", "channel": "v4_candles", "id": "BTC-USD/1MIN"}', "not a valid channel"),
                ]:
                    await ws.send_str(frame)
                    error = await next_message(ws, "error")
                    assert message in error["message"], (frame, error)
                await ws.send_str(json.dumps({"type": "subscribe", "channel": "v4_block_height"}))
                subscribed = await next_message(ws, "subscribed")
                update = await next_message(ws, "channel_data")
                assert int(update["contents"]["blockHeight"]) > int(subscribed["contents"]["height"])
                # as socks answers a second subscription to what the connection follows: no second snapshot
                await ws.send_str(json.dumps({"type": "subscribe", "channel": "v4_block_height"}))
                again = await next_message(ws, "error")
                assert again["message"].startswith("Invalid subscribe message: already subscribed (v4_block_height")

    asyncio.run(scenario())
    assert chain_state(dydx) == before


def _order(**fields: Any) -> Order:
    """A short-term IOC buy of 0.001 BTC at 60,000 from the funded subaccount 0, with `fields` changed."""
    values: dict[str, Any] = {
        "order_id": OrderId(subaccount_id=SubaccountId(owner=ADDRESS, number=0), client_id=1, clob_pair_id=0),
        "side": Order.Side.SIDE_BUY,
        "quantums": 10_000_000,
        "subticks": 6_000_000_000,
        "good_til_block": 0,
        "time_in_force": Order.TimeInForce.TIME_IN_FORCE_IOC,
    }
    values.update(fields)
    return Order(**values)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"side": Order.Side.SIDE_UNSPECIFIED}, 3),
        ({"side": 7}, 3),
        ({"time_in_force": 9}, 44),
        ({"time_in_force": Order.TimeInForce.TIME_IN_FORCE_FILL_OR_KILL}, 48),
        ({"time_in_force": Order.TimeInForce.TIME_IN_FORCE_UNSPECIFIED, "reduce_only": True}, 9003),
        ({"time_in_force": Order.TimeInForce.TIME_IN_FORCE_POST_ONLY, "reduce_only": True}, 9003),
        ({"condition_type": Order.ConditionType.CONDITION_TYPE_STOP_LOSS}, 6000),
        ({"conditional_order_trigger_subticks": 100}, 6001),
        ({"good_til_block": None}, 5),
    ],
)
def test_an_order_dydx_validate_basic_refuses_is_refused_with_its_code(
    dydx: Bench, fields: dict[str, Any], code: int
) -> None:
    """MsgPlaceOrder's ValidateBasic: a side or time in force outside the enums or unspecified, fill-or-kill
    (deprecated), reduce-only on an order that may rest, a condition on a short-term order, goodTilBlock 0. The
    replica took them (a side-7 order traded as a sell, a fill-or-kill remainder rested)."""

    async def scenario() -> None:
        channel = insecure_channel(dydx.replica.validator_url.removeprefix("http://"))
        node = await NodeClient.connect(NodeConfig(dydx.chain.chain_id, "", "usdc", channel))
        wallet = await Wallet.from_mnemonic(node, MNEMONIC, ADDRESS)
        good_til_block = 0 if fields.get("good_til_block", 1) is None else dydx.chain.height + 10
        order = _order(**{**fields, "good_til_block": good_til_block})
        before = chain_state(dydx)
        answer = (await node.broadcast(node.builder.build(wallet, place_order(order)))).tx_response
        assert (answer.codespace, answer.code) == ("clob", code), answer
        assert chain_state(dydx) == before

    asyncio.run(asyncio.wait_for(scenario(), 30))


OWN = SubaccountId(owner=ADDRESS, number=0)


@pytest.mark.parametrize(
    ("message", "codespace", "code"),
    [
        (cancel_order(OrderId(subaccount_id=OWN, client_id=1), good_til_block=0), "clob", 5),
        (
            cancel_order(OrderId(subaccount_id=SubaccountId(owner=ADDRESS, number=128_001), client_id=1)),
            "subaccounts",
            200,
        ),
        (batch_cancel(OWN, [], 0), "clob", 45),
        (batch_cancel(OWN, [OrderBatch(clob_pair_id=0, client_ids=[])], 0), "clob", 45),
        (batch_cancel(OWN, [OrderBatch(clob_pair_id=0, client_ids=[1, 1])], 0), "clob", 45),
        (
            batch_cancel(
                OWN, [OrderBatch(clob_pair_id=0, client_ids=[1]), OrderBatch(clob_pair_id=0, client_ids=[2])], 0
            ),
            "clob",
            45,
        ),
        (batch_cancel(OWN, [OrderBatch(clob_pair_id=0, client_ids=list(range(101)))], 0), "clob", 45),
    ],
)
def test_a_cancel_dydx_validate_basic_refuses_is_refused_with_its_code(
    dydx: Bench, message: Any, codespace: str, code: int
) -> None:
    """MsgCancelOrder's and MsgBatchCancel's ValidateBasic: goodTilBlock 0, a subaccount past 128,000, a batch with no
    orders, a clob pair twice, an order id twice or more than 100 cancels."""

    async def scenario() -> None:
        channel = insecure_channel(dydx.replica.validator_url.removeprefix("http://"))
        node = await NodeClient.connect(NodeConfig(dydx.chain.chain_id, "", "usdc", channel))
        wallet = await Wallet.from_mnemonic(node, MNEMONIC, ADDRESS)
        if message.good_til_block == 0 and code != 5:
            message.good_til_block = dydx.chain.height + 10
        before = chain_state(dydx)
        answer = (await node.broadcast(node.builder.build(wallet, message))).tx_response
        assert (answer.codespace, answer.code) == (codespace, code), answer
        assert chain_state(dydx) == before

    asyncio.run(asyncio.wait_for(scenario(), 30))


@pytest.mark.parametrize(
    "body", [b"<html>captive portal</html>", b"\xff\xfe{", b'{"markets": ', b'{"markets": ' + b"[" * 100_000]
)
def test_an_indexer_answer_that_is_not_json_is_the_connectors_error(dydx: Bench, body: bytes) -> None:
    """A 200 from the indexer's address whose body is not JSON (a portal's page, bytes that are not UTF-8, a body
    cut short, or nested deeper than the parser recurses) is DydxResponseError naming the route, not the client's
    decoding exception."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def scenario(url: str) -> None:
        with pytest.raises(DydxResponseError) as raised:
            async with DydxConnector(dataclasses.replace(dydx.settings(), indexer_url=url)):
                pass
        assert "/v4/perpetualMarkets" in str(raised.value) and "\n" not in str(raised.value)

    with serving(page) as url:
        asyncio.run(asyncio.wait_for(scenario(url), 30))


def test_an_attestation_answer_nested_past_the_parser_is_the_connectors_error() -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=b'{"messages": ' + b"[" * 100_000, content_type="application/json")

    async def scenario(url: str) -> None:
        with pytest.raises(DydxResponseError, match="attestation service /v1/messages/0/0xab"):
            await CctpAttestations(url).messages(0, "0xab")

    with serving(page) as url:
        asyncio.run(asyncio.wait_for(scenario(url), 30))


def test_a_huge_error_page_is_cut_short_in_the_error() -> None:
    """An HTTP error's body goes into the error's message, and from there into the log: a megabyte of it was a
    megabyte a log line."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(status=503, text="<html>" + "x" * 1_000_000)

    async def scenario(url: str) -> None:
        with pytest.raises(DydxRequestError) as raised:
            await CctpAttestations(url).messages(0, "0xab")
        assert "HTTP 503: <html>xxx" in str(raised.value) and len(str(raised.value)) < 1_000

    with serving(page) as url:
        asyncio.run(asyncio.wait_for(scenario(url), 30))
