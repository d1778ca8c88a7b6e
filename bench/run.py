"""initlab's benchmark (issue 5): the trainer against the course's loop, and the CLI end to end.

    python bench/run.py            # progress on stderr, a table on stdout
    python bench/run.py --json     # only one JSON object on stdout
    python bench/run.py --quick    # one repetition of the end-to-end measurements

Every number is the minimum over repetitions, all measured in this one invocation. See
bench/README.md for what each number means and how it is measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from initlab.activations import make_activation
from initlab.config import CirclesDataset, HeInit, ReluActivation
from initlab.datasets import load_dataset
from initlab.initializers import init_replicas
from initlab.network import Params
from initlab.seeding import course_rng
from initlab.trainer import fit
from sweep import SWEEP, measure_sweep

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
TRAIN = PROJECT_ROOT / "src" / "train.py"
NAIVE = BENCH_DIR / "naive.py"

GRID = "init=zeros,random,he,xavier"  # the signature command's sweep
LR, LOG_EVERY, SEED = 0.01, 100, 3  # the course's trainer and weight seed (conf/ defaults)
COURSE_HIDDEN = [10, 5]
BIG_HIDDEN, BIG_REPLICAS, BIG_SAMPLES, BIG_ITERATIONS = [100] * 50, 10, 1000, 3
# A whole tracked run of a deep, wide ReLU net (figures included): model=deep_wide is 30 × 256.
DEEP_WIDE_RUN = ["model=deep_wide", "trainer.iterations=50", "trainer.log_every=10"]
# The optimizers' cost per run-iteration: every trainer option's rule on the course net.
OPTIMIZERS = {  # name -> (rule arguments, batch size)
    "gd": ({"kind": "gd", "lr": LR}, 0),
    "sgd": ({"kind": "gd", "lr": 0.05}, 64),
    "momentum": ({"kind": "momentum", "lr": 0.05}, 64),
    "adam": ({"kind": "adam", "lr": 0.005}, 64),
}
FAST_RTOL = 1e-6  # a fast engine is valid if its final costs match fit's to this

# (result key, comparison, target): printed as PASS/FAIL, never asserted.
CHECKS = (
    ("single_speedup", ">=", 2.0),
    ("batched_speedup", ">=", 10.0),
    ("grid_ratio", "<=", 1.25),
    ("logging_fraction", "<", 0.10),
    ("peak_rss_mb_course_replicas", "<", 200.0),
    ("peak_rss_mb_big_net", "<", 2048.0),
    ("peak_rss_mb_deep_wide_run", "<", 1024.0),
    ("tracked_over_untracked", "<=", 1.3),
    ("untracked_over_train", "<=", 1.3),
)
MIN_BATCHED_REPLICAS = 40  # the batched target is stated for at least this many replicas


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- training engines ----------------------------------------------------------------------

RELU = make_activation(ReluActivation())


@dataclass(frozen=True)
class Engine:
    """A trainer with fit's contract: (params, X, Y, iterations) -> (params, History)."""

    name: str
    train: Callable[[Params, np.ndarray, np.ndarray, int], tuple[Params, Any]]


def numpy_engine() -> Engine:
    """The reference: trainer.engine=numpy (the course's arithmetic)."""

    def train(params, X, Y, iterations):
        return fit(params, X, Y, RELU, lr=LR, iterations=iterations, log_every=LOG_EVERY)

    return Engine("numpy", train)


def fast_engine() -> tuple[Engine | None, str]:
    """trainer.engine=numba, the default where numba is installed (what `train.py` runs)."""
    from initlab import fastpath

    if not fastpath.available():
        return None, "numba is not installed"

    def train(params, X, Y, iterations):
        return fit(
            params, X, Y, RELU, lr=LR, iterations=iterations, log_every=LOG_EVERY, engine="numba"
        )

    return Engine("numba", train), "available"


