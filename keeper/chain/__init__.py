"""Chain I/O: local anvil nodes, contract artifacts, deployment, signing and sending transactions."""
