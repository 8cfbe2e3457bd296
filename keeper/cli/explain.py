"""One-line, human-unit explanations of the vault's custom errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keeper.chain.deployment import Deployment
from keeper.chain.revert import TransactionReverted
from keeper.units import format_units

_PERMISSION_NAMES = {0: "owner", 1: "withdraw", 2: "transfer", 4: "trade"}


def explain(exc: TransactionReverted, deployment: Deployment, symbol: str | None = None) -> str:
    """A sentence for `exc` in the units of `deployment`; falls back to the decoded error itself."""
    base = deployment.base
    token = deployment.token(symbol) if symbol else base

    def usd(key: str) -> str:
        return f"{format_units(int(exc.error.args.get(key, 0)), base.decimals, 2)} {base.symbol}"

    def amount(key: str) -> str:
        return f"{format_units(int(exc.error.args.get(key, 0)), token.decimals)} {token.symbol}"

    def arg(key: str) -> Any:
        return exc.error.args.get(key)

    messages: dict[str, Callable[[], str]] = {
        "InsufficientEquity": lambda: (
            f"would make the account unhealthy: equity would be {usd('equity')}, below the initial requirement "
            f"of {usd('initialRequirement')}; deposit collateral or use a smaller amount"
        ),
        "BorrowTooSmall": lambda: f"the debt would be {usd('debt')}, below the minimum borrow of {usd('minBorrow')}",
        "NotAuthorized": lambda: (
            f"{arg('caller')} is not the owner of {arg('account')} nor an operator with the "
            f"{_PERMISSION_NAMES.get(arg('permission'), str(arg('permission')))} permission"
        ),
        "InsufficientCollateral": lambda: (
            f"the account holds {amount('balance')}, less than the {amount('requested')} asked for"
        ),
        "InsufficientLiquidity": lambda: (
            f"the vault has {usd('available')} free to lend, less than the {usd('requested')} asked for"
        ),
        "ERC20InsufficientBalance": lambda: (
            f"your wallet holds {amount('balance')}, less than the {amount('needed')} needed"
        ),
        "SupplyCapExceeded": lambda: (
            f"the deposit would take the total to {amount('totalAfter')}, above the cap of {amount('cap')}"
        ),
        "OracleStalePrice": lambda: f"the price feed {arg('feed')} is stale; try again once it updates",
        "OracleInvalidPrice": lambda: f"the price feed {arg('feed')} reports an invalid price ({arg('answer')})",
        "Paused": lambda: "this action is paused by the pause guardian",
        "ZeroAmount": lambda: "the amount must be greater than zero",
        "NotSameOwner": lambda: "both sub-accounts must belong to the same owner",
        "SelfTransfer": lambda: "source and destination are the same sub-account",
    }
    explained = messages.get(exc.error.name)
    detail = explained() if explained else str(exc.error)
    return f"{exc.action} failed: {detail} [{exc.error.name}]"
