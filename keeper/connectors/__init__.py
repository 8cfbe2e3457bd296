"""The keeper's connectors to off-chain venues: each speaks only its venue's public API, so a base URL and keys in
the configuration choose between a local replica (keeper/devnet/) and the real exchange."""
