"""Keeper benchmarks: the risk engine at scale, JSON-RPC requests of a full scan, blocks from a price update
to the liquidation, and peak memory. Prints Markdown.

Usage: .venv/bin/python bench/keeper_bench.py [--scan-accounts 10000] [--memory-accounts 100000]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import subprocess
import sys
import tempfile
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from web3 import Web3

from keeper.chain.anvil import Anvil
from keeper.chain.keys import dev_account
from keeper.chain.provider import RotatingHTTPProvider
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import FeePolicy, Sender
from keeper.client.clients import Clients
from keeper.client.lens import DEFAULT_PAGE_SIZE
from keeper.client.vault import LiquidationResult, VaultClient, sub_account
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import deploy_local_system, seed_local_liquidity
from keeper.follower import AccountFollower
from keeper.liquidator import scan
from keeper.risk.health import PerpArrays, RiskParameters, compute_health

ASSETS, MARKETS, VENUES = 3, 4, 4
DEFAULT_BLOCK_GAS_LIMIT = 30_000_000  # anvil's default
BLOCK_SECONDS = 12  # Ethereum's slot time
PARAMS = RiskParameters(
    prices=[3000 * 10**8, 60_000 * 10**8, 10**8],
    scale_exponents=[20, 10, 20],
    initial_haircut_bps=[2000, 2000, 3000],
    maintenance_haircut_bps=[1500, 1500, 2500],
    perp_marks=[60_000 * 10**18, 3000 * 10**18, 150 * 10**18, 1 * 10**18],
    perp_initial_bps=[1000] * MARKETS,
    perp_maintenance_bps=[500] * MARKETS,
    funding_indexes=[0] * (MARKETS * VENUES),
)


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, PerpArrays]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(-50_000e6, 10_000e6, n)
    collateral = np.column_stack([rng.uniform(0, 20e18, n), rng.uniform(0, 1e8, n), rng.uniform(0, 1e22, n)])
    slots = MARKETS * VENUES
    sizes = np.where(rng.random((n, slots)) < 0.15, rng.normal(0, 2, (n, slots)), 0.0)
    marks = np.repeat(np.asarray(PARAMS.perp_marks, dtype=float) / 1e18, VENUES)
    entries = np.where(sizes != 0, marks * rng.uniform(0.9, 1.1, (n, slots)), 0.0)
    return base, collateral, PerpArrays.build(sizes, entries, np.zeros((n, slots)))


def _entries(n: int, seed: int = 0) -> np.ndarray:
    """The entry prices `synthetic` drew (same seed, same draws)."""
    rng = np.random.default_rng(seed)
    rng.uniform(size=n)
    rng.uniform(size=n), rng.uniform(size=n), rng.uniform(size=n)
    slots = MARKETS * VENUES
    sizes = np.where(rng.random((n, slots)) < 0.15, rng.normal(0, 2, (n, slots)), 0.0)
    marks = np.repeat(np.asarray(PARAMS.perp_marks, dtype=float) / 1e18, VENUES)
    return np.where(sizes != 0, marks * rng.uniform(0.9, 1.1, (n, slots)), 0.0)


def per_account_loop(
    base: list[float], collateral: list[list[float]], sizes: list[list[float]], entries: list[list[float]]
) -> list[bool]:
    """What a keeper without numpy writes: one account at a time, one asset and one position at a time."""
    unit = [p / 10**e for p, e in zip(PARAMS.prices, PARAMS.scale_exponents, strict=True)]
    marks = [m / 1e18 for m in PARAMS.perp_marks for _ in range(VENUES)]
    m_bps = [b / 10_000 for b in PARAMS.perp_maintenance_bps for _ in range(VENUES)]
    out = []
    for b, bal, sz, en in zip(base, collateral, sizes, entries, strict=True):
        value = maintenance = pnl = 0.0
        for i, amount in enumerate(bal):
            v = amount * unit[i]
            value += v
            maintenance += v * PARAMS.maintenance_haircut_bps[i] / 10_000
        trading = False
        for s, size in enumerate(sz):
            if size:
                trading = True
                pnl += size * (marks[s] - en[s]) * 1e6
                maintenance += abs(size) * marks[s] * m_bps[s] * 1e6
        out.append((b < 0 or trading) and value + b + pnl < maintenance)
    return out


def best_of(repeats: int, fn: Callable[..., Any], *args: Any) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def engine(sizes: Sequence[int]) -> None:
    print(f"## Risk engine: accounts x {ASSETS} assets x {MARKETS} markets ({MARKETS * VENUES} venue slots)\n")
    print("Both sides run on the same synthetic portfolios (about 15% of slots hold a position) and must reach")
    print("the same liquidation decisions. Growth: time for this size over time for a tenth of it.\n")
    print("| accounts | vectorized | per-account loop | speed-up | vectorized ns/account | growth | same decisions |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | :---: |")
    previous: float | None = None
    for n in sizes:
        base, collateral, perp = synthetic(n)
        vectorized = best_of(5, compute_health, base, collateral, PARAMS, perp)
        lists = (base.tolist(), collateral.tolist(), perp.sizes.tolist(), _entries(n).tolist())
        loop = best_of(1, per_account_loop, *lists)
        same = per_account_loop(*lists) == compute_health(base, collateral, PARAMS, perp).liquidatable.tolist()
        del lists
        growth = f"x{vectorized / previous:.1f}" if previous else "-"
        previous = vectorized
        print(
            f"| {n:,} | {vectorized * 1e3:.1f} ms | {loop * 1e3:,.0f} ms | {loop / vectorized:.0f}x "
            f"| {vectorized / n * 1e9:.0f} | {growth} | {'yes' if same else 'NO'} |"
        )
    print()


PAGE = 1000  # accounts per lens page in the memory benchmark
DISTINCT_PAGES = 16  # pages encoded once and decoded in turn: the columns' memory does not depend on their values


def peak_memory(n: int) -> tuple[float, float]:
    """(resident MB after imports, peak resident MB) of a fresh process that decodes n accounts (2.4 positions each
    on average) from lens returndata into columns, page by page as the keeper reads them, and screens them twice,
    the previous scan kept. The pages are DISTINCT_PAGES encoded once and decoded in turn (encoding a million
    accounts with eth_abi would take most of the benchmark's time, and the columns cost the same whatever they
    hold)."""
    if n % PAGE:
        raise ValueError(f"the memory benchmark reads whole pages of {PAGE:,} accounts: {n:,} is not a multiple")
    code = f"""
