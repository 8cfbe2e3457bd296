"""The connector's reads that the seat's accounting stands on, against a fake gRPC channel (fast, no replica): a
withdrawal's transaction is done only once a block has it and succeeded there (GetTx), and Noble's search reads
only its latest burns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.protobuf.any_pb2 import Any as AnyMessage
from v4_proto.cosmos.base.abci.v1beta1.abci_pb2 import TxResponse
from v4_proto.cosmos.tx.v1beta1 import service_pb2
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import Tx

from keeper.connectors.dydx import DydxConnectionError, DydxConnector, DydxSettings, DydxTxRejectedError
from keeper.connectors.dydx.connector import BURN_ACTION
from keeper.connectors.dydx.noble_messages import MsgDepositForBurn
from keeper.exceptions import ConfigError

from .dydx_replica import ADDRESS, MNEMONIC

D = Decimal
ADAPTER = "0x00000000000000000000000000000000000a11ce"


class NotFound(grpc.RpcError):  # type: ignore[misc]
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.NOT_FOUND

    def details(self) -> str:
        return "tx not found"


class Channel:
    """A gRPC channel whose unary calls `answer` answers: (method path, request) -> response."""

    def __init__(self, answer: Callable[[str, Any], Any]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, Any]] = []

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        def call(request: Any, **options: Any) -> Any:
            self.requests.append((method, request))
            return self.answer(method, request)

        return call


def connector(channel: Channel) -> DydxConnector:
    settings = DydxSettings(
        "http://127.0.0.1:1", "http://127.0.0.1:2", "dydx-test", MNEMONIC, poll_interval=0.01,
        noble_url="http://127.0.0.1:3",
    )  # fmt: skip
    dydx = DydxConnector(settings)
    dydx._node, dydx._channel, dydx._owner = object(), channel, ADDRESS
    dydx._noble = type("Noble", (), {"channel": channel})()
    return dydx


def get_tx(code: int, after: int) -> Callable[[str, Any], Any]:
    """GetTx answers NOT_FOUND `after` times, then the transaction with `code`."""
    asked = [0]

    def answer(method: str, request: Any) -> Any:
        assert method.endswith("/GetTx"), method
        asked[0] += 1
        if asked[0] <= after:
            raise NotFound()
        result = TxResponse(txhash=request.hash, height=7, code=code, codespace="sending", raw_log="failed")
        return service_pb2.GetTxResponse(tx_response=result)

    return answer


def test_a_transaction_in_its_block_with_code_0_is_done() -> None:
    channel = Channel(get_tx(0, after=2))
    asyncio.run(connector(channel).wait_included("ABC", "the withdrawal"))
    assert len(channel.requests) == 3 and channel.requests[-1][1].hash == "ABC"


def test_a_transaction_that_failed_in_its_block_raises() -> None:
    """CheckTx passed (a SYNC broadcast's only answer) but the block refused it: the withdrawal never left."""
    with pytest.raises(DydxTxRejectedError, match="in block 7"):
        asyncio.run(connector(Channel(get_tx(6, after=1))).wait_included("ABC", "the withdrawal"))


def test_a_transaction_no_block_has_is_of_unknown_outcome() -> None:
    with pytest.raises(DydxConnectionError, match="outcome is unknown"):
        asyncio.run(connector(Channel(get_tx(0, after=10**6))).wait_included("ABC", "the withdrawal", timeout=0.05))


def burns_search(total: int) -> Callable[[str, Any], Any]:
    """Noble's GetTxsEvent over `total` burns (amount i+1 USDC, height i+1), oldest first, paged as cosmos-sdk."""

    def answer(method: str, request: Any) -> Any:
        assert method.endswith("/GetTxsEvent"), method
        limit, page = int(request.limit), int(request.page)
        response = service_pb2.GetTxsEventResponse(total=total)
        for i in range((page - 1) * limit, min(page * limit, total)):
            burn = MsgDepositForBurn(
                amount=str((i + 1) * 10**6), mint_recipient=bytes.fromhex(ADAPTER[2:]).rjust(32, b"\0")
            )
            tx = Tx()
            tx.body.messages.append(AnyMessage(type_url=BURN_ACTION, value=burn.SerializeToString()))
            response.txs.append(tx)
            response.tx_responses.append(TxResponse(txhash=f"T{i}", height=i + 1))
        return response

    return answer


@pytest.mark.parametrize("total", [0, 3, 50, 51, 120, 150])
def test_noble_burns_reads_only_the_latest(total: int) -> None:
    channel = Channel(burns_search(total))
    burns = asyncio.run(connector(channel).noble_burns(recent=50))
    assert [b.height for b in burns] == list(range(max(total - 50, 0) + 1, total + 1))
    assert all(b.amount == D(b.height) and b.recipient == ADAPTER for b in burns)
    assert len(channel.requests) <= 3


def test_noble_burns_reads_every_one_when_asked() -> None:
    channel = Channel(burns_search(250))
    burns = asyncio.run(connector(channel).noble_burns(recent=None))
    assert [b.height for b in burns] == list(range(1, 251))


def test_the_fee_reserve_is_a_usdc_amount_per_chain() -> None:
    required = {"indexer_url": "http://i:1", "validator_url": "http://v:2", "chain_id": "c", "mnemonic": MNEMONIC}
    assert DydxSettings.from_mapping(required).fee_reserve == 0
    assert DydxSettings.from_mapping({**required, "fee_reserve": "0.25"}).fee_reserve == D("0.25")
    for bad in ("-1", "lots", "nan"):
        with pytest.raises(ConfigError, match="fee_reserve"):
            DydxSettings.from_mapping({**required, "fee_reserve": bad})
    with pytest.raises(ConfigError, match="fee_reserve"):
        DydxSettings("http://i:1", "http://v:2", "c", MNEMONIC, fee_reserve=D(-1))
