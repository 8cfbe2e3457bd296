"""Deposits credited once per id, and withdrawals signed by the exchange (EIP-712) for a contract to verify."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.crypto import keccak

from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.errors import RabbitXRequestError
from keeper.devnet.rabbitx.exchange import ExchangeError, withdrawal_blocks
from keeper.devnet.rabbitx.withdrawals import (
    WITHDRAWAL_TYPEHASH,
    recover_withdrawal_signer,
    sign_withdrawal,
    withdrawal_typed_data,
)

from .helpers import CUSTODY, SIGNER_KEY, harness, run, wallet_key

D = Decimal


def _solidity_digest(withdrawal_id: int, trader: str, amount: int, chain_id: int, contract: str) -> bytes:
    """What RabbitXCustody.withdrawalDigest (OpenZeppelin's EIP712._hashTypedDataV4) computes for the struct."""
    domain_typehash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    domain = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [domain_typehash, keccak(text="RabbitXWithdrawal"), keccak(text="1"), chain_id, contract],
        )
    )
    struct = keccak(
        encode(["bytes32", "uint256", "address", "uint256"], [WITHDRAWAL_TYPEHASH, withdrawal_id, trader, amount])
    )
    return keccak(b"\x19\x01" + domain + struct)


async def _withdrawal_row(trader: RabbitXClient, withdrawal_id: str) -> dict[str, Any]:
    rows = await trader.private("GET", "/balanceops", params={"ops_type": "withdrawal"})
    [row] = [r for r in rows if r["id"] == withdrawal_id]
    return dict(row)


