"""Typed client for a deployed PrimeVault: reads in base units, writes through a `Sender`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import is_checksum_formatted_address
from hexbytes import HexBytes
from web3 import Web3
from web3.types import BlockIdentifier, TxReceipt

from keeper.chain.deployment import Deployment, TokenInfo
from keeper.chain.revert import DecodedError
from keeper.chain.transactions import EncodedCall, Sender
from keeper.chain.typed_data import sign_typed
from keeper.client.base import AccessControlledClient, struct
from keeper.client.lens import LensClient
from keeper.client.tokens import TokenClient
from keeper.exceptions import TransactionReverted

MAX_UINT256 = 2**256 - 1
PERMIT_SECONDS = 3600  # how long a deposit's permit signature stays valid

PERMISSIONS = {"withdraw": 1 << 0, "transfer": 1 << 1, "trade": 1 << 2}
PAUSE_TRADE = 1 << 3  # the pause flag that stops order execution (IPrimeVault's PAUSE_TRADE)


def sub_account(owner: str, sub_id: int) -> ChecksumAddress:
    """Sub-account `sub_id` (0..255) of `owner`: the owner's address XOR `sub_id`."""
    if not 0 <= sub_id <= 255:
        raise ValueError(f"sub-account id {sub_id} is out of range 0..255")
    return Web3.to_checksum_address((int(_checksum(owner), 16) ^ sub_id).to_bytes(20, "big"))


