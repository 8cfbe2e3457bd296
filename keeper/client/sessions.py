"""SessionKeys: scoped trading keys. The owner grants and revokes; the key submits orders, itself or as EIP-712
signed orders a relayer submits (signed here with eth-account's structured-data signing)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.logs import DISCARD
from web3.types import TxReceipt

from keeper.chain.deployment import Deployment
from keeper.chain.transactions import Sender
from keeper.chain.typed_data import sign_typed
from keeper.client.base import ContractClient
from keeper.client.tokens import TokenClient
from keeper.exceptions import ConfigError

WAD = 10**18
SIGNED_ORDER_FIELDS = [  # SessionKeys.SIGNED_ORDER_TYPEHASH
    {"name": "key", "type": "address"},
    {"name": "subAccount", "type": "uint8"},
    {"name": "market", "type": "uint8"},
    {"name": "size", "type": "int256"},
    {"name": "limitPrice", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
    {"name": "reduceOnly", "type": "bool"},
    {"name": "nonce", "type": "uint256"},
    {"name": "relayerFee", "type": "uint256"},
]
SESSION_ACCEPT_FIELDS = [  # SessionKeys.SESSION_ACCEPT_TYPEHASH
    {"name": "key", "type": "address"},
    {"name": "owner", "type": "address"},
]


@dataclass(frozen=True)
class SessionScope:
    sub_accounts: tuple[int, ...]  # the owner's sub-account ids
    markets: tuple[int, ...]  # market ids
    max_notional_per_order: int  # USD WAD
    max_notional_total: int  # USD WAD
    expiry: int  # unix time

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (
            sum(1 << i for i in self.sub_accounts),
            sum(1 << m for m in self.markets),
            self.max_notional_per_order,
            self.max_notional_total,
            self.expiry,
        )


@dataclass(frozen=True)
class SessionView:
    key: ChecksumAddress
    owner: ChecksumAddress
    scope: SessionScope
    notional_used: int  # USD WAD
    revoked: bool
    open_orders: tuple[int, ...]


@dataclass(frozen=True)
class OrderIntent:
    """An order for the owner's sub-account `sub_account`, in human units (size signed, base; limit USD)."""

    sub_account: int
    market: int
    size: Decimal
    limit: Decimal
    deadline: int
    reduce_only: bool = False


@dataclass(frozen=True)
class SignedOrder:
    """An order a session key signed for anyone to submit; JSON-ready (`asdict`)."""

    key: str
    sub_account: int
    market: int
    size: int  # base WAD, signed
    limit_price: int  # USD WAD
    deadline: int
    reduce_only: bool
    nonce: int
    relayer_fee: int  # base units paid to whoever relays it, from the key's relayer funds
    signature: str

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            Web3.to_checksum_address(self.key),
            self.sub_account,
            self.market,
            self.size,
            self.limit_price,
            self.deadline,
            self.reduce_only,
            self.nonce,
            self.relayer_fee,
        )

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedOrder:
        bytes.fromhex(str(data["signature"]).removeprefix("0x"))  # a malformed signature fails here, not at sending
        return cls(
            key=Web3.to_checksum_address(str(data["key"])),
            sub_account=int(data["sub_account"]),
            market=int(data["market"]),
            size=int(data["size"]),
            limit_price=int(data["limit_price"]),
            deadline=int(data["deadline"]),
            reduce_only=bool(data["reduce_only"]),
            nonce=int(data["nonce"]),
            relayer_fee=int(data["relayer_fee"]),
            signature=str(data["signature"]),
        )


def _bits(mask: int) -> tuple[int, ...]:
    return tuple(i for i in range(mask.bit_length()) if (mask >> i) & 1)


