"""The sweep section of the benchmark: a study-sized sweep, tracked, untracked, and its training.

SWEEP is every option of the init group (22: 21 schemes and an alias) × 3 activations × 3
weight seeds = 198 jobs of the course's net and trainer (15000 iterations). Three numbers,
each the minimum over repetitions:

- ``sweep_tracked_seconds``: wall time of ``python src/train.py -m SWEEP`` with the defaults
  (MLflow store, diagnostics, the default figure policy), into a fresh store;
- ``sweep_untracked_seconds``: the same command with ``tracking.enabled=false``;
- ``sweep_train_seconds``: the training alone, in this process: the same 198 configs, grouped
  as the batching launcher groups them, each group trained by ``train_batch`` (initialisation,
  training and the final accuracies; no Hydra, no MLflow, no figures). The compiled kernels
  are warmed up first, as the CLI finds them cached on disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
INITS = ",".join(sorted(path.stem for path in (CONF_DIR / "init").glob("*.yaml")))
SWEEP = [f"init={INITS}", "activation=relu,tanh,sigmoid", "seed=1,2,3"]


def jobs() -> list[list[str]]:
    """The sweep's jobs as override lists, in Hydra's order."""
    import itertools

    axes = [[f"{key}={value}" for value in values.split(",")] for key, values in (
        item.split("=", 1) for item in SWEEP
    )]  # fmt: skip
    return [list(job) for job in itertools.product(*axes)]


def train_alone(conf_dir: Path) -> float:
    """Seconds to train every job of SWEEP as the batching launcher would, in-process."""
    from hydra import compose, initialize_config_dir

    from initlab import batching
    from initlab.config import job_config, register_configs, to_settings
    from initlab.experiment import train_batch

    register_configs()
    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        configs = [compose("config", overrides=job) for job in jobs()]
    groups = batching.plan_groups(configs)
    grouped = {i for members in groups for i in members}
    groups += [[i] for i in range(len(configs)) if i not in grouped]
    settings = [[to_settings(job_config(configs[i])) for i in members] for members in groups]
    train_batch(settings[0][:1])  # compiled kernels loaded, data cached
    started = time.perf_counter()
    for batch in settings:
        train_batch(batch)
    return time.perf_counter() - started


def train_alone_in_a_new_process() -> float:
    """train_alone in a fresh interpreter (as the CLI starts one), its number on stdout."""
    import subprocess
    import sys

    here = Path(__file__).resolve().parent
    done = subprocess.run(
        [sys.executable, "-c", "import sweep; print(sweep.train_alone(sweep.CONF_DIR))"],
        cwd=here, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"train_alone failed ({done.returncode}): {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def measure_sweep(
    reps: int,
    root: Path,
    run_train: Callable[[list[str], Path, Path], float],
    progress: Callable[[str], None],
) -> dict[str, float]:
    times: dict[str, list[float]] = {"tracked": [], "untracked": [], "train": []}
    n = len(jobs())
    for rep in range(reps):
        progress(f"sweep {rep + 1}/{reps}: {n} jobs, tracked")  # ~1-2 min each
        store = root / f"sweep-store-{rep}"
        times["tracked"].append(run_train(["-m", *SWEEP], store, store))
        progress(f"sweep {rep + 1}/{reps}: {n} jobs, tracking.enabled=false")
        work = root / f"sweep-untracked-{rep}"
        times["untracked"].append(run_train(["-m", *SWEEP, "tracking.enabled=false"], work, work))
        progress(f"sweep {rep + 1}/{reps}: {n} jobs, the training alone")
        times["train"].append(train_alone_in_a_new_process())
    tracked, untracked, train = (min(times[k]) for k in ("tracked", "untracked", "train"))
    return {
        "sweep_jobs": n,
        "sweep_tracked_seconds": tracked,
        "sweep_untracked_seconds": untracked,
        "sweep_train_seconds": train,
        "tracked_over_untracked": tracked / untracked,
        "untracked_over_train": untracked / train,
    }
