"""A Hydra launcher that trains compatible jobs of a sweep together (initlab_batch).

It composes every job of a batch first, groups the jobs that differ only in what stacked
replicas can absorb (init scheme and its parameters, seed, number of seeds), trains each group
as one computation (:func:`initlab.batching.pretrain`), and then runs every job through
Hydra's ordinary ``run_job``, exactly as the basic launcher does: same output folders, logs,
callbacks and one MLflow run per job; the jobs find their results already trained. Jobs
that cannot be grouped, or a group whose joint training fails, train job by job.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from omegaconf import open_dict

log = logging.getLogger(__name__)


@dataclass
class BatchLauncherConf:
    _target_: str = "hydra_plugins.initlab_batch_launcher.batch_launcher.BatchLauncher"
    # Train the sweep's units in a trainer process, each while the one before it is recorded
    # (false: every group trains here first, then the jobs record, in sweep order).
    ahead: bool = True


ConfigStore.instance().store(
    group="hydra/launcher", name="initlab_batch", node=BatchLauncherConf, provider="initlab"
)


class BatchLauncher(BasicLauncher):
    def __init__(self, ahead: bool = True) -> None:
        super().__init__()
        self.ahead = ahead

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from initlab import batching  # numpy and the trainer: only once jobs really run

        assert self.hydra_context is not None and self.config is not None
        assert self.task_function is not None
        loader = self.hydra_context.config_loader
        # Each job is composed once: the sweep callback may have composed it already.
        configs = [
            batching.composed(o) or loader.load_sweep_config(self.config, list(o))
            for o in job_overrides
        ]
        try:
            order = batching.pretrain(configs, ahead=self.ahead, overrides=job_overrides)
            returns = self._run_jobs(
                [job_overrides[i] for i in order],
                [configs[i] for i in order],
                [initial_job_idx + i for i in order],
            )
        finally:
            batching.clear()
        return sorted(returns, key=lambda r: r.hydra_cfg.hydra.job.num)

    def _run_jobs(
        self, job_overrides: Sequence[Sequence[str]], configs: list, numbers: list[int]
    ) -> list[JobReturn]:
        """Hydra's BasicLauncher.launch, with the job configs composed beforehand (and the
        jobs in the order their training is ready: see batching.pretrain)."""
        assert self.hydra_context is not None and self.config is not None
        assert self.task_function is not None
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs locally")
        return run_jobs(
            self.hydra_context, self.task_function, self.config, job_overrides, configs, numbers
        )


def number_job(config, number: int) -> None:
    """Give a composed job config its number in the sweep, as Hydra's launchers do."""
    with open_dict(config):
        config.hydra.job.id = number
        config.hydra.job.num = number


def run_jobs(
    hydra_context, task_function, config, job_overrides, configs, numbers
) -> list[JobReturn]:
    """Run composed jobs one after the other through Hydra's ``run_job``, as the basic
    launcher does (the parallel launcher's workers call this too, for their unit)."""
    setup_globals()
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    runs = []
    for idx, overrides, sweep_config in zip(numbers, job_overrides, configs, strict=True):
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        number_job(sweep_config, idx)
        runs.append(
            run_job(
                hydra_context=hydra_context,
                task_function=task_function,
                config=sweep_config,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
        )
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    return runs
