"""A local replica of exactly the dYdX v4 services the official client (``dydx-v4-client``) calls when the keeper
trades: the validator's gRPC endpoints (account, latest block, simulate, broadcast) and the indexer's REST
endpoints (markets, book, fills, subaccount, funding, height), over one chain state with a matching engine. Start it
with ``python -m keeper.devnet.dydx``; README.md lists what it reproduces and what it leaves out."""
