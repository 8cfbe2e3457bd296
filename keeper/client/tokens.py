"""ERC-20 tokens: balances, allowances, approvals, and the local mocks' open faucet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError
from web3.types import TxReceipt

from keeper.chain.artifacts import load_artifact
from keeper.chain.deployment import Deployment, TokenInfo
from keeper.chain.transactions import Sender
from keeper.chain.typed_data import sign_typed
from keeper.client.base import ContractClient
from keeper.exceptions import ConfigError, InputError
from keeper.units import format_units


@dataclass(frozen=True)
class PermitSignature:
    """An ERC-2612 permit, signed: the `deadline, v, r, s` a permit-aware entry point takes."""

    deadline: int
    v: int
    r: bytes
    s: bytes


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

    def approve_for_transfer(self, spender: str, amount: int) -> None:
        """Approves `spender` for exactly `amount` when the signer's allowance is short, and only when the signer
        holds `amount`: an approval sent for a transfer that then fails would be left behind for later calls (never
        an unlimited approval, so a wallet exposes no more than the transaction it is about to send)."""
        owner = self.signer().address
        held = self.balance_of(owner)
        if held < amount:
            symbol, decimals = self.info.symbol, self.info.decimals
            raise InputError(
                f"your wallet holds {format_units(held, decimals)} {symbol}, less than the "
                f"{format_units(amount, decimals)} {symbol} needed"
            )
        if self.allowance(owner, spender) < amount:
            self.approve(spender, amount)

    def supports_permit(self) -> bool:
        """Whether the token has ERC-2612 `permit` with an ERC-5267 domain (OpenZeppelin's ERC20Permit does)."""
        try:
            self.contract.functions.eip712Domain().call()
            self.contract.functions.nonces(self.address).call()
        except (ContractLogicError, Web3RPCError, ValueError):
            return False
        return True

    def sign_permit(self, owner: LocalAccount, spender: str, amount: int, deadline: int) -> PermitSignature:
        """`owner`'s ERC-2612 permit for `spender` to take exactly `amount`, signed with eth-account's EIP-712."""
        _, name, version, chain_id, verifying, _, _ = self.contract.functions.eip712Domain().call()
        nonce = int(self.contract.functions.nonces(owner.address).call())
        signed = sign_typed(
            owner,
            {"name": name, "version": version, "chainId": chain_id, "verifyingContract": verifying},
            "Permit",
            [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
            {
                "owner": owner.address,
                "spender": Web3.to_checksum_address(spender),
                "value": amount,
                "nonce": nonce,
                "deadline": deadline,
            },
        )
        return PermitSignature(deadline, signed.v, signed.r.to_bytes(32), signed.s.to_bytes(32))

    def mint(self, to: str, amount: int) -> TxReceipt:
        """The local mocks' open faucet (devnet and tests only: real tokens have none)."""
        return self.send(f"mint {self.info.symbol}", self.contract.functions.mint(Web3.to_checksum_address(to), amount))


def check_tokens(w3: Web3, deployment: Deployment, path: Path) -> None:
    """Each token's decimals and symbol in the deployment file (read from `path`) against the token contract's own,
    in one batch of calls: a wrong figure in the file would not fail anything, it would show every amount of that
    token wrong (a 6-decimal USDC read as 18: a debt of "-0.00") or one asset's balance under another's name."""
    fields = [("base", deployment.base)] + [(f"collateral[{i}]", t) for i, t in enumerate(deployment.collateral)]
    abi = load_artifact("MockERC20").abi  # ERC-20's ABI and the faucet: it reads any token
    try:
        with w3.batch_requests() as batch:
            for _, token in fields:
                contract = w3.eth.contract(address=token.address, abi=abi)
                batch.add(contract.functions.decimals())
                batch.add(contract.functions.symbol())
            answers: list[Any] = batch.execute()  # each call's decoded output: an int, a str
    except (BadFunctionCallOutput, ContractLogicError):
        raise ConfigError(_no_token(w3, fields, path)) from None
    for i, (name, token) in enumerate(fields):
        for field_name, in_file, on_chain in (
            ("decimals", token.decimals, answers[2 * i]),
            ("symbol", token.symbol, answers[2 * i + 1]),
        ):
            if in_file != on_chain:
                raise ConfigError(
                    f"{path} says {name}.{field_name} is {in_file!r} but the token at {token.address} has "
                    f"{on_chain!r} on chain: the file was edited or is from another deployment; pass the file "
                    "`deploy` wrote"
                )


def _no_token(w3: Web3, fields: list[tuple[str, TokenInfo]], path: Path) -> str:
    """Why a token of the file did not answer the check, naming the first without code (a reset chain)."""
    for name, token in fields:
        if not w3.eth.get_code(token.address):
            return (
                f"no contract at {name}.address {token.address} in {path}: the chain was reset or the file is from "
                "another node; redeploy or pass the file `deploy` wrote for this chain"
            )
    return (
        f"a token in {path} does not answer decimals() and symbol() as an ERC-20 does: pass the file `deploy` "
        "wrote for this chain"
    )
