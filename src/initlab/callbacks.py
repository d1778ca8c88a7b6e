"""Hydra callback that owns the sweep-level MLflow work of a multirun.

Before any job starts it (1) composes and validates every job of the sweep, so a bad value
anywhere stops the sweep before a single run exists, (2) checks the tracking store, and
(3) creates the store, the experiment and the sweep's parent run once, in this process, so
parallel jobs never race on a fresh SQLite schema. Jobs find the parent through an
environment variable. At the end it closes the parent (FAILED if any job failed) and prints a
summary table.

Hydra turns exceptions raised in callbacks into warnings, so a failed preflight exits with
SystemExit (not an Exception) after printing its reason.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from collections import Counter
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from initlab import batching, http_store, orphans, tracking
from initlab.composing import SweepComposer
from initlab.config import Config, ConfigError, check_choices, job_config, to_settings
from initlab.datasets import load_dataset
from initlab.experiment import PARENT_RUN_ENV, SWEEP_JOBS_ENV, Outcome, parent_key
from initlab.memory import check_fits
from initlab.sweep_summary import SummaryRow, format_table, log_parent_summary


def expand_sweep(task_overrides: list[str], sweeper_params: Any = None) -> list[list[str]]:
    """The override list of every job, in the order the basic sweeper launches them: the
    config's ``hydra.sweeper.params`` (what an experiment preset sweeps) first, then the
    command line's, which win where both name a key."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    preset = [f"{key}={value}" for key, value in (sweeper_params or {}).items()]
    parsed = OverridesParser.create().parse_overrides([*preset, *task_overrides])
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def preflight(config: DictConfig, jobs: list[list[str]], remember: bool) -> list[Config]:
    """Compose and validate every job's config; raise on the first that is bad.

    Jobs are composed exactly as a launcher composes them; with ``remember`` the configs are
    kept for the batching launcher, so that each job is composed once.
    """
    from hydra.core.global_hydra import GlobalHydra

    composer = SweepComposer(GlobalHydra.instance().config_loader(), config)
    validated = []
    for overrides in jobs:
        sweep_config = composer.compose(overrides)
        try:
            check_choices(dict(sweep_config.hydra.runtime.choices))
            settings = to_settings(job_config(sweep_config))
            data = load_dataset(settings.dataset)  # a bad CSV file stops the sweep now (cached)
            check_fits(settings, data.n_features, data.X_train.shape[1])
            validated.append(settings)
        except ConfigError as exc:
            raise ConfigError(f"job [{' '.join(overrides)}]: {exc}") from exc
        if remember:
            batching.remember_composed(overrides, sweep_config)
    return validated


def _check_launcher(launcher: DictConfig) -> None:
    """initlab's parallel launcher's options, before anything is created."""
    if str(launcher.get("_target_", "")).endswith(".ParallelLauncher"):
        from hydra_plugins.initlab_parallel_launcher.parallel_launcher import option_problem

        if problem := option_problem(launcher.get("backend"), launcher.get("workers")):
            raise ConfigError(problem)


def _trains_ahead(launcher: DictConfig) -> bool:
    """Whether the sweep's launcher is initlab's batching one, training ahead."""
    batch = str(launcher.get("_target_", "")).endswith(".BatchLauncher")
    return batch and bool(launcher.get("ahead", True))


def _fail(message: str) -> None:
    batching.clear()  # (a trainer started ahead stops: nothing will run)
    print(f"initlab: {message}\nNo run was created.", file=sys.stderr)
    raise SystemExit(2)


def _failure_text(error: object) -> str:
    """A failed job's line in the table: an explained error's first sentence (its fix is in
    the message printed once), anything else as raised."""
    text = str(error)
    if isinstance(error, EXPLAINED_ERRORS):
        first, sep, _ = text.partition(". ")
        text = first + ("." if sep else "")
    return f"{type(error).__name__}: {text}"


# Errors whose message says what went wrong and what to do: no traceback needed.
EXPLAINED_ERRORS = (ConfigError, tracking.TrackingError, orphans.WorkerLost)


