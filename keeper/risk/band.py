"""The price band the trading module holds prices to around the oracle mark: pure arithmetic, no I/O.

The contract refuses a backstop unwind's limit, a child order's limit and a live fill's price more than
`BACKSTOP_PRICE_BAND_BPS` (5%) from the mark. The keeper keeps half a percent of it for the mark to move between
its read and the block.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

PRICE_BAND = Decimal("0.045")
_WAD_QUANTUM = Decimal(1).scaleb(-18)


def band_limit(mark: Decimal, side: int) -> Decimal:
    """The worst price the band lets a trade go to: above the mark when buying (`side` > 0), below when selling,
    rounded toward the mark onto the contract's 18 decimals."""
    if side > 0:
        return (mark * (1 + PRICE_BAND)).quantize(_WAD_QUANTUM, rounding=ROUND_FLOOR)
    return (mark * (1 - PRICE_BAND)).quantize(_WAD_QUANTUM, rounding=ROUND_CEILING)


def child_limit(order_limit: Decimal, mark: Decimal, side: int) -> Decimal:
    """A child order's limit: its order's, or the band's edge where the order's lies past it. A child may be
    tighter than its order, and a fill past the band is never the account's (the contract refuses it, and the
    backstop book takes it once the child is rejected), so a wider limit would only trade at the protocol's cost."""
    edge = band_limit(mark, side)
    return min(order_limit, edge) if side > 0 else max(order_limit, edge)
