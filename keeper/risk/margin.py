"""How much margin to move to or from a venue: a floor, a target and a ceiling, as multiples of the initial margin the
venue asks for the vault's positions there, with a minimum kept at every venue."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MarginPolicy:
    floor: float  # top up below this multiple of the venue's requirement...
    target: float  # ...to this one; withdraw down to it...
    ceiling: float  # ...above this one
    minimum: int  # base-token units kept at every venue whatever the positions (the floor and target never go below)

    def move(self, need: int, net: int, pending: int) -> int:
        """Base-token units to deposit (positive) or withdraw (negative) at a venue whose positions need `need` of
        initial margin, holding `net` with `pending` already on its way out. Only margin at the venue backs positions,
        so a pending withdrawal never counts toward the floor; it counts against the ceiling (it is leaving). A
        withdrawal takes the margin down to the target, never to the floor, since it may take a delay to land."""
        floor = max(int(need * self.floor), self.minimum)
        target = max(int(need * self.target), self.minimum)
        ceiling = max(int(need * self.ceiling), self.minimum * 2)
        if net < floor:
            return target - net
        if net + pending > ceiling and net > target:
            return -min(net + pending - target, net - target)
        return 0
