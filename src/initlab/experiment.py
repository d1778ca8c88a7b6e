"""One job: build data, network and init from a config, train, evaluate, and record it.

The plain pipeline (:func:`train_and_evaluate`) knows nothing of MLflow; :func:`run_job` adds
the tracking around it. Hydra-specific facts (job number, overrides, choices) arrive as a
:class:`JobInfo`, so this module can be driven from tests without Hydra.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
from omegaconf import DictConfig, OmegaConf

from initlab import tracking
from initlab.activations import Activation, make_activation
from initlab.config import Config, flatten, to_settings
from initlab.datasets import Dataset, load_dataset
from initlab.diagnostics import TrainingMonitor, initial_diagnostics
from initlab.initializers import InitReport, initialize
from initlab.network import Params, accuracy, predict
from initlab.seeding import course_rng
from initlab.trainer import History, fit

log = logging.getLogger(__name__)

# Set by the sweep callback for the jobs of a multirun: the parent run they belong under.
PARENT_RUN_ENV = "INITLAB_PARENT_RUN_ID"

# Print a progress line at most this often during long trainings.
PROGRESS_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class JobInfo:
    """What Hydra knows about the job: its number in the sweep, overrides and group choices."""

    num: int = 0
    overrides: tuple[str, ...] = ()
    choices: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return " ".join(self.overrides) or "defaults"


@dataclass(frozen=True)
class Outcome:
    """What a finished job reports back (the sweep's summary table is built from these)."""

    name: str
    init: str
    final_cost: float
    train_accuracy: float
    test_accuracy: float
    seconds: float
    run_id: str | None = None


@dataclass
class Trained:
    settings: Config
    data: Dataset
    act: Activation
    initial: Params
    init_report: InitReport
    params: Params
    history: History
    monitor: TrainingMonitor | None
    train_accuracy: float
    test_accuracy: float
    seconds: float


def train_and_evaluate(settings: Config, label: str = "") -> Trained:
    """Train one network as the config says; no tracking."""
    data = load_dataset(settings.dataset)
    act = make_activation(settings.activation)
    dims = [data.n_features, *settings.model.hidden, 1]
    # The course seeds its init with np.random.seed(3): course_rng reproduces that stream.
    initial, init_report = initialize(
        settings.init, dims, course_rng(settings.seed), act, data.X_train
    )
    trainer = settings.trainer
    monitor = TrainingMonitor() if settings.diagnostics else None
    started = time.perf_counter()
    last_report = [started]

    def progress(iteration: int, cost: np.ndarray) -> None:
        now = time.perf_counter()
        if now - last_report[0] >= PROGRESS_EVERY_SECONDS:
            last_report[0] = now
            pct = 100.0 * iteration / trainer.iterations
            log.info(
                "%s: iteration %d/%d (%.0f%%), cost %.6g",
                label,
                iteration,
                trainer.iterations,
                pct,
                cost[0],
            )

    params, history = fit(
        initial, data.X_train, data.Y_train, act,
        lr=trainer.lr, iterations=trainer.iterations, log_every=trainer.log_every,
        on_log=progress, monitor=monitor,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return Trained(
        settings, data, act, initial, init_report, params, history, monitor,
        train_accuracy=float(accuracy(params, data.X_train, data.Y_train, act)[0]),
        test_accuracy=float(accuracy(params, data.X_test, data.Y_test, act)[0]),
        seconds=seconds,
    )  # fmt: skip


def _log_results(client, run_id: str, cfg: DictConfig, result: Trained) -> None:
    from initlab import plots

    h, settings = result.history, result.settings
    steps = [*h.steps.tolist(), settings.trainer.iterations]
    costs = [*h.costs[0].tolist(), float(h.final_cost[0])]
    scalars = {
        "final_cost": float(h.final_cost[0]),
        "train_accuracy": result.train_accuracy,
        "test_accuracy": result.test_accuracy,
        "train_seconds": result.seconds,
    }
    curves = [tracking.Curve("cost", steps, costs)]
    title = f"init={settings.init.name}, activation={settings.activation.name}"
    figures = []
    if settings.diagnostics:
        layers, _ = initial_diagnostics(
            result.initial, settings.init, result.data.X_train, result.data.Y_train, result.act
        )
        for number, stats in enumerate(layers, start=1):
            scalars |= {f"init/layer{number}/{key}": value for key, value in stats.items()}
        for number, used in enumerate(result.init_report.lsuv_iterations, start=1):
            scalars[f"init/layer{number}/lsuv_iterations"] = used
        if result.monitor is not None:
            curves += [tracking.Curve(k, s, v) for k, (s, v) in result.monitor.curves().items()]
        figures += [
            (
                plots.signal_figure(layers, title=f"Signal at init: {title}"),
                tracking.SIGNAL_ARTIFACT,
            ),
            (
                plots.activation_histograms_figure(
                    result.initial, result.data.X_train, result.act, title=title
                ),
                tracking.HISTOGRAMS_ARTIFACT,
            ),
        ]
    tracking.log_metrics(client, run_id, scalars, curves, final_step=settings.trainer.iterations)

    params, act, data = result.params, result.act, result.data
    boundary = plots.decision_boundary_figure(
        lambda X: predict(params, X, act)[0, 0],
        data.X_train, data.Y_train, data.X_test, data.Y_test,
        title=f"Decision boundary: {title}",
    )  # fmt: skip
    figures += [
        (boundary, tracking.BOUNDARY_ARTIFACT),
        (
            plots.cost_figure(np.asarray(steps), np.asarray(costs), title=f"Cost: {title}"),
            tracking.COST_ARTIFACT,
        ),
    ]
    for figure, artifact in figures:
        tracking.log_figure(client, run_id, figure, artifact)
        plots.close(figure)
    tracking.log_text(
        client, run_id, OmegaConf.to_yaml(cfg, resolve=True), tracking.CONFIG_ARTIFACT
    )


def run_job(cfg: DictConfig, job: JobInfo) -> Outcome:
    """Validate, then train inside an MLflow run that ends FINISHED or FAILED."""
    settings = to_settings(cfg)  # ConfigError here: nothing has been created yet
    if not settings.tracking.enabled:
        result = train_and_evaluate(settings, job.name)
        return _outcome(job, result, None)

    uri = tracking.resolve_tracking_uri(settings.tracking.uri)
    tracking.check_reachable(uri)
    client = tracking.client_for(uri)
    experiment_id = tracking.ensure_experiment(client, settings.tracking.experiment, uri)
    tags = {
        group: job.choices.get(group, getattr(settings, group).name)
        for group in tracking.GROUP_TAGS
    }
    tags |= {
        tracking.ROLE_TAG: "job",
        tracking.JOB_NUM_TAG: str(job.num),
        tracking.OVERRIDES_TAG: job.name,
    }
    with tracking.tracked_run(
        client,
        uri,
        experiment_id,
        name=job.name,
        tags=tags,
        parent_run_id=os.environ.get(PARENT_RUN_ENV) or None,
    ) as run_id:
        tracking.log_params(client, run_id, flatten(cfg))
        result = train_and_evaluate(settings, job.name)
        _log_results(client, run_id, cfg, result)
    return _outcome(job, result, run_id)


def _outcome(job: JobInfo, result: Trained, run_id: str | None) -> Outcome:
    outcome = Outcome(
        name=job.name,
        init=result.settings.init.name,
        final_cost=float(result.history.final_cost[0]),
        train_accuracy=result.train_accuracy,
        test_accuracy=result.test_accuracy,
        seconds=result.seconds,
        run_id=run_id,
    )
    log.info(
        "%s: cost %.6g, train %.2f%%, test %.2f%% (%d iterations in %.2f s)",
        outcome.name,
        outcome.final_cost,
        100 * outcome.train_accuracy,
        100 * outcome.test_accuracy,
        result.settings.trainer.iterations,
        outcome.seconds,
    )
    return outcome
