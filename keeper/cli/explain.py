"""One-line, human-unit explanations of the vault's custom errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from keeper.chain.deployment import Deployment, TokenInfo
from keeper.chain.revert import DecodedError, error_decoder, revert_data
from keeper.client.venues import call_failed, gas_words, node_message
from keeper.exceptions import TransactionReverted
from keeper.units import format_exact, format_units

_PERMISSION_NAMES = {0: "owner", 1: "withdraw", 2: "transfer", 4: "trade"}


# The roles of the contracts (OpenZeppelin AccessControl), by the id its errors carry.
_ROLE_NAMES = {
    "0x" + "00" * 32: "admin (DEFAULT_ADMIN_ROLE)",
    **{"0x" + Web3.keccak(text=name).hex().removeprefix("0x"): name for name in (
        "EXECUTOR_ROLE", "RISK_MANAGER_ROLE", "PAUSE_GUARDIAN_ROLE"
    )},
}  # fmt: skip


def explain(exc: TransactionReverted, deployment: Deployment, symbol: str | None = None) -> str:
    """A sentence for `exc` in the units of `deployment`, with the error's name; falls back to the decoded error."""
    return f"{exc.action} failed: {describe(exc.error, deployment, symbol)} [{exc.error.name}]"


def refusal(exc: ContractLogicError | Web3RPCError, deployment: Deployment) -> str:
    """A read that reverted or that the node refused, in the CLI's words: the decoded error's sentence and name, a
    call the EVM stopped (out of gas) as such, or what the node said (its words, not its JSON-RPC error object)."""
    data = revert_data(exc)
    if data is None:
        if isinstance(exc, Web3RPCError):
            return gas_words(exc) if call_failed(exc) else f"the node refused the request: {node_message(exc)}"
        return f"its contract failed: {exc.message or exc}"
    if not data:
        return "its contract reverted without giving a reason"
    error = error_decoder().decode(data)
    return f"{describe(error, deployment)} [{error.name}]"


def lender_withdraw_limit(asked: int, most: int, held: int, base: TokenInfo) -> str:
    """Why a lender cannot withdraw `asked` (base units) when at most `most` can be withdrawn now, naming the limit
    that binds: what the holder's shares are worth (`held`), or the pool's idle cash, the rest being lent out."""
    shown = {
        name: f"{format_exact(value, base.decimals)} {base.symbol}"
        for name, value in (("asked", asked), ("most", most), ("held", held))
    }
    if most >= held:
        return (
            f"your lender shares are worth {shown['held']}, less than the {shown['asked']} asked for: withdraw at "
            "most that (`all` takes every share)"
        )
    return (
        f"you can withdraw {shown['most']} now, less than the {shown['asked']} asked for: the rest is lent out to "
        f"borrowers until they repay or more is supplied (your shares are worth {shown['held']}) "
        "(`primevault lend show`)"
    )


