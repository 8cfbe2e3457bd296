"""PrimeVault: an on-chain prime broker's Python side.

`keeper.chain` talks to the chain (anvil, deployment, transactions, decoded errors), `keeper.client` holds the
typed clients of the contracts (the only code that calls them), `keeper.risk` is pure computation (health,
liquidation screening) with no I/O, `keeper.cli` is the `primevault` command, and `keeper.devnet` runs a local
PrimeVault (an optional part: `pip install 'primevault[devnet]'`).
"""

__version__ = "0.1.0"

import logging
import sys

# The official dYdX client builds its public networks' settings when `dydx_v4_client.network` is first imported and
# warns about one of its own URLs; set before any of our modules imports it, so no command prints that line.
logging.getLogger("dydx_v4_client.network").setLevel(logging.ERROR)

# py_ecc, which eth_keyfile imports (for BLS keystores, which the keeper never reads), raises the interpreter's
# recursion limit to 100,000 as it is imported. C code that recurses once per level of nesting (json.loads) then
# overflows the thread's stack long before the limit: a deeply nested JSON body from a page, a venue or a node killed
# the whole process with a segfault instead of raising RecursionError. Imported here, and the limit brought back to
# CPython's default (whether py_ecc was imported now or by an earlier import of web3).
import eth_keyfile  # noqa: E402, F401

sys.setrecursionlimit(min(sys.getrecursionlimit(), 1000))
