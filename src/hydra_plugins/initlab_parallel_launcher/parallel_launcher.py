"""A Hydra launcher that runs a sweep's units of work on several processes, or on a Ray cluster.

A unit is what the batching launcher trains as one computation (jobs that differ only in
what stacked replicas absorb: init scheme, seed, seeds) or a job on its own. Each unit goes
to a worker whole: the worker trains the group stacked, then runs each of its jobs through
Hydra's ``run_job``, so every job records exactly one MLflow run, as under the basic
launcher, and batching is kept. Units are the grain (not jobs) because splitting a stacked
group across workers would train the shared computation several times.

``hydra/launcher=initlab_parallel``: ``workers`` processes on this machine (loky, as Hydra's
joblib launcher). ``hydra/launcher=initlab_ray``: Ray tasks, on the cluster at
``ray_address`` (or $RAY_ADDRESS), else on a Ray started for the sweep with ``workers`` CPUs.
A unit whose worker dies is not retried (its jobs would get a second run): its jobs are
FAILED, and their runs the worker left open are ended FAILED, saying why.
"""

import logging
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus, configure_log
from hydra.plugins.launcher import Launcher

from hydra_plugins.initlab_batch_launcher.batch_launcher import number_job, run_jobs

log = logging.getLogger(__name__)


@dataclass
class ParallelLauncherConf:
    _target_: str = "hydra_plugins.initlab_parallel_launcher.parallel_launcher.ParallelLauncher"
    backend: str = "local"  # local: processes on this machine; ray: Ray tasks
    workers: int = 2  # local: processes; ray without an address: the CPUs of its own Ray
    ray_address: Optional[str] = None  # noqa: UP045 (OmegaConf)  ray: host:port of a cluster's head (None: $RAY_ADDRESS)


@dataclass
class RayLauncherConf(ParallelLauncherConf):
    backend: str = "ray"


ConfigStore.instance().store(
    group="hydra/launcher", name="initlab_parallel", node=ParallelLauncherConf, provider="initlab"
)
ConfigStore.instance().store(
    group="hydra/launcher", name="initlab_ray", node=RayLauncherConf, provider="initlab"
)

BACKENDS = ("local", "ray")


@dataclass
class Unit:
    numbers: list[int]  # the jobs' numbers in the sweep
    overrides: list[list[str]]
    configs: list  # their composed configs


def plan_units(job_overrides, configs, initial_job_idx: int) -> list[Unit]:
    """Stacked groups and lone jobs, in the order of their first job."""
    from initlab import batching

    return [
        Unit(
            [initial_job_idx + i for i in members],
            [list(job_overrides[i]) for i in members],
            [configs[i] for i in members],
        )
        for members in batching.plan_units(configs)
    ]


def forwarded_environment() -> dict[str, str]:
    """What a worker needs of this process's environment: the sweep's parent runs, the
    store, MLflow's request settings (a Ray worker on another machine has none of it)."""
    return {k: v for k, v in os.environ.items() if k.startswith(("INITLAB_", "MLFLOW_"))}


def run_unit(hydra_context, task_function, config, unit: Unit, env: dict) -> list[JobReturn]:
    """In a worker: train the unit's group stacked, then run its jobs one by one."""
    from initlab import batching

    os.environ.update(env)
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)  # before it trains
    try:
        if len(unit.configs) > 1:
            batching.pretrain(unit.configs, ahead=False)  # a unit: one group or one job
        return run_jobs(
            hydra_context, task_function, config, unit.overrides, unit.configs, unit.numbers
        )
    finally:
        batching.clear()


