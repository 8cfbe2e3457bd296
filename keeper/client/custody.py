"""An exchange's custody contract (RabbitX's shape: `deposit(amount)`, and `withdraw(id, trader, amount, v, r, s)`
paying what the exchange signed). The seat submits the claims; anyone may."""

from __future__ import annotations

from web3 import Web3
from web3.types import TxReceipt

from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient
from keeper.connectors.rabbitx.models import WithdrawalClaim


class CustodyClient(ContractClient):
    def __init__(self, w3: Web3, address: str, sender: Sender | None = None) -> None:
        super().__init__(w3, address, "RabbitXCustody", sender)

    def is_paid(self, withdrawal_id: int) -> bool:
        return bool(self.contract.functions.processedWithdrawals(withdrawal_id).call())

    def withdraw(self, claim: WithdrawalClaim) -> TxReceipt:
        """Pays withdrawal `claim` to its trader with the exchange's signature."""
        fn = self.contract.functions.withdraw(*claim.arguments())
        return self.send(f"claim withdrawal {claim.withdrawal_id}", fn)