def engine_named(name: str) -> Engine:
    if name == "numpy":
        return numpy_engine()
    engine, reason = fast_engine()
    if engine is None:
        raise RuntimeError(reason)
    return engine


# --- the course problem --------------------------------------------------------------------


def course_data(n_train: int = 300) -> tuple[np.ndarray, np.ndarray]:
    data = load_dataset(CirclesDataset(n_train=n_train))
    return data.X_train, data.Y_train


def he_replicas(replicas: int, hidden: list[int], n_features: int = 2) -> Params:
    """He-initialized replicas, replica k drawn from the course's generator seeded SEED + k."""
    dims = [n_features, *hidden, 1]
    rngs = [course_rng(SEED + k) for k in range(replicas)]
    return init_replicas([HeInit()] * replicas, dims, rngs, RELU)


# --- per-iteration timings (in this process) -----------------------------------------------


def elapsed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def fastest(contenders: dict[str, Callable[[], float]], reps: int) -> dict[str, float]:
    """Minimum seconds of each contender over ``reps`` rounds, interleaved so drift hits all."""
    best = dict.fromkeys(contenders, math.inf)
    for _ in range(reps):
        for name, run in contenders.items():
            best[name] = min(best[name], run())
    return best


def validate(engine: Engine, reference: Any, params: Params, X, Y, iterations: int) -> dict:
    """Run ``engine`` once (its warm-up too) and compare its final costs with fit's."""
    try:
        _, history = engine.train(params, X, Y, iterations)
        final = np.asarray(history.final_cost, dtype=np.float64)
        costs_shape = np.shape(history.costs)
    except Exception as error:
        return {"ran": False, "valid": False, "reason": f"raised {error!r}"}
    expected = np.asarray(reference.final_cost, dtype=np.float64)
    if final.shape != expected.shape or costs_shape != np.shape(reference.costs):
        return {"ran": True, "valid": False, "reason": "History shapes differ from fit's"}
    rel = float(np.max(np.abs(final - expected) / np.maximum(np.abs(expected), 1e-300)))
    valid = bool(np.all(np.isfinite(final)) and rel <= FAST_RTOL)
    reason = "final costs match fit's" if valid else f"final costs differ from fit's by {rel:.2g}"
    return {"ran": True, "valid": valid, "max_rel_diff_final_cost": rel, "reason": reason}


def measure_engines(iterations: int, replicas: int, reps: int) -> tuple[float, dict]:
    """naive µs/iteration, and per engine: µs/iteration (single), µs/run-iteration (batched)."""
    import naive  # here, not at the top: it imports matplotlib, which the memory probes skip

    X, Y = course_data()
    cases = {"single": 1, "batched": replicas}
    params = {case: he_replicas(k, COURSE_HIDDEN) for case, k in cases.items()}
    engines: dict[str, dict] = {}
    candidates = [numpy_engine()]
    fast, reason = fast_engine()
    if fast is None:
        engines["numba"] = {"available": False, "reason": reason}
    else:
        candidates.append(fast)

    progress(f"reference runs of fit ({iterations} iterations, 1 and {replicas} replicas)")
    reference = {case: candidates[0].train(p, X, Y, iterations)[1] for case, p in params.items()}
    contenders: dict[str, Callable[[], float]] = {
        "naive": lambda: naive.seconds_per_iteration(iterations) * iterations
    }
    for engine in candidates:
        progress(f"warming up and checking {engine.name} against fit")
        checks = {
            case: validate(engine, reference[case], p, X, Y, iterations)
            for case, p in params.items()
        }
        engines[engine.name] = {
            "available": True,
            "valid": all(c["valid"] for c in checks.values()),
            "checks": checks,
        }
        if all(c["ran"] for c in checks.values()):
            for case, p in params.items():
                contenders[f"{engine.name}/{case}"] = partial(
                    elapsed, partial(engine.train, p, X, Y, iterations)
                )

    progress(f"timing {', '.join(contenders)}: {reps} rounds of {iterations} iterations")
    best = fastest(contenders, reps)
    for engine in candidates:
        if f"{engine.name}/single" in best:
            per_run_iteration = {
                case: best[f"{engine.name}/{case}"] / (iterations * k) * 1e6
                for case, k in cases.items()
            }
            engines[engine.name]["single_us_per_iter"] = per_run_iteration["single"]
            engines[engine.name]["batched_us_per_run_iter"] = per_run_iteration["batched"]
    return best["naive"] / iterations * 1e6, engines