class SessionKeysClient(ContractClient):
    def __init__(self, w3: Web3, deployment: Deployment, sender: Sender | None = None) -> None:
        if deployment.sessions is None:
            raise ConfigError("this deployment has no SessionKeys contract: deploy one (the devnet does)")
        super().__init__(w3, deployment.sessions, "SessionKeys", sender)
        self.deployment = deployment

    def session(self, key: str) -> SessionView:
        key = Web3.to_checksum_address(key)
        owner, scope, used, revoked = self.contract.functions.session(key).call()
        orders = self.contract.functions.openOrders(key).call()
        return SessionView(
            key,
            Web3.to_checksum_address(owner),
            SessionScope(_bits(scope[0]), _bits(scope[1]), int(scope[2]), int(scope[3]), int(scope[4])),
            int(used),
            bool(revoked),
            tuple(int(o) for o in orders),
        )

    def keys_of(self, owner: str) -> list[ChecksumAddress]:
        """Every key `owner` has granted (from the `SessionGranted` logs)."""
        logs = self.contract.events.SessionGranted().get_logs(
            from_block=self.deployment.block, argument_filters={"owner": Web3.to_checksum_address(owner)}
        )
        return [Web3.to_checksum_address(log["args"]["key"]) for log in logs]

    def grant(self, key: str, scope: SessionScope, accepted: bytes) -> TxReceipt:
        """Grants `key` the scope for the signer's sub-accounts; `accepted` is the key's `accept` of the signer."""
        return self.send("grant session", self._grant(key, scope, accepted))

    def check_grant(self, key: str, scope: SessionScope, accepted: bytes) -> None:
        """Simulates `grant` from the signer: raises the `TransactionReverted` sending it would, before anything that
        must come with it (the session contract made an operator) is sent."""
        self.signer().call("grant session", self._grant(key, scope, accepted))

    def _grant(self, key: str, scope: SessionScope, accepted: bytes) -> Any:
        return self.contract.functions.grant(Web3.to_checksum_address(key), scope.as_tuple(), accepted)

    def accept(self, key: LocalAccount, owner: str) -> bytes:
        """Session key `key`'s acceptance of a grant from `owner` (EIP-712 `SessionAccept(address key,address
        owner)`): the contract takes a grant only with it, so no one but `owner` can grant the key."""
        message = {"key": key.address, "owner": Web3.to_checksum_address(owner)}
        return bytes(sign_typed(key, self._domain(), "SessionAccept", SESSION_ACCEPT_FIELDS, message).signature)

    def revoke(self, key: str) -> int:
        """Revokes `key`; returns how many of its open orders were cancelled."""
        receipt = self.send("revoke session", self.contract.functions.revoke(Web3.to_checksum_address(key)))
        events = self.contract.events.SessionRevoked().process_receipt(receipt, errors=DISCARD)
        return int(events[0]["args"]["ordersCancelled"])

    def submit(self, order: OrderIntent) -> int:
        """Submits an order as the session key (the signer); returns the order id."""
        fn = self.contract.functions.submit(
            order.sub_account,
            order.market,
            int(order.size * WAD),
            int(order.limit * WAD),
            order.deadline,
            order.reduce_only,
        )
        return self._order_id(self.send("submit as session key", fn))

    def sign(self, account: LocalAccount, order: OrderIntent, nonce: int, relayer_fee: int = 0) -> SignedOrder:
        """Signs `order` with session key `account` for any relayer to submit, paying it `relayer_fee` base units
        from the key's relayer funds."""
        message = {
            "key": account.address,
            "subAccount": order.sub_account,
            "market": order.market,
            "size": int(order.size * WAD),
            "limitPrice": int(order.limit * WAD),
            "deadline": order.deadline,
            "reduceOnly": order.reduce_only,
            "nonce": nonce,
            "relayerFee": relayer_fee,
        }
        signature = sign_typed(account, self._domain(), "SignedOrder", SIGNED_ORDER_FIELDS, message).signature
        return SignedOrder(
            account.address,
            order.sub_account,
            order.market,
            int(order.size * WAD),
            int(order.limit * WAD),
            order.deadline,
            order.reduce_only,
            nonce,
            relayer_fee,
            "0x" + bytes(signature).hex(),
        )

    def _domain(self) -> dict[str, Any]:
        return {
            "name": "PrimeVault SessionKeys",
            "version": "1",
            "chainId": self.w3.eth.chain_id,
            "verifyingContract": self.address,
        }

    def relayer_funds(self, key: str) -> int:
        """What `key`'s signed orders can still pay relayers, base units."""
        return int(self.read("read relayer funds", self.contract.functions.relayerFunds(Web3.to_checksum_address(key))))

    def fund_relayer(self, key: str, amount: int) -> TxReceipt:
        """Adds `amount` base units from the signer to `key`'s relayer funds (an exact approval first, once the key
        is known to have a session: nothing is approved for a call that would fail)."""
        key = Web3.to_checksum_address(key)
        self.signer().call("fund relayer", self.contract.functions.fundRelayer(key, 0))
        TokenClient(self.w3, self.deployment.base, self.signer()).approve_for_transfer(self.address, amount)
        return self.send("fund relayer", self.contract.functions.fundRelayer(key, amount))

    def withdraw_relayer_funds(self, key: str, amount: int) -> TxReceipt:
        fn = self.contract.functions.withdrawRelayerFunds(Web3.to_checksum_address(key), amount)
        return self.send("withdraw relayer funds", fn)

    def relay(self, order: SignedOrder) -> int:
        """Submits a signed order (any sender); returns the order id."""
        fn = self.contract.functions.submitSigned(order.as_tuple(), bytes.fromhex(order.signature.removeprefix("0x")))
        return self._order_id(self.send("relay signed order", fn))

    def _order_id(self, receipt: TxReceipt) -> int:
        events = self.contract.events.SessionOrder().process_receipt(receipt, errors=DISCARD)
        return int(events[0]["args"]["orderId"])
