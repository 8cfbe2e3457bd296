"""Simulate, sign, send and confirm transactions, reporting any revert as a decoded custom error."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxParams, TxReceipt

from keeper.chain.revert import ErrorDecoder, TransactionReverted, revert_data
from keeper.errors import PrimeVaultError

GAS_MARGIN_PERCENT = 125
GAS_MARGIN_FIXED = 50_000


class Sender:
    """Sends transactions from one local key.

    Every transaction is simulated with `eth_call` first, so a revert is reported with its decoded custom
    error before anything is signed; a transaction that still reverts on chain is replayed at its block to
    recover the reason.
    """

    def __init__(self, w3: Web3, account: LocalAccount, decoder: ErrorDecoder, receipt_timeout: float = 120.0):
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.receipt_timeout = receipt_timeout
        self._chain_id = w3.eth.chain_id

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    def call(self, action: str, fn: ContractFunction) -> Any:
        """Runs `fn` as an `eth_call` from this sender; raises `TransactionReverted` on a revert."""
        try:
            return fn.call({"from": self.address})
        except (ContractLogicError, Web3RPCError) as exc:
            raise self._reverted(action, exc) from None

    def transact(self, action: str, fn: ContractFunction, gas: int | None = None) -> TxReceipt:
        """Simulates, then sends `fn` and waits for its receipt."""
        self.call(action, fn)
        params: TxParams = {"from": self.address, "chainId": self._chain_id}
        if gas is not None:
            params["gas"] = gas
        try:
            tx = fn.build_transaction(params)
        except (ContractLogicError, Web3RPCError) as exc:
            raise self._reverted(action, exc) from None
        if gas is None:
            # The estimate is taken at the latest block; the mined block has a new timestamp, so interest and
            # funding accrue first and write storage the estimate never saw. A margin keeps that from running
            # out of gas (unused gas is not charged).
            tx["gas"] = tx["gas"] * GAS_MARGIN_PERCENT // 100 + GAS_MARGIN_FIXED
        receipt = self._send(action, tx)
        if receipt["status"] != 1:
            raise self._replay(action, tx, receipt)
        return receipt

    def deploy(self, action: str, constructor: ContractConstructor) -> ChecksumAddress:
        """Deploys a contract and returns its address."""
        tx = constructor.build_transaction({"from": self.address, "chainId": self._chain_id})
        receipt = self._send(action, tx)
        address = receipt["contractAddress"]
        if receipt["status"] != 1 or address is None:
            raise PrimeVaultError(f"{action}: deployment failed in transaction {receipt['transactionHash'].hex()}")
        return address

    def _send(self, action: str, tx: TxParams) -> TxReceipt:
        tx["nonce"] = self.w3.eth.get_transaction_count(self.address, "pending")
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        try:
            return self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout)
        except TimeExhausted:
            raise PrimeVaultError(
                f"{action}: transaction 0x{tx_hash.hex()} not mined within {self.receipt_timeout:.0f}s"
            ) from None

    def _replay(self, action: str, tx: TxParams, receipt: TxReceipt) -> TransactionReverted:
        call: TxParams = {"from": self.address, "to": tx["to"], "data": tx["data"]}
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"])
        except (ContractLogicError, Web3RPCError) as exc:
            return self._reverted(action, exc)
        return TransactionReverted(action, self.decoder.decode(b""))

    def _reverted(self, action: str, exc: Exception) -> TransactionReverted:
        data = revert_data(exc)
        if data is None:
            raise exc
        return TransactionReverted(action, self.decoder.decode(data))