def headline(engines: dict, key: str) -> tuple[float, str]:
    """The fastest valid engine's value of ``key`` (fit is always valid: it is the reference)."""
    timed = {name: e[key] for name, e in engines.items() if e.get("valid") and key in e}
    name = min(timed, key=timed.__getitem__)
    return timed[name], name


def measure_optimizers(iterations: int, replicas: int, reps: int) -> dict[str, dict]:
    """µs per iteration of one replica and per run-iteration of ``replicas`` stacked ones,
    for every optimizer (conf/trainer/: gd full batch, the others on batches of 64)."""
    from initlab.optimizers import UpdateRule

    X, Y = course_data()
    results: dict[str, dict] = {}
    engine = "numba" if fast_engine()[0] is not None else "numpy"
    contenders: dict[str, Callable[[], float]] = {}
    for name, (rule_args, batch) in OPTIMIZERS.items():
        for case, k in (("single", 1), ("batched", replicas)):
            params = he_replicas(k, COURSE_HIDDEN)
            run = partial(
                fit, params, X, Y, RELU, rule=UpdateRule(**rule_args), iterations=iterations,
                log_every=LOG_EVERY, batch_size=batch, engine=engine,
            )  # fmt: skip
            run()  # warm-up (compiles the kernels the first time)
            contenders[f"{name}/{case}"] = partial(elapsed, run)
    progress(f"timing the optimizers ({engine}): {reps} rounds of {iterations} iterations")
    best = fastest(contenders, reps)
    for name, (_, batch) in OPTIMIZERS.items():
        results[name] = {
            "engine": engine,
            "batch_size": batch,
            "single_us_per_iter": best[f"{name}/single"] / iterations * 1e6,
            "batched_us_per_run_iter": best[f"{name}/batched"] / (iterations * replicas) * 1e6,
        }
    return results


# --- end to end (subprocesses) -------------------------------------------------------------


def run_timed(command: list[str], env: dict[str, str] | None = None) -> float:
    """Wall time of a subprocess, which must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).splitlines()[-20:])
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{tail}")
    return seconds


def store_uri(store: Path) -> str:
    return f"sqlite:///{store / 'mlflow.db'}"


def run_train(args: list[str], store: Path, workdir: Path) -> float:
    """``python src/train.py ARGS`` against the MLflow store in ``store``; its wall time."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": store_uri(store)}
    env.pop("INITLAB_PARENT_RUN_ID", None)
    hydra_dirs = [f"hydra.run.dir={workdir}/outputs", f"hydra.sweep.dir={workdir}/multirun"]
    return run_timed([sys.executable, str(TRAIN), *args, *hydra_dirs], env)


def measure_grids(reps: int, root: Path) -> dict[str, float]:
    """The tracked grid in a fresh store, in an existing store, and the naive script."""
    times: dict[str, list[float]] = {"fresh": [], "existing": [], "naive": []}
    existing = root / "existing-store"
    for rep in range(reps):
        progress(f"grid {rep + 1}/{reps}: python src/train.py -m {GRID} (fresh store)")
        fresh = root / f"fresh-store-{rep}"
        times["fresh"].append(run_train(["-m", GRID], fresh, fresh))
        progress(f"grid {rep + 1}/{reps}: python bench/naive.py")
        times["naive"].append(run_timed([sys.executable, str(NAIVE)]))
        if rep == 0:  # creates the store the existing-store runs go to
            run_train(["-m", GRID], existing, root / "existing-warmup")
        progress(f"grid {rep + 1}/{reps}: python src/train.py -m {GRID} (existing store)")
        times["existing"].append(run_train(["-m", GRID], existing, root / f"existing-{rep}"))
    return {
        "grid_seconds": min(times["fresh"]),
        "grid_seconds_existing_store": min(times["existing"]),
        "naive_grid_seconds": min(times["naive"]),
    }


