"""A local anvil node as a subprocess on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

from web3 import Web3

from keeper.exceptions import AnvilError
from keeper.toolchain import find_tool

DEV_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_CHAIN_ID = 31337


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Whether nothing listens on `port`: with SO_REUSEADDR (as anvil binds), a killed node's connections left in
    TIME_WAIT do not count, which kept the port refused for a minute after its node died."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Anvil:
    """Starts anvil on a free loopback port; stops it on `stop()` or leaving the `with` block."""

    def __init__(
        self,
        *,
        port: int | None = None,
        accounts: int = 10,
        chain_id: int = ANVIL_CHAIN_ID,
        block_time: float | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = [
            find_tool("anvil"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--accounts",
            str(accounts),
            "--mnemonic",
            DEV_MNEMONIC,
            "--chain-id",
            str(chain_id),
            "--silent",
            *(("--block-time", str(block_time)) if block_time else ()),
            *extra_args,
        ]
        self._process: subprocess.Popen[bytes] | None = None
        self._home: str | None = None

    def start(self, timeout: float = 20.0) -> Anvil:
        # Checked first: anvil exits when the port is taken, but a node already listening there would answer the
        # readiness poll below and everything after would run against it.
        if not _port_is_free(self.port):
            raise AnvilError(
                f"port {self.port} is in use (another node?): choose another port or stop what listens there"
            )
        # Anvil writes the states of older blocks under $HOME/.foundry/anvil/tmp and leaves them there when it is
        # stopped (about a gigabyte a long test run): each node gets a home of its own, removed when it stops.
        self._home = tempfile.mkdtemp(prefix="primevault-anvil-")
        env = {**os.environ, "HOME": self._home}
        self._process = subprocess.Popen(self._args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode() if self._process.stderr else ""
                first_line = next((line for line in stderr.splitlines() if line.strip()), "no message")
                code = self._process.returncode
                self.stop()
                raise AnvilError(f"anvil exited with code {code}: {first_line.strip()}")
            try:
                if w3.is_connected():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AnvilError(f"anvil did not answer on {self.url} within {timeout:.0f}s")

    @property
    def home(self) -> str | None:
        """The home directory this node keeps its files in while it runs (removed when it stops)."""
        return self._home

    def exit_code(self) -> int | None:
        """Anvil's exit code if it stopped by itself (killed, crashed) since it started (negative: the signal that
        killed it), else None."""
        return self._process.poll() if self._process is not None else None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
