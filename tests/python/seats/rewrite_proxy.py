"""A real HTTP proxy in front of a venue's REST API that answers with wrong content: each answer to a chosen method and
path is forwarded to the venue, then its JSON body is rewritten by a function of the test's before it is passed on (a
fill with a negative size added, a crossed book, a balance that is not a number). The venue itself stays correct."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
from aiohttp import web

from tests.python.fault_proxy import serving

Rewrite = Callable[[Any], Any]


class RewriteProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self.rewritten: list[tuple[str, str]] = []  # the answers rewritten, in order
        self._rewrites: dict[tuple[str, str], Rewrite] = {}
        self._lock = threading.Lock()

    def rewrite(self, method: str, path: str, change: Rewrite | None) -> None:
        """Every later answer to `method` `path` is `change(its JSON)` (None: passed on as the venue sent it)."""
        with self._lock:
            if change is None:
                self._rewrites.pop((method, path), None)
            else:
                self._rewrites[(method, path)] = change

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with (
            aiohttp.ClientSession(auto_decompress=True) as session,
            session.request(
                request.method, self.upstream + request.path_qs, data=await request.read(), headers=headers
            ) as answer,
        ):
            status, body = answer.status, await answer.read()
        with self._lock:
            change = self._rewrites.get((request.method, request.path))
        if change is not None and status == 200:
            body = json.dumps(change(json.loads(body))).encode()
            with self._lock:
                self.rewritten.append((request.method, request.path))
        return web.Response(status=status, body=body, content_type="application/json")


@contextlib.contextmanager
def rewrite_proxy(upstream: str) -> Iterator[RewriteProxy]:
    """A `RewriteProxy` to `upstream` served on a free port on its own thread until the block exits."""
    proxy = RewriteProxy(upstream)
    with serving(proxy._handle) as proxy.url:
        yield proxy
