"""A local replica of the RabbitX perpetuals exchange: its REST/WebSocket API, signing, matching, margin, funding,
liquidation, deposits and EIP-712 withdrawals. Start it with ``python -m keeper.devnet.rabbitx --port 0``; see
API_NOTES.md for the real API it copies and where it differs."""
