"""A Hydra launcher that trains compatible jobs of a sweep together (initlab_batch).

It composes every job of a batch first, groups the jobs that differ only in what stacked
replicas can absorb (init scheme and its parameters, seed, number of seeds), trains each group
as one computation (:func:`initlab.batching.pretrain`), and then runs every job through
Hydra's ordinary ``run_job``, exactly as the basic launcher does: same output folders, logs,
callbacks and one MLflow run per job; the jobs find their results already trained. Jobs
that cannot be grouped, or a group whose joint training fails, train job by job.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn


@dataclass
class BatchLauncherConf:
    _target_: str = "hydra_plugins.initlab_batch_launcher.batch_launcher.BatchLauncher"


ConfigStore.instance().store(
    group="hydra/launcher", name="initlab_batch", node=BatchLauncherConf, provider="initlab"
)


class BatchLauncher(BasicLauncher):
    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from initlab import batching  # numpy and the trainer: only once jobs really run

        assert self.hydra_context is not None and self.config is not None
        loader = self.hydra_context.config_loader
        configs = [loader.load_sweep_config(self.config, list(o)) for o in job_overrides]
        batching.clear()
        batching.pretrain(configs)
        try:
            return super().launch(job_overrides, initial_job_idx)
        finally:
            batching.clear()
