"""PrimeVaultBundler: a deposit with the token's permit, a borrow and an order in one transaction and one
signature, through the bundler as the account's operator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.logs import DISCARD
from web3.types import TxReceipt

from keeper.chain.deployment import Deployment
from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient
from keeper.client.tokens import TokenClient
from keeper.client.trading import TradingClient
from keeper.client.vault import PERMISSIONS, VaultClient
from keeper.exceptions import ConfigError, TransactionReverted

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

    def check_after_grant(
        self, account: str, symbol: str, amount: int, borrow: int, order: BundledOrder | None
    ) -> None:
        """Simulates the grant and the bundle together (`eth_simulateV1`, one block): raises the `TransactionReverted`
        the bundle would raise once the grant is mined, so that a bundle the chain refuses sends no grant. Checks
        nothing where the node has no `eth_simulateV1` (the caller then takes a grant back after a failed bundle)."""
        sender = self.signer()
        vault = VaultClient(self.w3, self.deployment)
        held = vault.operator_permissions(account, self.address)
        grant = vault.contract.encode_abi(
            "setOperator", args=[Web3.to_checksum_address(account), self.address, held | BUNDLER_PERMISSIONS]
        )
        bundle = self.contract.encode_abi(
            "depositBorrowAndSubmit", args=self._bundle_args(account, symbol, amount, borrow, order)
        )
        calls = [
            {"from": sender.address, "to": self.deployment.vault, "data": grant},
            {"from": sender.address, "to": self.address, "data": bundle},
        ]
        request = {"blockStateCalls": [{"calls": calls}], "validation": False}
        response = self.w3.provider.make_request("eth_simulateV1", [request, "latest"])  # type: ignore[arg-type]
        if "error" in response:
            return  # not supported by this node
        for result in response["result"][0]["calls"]:
            if int(result["status"], 16) == 0:
                data = (result.get("error") or {}).get("data") or result.get("returnData") or "0x"
                raise TransactionReverted("bundle", sender.decoder.decode(bytes.fromhex(data.removeprefix("0x"))))

    def deposit_borrow_and_submit(
        self, account: str, symbol: str, amount: int, borrow: int, order: BundledOrder | None
    ) -> BundleResult:
        """One transaction: `amount` of `symbol` from the signer into `account` (its permit, signed here, for exactly
        the amount; 0 deposits nothing), `borrow` base units to the signer (0: none), then `order` (None: none)."""
        args = self._bundle_args(account, symbol, amount, borrow, order)
        receipt = self.send("bundle", self.contract.functions.depositBorrowAndSubmit(*args))
        trading = TradingClient(self.w3, self.deployment).contract
        submitted = trading.events.OrderSubmitted().process_receipt(receipt, errors=DISCARD)
        return BundleResult(receipt, int(submitted[0]["args"]["orderId"]) if submitted else None)

    def _bundle_args(
        self, account: str, symbol: str, amount: int, borrow: int, order: BundledOrder | None
    ) -> list[Any]:
        """`depositBorrowAndSubmit`'s arguments, the deposit's permit signed here."""
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
        return [Web3.to_checksum_address(account), token.address, amount, permit, borrow, params]
