"""The main job for now: a local chain, a seeded set of depositors, a price drop, and a keeper pass that
liquidates exactly the accounts that fell below their maintenance requirement."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from keeper.chain.anvil import Anvil
from keeper.chain.deploy import LOCAL_COLLATERAL, deploy_local_system
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.chain.transactions import Sender
from keeper.liquidator import liquidate_all, scan
from keeper.vault import VaultClient, sub_account, vault_error_decoder

LENDER_SUPPLY = 2_000_000  # USDC
PROTOCOL_RESERVES = 10_000  # USDC the protocol starts with, to cover shortfalls before suppliers do


@dataclass
class Depositor:
    account: str
    weth: int
    wbtc: int
    borrowed: int


@dataclass
class DemoReport:
    deployment: Deployment
    depositors: list[Depositor]
    eth_price_before: int
    eth_price_after: int
    liquidatable_before_drop: int
    liquidated: list[str]
    debt_cleared: int
    shortfall: int
    bad_debt: int
    keeper_reward: int
    gas_per_account: int
    reserves_before: int
    reserves_after: int
    collateral_reserves: dict[str, int] = field(default_factory=dict)
    liquidatable_after: int = 0
    predicted_match: bool = False


def run_demo(
    depositors: int = 12, eth_drop: float = 0.25, seed: int = 7, progress: Callable[[str], None] = print
) -> DemoReport:
    """Runs the whole scenario on a fresh anvil and returns what happened."""
    rng = random.Random(seed)
    with Anvil() as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        decoder = vault_error_decoder()
        admin = Sender(w3, dev_account(0), decoder)
        progress(f"anvil on {node.url}; deploying PrimeVault")
        deployment = deploy_local_system(admin)
        vault = VaultClient(w3, deployment, admin)

        lender = _funded_client(w3, deployment, dev_account(1), vault)
        lender.deposit(lender.sender.address, "USDC", LENDER_SUPPLY * 10**6)  # type: ignore[union-attr]
        progress(f"lender supplied {LENDER_SUPPLY:,} USDC")
        usdc = vault.token_contract("USDC")
        admin.transact("fund reserves", usdc.functions.mint(deployment.vault, PROTOCOL_RESERVES * 10**6))
        progress(f"protocol reserves funded with {PROTOCOL_RESERVES:,} USDC")

        seeded = [_seed_depositor(w3, deployment, vault, rng, i, depositors) for i in range(depositors)]
        progress(f"{depositors} depositors opened WETH/WBTC-backed USDC loans")

        keeper = VaultClient(w3, deployment, Sender(w3, dev_account(9), decoder))
        before = scan(keeper)
        eth_feed = w3.eth.contract(address=deployment.collateral[0].feed, abi=_feed_abi())
        price_before = int(eth_feed.functions.latestRoundData().call()[1])
        price_after = int(price_before * (1 - eth_drop))
        admin.transact("move ETH price", eth_feed.functions.setAnswer(price_after))
        progress(f"ETH {price_before / 1e8:,.0f} -> {price_after / 1e8:,.0f} ({-eth_drop:.0%})")

        reserves_before = vault.market().reserves
        found = scan(keeper)
        predicted = set(found.liquidatable)
        progress(f"keeper scanned {len(found.accounts)} accounts in one page: {len(predicted)} liquidatable")
        results = liquidate_all(keeper, found.liquidatable)
        events = [e for r in results for e in r.liquidated]
        after = scan(keeper)
        return DemoReport(
            deployment=deployment,
            depositors=seeded,
            eth_price_before=price_before,
            eth_price_after=price_after,
            liquidatable_before_drop=len(before.liquidatable),
            liquidated=[e.account for e in events],
            debt_cleared=sum(e.debt_cleared for e in events),
            shortfall=sum(e.shortfall for e in events),
            bad_debt=sum(r.bad_debt for r in results),
            keeper_reward=sum(r.reward for r in results),
            gas_per_account=sum(r.gas_used for r in results) // max(len(events), 1),
            reserves_before=reserves_before,
            reserves_after=vault.market().reserves,
            collateral_reserves={
                t.symbol: vault.contract.functions.collateralReserves(t.address).call() for t in deployment.collateral
            },
            liquidatable_after=len(after.liquidatable),
            predicted_match=predicted == {e.account for e in events},
        )


def _funded_client(w3: Web3, deployment: Deployment, owner: LocalAccount, faucet: VaultClient) -> VaultClient:
    w3.provider.make_request("anvil_setBalance", [owner.address, hex(10**20)])  # type: ignore[arg-type]
    admin = faucet.sender
    assert admin is not None
    for token in (deployment.base, *deployment.collateral):
        contract = faucet.token_contract(token.symbol)
        admin.transact(f"mint {token.symbol}", contract.functions.mint(owner.address, 10**7 * 10**token.decimals))
    return VaultClient(w3, deployment, Sender(w3, owner, faucet.decoder))


def _seed_depositor(
    w3: Web3, deployment: Deployment, faucet: VaultClient, rng: random.Random, i: int, n: int
) -> Depositor:
    owner: LocalAccount = Account.from_key(rng.randbytes(32))
    client = _funded_client(w3, deployment, owner, faucet)
    account = sub_account(owner.address, i % 3)  # some depositors use a sub-account
    weth = int(rng.uniform(0.5, 5) * 10**18) if rng.random() < 0.8 else 0
    wbtc = int(rng.uniform(0.01, 0.3) * 10**8) if weth == 0 or rng.random() < 0.4 else 0
    if weth:
        client.deposit(account, "WETH", weth)
    if wbtc:
        client.deposit(account, "WBTC", wbtc)
    # Borrow 65%..92% of what the initial haircuts allow, spread evenly over the depositors so every run has
    # accounts on both sides of the liquidation threshold.
    weth_spec, wbtc_spec = LOCAL_COLLATERAL
    capacity = (
        weth * weth_spec.price * (10_000 - weth_spec.initial_haircut_bps) // 10**18 // 10_000
        + wbtc * wbtc_spec.price * (10_000 - wbtc_spec.initial_haircut_bps) // 10**8 // 10_000
    ) * 10**6
    borrowed = int(capacity * (0.65 + 0.27 * (i + rng.random()) / n))
    client.withdraw(account, "USDC", borrowed)
    return Depositor(account, weth, wbtc, borrowed)


def _feed_abi() -> list[dict[str, object]]:
    from keeper.chain.artifacts import load_artifact

    return load_artifact("MockPriceFeed").abi
