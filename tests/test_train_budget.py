"""Fitting the MPTP schedule into a time budget: running time, longest fitting schedule, the
shortened config."""

from __future__ import annotations

from pathlib import Path

import pytest

from critnet.train.budget import block_count, fit_epochs, schedule_seconds, shortened
from critnet.train.config import load_config

PAPER = load_config(Path(__file__).parents[1] / "configs" / "paper.yaml")
RATES = {"M1": 40.0, "S": 25.0, "M2": 20.0}  # steps per second


def test_schedule_seconds_sums_each_block_at_its_phase_rate():
    # paper: blocks of 200 epochs x 22 steps = 4400 steps: M1, S, M2, S, M2
    assert schedule_seconds(1000, 5, 22, RATES) == pytest.approx(
        4400 / 40 + 2 * 4400 / 25 + 2 * 4400 / 20)
    with pytest.raises(ValueError, match="multiple of the 5 blocks"):
        schedule_seconds(1001, 5, 22, RATES)


def test_full_schedule_when_it_fits_else_the_longest_that_fits():
    full = schedule_seconds(1000, 5, 22, RATES)
    assert fit_epochs(RATES, full, 22) == 1000
    assert fit_epochs(RATES, 10 * full, 22) == 1000  # never longer than the paper's
    fitted = fit_epochs(RATES, 0.4 * full, 22)
    assert fitted == 400 and schedule_seconds(fitted, 5, 22, RATES) <= 0.4 * full
    just_under = fit_epochs(RATES, 0.4 * full - 1e-6, 22)
    assert just_under == 395 and just_under % 5 == 0
    assert fit_epochs(RATES, 1.0, 22) == 0  # not even one epoch per block


def test_shortened_config_keeps_the_five_blocks_and_says_so_in_its_name():
    assert block_count(PAPER) == 5
    assert shortened(PAPER, 1000) is PAPER
    short = shortened(PAPER, 400)
    assert short.name == "paper_e400"
    assert (short.schedule.epochs, short.schedule.phase_len) == (400, 80)
    assert short.schedule.fuse_init == PAPER.schedule.fuse_init == "random"
    assert short.model == PAPER.model and short.loss == PAPER.loss
    with pytest.raises(ValueError, match="multiple of 5"):
        shortened(PAPER, 402)
