"""Training ahead in a trainer process (initlab.ahead, via batching.pretrain): the results are
those trained here, a trainer that dies leaves its jobs to train themselves, and stopping it
ends it at once."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pytest

from initlab import ahead, batching
from initlab.config import job_config, to_settings
from initlab.experiment import train_batch

pytestmark = pytest.mark.skipif(not ahead.available(), reason="needs fork and two cores")

# Two activations' groups of two init schemes, interleaved in sweep order.
JOBS = [
    [f"init={init}", f"activation={act}", "trainer.iterations=200", "trainer.log_every=50"]
    for init in ("he", "xavier")
    for act in ("relu", "tanh")
]


@pytest.fixture
def configs(compose_cfg):
    yield [compose_cfg(*overrides) for overrides in JOBS]
    batching.clear()


def test_units_train_ahead_and_jobs_run_unit_by_unit(configs):
    order = batching.pretrain(configs)
    # relu's group (jobs 0 and 2), then tanh's (1 and 3): each unit's jobs in sweep order.
    assert order == [0, 2, 1, 3]
    here = {}
    for act in ("relu", "tanh"):
        members = [i for i in range(4) if f"activation={act}" in JOBS[i]]
        settings = [to_settings(job_config(configs[i])) for i in members]
        here |= dict(zip(members, train_batch(settings), strict=True))
    for i in order:
        ready = batching.claim(job_config(configs[i]))
        assert ready is not None, f"job {i} was not trained ahead"
        mine, theirs = ready.result, here[i]
        assert mine.settings == theirs.settings
        assert np.array_equal(mine.history.costs, theirs.history.costs)  # bit for bit
        assert np.array_equal(mine.history.final_cost, theirs.history.final_cost)
        for a, b in zip(mine.params.weights, theirs.params.weights, strict=True):
            assert np.array_equal(a, b)
        assert np.array_equal(mine.test_accuracy, theirs.test_accuracy)
        assert batching.claim(job_config(configs[i])) is None  # handed out once


def test_a_single_unit_trains_here_in_sweep_order(compose_cfg):
    configs = [compose_cfg(f"init={i}", "trainer.iterations=50") for i in ("he", "xavier")]
    try:
        assert batching.pretrain(configs) == [0, 1]
        assert batching._ahead is None  # nothing to overlap: no trainer process
        assert batching.claim(job_config(configs[1])) is not None
    finally:
        batching.clear()


def _die(batch):
    os._exit(3)  # as the kernel's OOM killer would leave it: no exception, no result


def test_a_trainer_that_dies_leaves_its_jobs_to_train_themselves(configs, monkeypatch, caplog):
    monkeypatch.setattr(ahead, "train_unit", _die)
    order = batching.pretrain(configs)
    with caplog.at_level(logging.WARNING, logger="initlab.ahead"):
        claimed = [batching.claim(job_config(configs[i])) for i in order]
    assert claimed == [None] * 4
    assert "its jobs train themselves" in caplog.text


def _sleep(batch):
    time.sleep(120)


def test_stopping_ends_the_trainer_at_once(monkeypatch):
    monkeypatch.setattr(ahead, "train_unit", _sleep)
    trainer = ahead.TrainingAhead([["unit 0"], ["unit 1"]])
    processes = []
    deadline = time.monotonic() + 30
    while not processes and time.monotonic() < deadline:
        processes = list((trainer._pool._processes or {}).values())
        time.sleep(0.05)
    assert processes, "the trainer process never started"
    started = time.monotonic()
    trainer.stop()
    assert not any(p.is_alive() for p in processes)
    assert time.monotonic() - started < 10
    assert trainer.result(0) is None  # stopped: nothing to wait for


def test_the_last_unit_trains_in_pieces():
    """About PIECES pieces a sweep, never fewer than PIECE_MIN_JOBS jobs a piece."""
    group, lone = list(range(20)), [20]
    assert batching._in_pieces([lone, group], 21) == [lone, group[:8], group[8:16], group[16:]]
    assert batching._in_pieces([group, lone], 21) == [group, lone]
    big = [list(range(0, 66)), list(range(66, 132)), list(range(132, 198))]
    pieces = batching._in_pieces(big, 198)
    assert [len(p) for p in pieces] == [66, 66, 17, 17, 17, 15]
    assert [i for p in pieces for i in p] == list(range(198))


def test_equal_jobs_in_different_pieces_each_get_a_result(compose_cfg, monkeypatch):
    monkeypatch.setattr(batching, "PIECE_MIN_JOBS", 2)
    same = ["init=he", "trainer.iterations=50"]
    configs = [compose_cfg("init=he", "seed=7")] + [compose_cfg(*same) for _ in range(4)]
    try:
        order = batching.pretrain(configs)
        assert batching._ahead is not None
        claimed = [batching.claim(job_config(configs[i])) for i in order]
        assert all(ready is not None for ready in claimed)
        assert len({id(ready) for ready in claimed}) == 5
    finally:
        batching.clear()
