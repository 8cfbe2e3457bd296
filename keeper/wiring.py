"""One way to connect to a deployment, shared by the daemon and the keeper's commands: the connection over
`rpc_urls` with the configured timeouts, the deployment file, the node checked at start (it answers, it is the
deployment's chain, the vault is there, its tokens have the file's decimals and symbols), every client, and a
signer only when one is asked for, so that read-only commands need no key."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account, keystore_account, require_local_chain
from keeper.chain.provider import connect
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import FeePolicy, Sender
from keeper.client.clients import Clients
from keeper.client.tokens import check_tokens
from keeper.daemon.chain_watch import ChainWatch, wait_for_node
from keeper.daemon.config import KeeperConfig
from keeper.exceptions import ConfigError

log = logging.getLogger("primevault.keeper")


@dataclass(frozen=True)
class Wiring:
    """A checked connection to one deployment."""

    config: KeeperConfig
    w3: Web3
    deployment: Deployment
    watch: ChainWatch  # checks the node again each cycle
    clients: Clients
    sender: Sender | None  # None when no signer was asked for


def wire(config: KeeperConfig, sign: bool = True, wait: bool = True) -> Wiring:
    """Connects to `config`'s deployment and checks the node (with `wait`, waiting up to `start_timeout` for it to
    answer, as a daemon does; without, as one-shot commands do, a node that does not answer fails at once; a wrong
    chain, a missing vault or a token unlike the file's stops with one line). With `sign`, transactions are signed
    with the configured key, under the configured fee policy, with the nonce kept in `data_dir`."""
    deployment = Deployment.load(config.deployment)
    w3 = connect(config.rpc_urls, config.rpc_timeout)
    watch = ChainWatch(w3, deployment)
    watch.check_at_start(wait_for_node(w3, config.rpc_urls, config.start_timeout if wait else 0))
    check_tokens(w3, deployment, config.deployment)
    sender = _sender(config, w3) if sign else None
    clients = Clients.build(w3, deployment, sender)
    clients.lens.call_gas = config.call_gas_cap
    return Wiring(config, w3, deployment, watch, clients, sender)


def _sender(config: KeeperConfig, w3: Web3) -> Sender:
    account = _account(config, w3)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way (FileExistsError), no permission, a read-only disk
        raise ConfigError(
            f"data_dir: cannot make {config.data_dir} ({exc.strerror or type(exc).__name__}): give a directory the "
            "keeper can write to (--data-dir or data_dir)"
        ) from None
    return Sender(
        w3,
        account,
        error_decoder(),
        fees=FeePolicy(
            max_fee_cap=int(config.max_fee_gwei * 10**9),
            replace_after=config.replace_after,
            receipt_timeout=config.receipt_timeout,
        ),
        nonce_file=config.data_dir / f"nonce-{account.address}.json",
        dry_run=config.dry_run,
    )


def _account(config: KeeperConfig, w3: Web3) -> LocalAccount:
    if config.keystore is not None and config.password_file is not None:
        return keystore_account(config.keystore, config.password_file)
    if config.dev_account is None:
        raise ConfigError("no key given: set keystore and password_file (or dev_account on a local chain)")
    require_local_chain(w3.eth.chain_id)
    log.warning("using a public anvil dev key: fine for a local chain only")
    return dev_account(config.dev_account)