def read_job_run(store: Path) -> tuple[float, float, float]:
    """(run duration, train_seconds, logging_seconds) of the one job run in ``store``."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=store_uri(store))
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string="tags.`initlab.role` = 'job'")
    if len(runs) != 1:
        raise RuntimeError(f"expected one job run in {store}, found {len(runs)}")
    info, metrics = runs[0].info, runs[0].data.metrics
    duration = (info.end_time - info.start_time) / 1000.0
    return duration, float(metrics["train_seconds"]), float(metrics["logging_seconds"])


def measure_logging(reps: int, root: Path) -> dict[str, float]:
    """Where the course run's wall time goes. The job itself measures the time it spends
    waiting for MLflow and its figures (metric ``logging_seconds``)."""
    times: dict[str, list[float]] = {"job": [], "run": [], "train": [], "logging": []}
    for rep in range(reps):
        progress(f"course run {rep + 1}/{reps}: python src/train.py (fresh store)")
        store = root / f"course-store-{rep}"
        times["job"].append(run_train([], store, store))
        run_seconds, train_seconds, logging_seconds = read_job_run(store)
        times["run"].append(run_seconds)
        times["train"].append(train_seconds)
        times["logging"].append(logging_seconds)
    best = {key: min(values) for key, values in times.items()}
    return {
        "job_seconds": best["job"],
        "run_seconds": best["run"],
        "train_seconds": best["train"],
        "logging_seconds": best["logging"],
        "logging_fraction_of_run": best["logging"] / best["run"],
        "logging_fraction": best["logging"] / best["job"],
    }


# --- peak memory (fresh processes) ---------------------------------------------------------


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function(*args)`` in a new interpreter (spawned) and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (2**20 bytes).

    On Linux from VmHWM: ``ru_maxrss`` would not do, as exec carries the parent's peak over
    into the child's (the child would report at least this benchmark's own peak).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def train_and_peak_rss_mb(engine_name: str, hidden, replicas, n_train, iterations) -> dict:
    """Load the data, draw He replicas, train: the peak RSS before training and at the end."""
    X, Y = course_data(n_train)
    engine = engine_named(engine_name)
    params = he_replicas(replicas, hidden)
    before = peak_rss_mb()
    engine.train(params, X, Y, iterations)
    return {"before_training": before, "peak": peak_rss_mb()}


def run_and_children_peak_mb(args: list[str], store: str, workdir: str) -> float:
    """Run ``python src/train.py ARGS`` from this (fresh, small) process; the largest peak RSS
    of any process it ran (the job and its figure workers), in MB."""
    run_train(args, Path(store), Path(workdir))
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10  # KiB on Linux


def measure_deep_wide_run(root: Path) -> float:
    """Peak RSS of a whole tracked run of a 30 × 256 ReLU net on the course's 300 points."""
    progress(f"peak RSS: python src/train.py {' '.join(DEEP_WIDE_RUN)}")
    store = root / "deep-wide-store"
    return in_fresh_process(run_and_children_peak_mb, DEEP_WIDE_RUN, str(store), str(store))


