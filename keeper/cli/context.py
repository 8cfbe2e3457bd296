"""Shared command-line context: RPC connection, deployment file and signing key, resolved lazily so that
commands that need none of them (such as `devnet`) never fail on them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import click
import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3

from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account, keystore_account, require_local_chain
from keeper.chain.provider import RotatingHTTPProvider
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import DEFAULT_MAX_FEE_GWEI, FeePolicy, Sender
from keeper.client.tokens import check_tokens
from keeper.client.vault import VaultClient
from keeper.exceptions import ConfigError

DEFAULT_DEPLOYMENT = Path("deployments/local.json")
DEFAULT_RPC_URL = "http://127.0.0.1:8545"
RPC_TIMEOUT_SECONDS = 30.0
"""How long a command waits for each answer of the node."""


@dataclass
class CliContext:
    rpc_url_option: str | None
    deployment_path: Path
    dev_account_index: int | None
    keystore: Path | None
    password_file: Path | None
    _w3: Web3 | None = field(default=None, init=False)
    # Off for `deploy`, which writes a deployment file and must never read the one there (another node's or
    # chain's, or a broken one): the RPC URL is then --rpc-url's or the default, and the node is checked against
    # no deployment.
    reads_deployment: bool = field(default=True, init=False)

    @cached_property
    def deployment(self) -> Deployment:
        if not self.reads_deployment:
            raise ConfigError(f"this command writes {self.deployment_path} and does not read it")
        return Deployment.load(self.deployment_path)

    @cached_property
    def rpc_url(self) -> str:
        if self.rpc_url_option is not None:
            if not self.rpc_url_option.strip():
                # An empty --rpc-url (an unset shell variable) must not quietly mean "the default node".
                raise ConfigError("--rpc-url is empty: give the node's URL (http://127.0.0.1:8545) or leave it out")
            return self.rpc_url_option
        if self.reads_deployment and self.deployment_path.is_file() and self.deployment.rpc_url:
            return self.deployment.rpc_url
        return DEFAULT_RPC_URL

    @cached_property
    def w3(self) -> Web3:
        if not self.rpc_url.startswith(("http://", "https://")):
            raise ConfigError(f"RPC URL {self.rpc_url!r} must start with http:// or https://")
        # The keeper's provider: reads retried a little, never a blind resend of eth_sendRawTransaction (web3's own
        # provider sends it again on an error page), and the chain id asked once.
        provider = RotatingHTTPProvider([self.rpc_url], RPC_TIMEOUT_SECONDS, retries=2)
        w3 = Web3(provider)
        chain_id = self._probe(provider)
        if self.reads_deployment and self.deployment_path.is_file():
            if self.deployment.chain_id != chain_id:
                raise ConfigError(
                    f"{self.deployment_path} is for chain {self.deployment.chain_id} but {self.rpc_url} is chain "
                    f"{chain_id}: pass the matching --deployment"
                )
            if not w3.eth.get_code(self.deployment.vault):
                raise ConfigError(
                    f"no contract at the vault address {self.deployment.vault} on {self.rpc_url}: the chain was "
                    f"restarted or {self.deployment_path} is from another node; redeploy or pass the right --deployment"
                )
            check_tokens(w3, self.deployment, self.deployment_path)
        return w3

    def _probe(self, provider: RotatingHTTPProvider) -> int:
        """The node's chain id, asked once: the one check every command makes before anything else, so that a URL
        that is down, hung, an HTTP server that is no node, or one that answers something other than JSON-RPC is
        one line, whichever command meets it."""
        url = self.rpc_url
        try:
            return provider.probe_chain_id()
        except requests.Timeout:
            raise ConfigError(
                f"the RPC at {url} did not answer within {RPC_TIMEOUT_SECONDS:.0f}s: is the node hung or overloaded? "
                "(see --rpc-url)"
            ) from None
        except requests.ConnectionError:
            raise ConfigError(f"cannot reach the RPC at {url}: is the node running? (see --rpc-url)") from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "an error"
            raise ConfigError(f"{url} answered HTTP {status}: it is not a JSON-RPC node (see --rpc-url)") from None
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:  # not JSON, no result, ...
            raise ConfigError(
                f"{url} answered eth_chainId with something other than a chain id ({type(exc).__name__}): is it a "
                "JSON-RPC node? (see --rpc-url)"
            ) from None

    @cached_property
    def account(self) -> LocalAccount:
        if self.keystore is not None:
            if self.password_file is None:
                raise ConfigError("--keystore needs --password-file")
            return keystore_account(self.keystore, self.password_file)
        if self.dev_account_index is not None:
            require_local_chain(self.w3.eth.chain_id)
            _warn_once("warning: anvil dev keys are public; fine on a local chain only (said once)")
            return dev_account(self.dev_account_index)
        raise ConfigError("no key given: pass --keystore with --password-file, or --dev-account N on a local chain")

    def sender(self) -> Sender:
        return Sender(self.w3, self.account, error_decoder(), fees=FeePolicy(max_fee_cap=DEFAULT_MAX_FEE_GWEI * 10**9))

    def reader(self) -> VaultClient:
        deployment = self.deployment  # a missing deployment file is the first thing to report
        return VaultClient(self.w3, deployment)

    def writer(self) -> VaultClient:
        deployment = self.deployment
        return VaultClient(self.w3, deployment, self.sender())


pass_context = click.make_pass_decorator(CliContext)


def _warn_once(message: str) -> None:
    """Prints `message` the first time on this machine, then remembers it in the user's cache directory."""
    marker = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "primevault" / "dev-key-warned"
    if marker.exists():
        return
    click.echo(message, err=True)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # a read-only home only means the warning comes again
