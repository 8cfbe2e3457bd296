"""Chainlink-style price feeds (`AggregatorV3Interface`), read directly; the vault's own reads of every collateral
price go through `LensClient.prices`. Decimals come from each feed, never assumed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import BlockIdentifier, TxReceipt

from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient


@dataclass(frozen=True)
class RoundData:
    answer: int  # scaled by the feed's decimals
    updated_at: int  # unix seconds


class FeedClient(ContractClient):
    def __init__(self, w3: Web3, address: str, sender: Sender | None = None) -> None:
        # MockPriceFeed's ABI is AggregatorV3Interface's plus the mock's setter, so it reads any feed.
        super().__init__(w3, address, "MockPriceFeed", sender)

    @cached_property
    def decimals(self) -> int:
        return int(self.contract.functions.decimals().call())

    def latest_round(self, block: BlockIdentifier = "latest") -> RoundData:
        _, answer, _, updated_at, _ = self.contract.functions.latestRoundData().call(block_identifier=block)
        return RoundData(int(answer), int(updated_at))

    def price(self, block: BlockIdentifier = "latest") -> Decimal:
        """The answer as a decimal price."""
        return self.to_price(self.latest_round(block).answer)

    def to_price(self, answer: int) -> Decimal:
        """A raw answer of this feed (as the lens returns it) as a decimal price."""
        return Decimal(answer).scaleb(-self.decimals)

    def set_answer(self, price: Decimal) -> TxReceipt:
        """Sets the local mock feed's answer (devnet and tests only: a real feed is set by its oracle network)."""
        return self.send("set price", self.set_answer_call(price))

    def set_answer_call(self, price: Decimal) -> ContractFunction:
        """`set_answer`'s call, unsent: for sending several feeds' answers together."""
        return self.contract.functions.setAnswer(int(price.scaleb(self.decimals).to_integral_value()))
