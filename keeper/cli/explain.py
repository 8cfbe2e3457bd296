"""One-line, human-unit explanations of the vault's custom errors."""

from __future__ import annotations

from keeper.chain.deployment import Deployment
from keeper.chain.revert import TransactionReverted
from keeper.units import format_units

_PERMISSION_NAMES = {0: "owner", 1: "withdraw", 2: "transfer", 4: "trade"}


def explain(exc: TransactionReverted, deployment: Deployment, symbol: str | None = None) -> str:
    """A sentence for `exc` in the units of `deployment`; falls back to the decoded error itself."""
    name, a = exc.error.name, exc.error.args
    base = deployment.base
    usd = lambda v: f"{format_units(v, base.decimals, 2)} {base.symbol}"  # noqa: E731
    token_decimals = deployment.token(symbol).decimals if symbol else base.decimals
    amount = lambda v: f"{format_units(v, token_decimals)} {symbol or base.symbol}"  # noqa: E731
    messages = {
        "InsufficientEquity": lambda: (
            f"would make the account unhealthy: equity would be {usd(a.get('equity', 0))}, below the initial "
            f"requirement of {usd(a.get('initialRequirement', 0))}; deposit collateral or use a smaller amount"
        ),
        "BorrowTooSmall": lambda: (
            f"the debt would be {usd(a.get('debt', 0))}, below the minimum borrow of {usd(a.get('minBorrow', 0))}"
        ),
        "NotAuthorized": lambda: (
            f"{a.get('caller')} is not the owner of {a.get('account')} nor an operator with the "
            f"{_PERMISSION_NAMES.get(a.get('permission', 0), str(a.get('permission')))} permission"
        ),
        "InsufficientCollateral": lambda: (
            f"the account holds {amount(a.get('balance', 0))}, less than the {amount(a.get('requested', 0))} asked for"
        ),
        "InsufficientLiquidity": lambda: (
            f"the vault has {usd(a.get('available', 0))} free to lend, less than the {usd(a.get('requested', 0))} "
            "asked for"
        ),
        "ERC20InsufficientBalance": lambda: (
            f"your wallet holds {amount(a.get('balance', 0))}, less than the {amount(a.get('needed', 0))} needed"
        ),
        "SupplyCapExceeded": lambda: (
            f"the deposit would take total {symbol} to {amount(a.get('totalAfter', 0))}, above its cap of "
            f"{amount(a.get('cap', 0))}"
        ),
        "OracleStalePrice": lambda: f"the price feed {a.get('feed')} is stale; try again once it updates",
        "OracleInvalidPrice": lambda: f"the price feed {a.get('feed')} reports an invalid price ({a.get('answer')})",
        "Paused": lambda: "this action is paused by the pause guardian",
        "ZeroAmount": lambda: "the amount must be greater than zero",
        "NotSameOwner": lambda: "both sub-accounts must belong to the same owner",
        "SelfTransfer": lambda: "source and destination are the same sub-account",
    }
    detail = messages[name]() if name in messages else str(exc.error)
    return f"{exc.action} failed: {detail} [{name}]"