def describe(error: DecodedError, deployment: Deployment, symbol: str | None = None) -> str:
    """A sentence for the contract error `error` in the units of `deployment` (amounts of `symbol`, or of the base
    asset); the decoded error itself when it has no sentence."""
    base = deployment.base
    token = deployment.token(symbol) if symbol else base

    def usd(key: str) -> str:
        return f"{format_units(int(error.args.get(key, 0)), base.decimals, 2)} {base.symbol}"

    def exact(key: str) -> str:
        # For a sentence that compares two amounts: to the cent, 599.999999 below 600.000001 read "600.00, below
        # 600.00", and a limit rounded up read as more than can be had.
        return f"{format_exact(int(error.args.get(key, 0)), base.decimals)} {base.symbol}"

    def amount(key: str) -> str:
        return f"{format_units(int(error.args.get(key, 0)), token.decimals)} {token.symbol}"

    def arg(key: str) -> Any:
        return error.args.get(key)

    def price(key: str) -> str:
        # Perp prices and sizes are 18-decimal fixed point (USD per unit, base units).
        return f"{format_units(int(error.args.get(key, 0)), 18, 2)} USD"

    def market(key: str) -> str:
        index = int(arg(key) or 0)
        markets = deployment.markets
        return markets[index].ticker if index < len(markets) else f"market {index}"

    def size(key: str) -> str:
        return format_units(int(arg(key) or 0), 18)  # base units, 18-decimal fixed point, exact

    def venue(key: str) -> str:
        # The devnet's deployment lists venues in the trading module's id order.
        index = int(arg(key) or 0)
        venues = deployment.venues
        return venues[index].name if index < len(venues) else f"venue {index}"

    def feed(key: str) -> str:
        # A feed by what it prices (one feed may price a collateral asset and a market), else by its address.
        address = str(arg(key)).lower()
        names = [t.symbol for t in (base, *deployment.collateral) if t.feed and t.feed.lower() == address]
        names += [m.ticker for m in deployment.markets if m.feed.lower() == address]
        return f"the {' / '.join(names)} price feed" if names else f"the price feed {arg(key)}"

    def role(key: str) -> str:
        value = arg(key)
        text = value.hex() if isinstance(value, bytes) else str(value)
        return _ROLE_NAMES.get("0x" + text.removeprefix("0x"), text)

    messages: dict[str, Callable[[], str]] = {
        "InsufficientEquity": lambda: (
            f"would make the account unhealthy: equity would be {exact('equity')}, below the "
            f"initial requirement of {exact('initialRequirement')}; deposit collateral or use a smaller amount"
        ),
        "PortfolioMarginNotSet": lambda: "this deployment has no portfolio rule yet (governance sets it)",
        "PortfolioModeWithOpenChildren": lambda: (
            f"{arg('account')} has orders routed to venues under the standard rule: switch to portfolio mode once "
            "they have filled or expired (`trade list`)"
        ),
        "PortfolioMarginUnmapped": lambda: (
            f"the account holds a {'market' if arg('isMarket') else 'collateral asset'} the portfolio rule does not "
            "cover yet: leave portfolio mode (`account portfolio off`) or ask governance to map it"
        ),
        "BorrowTooSmall": lambda: (
            f"the debt would be {exact('debt')}, below the minimum borrow of {exact('minBorrow')}: an account owes "
            f"nothing or at least that; borrow at least that much, or repay all of it (`account repay max`)"
        ),
        "NotAuthorized": lambda: (
            f"{arg('caller')} is not the owner of {arg('account')} nor an operator with the "
            f"{_PERMISSION_NAMES.get(arg('permission'), str(arg('permission')))} permission"
        ),
        "InsufficientCollateral": lambda: (
            f"the account holds {amount('balance')}, less than the {amount('requested')} asked for"
        ),
        "InsufficientLiquidity": lambda: (
            f"the vault has {exact('available')} free to lend, less than the {exact('requested')} asked for"
        ),
        "ERC20InsufficientBalance": lambda: (
            f"your wallet holds {amount('balance')}, less than the {amount('needed')} needed"
        ),
        # The vault's error does not say which limit binds (the holder's shares, or the pool's idle cash): `lend
        # withdraw` says it before sending (`lender_withdraw_limit`); a revert names both.
        "ERC4626ExceededMaxWithdraw": lambda: (
            f"you can withdraw {exact('max')} now, less than the {exact('assets')} asked for: the most of what your "
            "shares are worth and of what the pool holds idle, the rest of which is lent out to borrowers until they "
            "repay (`primevault lend show`)"
        ),
        "SessionMarketNotInScope": lambda: f"{market('market')} is not in this session key's scope",
        "SessionSubAccountNotInScope": lambda: f"sub-account {arg('subAccount')} is not in this session key's scope",
        "SessionOrderNotionalTooLarge": lambda: (
            f"the order's notional {price('notional')} is above the session's cap of {price('cap')} an order"
        ),
        "SessionTotalNotionalExceeded": lambda: (
            f"the session would reach {price('used')} of notional, above its total cap of {price('cap')}"
        ),
        "SessionExpired": lambda: "this session key has expired: ask the owner for a new grant",
        "SessionIsRevoked": lambda: "this session key was revoked by its owner",
        "SessionUnknown": lambda: f"{arg('key')} is not a session key: its owner must grant it first (`session grant`)",
        "SessionAlreadyGranted": lambda: (
            f"{arg('key')} already has a session (a key is granted once, even after its revocation): use another key"
        ),
        "SessionNonceUsed": lambda: f"nonce {arg('nonce')} of this key was used or cancelled: sign the order again",
        "SessionBadSignature": lambda: "the signature is not the session key's over this order",
        "SessionNotAccepted": lambda: (
            f"{arg('key')} has not accepted a grant from {arg('owner')}: the key signs its acceptance and the owner "
            "passes it on with the grant (`session accept OWNER`, then `session grant --accepted`)"
        ),
        "SessionSignatureExpired": lambda: "the signed order's deadline has passed: sign it again",
        "SessionNotOwner": lambda: (
            f"only the owner {arg('owner')} can revoke this session key or withdraw its relayer funds"
        ),
        "SessionRelayerFundsShort": lambda: (
            f"the key {arg('key')} has {exact('available')} of relayer funds, less than the "
            f"{exact('needed')} asked for; its owner adds to them (`session fund-relayer`)"
        ),
        "SessionBadScope": lambda: (
            "a session needs a key other than the zero address, sub-accounts, markets and an expiry in the future"
        ),
        "ERC4626ExceededMaxDeposit": lambda: (
            f"the lender vault takes at most {usd('max')} now: 0 while deposits are paused (try again later)"
        ),
        "AmountTooLarge": lambda: (
            f"{amount('amount')} is more than one action can move (at most {amount('max')}): use a smaller amount"
        ),
        "OrderOutOfRange": lambda: (
            "the order's size, limit price or deadline is beyond what an order can hold; check the units"
        ),
        "SupplyCapExceeded": lambda: (
            f"the deposit would take the total to {amount('totalAfter')}, above the cap of {amount('cap')}"
        ),
        "OracleStalePrice": lambda: f"{feed('feed')} is stale; try again once it updates",
        "OracleInvalidPrice": lambda: f"{feed('feed')} reports an invalid price ({arg('answer')})",
        "VenueBadPrice": lambda: (
            f"the venue cannot price it: {feed('feed')} is stale or invalid; try again once it updates"
        ),
        "VenueInsufficientMargin": lambda: (
            f"the vault's margin at the venue ({exact('netCollateral')}) is below the "
            f"{exact('initialMargin')} the trade needs there; the keeper tops venue margin up each "
            "cycle (`primevault keeper run`): try again after it has"
        ),
        "VenueReduceOnlyIncreases": lambda: "a reduce-only order would open or grow the venue's position",
        "VenueUnknownMarket": lambda: "the venue does not list this market",
        "VenueOrderExpired": lambda: (
            f"the venue's order expired at block {arg('goodTilBlock')} (now {arg('currentBlock')}); send it again"
        ),
        "VenueInsufficientLiquidity": lambda: (
            f"the venue can pay out only {exact('available')} now, less than the {exact('requested')} asked for"
        ),
        "UnknownError": lambda: (
            "a contract it reads reverted without giving a reason (a venue or feed not answering?)"
            if not arg("data")
            else str(error)
        ),
        "Paused": lambda: "this action is paused by the pause guardian",
        "ZeroAmount": lambda: "the amount must be greater than zero",
        "ZeroAddress": lambda: "the zero address (0x000...000) cannot be used here: give a real address",
        "NotSameOwner": lambda: "both sub-accounts must belong to the same owner",
        "SelfTransfer": lambda: "source and destination are the same sub-account",
        "OracleUnusable": lambda: "a price this account needs is stale or invalid; try again once the feed updates",
        "UnknownAsset": lambda: f"{arg('asset')} is not a listed collateral asset",
        "UnknownMarket": lambda: f"market {arg('market')} is not listed (`primevault quotes` lists the markets)",
        "InsufficientReserves": lambda: (
            f"the vault holds only {amount('available')} for sale, less than the {amount('requested')} asked for"
        ),
        "SlippageExceeded": lambda: (
            f"the purchase would give {amount('amountOut')}, less than your minimum of {amount('minAmountOut')}"
        ),
        "FeeOnTransferNotSupported": lambda: "the token delivered less than the amount sent; it is not supported",
        "OrderNotOpen": lambda: f"order {arg('orderId')} is not open (already executed, cancelled or unknown)",
        "OrderExpired": lambda: f"order {arg('orderId')} expired; submit a new one",
        "OrderCancelledByUser": lambda: f"order {arg('orderId')} was cancelled by its owner or operator",
        "OrderAuthorityRevoked": lambda: (
            f"order {arg('orderId')} died with its permission: the operator that placed it lost the trade "
            "permission, or the owner cancelled all orders"
        ),
        "InvalidSplit": lambda: f"the router's split of order {arg('orderId')} does not add up to its size",
        "LimitPriceExceeded": lambda: (
            f"the average fill price {price('averagePrice')} is worse than the limit {price('limitPrice')}; "
            "use a wider limit or a smaller size"
        ),
        "VenuePriceLimitExceeded": lambda: (
            f"the venue's fill price {price('averagePrice')} is worse than the limit {price('limitPrice')}; "
            "use a wider limit or a smaller size"
        ),
        "AccessControlUnauthorizedAccount": lambda: (
            f"{arg('account')} does not hold the {role('neededRole')} role this needs; the admin grants it"
        ),
        "ReduceOnlyIncreases": lambda: (
            f"reduce-only order {arg('orderId')} would open or grow a position at a venue; close where the "
            "position is held"
        ),
        "LiquidationOutOfGas": lambda: (
            "the liquidation ran out of gas inside an account's positions or the reserves' valuation; send it with a "
            "higher gas limit"
        ),
        "AsyncOrderReduceOnlyBeyondPosition": lambda: (
            f"reduce-only order {arg('orderId')} would close {size('size')} at {venue('venue')}, where the position, "
            "less what the account's other open reduce-only orders there may still close, is "
            f"{size('available')} on the other side; close at most that much"
        ),
        "PriceOutsideBand": lambda: (
            f"the limit {price('limitPrice')} is more than {int(arg('bandBps') or 0) / 100:g}% from the oracle "
            f"mark {price('mark')}"
        ),
        "BackstopTooSmall": lambda: "the backstop book holds less than the size to unwind",
        "OperatorPermitExpired": lambda: (
            f"the permit's deadline (unix time {arg('deadline')}) has passed; ask the owner to sign a new one"
        ),
        "OperatorPermitNonceInvalid": lambda: (
            f"the permit's nonce {arg('nonce')} is not {arg('owner')}'s next ({arg('expected')}): it was used or "
            "cancelled, or an earlier permit is still to be submitted"
        ),
        "OperatorPermitBadSignature": lambda: (
            f"the signature is not {arg('owner')}'s: the permit was changed after signing or signed by another key"
        ),
    }
    explained = messages.get(error.name)
    return explained() if explained else str(error)