def lost_unit(unit: Unit, error: BaseException) -> list[JobReturn]:
    """The jobs of a unit whose worker died: FAILED, and their open runs ended FAILED."""
    from initlab.orphans import WorkerLost, end_runs_of_lost_jobs

    first_line = (str(error).splitlines() or [""])[0]
    error = WorkerLost(f"its worker died ({type(error).__name__}: {first_line})")
    pairs = zip(unit.numbers, unit.overrides, strict=True)
    names = {number: " ".join(overrides) or "defaults" for number, overrides in pairs}
    end_runs_of_lost_jobs(names, str(error))
    returns = []
    for number, overrides, cfg in zip(unit.numbers, unit.overrides, unit.configs, strict=True):
        number_job(cfg, number)
        returns.append(
            JobReturn(
                overrides=overrides,
                cfg=cfg,
                hydra_cfg=cfg,
                status=JobStatus.FAILED,
                _return_value=error,
            )
        )
    return returns


def option_problem(backend: str, workers: int) -> str | None:
    """What is wrong with the launcher's options, if anything (the sweep callback asks
    before it creates the parent run; the launcher itself is made later)."""
    if backend not in BACKENDS:
        return f"hydra.launcher.backend={backend}: use one of {', '.join(BACKENDS)}"
    if int(workers) < 1:
        return f"hydra.launcher.workers must be ≥ 1 (got {workers})"
    if backend == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            return "hydra/launcher=initlab_ray needs Ray: make install-cluster (the cluster extra)"
    return None


class ParallelLauncher(Launcher):
    def __init__(
        self, backend: str = "local", workers: int = 2, ray_address: str | None = None
    ) -> None:
        if problem := option_problem(backend, workers):
            raise ValueError(problem)
        self.backend, self.workers, self.ray_address = backend, int(workers), ray_address
        self.config = self.hydra_context = self.task_function = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from initlab import batching

        assert self.config is not None and self.hydra_context is not None
        loader = self.hydra_context.config_loader
        configs = [
            batching.composed(o) or loader.load_sweep_config(self.config, list(o))
            for o in job_overrides
        ]
        batching.clear()
        units = plan_units(job_overrides, configs, initial_job_idx)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        where = (
            f"{self.workers} local processes"
            if self.backend == "local"
            else f"Ray at {self._ray_address() or f'a local Ray ({self.workers} CPUs)'}"
        )
        log.info(f"Launching {len(job_overrides)} jobs as {len(units)} units on {where}")
        arguments = (self.hydra_context, self.task_function, self.config)
        run = self._on_processes if self.backend == "local" else self._on_ray
        returns = run(units, arguments, forwarded_environment())
        return sorted(returns, key=lambda r: r.hydra_cfg.hydra.job.num)

    # --- local processes -----------------------------------------------------------------

    def _on_processes(self, units: list[Unit], arguments, env) -> list[JobReturn]:
        from joblib.externals.loky import get_reusable_executor
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        executor = get_reusable_executor(max_workers=min(self.workers, len(units)))
        futures = {executor.submit(run_unit, *arguments, unit, env): unit for unit in units}
        returns: list[JobReturn] = []
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        returns.extend(future.result())
                    except TerminatedWorkerError as exc:
                        returns.extend(lost_unit(futures[future], exc))
        except BaseException:  # Ctrl-C, SIGTERM: workers end their runs (same group), then go
            wait(set(futures), timeout=5)
            executor.shutdown(wait=True, kill_workers=True)
            raise
        return returns

    # --- Ray -------------------------------------------------------------------------------

    def _ray_address(self) -> str | None:
        return self.ray_address or os.environ.get("RAY_ADDRESS") or None

    def _on_ray(self, units: list[Unit], arguments, env) -> list[JobReturn]:
        try:
            import ray
        except ImportError as exc:
            raise RuntimeError(option_problem("ray", 1) or "Ray cannot be imported") from exc

        address = self._ray_address()
        started_here = not ray.is_initialized()
        if started_here:
            if address:
                ray.init(address=address, log_to_driver=True)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=True)
        task = ray.remote(num_cpus=1, max_retries=0)(run_unit)
        refs = {task.remote(*arguments, unit, env): unit for unit in units}
        returns: list[JobReturn] = []
        try:
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        returns.extend(ray.get(ref))
                    except ray.exceptions.RayError as exc:  # the worker or its node died
                        returns.extend(lost_unit(refs[ref], exc))
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
        finally:
            if started_here:
                ray.shutdown()
        return returns
