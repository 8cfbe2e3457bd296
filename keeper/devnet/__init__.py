"""The devnet part of the package: what runs a local PrimeVault, never what the keeper needs on a real chain.

`deploy` deploys the local system (mock tokens and feeds, local perp venues, the vault configured over them),
`crash` is the crash run behind `primevault demo`, `plot` draws its report (matplotlib, from the `devnet`
extras: `pip install 'primevault[devnet]'`), and `rabbitx` is a RabbitX exchange replica served for end-to-end
tests of the connector.
"""
