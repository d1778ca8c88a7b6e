"""The Hydra facts a job needs, read from HydraConfig, kept out of the Hydra-free pipeline."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from initlab.config import ConfigError


def current_job():  # -> initlab.experiment.JobInfo (imported lazily: it pulls numpy)
    from initlab.experiment import JobInfo

    hc = HydraConfig.get()
    num = hc.job.num if hc.mode == RunMode.MULTIRUN else 0
    choices = {
        k: str(v) for k, v in hc.runtime.choices.items() if not k.startswith(("hydra", "schema"))
    }
    return JobInfo(num=int(num or 0), overrides=tuple(hc.overrides.task), choices=choices)


@contextlib.contextmanager
def fail_cleanly_in_single_runs() -> Iterator[None]:
    """A bad value or an unusable store ends a single run with one clear line and exit code 1.

    In a multirun the error propagates instead, so Hydra marks the job FAILED and goes on.
    """
    from initlab.tracking import StoreLost, TrackingError

    try:
        yield
    except (ConfigError, TrackingError) as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        if isinstance(exc, StoreLost):  # the run exists; the message says what becomes of it
            raise SystemExit(f"initlab: {exc}") from None
        raise SystemExit(f"initlab: {exc}\nNo run was created.") from None
