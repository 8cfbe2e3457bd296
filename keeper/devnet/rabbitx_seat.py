"""The vault's seat at the devnet RabbitX exchange, run as an operator runs one: the exchange in its own process
(`python -m keeper.devnet.rabbitx`) watching its custody contract, and the seat onboarded with the keeper's key and
funded through that contract. Shared by the crash run (`primevault demo`) and `primevault devnet --seat`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from keeper.chain.deployment import Deployment
from keeper.client.trading import TradingClient
from keeper.connectors.rabbitx.client import Credentials, RabbitXClient
from keeper.devnet.deploy import SEAT_VENUE
from keeper.exceptions import DevnetServiceError


@contextmanager
def exchange_process(
    rpc_url: str, deployment: Deployment, signer_key: str, log_path: Path, funding_interval: float
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The devnet RabbitX exchange in its own process, its market maker quoting around the chain's own feeds, its
    deposits credited from the custody contract, funding paid every `funding_interval` seconds (0: never); yields its
    base URL and the process (to watch) and stops it on leaving the block."""
    seat = next(v for v in deployment.venues if v.name == SEAT_VENUE)
    feeds = [f"--feed={m.ticker}={m.feed}" for m in deployment.markets]
    command = [
        sys.executable, "-m", "keeper.devnet.rabbitx", "--port", "0", "--rpc-url", rpc_url,
        "--custody-address", seat.address, "--chain-id", str(deployment.chain_id), "--confirmations", "1",
        "--chain-poll-interval", "0.2", "--funding-interval", str(funding_interval), "--level-notional", "100000",
        *feeds,
    ]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 (closed below)
    env = dict(os.environ, RABBITX_DEVNET_SIGNER_KEY=signer_key)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if not url:
            raise DevnetServiceError(f"the devnet exchange did not start: see {log_path}")
        yield url, process
    finally:
        stop_process(process)
        log.close()


def open_rabbitx_seat(trading: TradingClient, exchange_url: str, keeper_key: str, margin: int) -> dict[str, str]:
    """Onboards the seat adapter's account at the exchange with `keeper_key` (a key the adapter names in
    `isValidSigner`), as an operator does once, and funds it with `margin` whole base tokens through the custody
    contract; returns the keeper's `[rabbitx]` settings."""
    venue = trading.venue_id(SEAT_VENUE)
    adapter = trading.seat_adapter(venue)

    async def onboard() -> Credentials:
        async with aiohttp.ClientSession() as session:
            return await RabbitXClient(session, exchange_url).onboard(keeper_key, adapter.address)

    credentials = asyncio.run(onboard())
    trading.deposit_margin(venue, margin * 10**trading.deployment.base.decimals)
    return {
        "base_url": exchange_url,
        "api_key": credentials.api_key,
        "api_secret": credentials.secret,
        "jwt": credentials.jwt,
        "profile_id": str(credentials.profile_id),
    }


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
