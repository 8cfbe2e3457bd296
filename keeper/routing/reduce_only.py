"""Splitting a reduce-only order over the venues where the positions it reduces are held. Pure, no I/O."""

from __future__ import annotations

from decimal import Decimal


def reduce_only_split(size: Decimal, held: list[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """A reduce-only order of signed `size` over the seats where the account holds signed positions `held`: each
    seat's child at most the position it reduces there, the largest first, as the contract holds each child to the
    position at its venue. What the positions cannot take goes to the first child anyway, so that the contract's
    refusal (`AsyncOrderReduceOnlyBeyondPosition`) cancels the order with its reason."""
    reducible = sorted(((v, max(-p if size > 0 else p, Decimal(0))) for v, p in held), key=lambda vp: -vp[1])
    left = abs(size)
    split: list[tuple[int, Decimal]] = []
    for venue, available in reducible:
        take = min(left, available)
        if take > 0:
            split.append((venue, take))
            left -= take
    if not split:
        return [(reducible[0][0], abs(size))]
    if left > 0:
        split[0] = (split[0][0], split[0][1] + left)
    return split
