"""PrimeVaultBundler: a deposit with the token's permit, a borrow and an order in one transaction and one
signature, through the bundler as the account's operator."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3
from web3.logs import DISCARD
from web3.types import TxReceipt

from keeper.chain.deployment import Deployment
from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient
from keeper.client.tokens import TokenClient
from keeper.client.trading import TradingClient
from keeper.client.vault import PERMISSIONS, VaultClient
from keeper.exceptions import ConfigError

# What the bundler needs on the account: borrowing is a withdrawal of the base asset, an order a trade.
BUNDLER_PERMISSIONS = PERMISSIONS["withdraw"] | PERMISSIONS["trade"]
PERMIT_SECONDS = 3600


@dataclass(frozen=True)
class BundledOrder:
    """The order part of a bundle, in the contract's units."""

    market: int
    size: int  # base WAD, signed
    limit_price: int  # USD WAD
    deadline: int
    reduce_only: bool = False


@dataclass(frozen=True)
class BundleResult:
    receipt: TxReceipt
    order_id: int | None


class BundlerClient(ContractClient):
    def __init__(self, w3: Web3, deployment: Deployment, sender: Sender | None = None) -> None:
        if deployment.bundler is None:
            raise ConfigError("this deployment has no bundler: deploy PrimeVaultBundler (the devnet does)")
        super().__init__(w3, deployment.bundler, "PrimeVaultBundler", sender)
        self.deployment = deployment

    def needs_grant(self, account: str) -> bool:
        """Whether the account's owner must first make the bundler an operator (once, with withdraw and trade)."""
        held = VaultClient(self.w3, self.deployment).operator_permissions(account, self.address)
        return held & BUNDLER_PERMISSIONS != BUNDLER_PERMISSIONS

    def grant(self, account: str) -> TxReceipt:
        """Makes the bundler an operator of `account` with withdraw and trade, keeping what it already had."""
        vault = VaultClient(self.w3, self.deployment, self.signer())
        held = vault.operator_permissions(account, self.address)
        return vault.set_operator(account, self.address, held | BUNDLER_PERMISSIONS)

    def deposit_borrow_and_submit(
        self, account: str, symbol: str, amount: int, borrow: int, order: BundledOrder | None
    ) -> BundleResult:
        """One transaction: `amount` of `symbol` from the signer into `account` (its permit, signed here, for exactly
        the amount; 0 deposits nothing), `borrow` base units to the signer (0: none), then `order` (None: none)."""
        sender = self.signer()
        token = self.deployment.token(symbol)
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + PERMIT_SECONDS
        permit = (0, 0, bytes(32), bytes(32))
        if amount:
            signed = TokenClient(self.w3, token).sign_permit(sender.account, self.address, amount, deadline)
            permit = (signed.deadline, signed.v, signed.r, signed.s)
        params = (
            (order.market, order.size, order.limit_price, order.deadline, order.reduce_only)
            if order
            else (0, 0, 0, 0, False)
        )
        fn = self.contract.functions.depositBorrowAndSubmit(
            Web3.to_checksum_address(account), token.address, amount, permit, borrow, params
        )
        receipt = self.send("bundle", fn)
        trading = TradingClient(self.w3, self.deployment).contract
        submitted = trading.events.OrderSubmitted().process_receipt(receipt, errors=DISCARD)
        return BundleResult(receipt, int(submitted[0]["args"]["orderId"]) if submitted else None)