def measure_memory(engine_name: str, replicas: int, iterations: int) -> dict[str, dict]:
    """Peak RSS of the 40-replica course run and of the big net, each in a fresh process."""
    progress(f"peak RSS: course net, {replicas} replicas, {iterations} iterations ({engine_name})")
    course = in_fresh_process(
        train_and_peak_rss_mb, engine_name, COURSE_HIDDEN, replicas, 300, iterations
    )
    progress(
        f"peak RSS: {len(BIG_HIDDEN)}×{BIG_HIDDEN[0]}-unit net, {BIG_REPLICAS} replicas, "
        f"{BIG_SAMPLES} samples, {BIG_ITERATIONS} iterations ({engine_name})"
    )
    big = in_fresh_process(
        train_and_peak_rss_mb, engine_name, BIG_HIDDEN, BIG_REPLICAS, BIG_SAMPLES, BIG_ITERATIONS
    )
    return {"course_replicas": course, "big_net": big}


# --- the report ----------------------------------------------------------------------------


def attempt(what: str, measure: Callable[[], Any], errors: dict[str, str]) -> Any:
    """``measure()``, or None if it fails: a broken CLI must not hide the other numbers."""
    try:
        return measure()
    except Exception as error:
        errors[what] = str(error)
        progress(f"{what} FAILED: {str(error).splitlines()[0]}")
        return None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or denominator is None else numerator / denominator


def evaluate_checks(results: dict) -> dict[str, dict]:
    """Each target's verdict: pass true/false, or null if the value could not be measured."""
    compare = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
    checks = {}
    for key, op, target in CHECKS:
        value = results[key]
        passed = None if value is None else bool(compare[op](value, target))
        if key == "batched_speedup" and results["replicas"] < MIN_BATCHED_REPLICAS:
            passed = False  # the target is stated for >= 40 replicas
        checks[key] = {"target": f"{op} {target:g}", "pass": passed}
    return checks


