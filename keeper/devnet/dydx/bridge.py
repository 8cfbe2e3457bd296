"""The replica's side of the CCTP bridge to the local Ethereum chain (`contracts/devnet/venues/DevnetCctpBridge.sol`).

In: `BridgeWatcher` reads the bridge's ``DepositForBurn(uint64 indexed nonce, address indexed burnToken, uint256
amount, address indexed depositor, bytes32 mintRecipient, uint32 destinationDomain)`` logs for Noble's domain, and
mints each on the Noble replica to the ``noble1...`` address with the recipient's 20 bytes once it has
`confirmations`, idempotent by nonce (`Noble.mint`), so a block read twice mints nothing twice. From there the
keeper moves it on (IBC to dYdX, then into its subaccount), as on mainnet.

Out: Noble's MsgDepositForBurn is a CCTP burn (`Noble.burns`); `cctp_message` is its message in CCTP v1's byte
layout (`keeper.client.bridge.CctpMessage`), and `attest` the attester's signature the bridge pays it on (over the
message's keccak256, as Circle's attesters sign), served by the indexer's copy of Circle's attestation route.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.types import FilterParams, LogReceipt

from keeper.client.bridge import CctpMessage
from keeper.connectors.dydx.cctp import NOBLE_DOMAIN
from keeper.devnet.dydx.chain import CctpBurn
from keeper.devnet.dydx.noble import Noble

log = logging.getLogger(__name__)

ETHEREUM_DOMAIN = 0
NOBLE_USDC = keccak(b"uusdc")  # the burn token's id on Noble, as a message carries it (the bridge does not check it)
DEPOSIT_FOR_BURN_TOPIC = HexBytes(keccak(text="DepositForBurn(uint64,address,uint256,address,bytes32,uint32)"))


@dataclass(frozen=True)
class BridgeConfig:
    rpc_url: str
    bridge_address: str
    attester_key: str
    """The private key whose signatures the bridge pays messages on (its `attester`)."""
    confirmations: int = 1
    """A log in block b is credited once the head is at b + confirmations - 1 (1: as soon as it is mined)."""
    poll_interval: float = 0.5
    from_block: int = 0
    max_block_range: int = 2000

    def __post_init__(self) -> None:
        if self.confirmations < 1 or self.poll_interval <= 0 or self.from_block < 0 or self.max_block_range < 1:
            raise ValueError("confirmations and max_block_range must be at least 1, poll_interval positive")


def cctp_message(burn: CctpBurn) -> bytes:
    """The message of `burn`, from Noble to Ethereum: Noble's USDC burned, `burn.recipient` paid."""
    return CctpMessage(
        burn.nonce, NOBLE_DOMAIN, ETHEREUM_DOMAIN, burn.recipient, burn.quantums, burn_token=NOBLE_USDC
    ).encode()


def attest(attester_key: str, message: bytes) -> bytes:
    """The attester's 65-byte signature over keccak256(message), as the bridge recovers it."""
    return bytes(Account.unsafe_sign_hash(keccak(message), attester_key).signature)


class BridgeWatcher:
    """Reads the bridge's deposits up to the confirmed head and mints them on `noble`, in order."""

    def __init__(self, noble: Noble, config: BridgeConfig) -> None:
        self.noble = noble
        self.config = config
        self.w3 = Web3(HTTPProvider(config.rpc_url, request_kwargs={"timeout": 10}))
        self.address = Web3.to_checksum_address(config.bridge_address)
        self.next_block = config.from_block
        """The first block not read yet."""

    def poll(self) -> int:
        """Mints every confirmed deposit not read yet; returns how many were minted."""
        credited = 0
        last = int(self.w3.eth.block_number) - self.config.confirmations + 1
        while self.next_block <= last:
            to_block = min(last, self.next_block + self.config.max_block_range - 1)
            params: FilterParams = {
                "address": self.address,
                "fromBlock": self.next_block,
                "toBlock": to_block,
                "topics": [DEPOSIT_FOR_BURN_TOPIC],
            }
            for entry in sorted(self.w3.eth.get_logs(params), key=lambda e: (e["blockNumber"], e["logIndex"])):
                credited += self._credit(entry)
            self.next_block = to_block + 1
        return credited

    def _credit(self, entry: LogReceipt) -> bool:
        (nonce,) = abi_decode(["uint64"], HexBytes(entry["topics"][1]))
        amount, recipient, domain = abi_decode(["uint256", "bytes32", "uint32"], HexBytes(entry["data"]))
        tx_hash = "0x" + HexBytes(entry["transactionHash"]).hex().removeprefix("0x")
        if domain != NOBLE_DOMAIN:
            return False
        address = self.noble.mint(int(nonce), bytes(recipient), int(amount))
        if address is not None:
            log.info("bridge deposit %d: %d USDC quantums minted on Noble to %s (%s)", nonce, amount, address, tx_hash)
            return True
        return False

    def run(self, stop: threading.Event) -> None:
        """Polls until `stop` is set; an unreachable node is logged and retried."""
        while not stop.is_set():
            try:
                self.poll()
            except Exception as error:
                log.warning("bridge watcher: reading %s failed: %s", self.config.rpc_url, error)
            stop.wait(self.config.poll_interval)
