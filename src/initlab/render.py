"""Figures drawn in worker processes while the run's metrics are being logged.

A figure is described by a picklable spec, ``(name of a plots function, its arguments)``,
and drawn to PNG bytes by a small process pool (forked, so workers start with what the
parent has loaded). Drawing a run's four figures takes longer than logging its metrics, and
both cores are there: the figures cost a run little more than the wait for the last one.
Where fork is unavailable, or with one core, figures are drawn in-process.
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.util
import os
import signal
import tempfile
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

FigureSpec = tuple[str, dict[str, Any]]

_pool: Executor | None = None
PARENT_POLL_SECONDS = 0.5  # how often a worker checks that the job's process is still there


def draw(spec: FigureSpec) -> bytes:
    """Render one figure to PNG bytes (runs in a worker)."""
    from initlab import plots
    from initlab.network import probabilities

    name, kwargs = spec
    kwargs = dict(kwargs)
    # Networks travel as parameters + activation; the figures get their P(class 1) functions.
    if name == "decision_boundary_figure":
        params, act = kwargs.pop("params"), kwargs.pop("act")
        kwargs["probability"] = lambda X: probabilities(params, X, act)[0, 0]
    elif name == "boundary_evolution_figure":
        act = kwargs.pop("act")
        kwargs["snapshots"] = [
            (i, lambda X, p=params: probabilities(p, X, act)[0, 0])
            for i, params in kwargs["snapshots"]
        ]
    figure = getattr(plots, name)(**kwargs)
    buffer = io.BytesIO()
    figure.savefig(buffer, **plots.SAVE_KWARGS)
    return buffer.getvalue()


class _Inline(Executor):
    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def _executor() -> Executor:
    global _pool
    if _pool is None:
        workers = min(2, os.cpu_count() or 1)
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            _pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=worker_initializer
            )
            # Not atexit: a process that ends as a multiprocessing worker (a joblib job's
            # loky worker) skips atexit, and its exit would wait for these workers forever.
            # Multiprocessing's finalizers run in both cases, this one before its queues close.
            multiprocessing.util.Finalize(None, shutdown, exitpriority=20)
        else:
            _pool = _Inline()
    return _pool


def worker_initializer() -> None:
    """For a worker process (figures, training ahead) that holds nothing to save. Ctrl-C (and
    a SIGTERM or SIGHUP sent to the process group) reaches every process: the job's process
    handles it (its runs end KILLED, one line each); the workers just stop when it shuts
    them down, without a traceback each. (They also end, within a second, when
    the job's process dies without shutting them down.)"""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once the job's process is gone (SIGKILL, a crash): forked workers
    share the pipes' ends, so their task queue never closes and they would wait forever."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


def shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


def _import_plotting() -> None:
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401


def warm_up() -> None:
    """Start the workers and their matplotlib import now, to overlap with training."""
    executor = _executor()
    for _ in range(min(2, os.cpu_count() or 1)):
        executor.submit(_import_plotting)


def ready(data: bytes) -> Future:
    """Bytes already made (not a figure), to upload with the figures."""
    future: Future = Future()
    future.set_result(data)
    return future


def submit(figures: dict[str, FigureSpec]) -> dict[str, Future]:
    """Start drawing every figure; artifact path -> future PNG bytes."""
    executor = _executor()
    return {artifact: executor.submit(draw, spec) for artifact, spec in figures.items()}


def log_drawn(client: Any, run_id: str, drawn: dict[str, Future]) -> None:
    """Wait for the figures and log them as the run's artifacts, in one upload."""
    if not drawn:
        return
    with tempfile.TemporaryDirectory(prefix="initlab-figures-") as tmp:
        for artifact, future in drawn.items():
            path = Path(tmp, artifact)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(future.result())
        client.log_artifacts(run_id, tmp)