OPERATOR_PERMIT_KIND = "primevault-operator-permit"  # the JSON's `kind`, so a relayer knows what a file holds
OPERATOR_PERMIT_FIELDS = [
    {"name": "owner", "type": "address"},
    {"name": "account", "type": "address"},
    {"name": "operator", "type": "address"},
    {"name": "permissions", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


@dataclass(frozen=True)
class OperatorPermit:
    """An owner's EIP-712 grant of `permissions` on `account` to `operator`, for anyone to submit
    (`setOperatorWithSig`); JSON-ready."""

    owner: ChecksumAddress
    account: ChecksumAddress
    operator: ChecksumAddress
    permissions: int
    nonce: int
    deadline: int
    signature: str

    def as_tuple(self) -> tuple[str, str, str, int, int, int]:
        return (self.owner, self.account, self.operator, self.permissions, self.nonce, self.deadline)

    def to_json(self) -> dict[str, Any]:
        fields = {k: str(v) if isinstance(v, int) else v for k, v in asdict(self).items()}
        return {"kind": OPERATOR_PERMIT_KIND, **fields}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatorPermit:
        """Raises ValueError, KeyError or TypeError for anything that is not a well-formed permit."""
        if data.get("kind") != OPERATOR_PERMIT_KIND:
            raise ValueError(f"its kind is {data.get('kind')!r}, not {OPERATOR_PERMIT_KIND!r}")
        bytes.fromhex(str(data["signature"]).removeprefix("0x"))
        return cls(
            owner=Web3.to_checksum_address(str(data["owner"])),
            account=Web3.to_checksum_address(str(data["account"])),
            operator=Web3.to_checksum_address(str(data["operator"])),
            permissions=int(data["permissions"]),
            nonce=int(data["nonce"]),
            deadline=int(data["deadline"]),
            signature=str(data["signature"]),
        )


@dataclass(frozen=True)
class AccountHealth:
    """Health of one sub-account, all in base units (see `IPrimeVault.AccountHealth`)."""

    base_balance: int
    debt: int
    collateral_value: int
    unrealized_pnl: int
    equity: int
    initial_requirement: int
    maintenance_requirement: int
    liquidatable: bool


@dataclass(frozen=True)
class AssetConfig:
    address: ChecksumAddress
    feed: ChecksumAddress
    max_staleness: int
    initial_haircut_bps: int
    maintenance_haircut_bps: int
    liquidation_penalty_bps: int
    index: int
    scale_exponent: int


@dataclass(frozen=True)
class AssetListing:
    """What the admin lists a collateral asset with (`listAsset`'s parameters)."""

    feed: ChecksumAddress
    max_staleness: int
    initial_haircut_bps: int
    maintenance_haircut_bps: int
    liquidation_penalty_bps: int
    supply_cap: int  # token units


@dataclass(frozen=True)
class HaircutBounds:
    """Where and how fast the risk manager may move an asset's haircuts."""

    min_bps: int
    max_bps: int
    max_step_bps: int
    min_interval: int  # seconds between updates
    last_update: int  # unix seconds


@dataclass(frozen=True)
class MarketState:
    supply_index: int
    borrow_index: int
    last_accrual_time: int
    total_supply: int
    total_borrow: int
    utilization_wad: int
    supply_rate_per_second: int
    borrow_rate_per_second: int
    reserves: int


@dataclass(frozen=True)
class LiquidationEvent:
    account: ChecksumAddress
    debt_cleared: int
    shortfall: int
    collateral_share: int  # WAD: the share of every collateral asset the account held that went to reserves


@dataclass(frozen=True)
class LiquidationResult:
    liquidated: tuple[LiquidationEvent, ...]
    bad_debt: int
    reward: int
    gas_used: int
    block: int
    # Accounts the vault left out with `LiquidationSkipped` (their prices are unusable), with the reason.
    skipped: tuple[tuple[ChecksumAddress, DecodedError], ...] = ()


class VaultClient(AccessControlledClient):
    """Reads and writes one PrimeVault deployment. Writes need a `Sender`."""

    def __init__(self, w3: Web3, deployment: Deployment, sender: Sender | None = None) -> None:
        super().__init__(w3, deployment.vault, "PrimeVault", sender)
        self.deployment = deployment
        self.lens = LensClient(w3, deployment.lens, deployment.vault)

    # ------------------------------------------------------------------ reads

    def token(self, symbol: str) -> TokenClient:
        """The base or collateral token `symbol`, sending (approvals, the mocks' faucet) as this client does."""
        return TokenClient(self.w3, self.deployment.token(symbol), self.sender)

    def health(self, account: str, block: BlockIdentifier = "latest") -> AccountHealth:
        fn = self.contract.functions.accountHealth(_checksum(account))
        return struct(AccountHealth, fn, self.read("read account health", fn, block))

    def owner_of(self, account: str) -> ChecksumAddress:
        return Web3.to_checksum_address(self.contract.functions.ownerOf(_checksum(account)).call())

    def min_borrow(self) -> int:
        """The smallest debt the vault lets an account hold, in base units (`BorrowTooSmall` below it)."""
        return int(self.contract.functions.minBorrow().call())

    def available_liquidity(self) -> int:
        """Base units the vault holds, which is what can be borrowed or withdrawn right now."""
        return self.token(self.deployment.base.symbol).balance_of(self.deployment.vault)

    def base_balance(self, account: str, block: BlockIdentifier = "latest") -> int:
        return int(self.contract.functions.baseBalanceOf(_checksum(account)).call(block_identifier=block))

    def collateral_balance(self, account: str, symbol: str, block: BlockIdentifier = "latest") -> int:
        address = self.deployment.token(symbol).address
        fn = self.contract.functions.collateralBalanceOf(_checksum(account), address)
        return int(fn.call(block_identifier=block))

    def is_liquidatable(self, account: str, block: BlockIdentifier = "latest") -> bool:
        return bool(self.read("check liquidatable", self.contract.functions.isLiquidatable(account), block))

    def asset_configs(self, block: BlockIdentifier = "latest") -> list[AssetConfig]:
        configs = []
        for address in self.contract.functions.collateralAssets().call(block_identifier=block):
            fn = self.contract.functions.assetConfig(address)
            raw = fn.call(block_identifier=block)
            configs.append(struct(AssetConfig, fn, raw, address=Web3.to_checksum_address(address)))
        return configs

    def haircut_bounds(self, asset: str) -> HaircutBounds:
        fn = self.contract.functions.haircutBounds(_checksum(asset))
        return struct(HaircutBounds, fn, fn.call())

    def market(self) -> MarketState:
        fn = self.contract.functions.marketState()
        return struct(MarketState, fn, fn.call())

    def account_count(self, block: BlockIdentifier = "latest") -> int:
        return int(self.contract.functions.accountCount().call(block_identifier=block))

    def trading_paused(self) -> bool:
        """Whether the pause guardian has paused trading (then no order executes)."""
        return bool(int(self.contract.functions.pausedActions().call()) & PAUSE_TRADE)

    def collateral_reserves(self, symbol: str) -> int:
        """Absorbed collateral of `symbol` the vault holds for sale, token units."""
        return int(self.contract.functions.collateralReserves(self.deployment.token(symbol).address).call())

    def quote_collateral(self, symbol: str, base_amount: int) -> int:
        """Collateral `buyCollateral` gives for `base_amount` of the base token, at its discount."""
        address = self.deployment.token(symbol).address
        return int(self.contract.functions.quoteCollateral(address, base_amount).call())

    # ------------------------------------------------------------------ writes

    def deposit(self, account: str, symbol: str, amount: int) -> TxReceipt:
        """Deposits `amount` of `symbol` from the signer: one transaction with an ERC-2612 permit for exactly the
        amount when the token has one and the allowance is short, else an exact approval first."""
        token = self.deployment.token(symbol)
        client = TokenClient(self.w3, token, self.signer())
        owner = self.signer().account
        if client.allowance(owner.address, self.address) < amount and client.supports_permit():
            deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + PERMIT_SECONDS
            p = client.sign_permit(owner, self.address, amount, deadline)
            fn = self.contract.functions.depositWithPermit(
                _checksum(account), token.address, amount, p.deadline, p.v, p.r, p.s
            )
            return self.send(f"deposit {symbol}", fn)
        self._approve(token, amount)
        fn = self.contract.functions.deposit(_checksum(account), token.address, amount)
        return self.send(f"deposit {symbol}", fn)

    def withdraw(
        self, account: str, symbol: str, amount: int, receiver: str | None = None, action: str = "withdraw"
    ) -> TxReceipt:
        """Withdraws `amount` of `symbol` to `receiver` (the signer by default); `action` names it in errors."""
        to = _checksum(receiver or self.signer().address)
        fn = self.contract.functions.withdraw(_checksum(account), self.deployment.token(symbol).address, amount, to)
        return self.send(f"{action} {symbol}", fn)

    def borrow(self, account: str, amount: int, receiver: str | None = None) -> TxReceipt:
        """Borrows `amount` of the base asset: its withdrawal past the account's balance."""
        return self.withdraw(account, self.deployment.base.symbol, amount, receiver, action="borrow")

    def repay(self, account: str, amount: int | None = None) -> TxReceipt:
        """Repays `amount` of base debt, or all of it when `amount` is None. The vault takes at most the debt, so
        the approval is at most the debt with a little more for the interest that accrues until the transaction is
        mined. What of an approval sent here the repayment did not use (that margin, or all of it when the repayment
        reverts) is taken back after it: the allowance is left as it was before.

        Only after a repayment that completed (mined, or reverted): one whose fate is unknown (`TransactionFateUnknown`,
        the node gone after the send) is raised as it is, naming its hash, and the allowance is left at the amount
        approved. Taking it back then would ask the node that is away (its failure hiding the repayment's hash), and
        an approval sent at the next nonce could replace the repayment as a stuck nonce. Nor after any other failure
        (nothing was sent): the node that failed is not asked again, and the approval is for this vault, at most the
        debt and its margin."""
        debt = max(-self.base_balance(account), 0)
        ceiling = debt + debt // 1000 + 1
        token = TokenClient(self.w3, self.deployment.base, self.signer())
        owner = self.signer().address
        before = token.allowance(owner, self.address)
        needed = ceiling if amount is None else min(amount, ceiling)
        token.approve_for_transfer(self.address, needed)
        approved = before < needed
        fn = self.contract.functions.repay(_checksum(account), MAX_UINT256 if amount is None else amount)
        try:
            receipt = self.send("repay", fn)
        except TransactionReverted:
            if approved:
                _restore_allowance(token, owner, self.address, before)
            raise
        if approved:
            _restore_allowance(token, owner, self.address, before)
        return receipt

    def transfer(self, source: str, target: str, symbol: str, amount: int) -> TxReceipt:
        address = self.deployment.token(symbol).address
        fn = self.contract.functions.transfer(_checksum(source), _checksum(target), address, amount)
        return self.send(f"transfer {symbol}", fn)

    def operator_permissions(self, account: str, operator: str) -> int:
        fn = self.contract.functions.operatorPermissions(_checksum(account), _checksum(operator))
        return int(self.read("read operator permissions", fn))

    def portfolio_mode(self, account: str, block: BlockIdentifier = "latest") -> bool:
        fn = self.contract.functions.portfolioMode(_checksum(account))
        return bool(self.read("read portfolio mode", fn, block))

    def set_portfolio_mode(self, account: str, enabled: bool) -> TxReceipt:
        """Puts `account` in portfolio mode or back (owner only; it must meet the new rule's initial requirement)."""
        fn = self.contract.functions.setPortfolioMode(_checksum(account), enabled)
        return self.send("enter portfolio mode" if enabled else "leave portfolio mode", fn)

    def set_portfolio_margin(self, portfolio: str) -> TxReceipt:
        return self.send("set portfolio rule", self.contract.functions.setPortfolioMargin(_checksum(portfolio)))

    def set_operator(self, account: str, operator: str, permissions: int) -> TxReceipt:
        fn = self.contract.functions.setOperator(_checksum(account), _checksum(operator), permissions)
        return self.send("set operator", fn)

    def operator_permit_nonce(self, owner: str) -> int:
        return int(
            self.read("read operator permit nonce", self.contract.functions.operatorPermitNonce(_checksum(owner)))
        )

    def sign_operator_permit(
        self, owner: LocalAccount, account: str, operator: str, permissions: int, deadline: int
    ) -> OperatorPermit:
        """`owner`'s signed `setOperator`, with its next nonce, for anyone to submit before `deadline`."""
        unsigned = OperatorPermit(
            owner.address,
            _checksum(account),
            _checksum(operator),
            permissions,
            self.operator_permit_nonce(owner.address),
            deadline,
            signature="",
        )
        message = {k: v for k, v in asdict(unsigned).items() if k != "signature"}
        domain = {
            "name": "PrimeVault",
            "version": "1",
            "chainId": self.w3.eth.chain_id,
            "verifyingContract": self.address,
        }
        signed = sign_typed(owner, domain, "OperatorPermit", OPERATOR_PERMIT_FIELDS, message)
        return dataclasses.replace(unsigned, signature=Web3.to_hex(signed.signature))

    def set_operator_with_sig(self, permit: OperatorPermit) -> TxReceipt:
        """Submits an owner's signed permit; the sender pays the gas."""
        fn = self.contract.functions.setOperatorWithSig(
            permit.as_tuple(), bytes.fromhex(permit.signature.removeprefix("0x"))
        )
        return self.send("set operator by permit", fn)

    def liquidate(self, accounts: Sequence[str], gas: int | None = None) -> LiquidationResult:
        fn = self.contract.functions.liquidate([_checksum(a) for a in accounts])
        return self._liquidation_result(self.send("liquidate", fn, gas=gas))

    def liquidate_batches(
        self, batches: Sequence[Sequence[str]], gas: Sequence[int | None] | None = None
    ) -> list[LiquidationResult | TransactionReverted]:
        """Sends every batch before waiting for any (consecutive nonces, so that they can share a block);
        returns each batch's result, or its decoded revert if it failed. `gas`: a limit per batch to try first."""
        selector = self.contract.functions.liquidate([]).selector
        fns = [
            EncodedCall(self.deployment.vault, bytes.fromhex(selector[2:]) + abi_encode(["address[]"], [list(batch)]))
            for batch in batches
        ]
        return [
            outcome if isinstance(outcome, TransactionReverted) else self._liquidation_result(outcome)
            for outcome in self.send_all("liquidate", fns, gas)
        ]

    def buy_collateral(self, symbol: str, min_amount_out: int, base_amount: int, recipient: str) -> TxReceipt:
        """Buys absorbed collateral at the vault's discount (the base token must be approved)."""
        address = self.deployment.token(symbol).address
        fn = self.contract.functions.buyCollateral(address, min_amount_out, base_amount, _checksum(recipient))
        return self.send("buy collateral", fn)

    def update_haircuts(self, symbol: str, initial_bps: int, maintenance_bps: int) -> TxReceipt:
        """The risk manager's move of an asset's haircuts, inside its bounds."""
        address = self.deployment.token(symbol).address
        return self.send(
            "update haircuts", self.contract.functions.updateHaircuts(address, initial_bps, maintenance_bps)
        )

    # ------------------------------------------------------------------ governance (the admin's key)

    def list_asset(self, symbol: str, listing: AssetListing) -> TxReceipt:
        params = (
            listing.feed,
            listing.max_staleness,
            listing.initial_haircut_bps,
            listing.maintenance_haircut_bps,
            listing.liquidation_penalty_bps,
            listing.supply_cap,
        )
        return self.send(
            f"list {symbol}", self.contract.functions.listAsset(self.deployment.token(symbol).address, params)
        )

    def set_haircut_bounds(
        self, symbol: str, min_bps: int, max_bps: int, max_step_bps: int, min_interval: int
    ) -> TxReceipt:
        address = self.deployment.token(symbol).address
        fn = self.contract.functions.setHaircutBounds(address, min_bps, max_bps, max_step_bps, min_interval)
        return self.send(f"set {symbol} haircut bounds", fn)

    def set_trading_module(self, module: str) -> TxReceipt:
        return self.send("set trading module", self.contract.functions.setTradingModule(_checksum(module)))

    def set_paused(self, actions: int) -> TxReceipt:
        """The pause guardian's flags (a bit per action; 0 resumes everything)."""
        return self.send("set paused", self.contract.functions.setPaused(actions))

    # ------------------------------------------------------------------ helpers

    def _liquidation_result(self, receipt: TxReceipt) -> LiquidationResult:
        """The batch's outcome from its receipt, which holds a log per account and a few per batch: each of the
        vault's logs is looked at once, by its topic, and `Liquidated` (the account's) is read straight from its
        topics and data rather than through web3's event decoding, which costs more than the batch's whole
        simulation."""
        events = self.contract.events
        kinds = (events.Liquidated(), events.BadDebt(), events.LiquidatorRewarded(), events.LiquidationSkipped())
        by_topic = {HexBytes(event.topic): event for event in kinds}
        liquidated: list[LiquidationEvent] = []
        bad_debt = reward = 0
        skipped: list[tuple[ChecksumAddress, DecodedError]] = []
        for log in receipt["logs"]:
            event = by_topic.get(HexBytes(log["topics"][0])) if log["topics"] else None
            if event is None or log["address"] != self.deployment.vault:
                continue
            if event.event_name == "Liquidated":
                # Liquidated(address indexed account, uint256 debtCleared, uint256 shortfall, uint256 collateralShare)
                account = Web3.to_checksum_address(bytes(log["topics"][1])[12:])
                debt_cleared, shortfall, share = (int.from_bytes(log["data"][i : i + 32]) for i in (0, 32, 64))
                liquidated.append(LiquidationEvent(account, debt_cleared, shortfall, share))
                continue
            args = event.process_log(log)["args"]
            if event.event_name == "BadDebt":
                bad_debt += args["amount"]
            elif event.event_name == "LiquidatorRewarded":
                reward += args["reward"]
            else:
                skipped.append((args["account"], self.decoder.decode(bytes(args["reason"]))))
        return LiquidationResult(
            tuple(liquidated), bad_debt, reward, receipt["gasUsed"], receipt["blockNumber"], tuple(skipped)
        )

    def _approve(self, token: TokenInfo, amount: int) -> None:
        """Approves the vault for exactly `amount` when the allowance is short (`TokenClient.approve_for_transfer`)."""
        TokenClient(self.w3, token, self.signer()).approve_for_transfer(self.deployment.vault, amount)


def _checksum(address: str) -> ChecksumAddress:
    """`address` checksummed. Anything but an address is refused, and so is a mixed-case one whose EIP-55 checksum is
    wrong, the mark of a mistyped address (another account, which a deposit would fund): web3 refuses such an address
    passed to a contract, but `to_checksum_address` alone takes it."""
    if not Web3.is_address(address) or (
        is_checksum_formatted_address(address) and not Web3.is_checksum_address(address)
    ):
        raise ValueError(f"{address!r} is not an address (20 bytes in hex, with a valid checksum if mixed-case)")
    return Web3.to_checksum_address(address)


def _restore_allowance(token: TokenClient, owner: str, spender: str, before: int) -> None:
    """Sets `owner`'s allowance to `spender` back to `before`, unless it already is."""
    if token.allowance(owner, spender) != before:
        token.approve(spender, before)
