"""Splitting a reduce-only order over the venues where the positions it reduces are held. Pure, no I/O."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal


def reducible(position: Decimal, step: Decimal, size: Decimal) -> Decimal:
    """How much of a signed `position` an order of signed `size` may close at a venue whose size step is `step`: the
    position on the order's other side rounded up onto the step (the contract holds a reduce-only child to that, so
    that a position off the step closes), none on its side."""
    held = max(-position if size > 0 else position, Decimal(0))
    return (held / step).to_integral_value(rounding=ROUND_CEILING) * step if step > 0 else held


def reduce_only_split(size: Decimal, held: list[tuple[int, Decimal, Decimal]]) -> list[tuple[int, Decimal]]:
    """A reduce-only order of signed `size` over venues given as (venue, signed position, size step): each venue's
    child at most what it may close there (`reducible`), the largest first. What the positions cannot take goes to
    the first child anyway, so that the contract's refusal (`AsyncOrderReduceOnlyBeyondPosition`) cancels the order
    with its reason."""
    room = sorted(((v, reducible(p, step, size)) for v, p, step in held), key=lambda vr: -vr[1])
    left = abs(size)
    split: list[tuple[int, Decimal]] = []
    for venue, available in room:
        take = min(left, available)
        if take > 0:
            split.append((venue, take))
            left -= take
    if not split:
        return [(room[0][0], abs(size))]
    if left > 0:
        split[0] = (split[0][0], split[0][1] + left)
    return split
