"""How much gas one account takes in a liquidation batch, learnt from the batches the keeper sends: a least-squares
fit of each mined batch's gas over its accounts and their open perp slots, with a margin, so that batches sized to
the gas budget fill blocks on the chain the keeper runs on, not on a figure measured elsewhere. Pure: no I/O."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

# Before any batch is measured: a partial liquidation of a lending account costs 24,640 gas in a batch of 50 beyond
# what the batch itself costs (the gas snapshot, snapshots/PrimeVault.json: 1,266,398 for 50 accounts, 34,560 for
# none; the benchmark's wave on anvil measures it with the batch's own cost included, bench/RESULTS.md), and
# moving a position to the backstop book adds about 80,000 per open (market, venue) slot (anvil: 10 accounts with 4
# slots each, 353,000 per account).
DEFAULT_PER_ACCOUNT = 24_640
DEFAULT_PER_SLOT = 90_000
# What a batch costs besides its accounts: 21,000 intrinsic and about 34,000 of dispatch (an empty batch). The fit
# takes this much off each mined batch, so the rest of a batch's own cost (its first reads of feeds and configs, its
# totals, reward and write-off) is spread over its accounts as measured. A batch's gas limit adds the larger
# `keeper.liquidator.LIQUIDATION_GAS_BASE` instead: a limit must hold that rest whole even in a batch of one, and
# the interest accrual a simulation may not see.
BATCH_OVERHEAD = 55_000
# A batch sized from the fit still fits its limit when its accounts cost a little more than the recent ones. Small,
# because a lending batch is simulated at that limit before it is sent (one that does not fit is estimated and sent
# anyway) and every unit of it is block space lost: a block takes the next transaction only if its whole limit fits
# in what is left: with 1.10 a 30,000,000-gas block held 867 liquidations of the 1,032 its gas paid for, with 1.03
# it held 1,011 of 1,061 (it holds 1,164 of 1,245 now that an account costs 24,093 in the wave).
MARGIN = 1.03
OBSERVATIONS = 64


class LiquidationGasModel:
    """Per-account and per-slot gas, the defaults until batches are observed, then fitted to the last
    `OBSERVATIONS` batches (the per-slot figure only once a batch held positions)."""

    def __init__(self, per_account: float = DEFAULT_PER_ACCOUNT, per_slot: float = DEFAULT_PER_SLOT) -> None:
        self.per_account = float(per_account)
        self.per_slot = float(per_slot)
        self._observed: deque[tuple[int, int, int]] = deque(maxlen=OBSERVATIONS)

    def gas(self, open_slots: int = 0) -> int:
        """Gas to budget for one account with `open_slots` open perp slots."""
        return math.ceil(MARGIN * (self.per_account + self.per_slot * open_slots))

    def observe(self, accounts: int, open_slots: int, gas_used: int) -> None:
        """One mined batch of `accounts` accounts holding `open_slots` open slots in all, which used `gas_used`."""
        if accounts <= 0:
            return
        self._observed.append((accounts, open_slots, gas_used))
        rows = np.array(self._observed, dtype=np.float64)
        work = np.maximum(rows[:, 2] - BATCH_OVERHEAD, 0.0)
        if np.any(rows[:, 1] > 0) and np.linalg.matrix_rank(rows[:, :2]) == 2:
            (per_account, per_slot), *_ = np.linalg.lstsq(rows[:, :2], work, rcond=None)
            if per_account > 0 and per_slot > 0:
                self.per_account, self.per_slot = float(per_account), float(per_slot)
                return
        # Lending batches alone (or a fit that says nothing sensible): the per-slot figure stays, and the
        # per-account one is what is left of each batch's gas per account, at its largest.
        self.per_account = max(1.0, float(np.max((work - self.per_slot * rows[:, 1]) / rows[:, 0])))
