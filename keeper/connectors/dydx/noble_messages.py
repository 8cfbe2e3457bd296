"""The messages the keeper sends to Noble and to dYdX to move USDC between them, which ``v4-proto`` does not ship:
IBC's ``MsgTransfer`` (ibc-go's ``ibc.applications.transfer.v1``) and Circle's ``MsgDepositForBurn`` (noble-cctp's
``circle.cctp.v1``), built here from their field numbers into the process's protobuf pool, so that the official
client's builder packs them as any other message.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from v4_proto.cosmos.base.v1beta1 import coin_pb2  # noqa: F401 (registers cosmos.base.v1beta1.Coin in the pool)

_F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, type_name: str | None = None) -> Any:
    field = _F(name=name, number=number, type=kind, label=_F.LABEL_OPTIONAL)
    if type_name is not None:
        field.type_name = type_name
    return field


def _file(name: str, package: str, messages: dict[str, list[Any]], deps: list[str]) -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(name)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto(name=name, package=package, dependency=deps, syntax="proto3")
    for message, fields in messages.items():
        proto.message_type.add(name=message, field=fields)
    pool.Add(proto)


_file(
    "primevault/ibc/core/client/v1/client.proto",
    "ibc.core.client.v1",
    {"Height": [_field("revision_number", 1, _F.TYPE_UINT64), _field("revision_height", 2, _F.TYPE_UINT64)]},
    [],
)
_file(
    "primevault/ibc/applications/transfer/v1/tx.proto",
    "ibc.applications.transfer.v1",
    {
        "MsgTransfer": [
            _field("source_port", 1, _F.TYPE_STRING),
            _field("source_channel", 2, _F.TYPE_STRING),
            _field("token", 3, _F.TYPE_MESSAGE, ".cosmos.base.v1beta1.Coin"),
            _field("sender", 4, _F.TYPE_STRING),
            _field("receiver", 5, _F.TYPE_STRING),
            _field("timeout_height", 6, _F.TYPE_MESSAGE, ".ibc.core.client.v1.Height"),
            _field("timeout_timestamp", 7, _F.TYPE_UINT64),
            _field("memo", 8, _F.TYPE_STRING),
        ],
        "MsgTransferResponse": [_field("sequence", 1, _F.TYPE_UINT64)],
    },
    ["cosmos/base/v1beta1/coin.proto", "primevault/ibc/core/client/v1/client.proto"],
)
_file(
    "primevault/circle/cctp/v1/tx.proto",
    "circle.cctp.v1",
    {
        "MsgDepositForBurn": [
            _field("from", 1, _F.TYPE_STRING),
            _field("amount", 2, _F.TYPE_STRING),
            _field("destination_domain", 3, _F.TYPE_UINT32),
            _field("mint_recipient", 4, _F.TYPE_BYTES),
            _field("burn_token", 5, _F.TYPE_STRING),
        ],
        "MsgDepositForBurnResponse": [_field("nonce", 1, _F.TYPE_UINT64)],
    },
    [],
)


def _message(full_name: str) -> Any:
    return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(full_name))


MsgTransfer: Any = _message("ibc.applications.transfer.v1.MsgTransfer")
MsgDepositForBurn: Any = _message("circle.cctp.v1.MsgDepositForBurn")
