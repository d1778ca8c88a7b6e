"""Training the next units of a sweep in a process of its own while this one records.

A sweep's time outside training is one process's Python: Hydra's per-job work and MLflow's
writes. Training runs on every core, recording on one; run one after the other, a core
waits during each recording. Here a trainer process (forked, so it starts with what this
one has loaded) trains the sweep's units in order, a couple ahead of the one being
recorded, so recording job k overlaps training unit k+1 (two processes: no shared GIL).

Training has no side effect outside the process, so the trainer can be killed at any time:
on Ctrl-C, or when the sweep ends early. A unit the trainer could not train (an error, the
trainer killed by the system) comes back as ``None``: its jobs train themselves, in this
process, and fail there the ordinary way if they must.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from initlab.config import Config
    from initlab.experiment import Trained

log = logging.getLogger(__name__)

# Units trained ahead of the one being recorded: one training, one queued. More would only
# hold more results in memory (deep nets' snapshots are megabytes a replica).
LOOKAHEAD = 2


def available() -> bool:
    """Whether a trainer process can help: two cores or more, and fork (it starts with the
    compiled kernels and the data this process has; spawn would import everything again)."""
    return (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()


def train_unit(batch: list[Config]) -> list[Trained]:
    """Train one unit's jobs as one stacked computation (here, or in the trainer process)."""
    from initlab.experiment import train_batch

    return train_batch(batch, label="batch")


class TrainingAhead:
    """Trains ``units`` (each a list of job settings that stack) in order in a trainer
    process, at most LOOKAHEAD ahead of what :meth:`result` has been asked for."""

    def __init__(self, units: Sequence[list[Config]]) -> None:
        from initlab.render import worker_initializer

        self._units = list(units)
        self._futures: dict[int, Future] = {}
        context = multiprocessing.get_context("fork")
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=worker_initializer
        )
        # Before Python joins the pool's threads at exit (which would wait for the unit in
        # training): whatever path the sweep ends by, the trainer is stopped first.
        threading._register_atexit(self.stop)
        self._submit_through(LOOKAHEAD - 1)

    def _submit_through(self, last: int) -> None:
        for index in range(min(last, len(self._units) - 1) + 1):
            if index not in self._futures and self._pool is not None and self._units[index]:
                self._futures[index] = self._pool.submit(train_unit, self._units[index])

    def result(self, index: int) -> list[Trained] | None:
        """Unit ``index``'s results (waiting for them), or None if it could not be trained."""
        self._submit_through(index + LOOKAHEAD)
        future = self._futures.get(index)
        if future is None:  # stopped already
            return None
        try:
            return future.result()
        except Exception as exc:  # the unit's jobs train themselves (and may fail) instead
            log.warning(
                "Training ahead of unit %d failed (%s); its jobs train themselves", index, exc
            )
            return None
        finally:
            self._futures[index] = _DONE

    def stop(self) -> None:
        """Stop the trainer now, whatever it is doing (it has nothing to save)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # it ignores SIGINT/SIGTERM, as the figure workers do
            if process.is_alive():
                process.kill()
        for process in processes:
            process.join(timeout=5)


_DONE: Future = Future()
_DONE.set_result(None)
