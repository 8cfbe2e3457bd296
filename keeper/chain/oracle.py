"""Reading a Chainlink-style price feed directly (the vault's own reads go through `PrimeVaultLens.prices`)."""

from __future__ import annotations

from decimal import Decimal

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.types import BlockIdentifier

from keeper.chain.artifacts import load_artifact


def feed_contract(w3: Web3, feed: ChecksumAddress | str) -> Contract:
    """A Chainlink-style feed (`AggregatorV3Interface`: decimals, latestRoundData)."""
    return w3.eth.contract(address=Web3.to_checksum_address(feed), abi=load_artifact("MockPriceFeed").abi)


def feed_answer(w3: Web3, feed: ChecksumAddress | str, block: BlockIdentifier = "latest") -> int:
    """The feed's raw answer, scaled by its decimals."""
    return int(feed_contract(w3, feed).functions.latestRoundData().call(block_identifier=block)[1])


def feed_price(w3: Web3, feed: ChecksumAddress | str) -> Decimal:
    """The feed's answer as a decimal price."""
    contract = w3.eth.contract(address=Web3.to_checksum_address(feed), abi=load_artifact("MockPriceFeed").abi)
    return Decimal(feed_answer(w3, feed)) / Decimal(10) ** int(contract.functions.decimals().call())
