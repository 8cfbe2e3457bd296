"""The keeper's RabbitX connector: RabbitX's public REST and WebSocket API, signed as RabbitX's own clients sign.

Base URL, WebSocket URL and credentials come from configuration (`RabbitXSettings`), so the devnet replica
(keeper/devnet/rabbitx/) and the real exchange differ only there. keeper/devnet/rabbitx/API_NOTES.md records the
API with its sources.
"""
