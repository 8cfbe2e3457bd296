"""Killing a child of a command under test, as a crash would, and reading what the command then says."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path


def children_of(process: subprocess.Popen[bytes]) -> list[int]:
    """The pids of `process`'s children (Linux's /proc)."""
    return [int(pid) for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]


def is_anvil(pid: int) -> bool:
    return Path(f"/proc/{pid}/comm").read_text().strip() == "anvil"


def runs_module(module: str) -> Callable[[int], bool]:
    """Whether a process runs `python -m module`."""
    return lambda pid: module.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()


def kill_child(process: subprocess.Popen[bytes], which: Callable[[int], bool], timeout: float = 30) -> str:
    """SIGKILLs the one child of `process` that `which` picks and returns what `process` printed until it ended
    (within `timeout`); `process` is killed if it is still running then, or if no single child was picked."""
    try:
        [child] = [pid for pid in children_of(process) if which(pid)]
        os.kill(child, signal.SIGKILL)
        return process.communicate(timeout=timeout)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
