"""PrimeVaultLender: the ERC-4626 vault for passive lenders of the base asset (shares of one supply position)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import TxReceipt

from keeper.chain.deployment import Deployment
from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient
from keeper.client.tokens import TokenClient
from keeper.exceptions import ConfigError, InputError
from keeper.units import format_exact

SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class LenderPosition:
    """A holder's shares and what they are worth, base units; `max_withdraw` is bounded by the pool's cash."""

    shares: int
    assets: int
    max_withdraw: int


@dataclass(frozen=True)
class LenderState:
    total_assets: int  # base units supplied to PrimeVault
    total_shares: int
    share_price: float  # base units per share unit, in whole tokens per whole share
    supply_apr: float  # the pool's supply rate now, a fraction per year (not compounded)


class LenderClient(ContractClient):
    def __init__(self, w3: Web3, deployment: Deployment, sender: Sender | None = None) -> None:
        if deployment.lender is None:
            raise ConfigError("this deployment has no lender vault: deploy one (the devnet does) and add `lender`")
        super().__init__(w3, deployment.lender, "PrimeVaultLender", sender)
        self.deployment = deployment

    def position(self, holder: str) -> LenderPosition:
        holder = Web3.to_checksum_address(holder)
        f = self.contract.functions
        shares = int(f.balanceOf(holder).call())
        return LenderPosition(shares, int(f.convertToAssets(shares).call()), int(f.maxWithdraw(holder).call()))

    def share_decimals(self) -> int:
        """The decimals of the vault's shares (ERC-4626 may give them more than the asset's)."""
        return int(self.contract.functions.decimals().call())

    def max_redeem(self, holder: str) -> int:
        """The shares `holder` can redeem now (bounded by the pool's idle cash)."""
        return int(self.contract.functions.maxRedeem(Web3.to_checksum_address(holder)).call())

    def state(self, supply_rate_per_second: int) -> LenderState:
        """The vault's totals, with the pool's supply rate (WAD per second, from `VaultClient.market()`)."""
        f = self.contract.functions
        decimals = int(f.decimals().call())
        one_share = 10**decimals
        base_unit = 10**self.deployment.base.decimals
        price = int(f.convertToAssets(one_share).call()) / base_unit
        return LenderState(
            int(f.totalAssets().call()),
            int(f.totalSupply().call()),
            price,
            supply_rate_per_second * SECONDS_PER_YEAR / 10**18,
        )

    def preview_deposit(self, amount: int) -> int:
        """The shares a deposit of `amount` base units mints now (ERC-4626 `previewDeposit`, rounded down)."""
        return int(self.read("preview deposit", self.contract.functions.previewDeposit(amount)))

    def preview_mint(self, shares: int) -> int:
        """The base units minting `shares` takes now (ERC-4626 `previewMint`, rounded up)."""
        return int(self.read("preview mint", self.contract.functions.previewMint(shares)))

    def max_deposit(self, receiver: str) -> int:
        """The most base units a deposit for `receiver` may be now (ERC-4626 `maxDeposit`): 0 while PrimeVault's
        deposits are paused."""
        return int(
            self.read("read max deposit", self.contract.functions.maxDeposit(Web3.to_checksum_address(receiver)))
        )

    def deposit(self, amount: int) -> TxReceipt:
        """Deposits `amount` of the base asset for the signer (approving exactly that, when short). A deposit the vault
        would refuse (`maxDeposit`: deposits paused) is refused before the approval, which it would leave behind."""
        owner = self.signer().address
        most = self.max_deposit(owner)
        if amount > most:
            base = self.deployment.base
            if most == 0:
                raise InputError(
                    "the lender vault takes no deposits now: PrimeVault's deposits are paused by the pause guardian; "
                    "try again once they resume"
                )
            raise InputError(
                f"the lender vault takes at most {format_exact(most, base.decimals)} {base.symbol} in one deposit, "
                f"less than the {format_exact(amount, base.decimals)} {base.symbol} to lend: lend less at a time"
            )
        TokenClient(self.w3, self.deployment.base, self.signer()).approve_for_transfer(self.address, amount)
        return self.send("lend", self.contract.functions.deposit(amount, owner))

    def withdraw(self, amount: int) -> TxReceipt:
        """Withdraws `amount` of the base asset to the signer."""
        owner = self.signer().address
        return self.send("withdraw lent", self.contract.functions.withdraw(amount, owner, owner))

    def redeem_all(self) -> TxReceipt:
        """Redeems every share the signer holds (what `withdraw all` means: no dust of shares left)."""
        owner: ChecksumAddress = self.signer().address
        shares = int(self.contract.functions.balanceOf(owner).call())
        return self.send("redeem", self.contract.functions.redeem(shares, owner, owner))
