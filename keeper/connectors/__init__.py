"""The keeper's connectors to off-chain venues: each speaks only its venue's public API, so a base URL and keys in
the configuration choose between a local replica (keeper/devnet/) and the real exchange."""

QUOTED_MOST = 300


def quoted(text: str, most: int = QUOTED_MOST) -> str:
    """What a venue said, as an error message quotes it: cut after `most` characters ("..." marks the cut), so that
    an answer of megabytes is not a log line of megabytes."""
    return text if len(text) <= most else text[:most] + "..."
