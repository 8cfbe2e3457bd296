"""PrimeVault: an on-chain prime broker's Python side.

`keeper.chain` talks to the chain (anvil, deployment, transactions, decoded errors), `keeper.vault` is the
typed client for the vault contract, `keeper.risk` is pure computation (health, liquidation screening)
with no I/O, and `keeper.cli` is the `primevault` command.
"""

__version__ = "0.1.0"
