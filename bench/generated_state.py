"""Large chains from generated state: PrimeVault with N borrowers written straight into an anvil state file
(`--load-state`), not created by N x 2 transactions, and the keeper's figures on it.

One whale really deposits N WETH and borrows the sum of N loans, so the vault's totals, the tokens' balances and
the interest indexes are what transactions make; its position is then split in the state file into N accounts of
1 WETH and one loan each (between 1,500 and 2,390 USDC), written at the storage slots the lens reads (the vault's
`_accounts` and `_collateral` mappings and its account list). The split keeps every total: the whale keeps nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import encode
from web3 import Web3

from keeper.chain.anvil import Anvil
from keeper.chain.artifacts import load_artifact
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.chain.provider import RotatingHTTPProvider
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import FeePolicy, Sender
from keeper.client.clients import Clients
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import deploy_local_system, seed_local_liquidity

# PrimeVault's storage slots (`forge inspect PrimeVault storageLayout`; the lens reads the first two the same way).
ACCOUNTS_SLOT = 9  # mapping(address => Account{int104 principal; uint16 assetsIn; bool listed, portfolio, trading})
COLLATERAL_SLOT = 10  # mapping(address account => mapping(address asset => uint256))
ACCOUNT_LIST_SLOT = 11  # address[]
PRINCIPAL_BITS = 104
LOAN_RANGE_USDC = (1_500, 2_390)  # per WETH: healthy at 3,000 (initial haircut 20%: at most 2,400)
WHALE = 11  # dev accounts 0-9 hold roles on the devnet
BLOCK_SECONDS = 12
DEFAULT_BLOCK_GAS_LIMIT = 30_000_000
GAS_LIMIT_ARGS = ("--gas-limit", "3000000000")


def _slot(key: str, slot: int) -> int:
    return int.from_bytes(Web3.keccak(encode(["address", "uint256"], [key, slot])))


def _collateral_slot(account: str, asset: str) -> int:
    inner = _slot(account, COLLATERAL_SLOT)
    return int.from_bytes(Web3.keccak(encode(["address", "uint256"], [asset, inner])))


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


@dataclass(frozen=True)
class GeneratedChain:
    state: Path
    deployment: Deployment
    accounts: int


def generate(n: int, directory: Path, seed: int = 0) -> GeneratedChain:
    """Writes `directory/state.json` (anvil `--load-state`) and `directory/deployment.json` for `n` borrowers."""
    rng = random.Random(seed)
    loans = [rng.randint(*LOAN_RANGE_USDC) * 10**6 for _ in range(n)]
    with Anvil(accounts=WHALE + 1, extra_args=GAS_LIMIT_ARGS) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        admin = Sender(w3, dev_account(0), error_decoder(), fees=FeePolicy(replace_after=900, receipt_timeout=900))
        deployment = dataclasses.replace(deploy_local_system(admin), rpc_url=None)
        seed_local_liquidity(admin, deployment)
        clients = Clients.build(w3, deployment, admin)
        usdc, weth = deployment.base, deployment.token("WETH")
        pool = sum(loans)
        clients.vault.token("USDC").mint(admin.address, pool)
        clients.vault.deposit(admin.address, usdc.symbol, pool)
        whale = dev_account(WHALE)
        whale_vault = Clients.build(w3, deployment, Sender(w3, whale, error_decoder(), fees=admin.fees)).vault
        clients.vault.token("WETH").mint(whale.address, n * 10**18)
        whale_vault.deposit(whale.address, "WETH", n * 10**18)
        whale_vault.withdraw(whale.address, usdc.symbol, pool)
        record_slot = _slot(whale.address, ACCOUNTS_SLOT)
        record = int.from_bytes(w3.eth.get_storage_at(deployment.vault, record_slot))
        listed = int.from_bytes(w3.eth.get_storage_at(deployment.vault, ACCOUNT_LIST_SLOT))
        dump = w3.provider.make_request("anvil_dumpState", [])["result"]  # type: ignore[arg-type]
    state = json.loads(gzip.decompress(bytes.fromhex(dump[2:])))

    mask = (1 << PRINCIPAL_BITS) - 1
    principal = record & mask
    principal -= (1 << PRINCIPAL_BITS) if principal >> (PRINCIPAL_BITS - 1) else 0
    flags = record & ~mask  # assetsIn and listed, the same for every account: WETH held, listed
    storage: dict[str, str] = state["accounts"][deployment.vault.lower()]["storage"]
    list_base = int.from_bytes(Web3.keccak(ACCOUNT_LIST_SLOT.to_bytes(32, "big")))
    principal_left = principal
    for i, loan in enumerate(loans):
        account = Web3.to_checksum_address(Web3.keccak(text=f"primevault-bench-{seed}-{i}")[:20])
        # Each account's share of the whale's principal, the last taking the rounding, so that the sum is exact.
        own = principal_left if i == n - 1 else principal * loan // pool
        principal_left -= own
        storage[_word(_slot(account, ACCOUNTS_SLOT))] = _word((own & mask) | flags)
        storage[_word(_collateral_slot(account, weth.address))] = _word(10**18)
        storage[_word(list_base + listed + i)] = _word(int(account, 16))
    # The whale keeps its place in the list but nothing else.
    storage[_word(record_slot)] = _word(flags & ~(((1 << 16) - 1) << PRINCIPAL_BITS))
    storage[_word(_collateral_slot(whale.address, weth.address))] = _word(0)
    storage[_word(ACCOUNT_LIST_SLOT)] = _word(listed + n)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "state.json"
    path.write_text(json.dumps(state))
    deployment.save(directory / "deployment.json")
    return GeneratedChain(path, deployment, n)


@dataclass
class _Requests:
    """Requests that reach the node, by method, and when transactions were broadcast."""

    methods: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # time waited on the node, by method
    sends: list[float] = dataclasses.field(default_factory=list)  # when each transaction was broadcast
    batched_calls: int = 0  # the calls inside batch requests
    lens: str = ""  # the lens's address, lower case: its calls are counted apart
    lens_calls: int = 0

    def note(self, method: Any, params: Any) -> None:
        if method == "eth_call" and str(params[0].get("to", "")).lower() == self.lens:
            self.lens_calls += 1

    def calls(self) -> int:
        """Calls, a batch counting its calls."""
        batches = sum(c for m, c in self.methods.items() if m.startswith("batch of "))
        return self.total() - batches + self.batched_calls

    def breakdown(self) -> str:
        return ", ".join(f"{method} {count}" for method, count in sorted(self.methods.items()))

    def total(self) -> int:
        return sum(self.methods.values())


@contextmanager
def _counted(lens: str) -> Iterator[_Requests]:
    """Counts every HTTP request any of the package's providers sends (the keeper builds its own); a JSON-RPC
    batch is one, holding its calls."""
    seen = _Requests(lens=lens.lower())
    original = RotatingHTTPProvider._request_with_retries

    def counting(self: RotatingHTTPProvider, method: Any, params: Any) -> Any:
        seen.methods[method] = seen.methods.get(method, 0) + 1
        seen.note(method, params)
        started = time.perf_counter()
        result = original(self, method, params)
        seen.seconds[method] = seen.seconds.get(method, 0.0) + time.perf_counter() - started
        if method == "eth_sendRawTransaction":
            seen.sends.append(time.perf_counter())
        return result

    original_batch = RotatingHTTPProvider.make_batch_request

    def counting_batch(self: RotatingHTTPProvider, batch_requests: Any) -> Any:
        method = f"batch of {batch_requests[0][0]}"
        seen.methods[method] = seen.methods.get(method, 0) + 1
        seen.batched_calls += len(batch_requests)
        for call_method, params in batch_requests:
            seen.note(call_method, params)
        started = time.perf_counter()
        result = original_batch(self, batch_requests)
        seen.seconds[method] = seen.seconds.get(method, 0.0) + time.perf_counter() - started
        return result

    RotatingHTTPProvider._request_with_retries = counting  # type: ignore[method-assign]
    RotatingHTTPProvider.make_batch_request = counting_batch  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        RotatingHTTPProvider._request_with_retries = original  # type: ignore[method-assign]
        RotatingHTTPProvider.make_batch_request = original_batch  # type: ignore[method-assign]


def measure(chain: GeneratedChain, workdir: Path, liquidations: bool = True) -> None:
    """On anvil loaded from the generated state: the keeper's first full read, then (with `liquidations`) a block with
    a price move (ETH 3,000 to 2,700) taken to every liquidation transaction sent, blocks mined every 12 s as on a
    live chain."""
    extra = (*GAS_LIMIT_ARGS, "--load-state", str(chain.state), "--prune-history", "16")
    with Anvil(accounts=WHALE + 1, extra_args=extra) as node:
        deployment = dataclasses.replace(chain.deployment, rpc_url=node.url)
        path = workdir / "deployment-live.json"
        deployment.save(path)
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        admin = Sender(w3, dev_account(0), error_decoder())
        feed = w3.eth.contract(address=deployment.token("WETH").feed, abi=load_artifact("MockPriceFeed").abi)
        btc = w3.eth.contract(address=deployment.token("WBTC").feed, abi=load_artifact("MockPriceFeed").abi)
        for f, answer in ((feed, 3_000), (btc, 60_000)):  # fresh answers: the state's were written at generation
            admin.transact("refresh feed", f.functions.setAnswer(answer * 10**8))
        keeper = Keeper(
            KeeperConfig(
                rpc_urls=(node.url,),
                deployment=path,
                data_dir=workdir / "keeper",
                dev_account=9,  # holds no role: liquidation needs none
                jobs=("liquidation",),
                metrics_port=None,
            )
        )
        job = keeper.jobs.liquidation
        # Blocks of mainnet's long-standing gas limit for the wave; the keeper's pages are sized to the gas its calls
        # name (`call_gas_cap`, 50,000,000 by default: geth's, reth's and erigon's cap), which anvil runs in full.
        w3.provider.make_request("evm_setBlockGasLimit", [hex(DEFAULT_BLOCK_GAS_LIMIT)])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        with _counted(deployment.lens) as first:
            t0 = time.perf_counter()
            found = job.follower.update()
            loaded = time.perf_counter() - t0
        assert len(found.book) >= chain.accounts and not found.liquidatable
        n = chain.accounts
        read_row = (
            f"| {n:,} | first full read (lens pages of {job.follower.page_size:,}) | {first.total():,} "
            f"({first.calls():,} calls, {first.lens_calls} of them the lens's) | {loaded:.2f} s |"
        )
        read_methods = (
            f"\nThe first full read of {n:,} accounts by method: {first.breakdown()} (a batch is one request); the "
            "lens's calls are `follow` (the risk state and the first half page) and the other pages, and "
            "`portfolioRule` when an account is in portfolio mode (none is here); the other call is the block's header."
        )
        if not liquidations:
            print(read_row)
            print(read_methods)
            return
        # The wave at mainnet's block gas limit, blocks on a timer as on a live chain.
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setIntervalMining", [BLOCK_SECONDS])  # type: ignore[arg-type]
        price_block = admin.transact("drop ETH", feed.functions.setAnswer(2_700 * 10**8))["blockNumber"]
        with _counted(deployment.lens) as wave:
            t0 = time.perf_counter()
            results = job.run()
        # Every batch's first broadcast (one that did not fit a block and left the node's pool is broadcast again).
        to_sent = wave.sends[len(results) - 1] - t0
        liquidated = sum(len(r.liquidated) for r in results)
        blocks = sorted({r.block for r in results})
        sends = wave.methods.get("eth_sendRawTransaction", 0)
        waiting = ("eth_getTransactionReceipt", "eth_getTransactionByHash")  # for the receipts, after sending
        reads = wave.total() - sends - sum(wave.methods.get(m, 0) for m in waiting)
        print(read_row)
        print(
            f"| {n:,} | new block with a price move to every liquidation sent | {reads} reads, {sends} sends | "
            f"{to_sent:.2f} s |"
        )
        waited = ", ".join(
            f"{method} {wave.methods[method]} ({seconds:.1f} s)"
            for method, seconds in sorted(wave.seconds.items(), key=lambda kv: -kv[1])
            if method not in waiting
        )
        print(read_methods)
        print(
            f"\n{n:,} accounts: {liquidated:,} liquidated in {sends} transactions, landing in blocks "
            f"+{blocks[0] - price_block} to +{blocks[-1] - price_block} after the price update (blocks of "
            f"{DEFAULT_BLOCK_GAS_LIMIT:,} gas every {BLOCK_SECONDS} s). Time waited on the node before sending, "
            f"by method: {waited}; "
            "each batch is simulated once at the gas it was sized to, the followed block is one head, one log "
            "and one lens request.\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000])
    parser.add_argument("--first-read-only", action="store_true", help="measure the first full read, not the wave")
    args = parser.parse_args()
    print("## The keeper on large chains generated as state (anvil `--load-state`)\n")
    print(__doc__.split("\n\n", 1)[1].replace("\n", " ").strip() + "\n")
    print("| accounts | step | JSON-RPC requests | wall time |")
    print("| ---: | --- | ---: | ---: |")
    for n in args.accounts:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            chain = generate(n, Path(tmp))
            generated = time.perf_counter() - t0
            print(f"| {n:,} | generate the state (deploy, one whale, write {n:,} accounts) | - | {generated:.1f} s |")
            measure(chain, Path(tmp), liquidations=not args.first_read_only)


if __name__ == "__main__":
    main()
