"""ERC-20 tokens: balances, allowances, approvals, and the local mocks' open faucet."""

from __future__ import annotations

from web3 import Web3
from web3.types import TxReceipt

from keeper.chain.deployment import TokenInfo
from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient


class TokenClient(ContractClient):
    def __init__(self, w3: Web3, info: TokenInfo, sender: Sender | None = None) -> None:
        # MockERC20's ABI is ERC-20's plus the faucet, so it reads any token.
        super().__init__(w3, info.address, "MockERC20", sender)
        self.info = info

    def balance_of(self, holder: str) -> int:
        return int(self.contract.functions.balanceOf(Web3.to_checksum_address(holder)).call())

    def allowance(self, owner: str, spender: str) -> int:
        fn = self.contract.functions.allowance(Web3.to_checksum_address(owner), Web3.to_checksum_address(spender))
        return int(fn.call())

    def approve(self, spender: str, amount: int) -> TxReceipt:
        fn = self.contract.functions.approve(Web3.to_checksum_address(spender), amount)
        return self.send(f"approve {self.info.symbol}", fn)

    def mint(self, to: str, amount: int) -> TxReceipt:
        """The local mocks' open faucet (devnet and tests only: real tokens have none)."""
        return self.send(f"mint {self.info.symbol}", self.contract.functions.mint(Web3.to_checksum_address(to), amount))
