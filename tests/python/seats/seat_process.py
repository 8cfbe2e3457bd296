"""A RabbitX seat that only forwards its fills, run as a process of its own so that a test can kill it mid-report
(`SeatProcess.start`), and run again in the test's own loop (`forward_fills`). What a killed keeper leaves behind is
what the two share: its nonce file, its connector's store and the transactions it sent."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from web3 import HTTPProvider, Web3

from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import Sender
from keeper.client.trading import TradingClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.connectors.rabbitx.store import ConnectorStore
from keeper.devnet.deploy import SEAT_VENUE
from keeper.seats.rabbitx import RabbitXSeat


@dataclass(frozen=True)
class SeatProcess:
    rpc_url: str
    deployment_file: Path
    data_dir: Path  # the keeper's: its nonce file
    rabbitx: RabbitXSettings  # its data_dir holds the connector's store
    dev_account: int = 0  # the deployment's executor

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE)
        assert process.stdin is not None
        process.stdin.write(pickle.dumps(self))
        process.stdin.close()
        return process

    def unacknowledged(self) -> int:
        """How many fills the connector passed on that the seat has not reported yet."""
        store = ConnectorStore(self.rabbitx.store_path, self.rabbitx.base_url)
        try:
            return len(store.unacknowledged())
        finally:
            store.close()

    async def forward_fills(self) -> None:
        """Forwards the seat's fills on chain until cancelled, as the keeper's seat job does."""
        w3 = Web3(HTTPProvider(self.rpc_url))
        account = dev_account(self.dev_account)
        sender = Sender(w3, account, error_decoder(), nonce_file=self.data_dir / f"nonce-{account.address}.json")
        trading = TradingClient(w3, Deployment.load(self.deployment_file), sender)
        async with RabbitXConnector(self.rabbitx) as connector:
            await RabbitXSeat(trading, connector, trading.venue_id(SEAT_VENUE)).forward_fills()


if __name__ == "__main__":
    asyncio.run(pickle.loads(sys.stdin.buffer.read()).forward_fills())