async def _until_claimable(trader: RabbitXClient, withdrawal_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (row := await _withdrawal_row(trader, withdrawal_id))["status"] != "claimable":
        assert row["status"] == "pending" and time.monotonic() < deadline, row
        await asyncio.sleep(0.05)
    return row


def test_withdrawal_tiers_are_rabbitxs_processing_blocks() -> None:
    """docs.rabbitx.io `deposit-withdrawal`: 0-9,999 1 block, 10,000-99,999 10, 100,000-999,999 100, 1,000,000+
    1,800."""
    assert [withdrawal_blocks(D(a)) for a in ("0.01", "9999.99", "10000", "99999", "100000", "999999.9")] == [
        1, 1, 10, 10, 100, 100,
    ]  # fmt: skip
    assert withdrawal_blocks(D(1_000_000)) == withdrawal_blocks(D(10**9)) == 1800


def test_a_withdrawal_is_pending_for_its_blocks_then_claimable_with_its_signature() -> None:
    async def scenario() -> None:
        async with harness(chain_id=31337, withdrawal_block_seconds=0.4) as h:
            trader = await h.trader(40, deposit=D(1000))
            signer = Account.from_key(SIGNER_KEY).address
            assert h.devnet.exchange.signer_address == signer

            started = time.monotonic()
            pending = await trader.withdraw(D("250.5"))
            assert pending["ops_type"] == "withdrawal" and pending["status"] == "pending"
            assert pending["amount"] == "-250.5" and "signature" not in pending and "r" not in pending
            assert D((await trader.account())["balance"]) == D("749.5"), "debited at once"
            with pytest.raises(RabbitXRequestError, match="is pending, not claimable") as early:
                await trader.private("POST", "/balanceops/claim", {"id": pending["id"]})
            assert early.value.status == 400
            assert (await _withdrawal_row(trader, pending["id"]))["status"] == "pending"

            withdrawal = await _until_claimable(trader, pending["id"])
            assert time.monotonic() - started >= 0.35, "one processing block (0.4 s here) for under 10,000"
            [claimed] = await trader.private("POST", "/balanceops/claim", {"id": pending["id"]})
            assert claimed == withdrawal
            with pytest.raises(RabbitXRequestError, match="only a pending one can be cancelled"):
                await trader.private("POST", "/balanceops/cancel", {"id": pending["id"]})
            assert withdrawal["status"] == "claimable"
            assert withdrawal["amount"] == "-250.5" and withdrawal["amount_units"] == "250500000"
            assert withdrawal["id"] == str(withdrawal["withdrawal_id"])
            _, wallet = wallet_key(40)
            assert withdrawal["trader"] == wallet and withdrawal["signer"] == signer
            fields = (withdrawal["withdrawal_id"], wallet, int(withdrawal["amount_units"]), 31337, CUSTODY)
            assert recover_withdrawal_signer(withdrawal["signature"], *fields) == signer
            digest = _solidity_digest(*fields)
            assert Account._recover_hash(digest, signature=bytes.fromhex(withdrawal["signature"][2:])) == signer
            sig = bytes.fromhex(withdrawal["signature"][2:])
            assert ("0x" + sig[:32].hex(), "0x" + sig[32:64].hex(), sig[64]) == (
                withdrawal["r"],
                withdrawal["s"],
                withdrawal["v"],
            )

            with pytest.raises(RabbitXRequestError) as too_much:
                await trader.withdraw(D(800))
            assert too_much.value.status == 400 and "insufficient withdrawable balance" in too_much.value.error
            with pytest.raises(RabbitXRequestError) as dust:
                await trader.withdraw(D("0.0000001"))
            assert "more than 6 decimals" in dust.value.error

            assert h.devnet.withdrawal_claimed(withdrawal["withdrawal_id"], "0xabc") is True
            assert h.devnet.withdrawal_claimed(withdrawal["withdrawal_id"], "0xabc") is False
            ops = await trader.private("GET", "/balanceops", params={"ops_type": "withdrawal"})
            assert [(op["id"], op["status"], op["txhash"]) for op in ops] == [(withdrawal["id"], "success", "0xabc")]

    run(scenario())


def test_a_pending_withdrawal_is_cancelled_back_into_the_balance() -> None:
    async def scenario() -> None:
        async with harness(withdrawal_block_seconds=0.2) as h:
            trader = await h.trader(43, deposit=D(50_000))
            big = await trader.withdraw(D(20_000))  # 10 blocks: 2 s here
            small = await trader.withdraw(D(100))  # 1 block
            assert (big["status"], small["status"]) == ("pending", "pending")
            assert D((await trader.account())["balance"]) == D(29_900)

            [canceled] = await trader.private("POST", "/balanceops/cancel", {"id": big["id"]})
            assert (canceled["id"], canceled["status"], canceled["amount"]) == (big["id"], "canceled", "-20000")
            assert "signature" not in canceled, "never signed: it can never be claimed"
            account = await trader.account()
            assert D(account["balance"]) == D(49_900) and D(account["withdrawable_balance"]) == D(49_900)
            with pytest.raises(RabbitXRequestError, match="is canceled: only a pending one"):
                await trader.private("POST", "/balanceops/cancel", {"id": big["id"]})
            with pytest.raises(RabbitXRequestError, match="is canceled, not claimable"):
                await trader.private("POST", "/balanceops/claim", {"id": big["id"]})
            with pytest.raises(RabbitXRequestError, match="unknown withdrawal 99"):
                await trader.private("POST", "/balanceops/cancel", {"id": "99"})
            with pytest.raises(RabbitXRequestError, match="id is required"):
                await trader.private("POST", "/balanceops/cancel", {})
            other = await h.trader(44, deposit=D(10))
            with pytest.raises(RabbitXRequestError, match=f"unknown withdrawal {small['id']}"):
                await other.private("POST", "/balanceops/cancel", {"id": small["id"]})

            await _until_claimable(trader, small["id"])
            assert (await _withdrawal_row(trader, big["id"]))["status"] == "canceled", "stays cancelled"
            # The owner (or an operator) cancels in process too, as in RabbitX's UI.
            third = await trader.withdraw(D(30_000))
            assert h.devnet.cancel_withdrawal(third["profile_id"], int(third["id"]))["status"] == "canceled"
            assert D((await trader.account())["balance"]) == D(49_900)

    run(scenario())


def test_deposits_are_idempotent_by_id() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(41, deposit=D(0))
            _, wallet = wallet_key(41)
            assert h.devnet.credit_deposit(wallet, 5_000_000, "0xtx:7") is True
            assert h.devnet.credit_deposit(wallet, 5_000_000, "0xtx:7") is False
            assert h.devnet.credit_deposit(wallet.lower(), 5_000_000, "0xtx:7") is False
            with pytest.raises(ExchangeError, match="was credited as 5000000"):
                h.devnet.credit_deposit(wallet, 6_000_000, "0xtx:7")
            assert D((await trader.account())["balance"]) == D(5)
            deposits = await trader.private("GET", "/balanceops", params={"ops_type": "deposit"})
            assert [(op["amount"], op["deposit_id"]) for op in deposits] == [("5", "0xtx:7")]

            _, stranger = wallet_key(42)
            assert h.devnet.credit_deposit(stranger, 1_000_000, "0xtx:8")
            assert h.devnet.exchange.profile_for_wallet(stranger) is not None

    run(scenario())


def test_typed_data_is_rabbitxs_struct() -> None:
    data = withdrawal_typed_data(3, wallet_key(1)[1], 10, 1, CUSTODY)
    assert data["domain"] == {"name": "RabbitXWithdrawal", "version": "1", "chainId": 1, "verifyingContract": CUSTODY}
    assert data["primaryType"] == "withdrawal"
    assert [f["name"] for f in data["types"]["withdrawal"]] == ["id", "trader", "amount"]
    assert keccak(text="withdrawal(uint256 id,address trader,uint256 amount)") == WITHDRAWAL_TYPEHASH
    signed = sign_withdrawal(SIGNER_KEY, 3, wallet_key(1)[1], 10, 1, CUSTODY)
    assert signed.v in (27, 28)
    with pytest.raises(ValueError, match="does not fit uint256"):
        withdrawal_typed_data(3, wallet_key(1)[1], -1, 1, CUSTODY)


def test_the_vector_the_contract_tests_verify() -> None:
    """tests/contracts/venues/rabbitx/RabbitXCustodyClaim.t.sol pays exactly this signature on chain."""
    trader = "0x00000000000000000000000000000000000A11cE"
    signed = sign_withdrawal(SIGNER_KEY, 7, trader, 250_500_000, 31337, CUSTODY)
    assert _solidity_digest(7, trader, 250_500_000, 31337, CUSTODY).hex() == (
        "fc9023572e71eebe14dfc6d47c8561c2161899c39409a24622f9e8c8fc6c9d29"
    )
    assert (signed.v, signed.r, signed.s) == (
        27,
        "0xb6d292a609066453dcfcd3471c4c4d631b837916c6735af359dcdbe448a25bfd",
        "0x3cf1edfdf12f29d99ec80e4b499dd2c20582b55cfcf24d221878bd48c3ffaa50",
    )
