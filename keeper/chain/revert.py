"""Decoding revert data into named custom errors, and the exception that carries one."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3RPCError

from keeper.chain.artifacts import ARTIFACT_NAMES, load_artifact

_ERROR_STRING = "Error(string)"
_PANIC = "Panic(uint256)"


@dataclass(frozen=True)
class DecodedError:
    """A revert reason: the custom error's name and its named arguments."""

    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        inner = ", ".join(f"{key}={_render(value)}" for key, value in self.args.items())
        return f"{self.name}({inner})"


def _selector(signature: str) -> bytes:
    return bytes(Web3.keccak(text=signature)[:4])


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def _canonical_type(item: dict[str, Any]) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){kind[5:]}"
    return kind


class ErrorDecoder:
    """Maps 4-byte selectors of every `error` in the given ABIs to their names and argument types."""

    def __init__(self, *abis: list[dict[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_canonical_type(i) for i in item["inputs"]]
                signature = f"{item['name']}({','.join(types)})"
                names = [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])]
                self._errors[_selector(signature)] = (item["name"], types, names)
        self._errors[_selector(_ERROR_STRING)] = ("Error", ["string"], ["message"])
        self._errors[_selector(_PANIC)] = ("Panic", ["uint256"], ["code"])

    def decode(self, data: bytes) -> DecodedError:
        """The named error in `data`; unknown selectors, and a known selector whose arguments do not decode (data cut
        short, not the error's encoding, or a reason string that is not UTF-8), decode as `UnknownError(data=0x...)`:
        a revert is reported, never turned into a decoding failure of its own."""
        unknown = DecodedError("UnknownError", {"data": bytes(data)})
        if len(data) < 4 or data[:4] not in self._errors:
            return unknown
        name, types, names = self._errors[data[:4]]
        try:
            decoded = abi_decode(types, data[4:])
        except (DecodingError, UnicodeDecodeError):
            return unknown
        values = [Web3.to_checksum_address(v) if t == "address" else v for t, v in zip(types, decoded, strict=True)]
        return DecodedError(name, dict(zip(names, values, strict=True)))


@cache
def error_decoder() -> ErrorDecoder:
    """Decodes every custom error any shipped contract reverts with: the vault and its liquidation module, the
    lens, the trading module, every adapter and venue, and the tokens (one decoder, built once)."""
    return ErrorDecoder(*(load_artifact(name).abi for name in ARTIFACT_NAMES))


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a web3 exception, if any."""
    if isinstance(exc, ContractPanicError | ContractCustomError | ContractLogicError):
        data = exc.data
    elif isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, dict):
        error = exc.rpc_response.get("error")
        data = error.get("data") if isinstance(error, dict) else None
    else:
        return None
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes(HexBytes(data))
    if isinstance(exc, ContractLogicError) and exc.message and "revert" in exc.message and data is None:
        return b""
    return None


def revert_reason(exc: BaseException) -> str:
    """Why a call failed, for a log line: the decoded custom error where the exception carries revert data, the
    exception's own words otherwise."""
    data = revert_data(exc)
    if data:
        return str(error_decoder().decode(data))
    message = getattr(exc, "message", None)  # web3's exceptions keep the node's words apart from the data
    return message if isinstance(message, str) and message else str(exc)