class MlflowSweepCallback(Callback):
    def __init__(self) -> None:
        self.parents: dict[str, str] = {}  # parent_key(uri, experiment) -> the parent run there
        self.parent_stores: dict[str, str] = {}  # parent run -> its tracking URI
        self.expected_jobs: int | None = None
        self.rows: list[SummaryRow] = []
        self.failed = 0
        self.uri = ""
        self.experiments: list[str] = []
        self.experiment_ids: list[str] = []
        self.report = False  # tracking.report of the sweep's jobs
        self.reported = False  # the table and the outcome are printed
        self.unrecorded: list[str] = []  # parents whose end the store could not be told
        self.pid = os.getpid()  # the sweep's process (a launcher's workers get pickled copies)

    # --- start: validate everything, then create store, experiment and parent run ---------

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        task_overrides = list(config.hydra.overrides.task)
        # Hydra's basic sweeper or initlab's (the same grid): the jobs are known now.
        basic_sweeper = config.hydra.sweeper._target_.endswith(("BasicSweeper", "InitlabSweeper"))
        try:
            _check_launcher(config.hydra.launcher)
            if basic_sweeper:
                jobs = expand_sweep(task_overrides, config.hydra.sweeper.get("params"))
                self.expected_jobs = len(jobs)
            else:  # another sweeper decides its jobs later: check what we can now
                jobs = [[o for o in task_overrides if "," not in o]]
            validated = preflight(config, jobs, remember=basic_sweeper)
            if basic_sweeper and _trains_ahead(config.hydra.launcher):
                # The first unit trains while MLflow starts and the parent run is made.
                batching.start_ahead(jobs, batching.remembered(jobs) or [])
        except ConfigError as exc:
            _fail(str(exc))
        except Exception as exc:  # Hydra's own composition errors: unknown choice, bad type
            cause = f"\n{exc.__cause__}" if exc.__cause__ else ""
            _fail(f"{exc}{cause}")

        # One parent run in every store and experiment the jobs write to (MLflow's UI nests
        # runs only within an experiment): usually one.
        places = sorted(
            {
                (tracking.resolve_tracking_uri(s.tracking.uri), s.tracking.experiment)
                for s in validated
                if s.tracking.enabled
            }
        )
        if not places:
            return
        self.report = any(s.tracking.report for s in validated)
        name = " ".join(task_overrides) or "defaults"
        try:
            for uri, experiment in places:
                tracking.check_reachable(uri)
                client = tracking.client_for(uri)
                with tracking.server_loss_explained(uri):
                    experiment_id = tracking.ensure_experiment(client, experiment, uri)
                    orphans.mark_orphans(client, [experiment_id])  # runs a killed process left
                    run_id = tracking.start_run(
                        client, uri, experiment_id, name=name,
                        tags={tracking.ROLE_TAG: "sweep", tracking.OVERRIDES_TAG: name},
                    )  # fmt: skip
                self.parents[parent_key(uri, experiment)] = run_id
                self.parent_stores[run_id] = uri
                self.uri = uri
                self.experiments.append(experiment)
                self.experiment_ids.append(experiment_id)
        except tracking.TrackingError as exc:
            self._close_parents("KILLED")
            _fail(str(exc))
        os.environ[PARENT_RUN_ENV] = json.dumps(self.parents)
        if self.expected_jobs is not None:  # the figure policy's "how big is this sweep"
            os.environ[SWEEP_JOBS_ENV] = str(self.expected_jobs)
        atexit.register(self._finish)  # runs even when the sweep raises on a failed job
        where = ", ".join(f"'{e}'" for e in self.experiments)
        print(
            f"initlab: sweep of {self.expected_jobs or '?'} job(s) -> MLflow experiment {where} "
            f"at {self.uri} (parent run {', '.join(self.parents.values())})",
            flush=True,
        )

    # --- per job: collect the summary row ------------------------------------------------

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if os.getpid() != self.pid:  # a launcher's worker process (joblib's): the sweep's
            return  # process records the job when the launcher returns it (jobs_returned)
        self._record(config.hydra.job.get("num"), job_return)

    def jobs_returned(self, returns: list[JobReturn]) -> None:
        """The launcher's returns (initlab's sweeper passes them): jobs it ran in other
        processes reached no on_job_end in this one, and are recorded now."""
        seen = {row.number for row in self.rows}
        for job_return in returns:
            number = job_return.hydra_cfg.hydra.job.get("num")
            if number not in seen:
                self._record(number, job_return)

    def _record(self, num: int | None, job_return: JobReturn) -> None:
        if not self.parents and self.expected_jobs is None:
            return  # a single run (no multirun)
        number = int(num or len(self.rows))
        overrides = tuple(job_return.overrides or [])
        value = job_return._return_value
        if job_return.status == JobStatus.COMPLETED and isinstance(value, Outcome):
            self.rows.append(SummaryRow(number, overrides, value))
        else:
            self.failed += 1
            self.rows.append(SummaryRow(number, overrides, None, _failure_text(value)))
        if self.expected_jobs is not None and len(self.rows) == self.expected_jobs:
            self._finish()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._finish()

    # --- end: close the parents once, print the table ----------------------------------

    def _close_parents(self, status: str) -> list[str]:
        """End the parents; return their ids (those whose store could not be told are in
        ``self.unrecorded``)."""
        closed = list(self.parents.values())
        for run_id in closed:
            uri = self.parent_stores[run_id]
            if status == "FINISHED":
                tracking.end_run(tracking.client_for(uri), run_id, status)
            elif not tracking.end_run_if_possible(  # ending badly: the store may be why
                tracking.client_for(uri), uri, run_id, status, "the sweep's parent"
            ):
                self.unrecorded.append(run_id)
        self.parents = {}
        os.environ.pop(PARENT_RUN_ENV, None)
        os.environ.pop(SWEEP_JOBS_ENV, None)
        return closed

    def _finish(self) -> None:
        if not self.parents:
            return
        missing = (self.expected_jobs or len(self.rows)) - len(self.rows)
        # Jobs that never reported back were interrupted (Ctrl-C, a crash): KILLED.
        status = "FAILED" if self.failed else "KILLED" if missing else "FINISHED"
        if status != "KILLED":
            self._summarise_on_parents()
        in_store = self._children_in_store() if missing else ""
        closed = self._close_parents(status)
        reports = self._write_reports() if status != "KILLED" else []
        if self.rows:
            print("\n" + format_table(self.rows), flush=True)
        done = len(self.rows) - self.failed
        experiments = ", ".join(f"'{e}'" for e in self.experiments)
        uri = "" if self.uri == tracking.resolve_tracking_uri() else f" --tracking-uri '{self.uri}'"
        if reports:
            report_lines = [f"Report: {path}" for path in reports]
        else:
            report_lines = [
                f"Report: python src/report.py --run {run_id}{uri}" for run_id in closed
            ]
        diverged = sum(bool(r.outcome and r.outcome.diverged) for r in self.rows)
        print(
            f"\n{done} job(s) finished"
            + (f" ({diverged} diverged)" if diverged else "")
            + f", {self.failed} failed"
            + (f", {missing} without a result (interrupted or never started)" if missing else "")
            + f". Parent run {', '.join(closed)}: {status}"
            + (" (the store could not be told)" if self.unrecorded else "")
            + ".\n"
            + in_store
            + f"MLflow store: {self.uri} (experiment {experiments}); "
            + (
                "the sweep in its UI: "
                + ", ".join(
                    f"{self.uri.rstrip('/')}/#/experiments/{e}/runs?workflowType=machine_learning"
                    for e in self.experiment_ids
                )
                + "\n"
                if http_store.is_http(self.uri)
                else "browse it with `make ui`.\n"
            )
            + "\n".join(report_lines),
            flush=True,
        )
        self.reported = True

    def _children_in_store(self) -> str:
        """An interrupted sweep: what its job runs are in the store, after marking KILLED those
        whose process is gone (a launcher's workers, stopped with the sweep, cannot say)."""
        counts: Counter[str] = Counter()
        try:
            for run_id, uri in self.parent_stores.items():
                client = tracking.client_for(uri)
                experiment_id = client.get_run(run_id).info.experiment_id
                orphans.mark_orphans(client, [experiment_id])
                children = client.search_runs(
                    [experiment_id], f"tags.mlflow.parentRunId = '{run_id}'"
                )
                counts.update(run.info.status for run in children)
        except Exception as exc:  # the sweep is ending anyway: say it, do not hide the stop
            return f"(could not read the job runs back from the store: {exc})\n"
        if not counts:
            return ""
        return (
            "Its job runs in the store: "
            + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            + ".\n"
        )

    def _write_reports(self) -> list[str]:
        """With tracking.report: each parent's report, written and logged to it."""
        if not self.report:
            return []
        from initlab.report import DEFAULT_OUT, build_report

        written = []
        for run_id, uri in self.parent_stores.items():
            try:
                written.append(str(build_report(uri, None, run_id, DEFAULT_OUT, log=True)))
            except Exception as exc:  # (ReportError too) the runs stand without it
                tracking.warn(f"could not write the report of {run_id}: {exc}")
        return written

    def _summarise_on_parents(self) -> None:
        """Each parent run gets the sweep's summary (its own store's jobs); a problem here is
        said, and never stops the sweep from ending cleanly."""
        for place, run_id in self.parents.items():
            rows = [r for r in self.rows if r.outcome is None or r.outcome.place in ("", place)]
            try:
                uri = self.parent_stores[run_id]
                if self.failed and http_store.is_http(uri):  # one quick look, not retries
                    tracking.check_reachable(uri)
                log_parent_summary(tracking.client_for(uri), run_id, rows)
            except Exception as exc:  # the sweep's result stands without it
                tracking.warn(f"could not record the sweep's summary on {run_id}: {exc}")
