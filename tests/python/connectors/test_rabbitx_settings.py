"""The connector's configuration (one line per bad field; the WebSocket URL follows the base URL, real or devnet)
and its store (one exchange per file; fills by venue id; client_order_ids once)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from keeper.connectors.rabbitx.errors import DuplicateClientOrderIdError, RabbitXError, RabbitXResponseError
from keeper.connectors.rabbitx.models import Fill, Order
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.connectors.rabbitx.store import ConnectorStore
from keeper.connectors.rabbitx.vocabulary import Side
from keeper.exceptions import ConfigError

REAL = {
    "base_url": "https://api.prod.rabbitx.io",
    "api_key": "key",
    "api_secret": "0x" + "11" * 32,
    "jwt": "a.b.c",
    "profile_id": "42",
    "data_dir": "/var/lib/primevault",
}


def test_settings_for_the_real_exchange_and_the_devnet_differ_only_in_values(tmp_path: Path) -> None:
    real = RabbitXSettings.from_mapping(REAL)
    assert real.websocket_url == "wss://api.prod.rabbitx.io/ws"
    assert real.credentials.profile_id == 42 and real.exchange_id == "rbx"
    assert real.store_path == Path("/var/lib/primevault/rabbitx-rbx-42.sqlite")
    assert "0x1111" not in repr(real), "the secret stays out of logs"

    environ = {f"PRIMEVAULT_RABBITX_{k.upper()}": v for k, v in REAL.items()}
    environ |= {"PRIMEVAULT_RABBITX_BASE_URL": "http://127.0.0.1:8888", "PRIMEVAULT_RABBITX_RECONNECT_DELAY": "0.5"}
    devnet = RabbitXSettings.from_env(environ | {"PRIMEVAULT_OTHER": "x"})
    assert (devnet.websocket_url, devnet.reconnect_delay) == ("ws://127.0.0.1:8888/ws", 0.5)


def test_bad_settings_are_one_line_naming_each_field() -> None:
    with pytest.raises(ConfigError) as error:
        RabbitXSettings.from_mapping({**REAL, "api_secret": "", "profile_id": "x", "quiet_reconcile": "-1", "eid": 1})
    assert str(error.value) == (
        "rabbitx.api_secret is required; rabbitx.eid is not a setting; rabbitx.quiet_reconcile must not be "
        "negative, got '-1'; rabbitx.profile_id must be an integer, got 'x'"
    )


def fill(fill_id: str, timestamp: int) -> Fill:
    return Fill(fill_id, "BTC-USD@1", "c-1", "BTC-USD", Side.LONG, Decimal(60000), Decimal("0.1"), Decimal(3),
                timestamp, False, "t-1", False)  # fmt: skip


def test_the_store_passes_each_fill_on_once_and_again_until_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = ConnectorStore(path, "http://a")
    assert store.newest_fill_timestamp() is None
    assert store.record_fill(fill("f-1", 10)) and store.record_fill(fill("f-2", 20))
    assert not store.record_fill(fill("f-1", 10))
    store.acknowledge("f-1")
    with pytest.raises(RabbitXError, match="never passed it on"):
        store.acknowledge("f-9")
    store.claim_client_order_id("c-1", "BTC-USD")
    store.close()

    reopened = ConnectorStore(path, "http://a")
    assert reopened.unacknowledged() == [fill("f-2", 20)]
    assert reopened.newest_fill_timestamp() == 20
    with pytest.raises(DuplicateClientOrderIdError):
        reopened.claim_client_order_id("c-1", "ETH-USD")
    reopened.close()
    with pytest.raises(ConfigError, match="holds the fills of http://a, not of http://b"):
        ConnectorStore(path, "http://b")


def test_rows_the_connector_cannot_read_are_one_error_naming_the_row() -> None:
    row = fill("f-1", 10).to_json()
    assert Fill.from_json(row).fee == 3, "RabbitX reports a fee paid as negative; the record says what was paid"
    with pytest.raises(RabbitXResponseError, match="RabbitX fill without 'order_id'"):
        Fill.from_json({k: v for k, v in row.items() if k != "order_id"})
    with pytest.raises(RabbitXResponseError, match="price must be a decimal number"):
        Fill.from_json(row | {"price": "abc"})
    with pytest.raises(RabbitXResponseError, match="RabbitX order cannot be read"):
        Order.from_json(
            {"id": "x", "market_id": "BTC-USD", "side": "up", "type": "limit", "status": "open", "size": "1"}
        )
