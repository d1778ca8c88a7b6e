"""Speed of the trainers on the course setup, in µs per run-iteration (one replica, one step).

Trainers: the course's own loop (tests/course_reference.py, K = 1), the NumPy reference
``initlab.trainer.fit`` (K stacked replicas), and ``initlab.fastpath.fit_fast`` in float64 and
float32 on 1 and 2 threads. Each figure is the best of ``--repeats`` runs of ``--iterations``
steps, timed with time.perf_counter. Then the JIT's first-call cost, cold (empty cache) and
cached, measured in fresh interpreters against a throwaway NUMBA_CACHE_DIR.

    .venv/bin/python bench/fastpath_probe.py [--iterations 2000] [--repeats 3] [--ks 1 4 40 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from initlab.activations import make_activation
from initlab.config import CirclesDataset, HeInit, ReluActivation
from initlab.datasets import load_dataset
from initlab.fastpath import fit_fast
from initlab.initializers import init_replicas
from initlab.seeding import course_rng
from initlab.trainer import fit

DIMS = [2, 10, 5, 1]
ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: import, then one short fit per dtype; prints three timings.
FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from initlab.fastpath import fit_fast
from initlab.config import HeInit
from initlab.initializers import init_layers
from initlab.seeding import course_rng
t1 = time.perf_counter()
params = init_layers(HeInit(), [2, 10, 5, 1], course_rng(3))
X = np.random.default_rng(0).standard_normal((2, 300))
Y = (X[:1] > 0).astype(float)
times = [t1 - t0]
for dtype in (np.float64, np.float32):
    t = time.perf_counter()
    fit_fast(params, X, Y, "relu", lr=0.01, iterations=2, log_every=1, dtype=dtype)
    times.append(time.perf_counter() - t)
print(*times)
"""


def best_time(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def course_loop_us(data, iterations: int, repeats: int) -> float:
    """The course's script (one run), for the "naive loop" baseline."""
    sys.path.insert(0, str(ROOT / "tests"))
    import course_reference as course

    saved = np.random.get_state()
    try:
        seconds = best_time(
            lambda: course.model(data.X_train, data.Y_train, "he", num_iterations=iterations),
            repeats,
        )
    finally:
        np.random.set_state(saved)
    return seconds / iterations * 1e6


def probe_speed(data, ks: list[int], iterations: int, repeats: int) -> None:
    act = make_activation(ReluActivation())
    kwargs = dict(lr=0.01, iterations=iterations, log_every=1000)
    X, Y = data.X_train, data.Y_train
    print(f"course script, K=1: {course_loop_us(data, iterations, repeats):8.2f} µs/run-iter")
    print(f"{'K':>4} {'trainer':>16} {'threads':>7} {'µs/run-iter':>12}")
    for K in ks:
        params = init_replicas([HeInit()] * K, DIMS, [course_rng(seed) for seed in range(K)])
        seconds = best_time(lambda p=params: fit(p, X, Y, act, **kwargs), repeats)
        print(f"{K:>4} {'numpy fit':>16} {'-':>7} {seconds / iterations / K * 1e6:12.2f}")
        for dtype in (np.float64, np.float32):
            # warm-up: compiles or loads the kernel for this dtype
            fit_fast(params, X, Y, "relu", lr=0.01, iterations=1, log_every=1, dtype=dtype)
            for threads in (1, 2):
                seconds = best_time(
                    lambda p=params, d=dtype, t=threads: fit_fast(
                        p, X, Y, "relu", dtype=d, threads=t, **kwargs
                    ),
                    repeats,
                )
                name = f"fit_fast {np.dtype(dtype).name}"
                print(f"{K:>4} {name:>16} {threads:>7} {seconds / iterations / K * 1e6:12.2f}")


def probe_first_call() -> None:
    """Cold: an empty cache (compiles); cached: the same cache again (loads)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold", "cached"):
            out = subprocess.run(
                [sys.executable, "-c", FIRST_CALL],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            imp, f64, f32 = (float(x) for x in out)
            print(
                f"{label:>6}: import {imp:5.2f} s, first call float64 {f64:6.2f} s, "
                f"float32 {f32:6.2f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 4, 40, 100])
    parser.add_argument("--skip-compile", action="store_true", help="skip the JIT timing")
    args = parser.parse_args()
    data = load_dataset(CirclesDataset())
    probe_speed(data, args.ks, args.iterations, args.repeats)
    if not args.skip_compile:
        probe_first_call()


if __name__ == "__main__":
    main()
