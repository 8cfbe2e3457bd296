"""The liquidation gas model: the defaults until a batch is measured, then the fit of the batches mined."""

from __future__ import annotations

import pytest

from keeper.risk.liquidation_gas import BATCH_OVERHEAD, MARGIN, LiquidationGasModel


def batch_gas(accounts: int, slots: int, per_account: int, per_slot: int) -> int:
    return BATCH_OVERHEAD + accounts * per_account + slots * per_slot


def test_defaults_until_a_batch_is_measured() -> None:
    model = LiquidationGasModel(40_000, 80_000)
    assert model.gas(0) == pytest.approx(MARGIN * 40_000, abs=1)
    assert model.gas(2) == pytest.approx(MARGIN * 200_000, abs=1)


def test_lending_batches_set_the_per_account_figure_and_keep_the_per_slot_one() -> None:
    model = LiquidationGasModel(45_000, 90_000)
    for accounts in (50, 20, 7):
        model.observe(accounts, 0, batch_gas(accounts, 0, 25_000, 0))
    assert model.per_account == pytest.approx(25_000)
    assert model.per_slot == 90_000, "nothing measured about slots yet"
    model.observe(10, 0, batch_gas(10, 0, 31_000, 0))
    assert model.per_account == pytest.approx(31_000), "the costliest recent batch per account, so batches fit"


def test_batches_with_positions_fit_both_figures() -> None:
    model = LiquidationGasModel()
    for accounts, slots in ((50, 0), (10, 40), (20, 10), (5, 20)):
        model.observe(accounts, slots, batch_gas(accounts, slots, 27_000, 82_000))
    assert model.per_account == pytest.approx(27_000, rel=1e-9)
    assert model.per_slot == pytest.approx(82_000, rel=1e-9)
    assert model.gas(4) == pytest.approx(MARGIN * (27_000 + 4 * 82_000), abs=1)


def test_an_empty_batch_teaches_nothing() -> None:
    model = LiquidationGasModel(45_000, 90_000)
    model.observe(0, 0, 60_000)
    assert (model.per_account, model.per_slot) == (45_000, 90_000)
