"""Errors the package raises for people: each renders as one line that says what went wrong."""

from __future__ import annotations


class PrimeVaultError(Exception):
    """Base of every error meant to be shown to a user as one line (the CLI prints it without a traceback)."""


class ConfigError(PrimeVaultError):
    """Missing or invalid configuration: RPC URL, deployment file, key."""


class InputError(PrimeVaultError):
    """A value the user gave cannot be used (unknown asset, malformed amount, bad address)."""
