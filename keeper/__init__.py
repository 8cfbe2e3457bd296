"""PrimeVault: an on-chain prime broker's Python side.

`keeper.chain` talks to the chain (anvil, deployment, transactions, decoded errors), `keeper.client` holds the
typed clients of the contracts (the only code that calls them), `keeper.risk` is pure computation (health,
liquidation screening) with no I/O, `keeper.cli` is the `primevault` command, and `keeper.devnet` runs a local
PrimeVault (an optional part: `pip install 'primevault[devnet]'`).
"""

__version__ = "0.1.0"

import logging

# The official dYdX client builds its public networks' settings when `dydx_v4_client.network` is first imported and
# warns about one of its own URLs; set before any of our modules imports it, so no command prints that line.
logging.getLogger("dydx_v4_client.network").setLevel(logging.ERROR)