import numpy as np
from eth_abi.abi import encode
from keeper.client.page_decoder import decode_accounts_page
from keeper.risk.account_book import AccountBookBuilder
from keeper.risk.screening import screen
import bench.keeper_bench as b

def status(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key))

baseline = status("VmRSS")
rng = np.random.default_rng(0)
page_type = ["(address,int256,uint256[],uint16,(int128,uint128,int256)[],bool)[]", "uint256"]
pages = []
for p in range(b.DISTINCT_PAGES):
    rows = []
    for i in range(p * b.PAGE, (p + 1) * b.PAGE):
        slots = sorted(rng.choice(16, 2 + (i % 5 < 2), replace=False).tolist())
        positions = [(int(rng.integers(-10**18, 10**18)) * 10, 60_000 * 10**18, 0) for _ in slots]
        collateral = [int(rng.integers(0, 10**18)) * 10, int(rng.integers(0, 10**8)), 0]
        rows.append(((i + 1).to_bytes(20), int(rng.integers(-5 * 10**10, 10**10)), collateral,
                     sum(1 << s for s in slots), positions, False))
    pages.append(encode(page_type, [rows, {n}]))
del rows
builder = AccountBookBuilder({n}, 3)  # as the keeper's lens reads do: pages copied into columns sized once
for start in range(0, {n}, b.PAGE):
    page, _ = decode_accounts_page(pages[start // b.PAGE % b.DISTINCT_PAGES], start, 3)
    builder.add(page)
book = builder.build()
del page, pages
previous = screen(book, b.PARAMS)  # the scan the daemon keeps while the next one runs
current = screen(book, b.PARAMS)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent.
print(baseline, status("VmHWM"))
"""
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    baseline, peak = (int(v) / 1024 for v in out.stdout.split())
    return baseline, peak


def memory(sizes: Sequence[int]) -> None:
    print("## Peak memory with 2.4 positions an account\n")
    print(
        "A fresh process decodes every account from lens returndata page by page into columns allocated once and "
        "screens them twice, the previous scan kept, as the daemon does. Goals: at most 50 MB above the process's "
        "own size after its imports for 100,000 accounts, at most 1 GB in all for 1,000,000.\n"
    )
    print("| accounts | after imports | peak resident | above the imports |")
    print("| ---: | ---: | ---: | ---: |")
    for n in sizes:
        baseline, peak = peak_memory(n)
        print(f"| {n:,} | {baseline:.0f} MB | {peak:.0f} MB | {peak - baseline:.0f} MB |")
    print()


class CountingProvider(RotatingHTTPProvider):
    """The keeper's provider, counting the requests that reach the node."""

    requests = 0
    methods: typing.ClassVar[dict[str, int]] = {}

    def _request_with_retries(self, method: Any, params: Any) -> Any:
        CountingProvider.requests += 1
        CountingProvider.methods[method] = CountingProvider.methods.get(method, 0) + 1
        return super()._request_with_retries(method, params)

    def make_batch_request(self, batch_requests: Any) -> Any:
        """A JSON-RPC batch is one request; the breakdown names how many calls it held."""
        CountingProvider.requests += 1
        method = f"batch of {len(batch_requests)} {batch_requests[0][0]}"
        CountingProvider.methods[method] = CountingProvider.methods.get(method, 0) + 1
        return super().make_batch_request(batch_requests)


def chain_figures(accounts: int) -> None:
    # A large block gas limit lets seeding put hundreds of transactions in one block; pruned history keeps
    # anvil's memory flat over thousands of blocks, while the last 16 states stay readable for a scan pinned to
    # a block while interval mining goes on.
    extra = ("--gas-limit", "3000000000", "--prune-history", "16")
    with Anvil(accounts=64, extra_args=extra) as node, tempfile.TemporaryDirectory() as tmp:
        w3 = Web3(Web3.HTTPProvider(node.url))
        # A chain with tens of thousands of blocks mines slowly: wait for receipts instead of replacing.
        admin = Sender(w3, dev_account(0), error_decoder(), fees=FeePolicy(replace_after=900, receipt_timeout=900))
        deployment = dataclasses.replace(deploy_local_system(admin), rpc_url=node.url)
        seed_local_liquidity(admin, deployment)
        path = Path(tmp) / "deployment.json"
        deployment.save(path)
        vault = VaultClient(w3, deployment, admin)
        # Enough pool liquidity for every borrower's 2,300 USDC.
        usdc = vault.token("USDC").contract
        lent = 2300 * 10**6 * accounts
        admin.transact("mint", usdc.functions.mint(admin.address, lent))
        admin.transact("approve", usdc.functions.approve(deployment.vault, lent))
        admin.transact("supply", vault.contract.functions.deposit(admin.address, deployment.base.address, lent))
        counting = Web3(CountingProvider([node.url]))
        client = Clients.build(counting, deployment)
        print("## Full risk scan on anvil: one batched scan against one health call per account\n")
        print("| accounts | pattern | JSON-RPC requests | wall time | ratio |")
        print("| ---: | --- | ---: | ---: | ---: |")
        opened: list[str] = []
        for size in sorted({min(1000, accounts), accounts}):
            opened += _open_loans(w3, vault, len(opened), size)
            _scan_row(client, opened)
        for n, breakdown in _BREAKDOWN.items():
            print(f"\nRequests of the batched scan of {n:,} accounts by method: {breakdown}.")
        print()
        _follow_rows(client, admin, deployment, opened)

        keeper = Keeper(
            KeeperConfig(
                rpc_urls=(node.url,),
                deployment=path,
                data_dir=Path(tmp) / "k",
                dev_account=9,  # holds no role here: liquidation needs none
                jobs=("liquidation",),
                metrics_port=None,
            )
        )
        # The liquidation wave at the default block gas limit, blocks on a timer as on a live chain: the keeper
        # sends every batch at once and each block takes what its gas limit allows.
        w3.provider.make_request("evm_setBlockGasLimit", [hex(DEFAULT_BLOCK_GAS_LIMIT)])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setIntervalMining", [BLOCK_SECONDS])  # type: ignore[arg-type]
        feed = w3.eth.contract(address=deployment.token("WETH").feed, abi=_feed_abi())
        price_block = admin.transact("drop ETH", feed.functions.setAnswer(2700 * 10**8))["blockNumber"]
        results = keeper.jobs.liquidation.run()
        _liquidation_wave(w3, price_block, results)


def _liquidation_wave(w3: Web3, price_block: int, results: list[LiquidationResult]) -> None:
    per_block: dict[int, int] = {}
    for r in results:
        per_block[r.block] = per_block.get(r.block, 0) + len(r.liquidated)
    liquidated = sum(per_block.values())
    gas_per_account = sum(r.gas_used for r in results) / liquidated
    block_gas = [int(w3.eth.get_block(b)["gasUsed"]) for b in sorted(per_block)]
    print(f"## Liquidations per block at the default block gas limit ({DEFAULT_BLOCK_GAS_LIMIT:,} gas)\n")
    print(f"Interval mining every {BLOCK_SECONDS} s; the keeper's batches are sized to its `gas_budget` and all sent")
    print("at once with consecutive nonces.\n")
    print("| block | after the price update | accounts liquidated | gas used in the block |")
    print("| ---: | ---: | ---: | ---: |")
    for (block, count), used in zip(sorted(per_block.items()), block_gas, strict=True):
        print(f"| {block} | +{block - price_block} | {count:,} | {used:,} |")
    physical = int(DEFAULT_BLOCK_GAS_LIMIT // gas_per_account)
    print(
        f"\n{liquidated:,} accounts liquidated; the first batch lands {min(per_block) - price_block} block(s) after the"
        f" price update. Measured gas per account {gas_per_account:,.0f}, so the physical limit is {physical:,}"
        f" liquidations per block; the fullest block held {max(per_block.values()):,}.\n"
    )


_BREAKDOWN: dict[int, str] = {}


def _scan_row(client: Clients, opened: list[str]) -> None:
    CountingProvider.requests, CountingProvider.methods = 0, {}
    t0 = time.perf_counter()
    found = scan(client)
    batched = time.perf_counter() - t0
    batched_requests = CountingProvider.requests
    breakdown = ", ".join(f"{m} {c}" for m, c in sorted(CountingProvider.methods.items()))
    CountingProvider.requests = 0
    t0 = time.perf_counter()
    for account in opened:  # the per-account pattern: one health call per account
        client.vault.health(account)
    per_account = time.perf_counter() - t0
    per_account_requests = CountingProvider.requests + 1  # plus one call to list the accounts
    n = len(found.book)
    ours = f"PrimeVault: lens pages of {DEFAULT_PAGE_SIZE:,}, prices, configs, perp markets"
    print(f"| {n:,} | {ours} | {batched_requests} | {batched:.2f} s | 1x |")
    ratio = per_account / batched
    theirs = "one health call per account"
    print(f"| {n:,} | {theirs} | {per_account_requests:,} | {per_account:.2f} s | {ratio:.0f}x slower |")
    _BREAKDOWN[n] = breakdown


def _follow_rows(client: Clients, admin: Sender, deployment: Any, opened: list[str]) -> None:
    """A price move judged by the follower (the keeper's liquidation job) against a full scan, end to end: from the
    new block to every account judged, requests counted as they reach the node."""
    follower = AccountFollower(client)
    follower.update()
    feed = client.w3.eth.contract(address=deployment.token("WBTC").feed, abi=_feed_abi())
    print(f"## A new block with a price move, {len(opened):,} accounts: followed against read again\n")
    print("| pattern | JSON-RPC requests | wall time | ratio |")
    print("| --- | ---: | ---: | ---: |")
    admin.transact("move BTC", feed.functions.setAnswer(58_000 * 10**8))  # one new block, judged both ways
    CountingProvider.requests, CountingProvider.methods = 0, {}
    t0 = time.perf_counter()
    full = scan(client)
    rescan, rescan_requests = time.perf_counter() - t0, CountingProvider.requests
    CountingProvider.requests, CountingProvider.methods = 0, {}
    t0 = time.perf_counter()
    followed = follower.update()
    elapsed, requests = time.perf_counter() - t0, CountingProvider.requests
    methods = ", ".join(f"{m} {c}" for m, c in sorted(CountingProvider.methods.items()))
    assert followed.block == full.block and followed.liquidatable == full.liquidatable and follower.full_loads == 1
    print(f"| followed: head, logs, one lens call; health from memory | {requests} | {elapsed:.3f} s | 1x |")
    ratio = rescan / elapsed
    print(f"| every account read again (lens pages) | {rescan_requests} | {rescan:.3f} s | {ratio:.0f}x slower |")
    print(f"\nRequests of the followed block by method: {methods}.\n")


def _feed_abi() -> Any:
    from keeper.chain.artifacts import load_artifact

    return load_artifact("MockPriceFeed").abi


def _open_loans(w3: Web3, vault: VaultClient, start: int, end: int) -> list[str]:
    """Borrowers `start`..`end` (1 WETH, 2,300 USDC each): borrower k is sub-account k mod 256 of dev account
    11 + k // 256 (0-10 have other roles); each owner's transactions go into one block."""
    weth = vault.token("WETH").contract
    d = vault.deployment
    accounts: list[str] = []
    k = start
    while k < end:
        owner = dev_account(11 + k // 256).address
        last = min(end, (k // 256 + 1) * 256)
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        send: Any = {"from": owner, "gas": 400_000}
        weth.functions.mint(owner, 10**18 * (last - k)).transact(send)
        weth.functions.approve(d.vault, 2**256 - 1).transact(send)
        for j in range(k, last):
            account = sub_account(owner, j % 256)
            vault.contract.functions.deposit(account, weth.address, 10**18).transact(send)
            vault.contract.functions.withdraw(account, d.base.address, 2300 * 10**6, owner).transact(send)
            accounts.append(account)
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        k = last
    return accounts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scan-accounts", type=int, default=10_000)
    parser.add_argument("--memory-accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    engine((10_000, 100_000, 1_000_000))
    memory(args.memory_accounts)
    chain_figures(args.scan_accounts)
    print(f"(peak RSS of this benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