def run_benchmark(args: argparse.Namespace) -> dict:
    e2e_reps = 1 if args.quick else args.reps
    errors: dict[str, str] = {}
    naive_us, engines = measure_engines(args.iterations, args.replicas, args.reps)
    single_us, single_engine = headline(engines, "single_us_per_iter")
    batched_us, batched_engine = headline(engines, "batched_us_per_run_iter")
    with tempfile.TemporaryDirectory(prefix="initlab-bench-") as tmp:
        grids = attempt("grids", lambda: measure_grids(e2e_reps, Path(tmp)), errors) or {}
        job_parts = attempt("logging", lambda: measure_logging(e2e_reps, Path(tmp)), errors)
        deep_wide = attempt("deep-wide run", lambda: measure_deep_wide_run(Path(tmp)), errors)
        sweep = {}
        if args.sweep_reps:
            measure = partial(measure_sweep, args.sweep_reps, Path(tmp), run_train, progress)
            sweep = attempt("sweep", measure, errors) or {}
    optimizers = attempt(
        "optimizers", lambda: measure_optimizers(args.iterations, args.replicas, args.reps), errors
    )
    for name, engine in engines.items():
        if engine.get("valid"):
            measure = partial(measure_memory, name, MIN_BATCHED_REPLICAS, args.iterations)
            engine["peak_rss_mb"] = attempt(f"memory ({name})", measure, errors) or {}
    memory = engines[batched_engine]["peak_rss_mb"]
    results = {
        "naive_us_per_iter": naive_us,
        "single_us_per_iter": single_us,
        "single_engine": single_engine,
        "replicas": args.replicas,
        "batched_us_per_run_iter": batched_us,
        "batched_engine": batched_engine,
        "grid_seconds": grids.get("grid_seconds"),
        "grid_seconds_existing_store": grids.get("grid_seconds_existing_store"),
        "naive_grid_seconds": grids.get("naive_grid_seconds"),
        "single_speedup": naive_us / single_us,
        "batched_speedup": naive_us / batched_us,
        "grid_ratio": ratio(grids.get("grid_seconds"), grids.get("naive_grid_seconds")),
        "logging_fraction": job_parts and job_parts["logging_fraction"],
        "logging": job_parts,
        "peak_rss_mb_course_replicas": memory.get("course_replicas", {}).get("peak"),
        "peak_rss_mb_big_net": memory.get("big_net", {}).get("peak"),
        "peak_rss_mb_deep_wide_run": deep_wide,
        "sweep_jobs": sweep.get("sweep_jobs"),
        "sweep_tracked_seconds": sweep.get("sweep_tracked_seconds"),
        "sweep_untracked_seconds": sweep.get("sweep_untracked_seconds"),
        "sweep_train_seconds": sweep.get("sweep_train_seconds"),
        "tracked_over_untracked": sweep.get("tracked_over_untracked"),
        "untracked_over_train": sweep.get("untracked_over_train"),
        "optimizers": optimizers or {},
        "memory_engine": batched_engine,
        "engines": engines,
        "errors": errors,
    }
    results["checks"] = evaluate_checks(results)
    results["settings"] = {
        "iterations": args.iterations,
        "grid_iterations": 15000,
        "reps": args.reps,
        "end_to_end_reps": e2e_reps,
        "grid": f"python src/train.py -m {GRID}",
    }
    results["machine"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    return results


def show(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def format_table(r: dict) -> str:
    rows: list[tuple[str, str, str]] = [
        ("naive_us_per_iter", show(r["naive_us_per_iter"], ".1f", " µs"), "bench/naive.py loop"),
        ("single_us_per_iter", show(r["single_us_per_iter"], ".1f", " µs"), r["single_engine"]),
        (
            "batched_us_per_run_iter",
            show(r["batched_us_per_run_iter"], ".2f", " µs"),
            f"{r['batched_engine']}, {r['replicas']} replicas",
        ),
        ("grid_seconds", show(r["grid_seconds"], ".2f", " s"), "tracked grid, fresh store"),
        (
            "grid_seconds_existing_store",
            show(r["grid_seconds_existing_store"], ".2f", " s"),
            "the same grid into a store that already has runs",
        ),
        ("naive_grid_seconds", show(r["naive_grid_seconds"], ".2f", " s"), "python bench/naive.py"),
        ("single_speedup", show(r["single_speedup"], ".2f", "×"), "naive / single"),
        ("batched_speedup", show(r["batched_speedup"], ".2f", "×"), "naive / batched"),
        ("grid_ratio", show(r["grid_ratio"], ".2f"), "grid / naive grid"),
        ("logging_fraction", show(r["logging_fraction"], ".3f"), logging_note(r["logging"])),
        (
            "peak_rss_mb_course_replicas",
            show(r["peak_rss_mb_course_replicas"], ".0f", " MB"),
            f"course net, {MIN_BATCHED_REPLICAS} replicas, {r['memory_engine']}",
        ),
        (
            "peak_rss_mb_big_net",
            show(r["peak_rss_mb_big_net"], ".0f", " MB"),
            f"{len(BIG_HIDDEN)}×{BIG_HIDDEN[0]} units, {BIG_REPLICAS} replicas, "
            f"{BIG_SAMPLES} samples, {r['memory_engine']}",
        ),
        (
            "peak_rss_mb_deep_wide_run",
            show(r["peak_rss_mb_deep_wide_run"], ".0f", " MB"),
            f"python src/train.py {' '.join(DEEP_WIDE_RUN)}: largest process, figures included",
        ),
    ]
    sweep_note = f"{r['sweep_jobs'] or '?'} jobs: python src/train.py -m {' '.join(SWEEP)[:40]}…"
    rows += [
        ("sweep_tracked_seconds", show(r["sweep_tracked_seconds"], ".1f", " s"), sweep_note),
        (
            "sweep_untracked_seconds",
            show(r["sweep_untracked_seconds"], ".1f", " s"),
            "the same, tracking.enabled=false",
        ),
        (
            "sweep_train_seconds",
            show(r["sweep_train_seconds"], ".1f", " s"),
            "its training alone (train_batch per stacked group, in-process)",
        ),
        ("tracked_over_untracked", show(r["tracked_over_untracked"], ".2f"), "tracked / untracked"),
        ("untracked_over_train", show(r["untracked_over_train"], ".2f"), "untracked / training"),
    ]
    verdicts = {True: "PASS", False: "FAIL", None: "n/a"}
    lines = [f"{'measurement':<28} {'value':>10}  {'target':<8} {'result':<6} notes", "-" * 100]
    for key, value, note in rows:
        check = r["checks"].get(key)
        target, verdict = (check["target"], verdicts[check["pass"]]) if check else ("", "")
        lines.append(f"{key:<28} {value:>10}  {target:<8} {verdict:<6} {note}")
    lines += ["", *engine_lines(r["engines"]), "", *optimizer_lines(r["optimizers"])]
    lines += ["", settings_line(r)]
    lines += [f"ERROR in {what}: {message}" for what, message in r["errors"].items()]
    return "\n".join(lines)


def logging_note(parts: dict | None) -> str:
    if parts is None:
        return "not measured"
    return (
        f"{parts['logging_seconds']:.2f} s of a {parts['job_seconds']:.2f} s course run "
        f"(MLflow run {parts['run_seconds']:.2f} s: fit {parts['train_seconds']:.2f} s, "
        f"logging {parts['logging_fraction_of_run']:.0%} of it)"
    )


def engine_lines(engines: dict) -> list[str]:
    """Per engine: validity against fit, timings, peak RSS (before training → peak)."""
    lines = ["engines (the fastest valid one gives the headline numbers):"]
    for name, e in engines.items():
        if not e.get("available"):
            lines.append(f"  {name:<9} not measured: {e['reason']}")
            continue
        parts = ["valid" if e["valid"] else "INVALID"]
        if "single_us_per_iter" in e:
            parts.append(f"single {e['single_us_per_iter']:.1f} µs/iter")
            parts.append(f"batched {e['batched_us_per_run_iter']:.2f} µs/run-iter")
        for label, rss in e.get("peak_rss_mb", {}).items():
            parts.append(f"RSS {label} {rss['before_training']:.0f} → {rss['peak']:.0f} MB")
        lines.append(f"  {name:<9} {', '.join(parts)}")
        for case, check in e["checks"].items():
            lines.append(f"  {'':<9} {case}: {check['reason']}")
    return lines


def optimizer_lines(optimizers: dict) -> list[str]:
    lines = ["optimizers (course net, He; gd on the whole set, the others on batches of 64):"]
    for name, o in optimizers.items():
        lines.append(
            f"  {name:<9} single {o['single_us_per_iter']:.1f} µs/iter, "
            f"batched {o['batched_us_per_run_iter']:.2f} µs/run-iter ({o['engine']})"
        )
    return lines


def settings_line(r: dict) -> str:
    s, m = r["settings"], r["machine"]
    return (
        f"minimum of {s['reps']} reps ({s['end_to_end_reps']} end to end); "
        f"{s['iterations']} iterations per timing, {s['grid_iterations']} per grid run; "
        f"Python {m['python']}, NumPy {m['numpy']}, {m['cpus']} CPUs"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print only one JSON object")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (minimum reported)")
    parser.add_argument(
        "--iterations", type=int, default=3000, help="iterations per in-process timing"
    )
    parser.add_argument("--replicas", type=int, default=40, help="replicas of the batched run")
    parser.add_argument(
        "--quick", action="store_true", help="one repetition of the end-to-end measurements"
    )
    parser.add_argument(
        "--sweep-reps", type=int, default=1,
        help="repetitions of the 198-job sweep section (0 skips it; each takes minutes)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.sweep_reps < 0:
        parser.error("--sweep-reps must be >= 0")
    for name in ("reps", "iterations", "replicas"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = run_benchmark(args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))


if __name__ == "__main__":
    main()
