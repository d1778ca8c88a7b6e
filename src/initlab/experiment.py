"""One job: build data, network and init from a config, train, evaluate, and record it.

The plain pipeline (:func:`train_and_evaluate`) knows nothing of MLflow; :func:`run_job` adds
the tracking around it. Hydra-specific facts (job number, overrides, choices) arrive as a
:class:`JobInfo`, so this module can be driven from tests without Hydra.

A job with ``seeds: K`` trains seeds ``seed, seed+1, ..., seed+K-1`` as K stacked replicas
of one computation; each replica's numbers are those it would have alone.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
from omegaconf import DictConfig

from initlab import batching, orphans, recording, render, tracking
from initlab.activations import Activation, make_activation
from initlab.config import Config, FigurePolicy, check_choices, flatten, to_settings
from initlab.datasets import Dataset, load_dataset
from initlab.diagnostics import TrainingMonitor
from initlab.divergence import Divergence, divergence
from initlab.initializers import InitReport, initialize
from initlab.memory import check_fits
from initlab.network import Params, accuracy
from initlab.optimizers import UpdateRule
from initlab.seeding import course_rng
from initlab.trainer import History, fit

log = logging.getLogger(__name__)

# Set by the sweep callback for the jobs of a multirun: JSON {"<uri> <experiment>": parent run}.
PARENT_RUN_ENV = "INITLAB_PARENT_RUN_ID"
# Set by the sweep callback too: how many jobs the sweep has (the figure policy reads it).
SWEEP_JOBS_ENV = "INITLAB_SWEEP_JOBS"

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
    """What a finished job reports back (the sweep's summary table is built from these).

    With several seeds the numbers are means over the seeds.
    """

    name: str
    init: str
    final_cost: float
    train_accuracy: float
    test_accuracy: float
    seconds: float
    run_id: str | None = None
    seeds: int = 1
    place: str = ""  # parent_key(uri, experiment) of the store it was recorded in
    diverged: str = ""  # why it diverged (Divergence.summary), "" if it did not


@dataclass
class Trained:
    """A trained job: K replicas (one per seed) of the same network."""

    settings: Config
    data: Dataset
    act: Activation
    seeds: list[int]
    initial: Params
    init_reports: list[InitReport]
    params: Params
    history: History
    monitor: TrainingMonitor | None
    train_accuracy: np.ndarray  # (K,)
    test_accuracy: np.ndarray  # (K,)
    seconds: float

    @property
    def divergence(self) -> Divergence:
        h = self.history
        return divergence(h.steps, h.costs, h.final_cost, self.settings.trainer.iterations)


def replica_seeds(settings: Config) -> list[int]:
    return [settings.seed + k for k in range(settings.seeds)]


def starting_point(
    settings: Config, data: Dataset, act: Activation
) -> tuple[Params, list[InitReport], list[int]]:
    """Every seed's initial parameters, stacked on the replica axis."""
    dims = [data.n_features, *settings.model.hidden_sizes, 1]
    seeds = replica_seeds(settings)
    # The course seeds its init with np.random.seed(3): course_rng reproduces that stream.
    starts = [initialize(settings.init, dims, course_rng(s), act, data.X_train) for s in seeds]
    return Params.stack([p for p, _ in starts]), [r for _, r in starts], seeds


# Called once the starting point exists, before training: (initial params, data, activation).
StartHook = Callable[[Params, Dataset, Activation], None]


# The boundary's evolution figure shows the network at these fractions of training (and at
# the end), each rounded to a logged iteration.
SNAPSHOT_FRACTIONS = (0.0, 0.1, 0.5)


def snapshot_steps(trainer) -> list[int]:
    """The iterations at which training keeps the parameters for the evolution figure."""
    every = trainer.log_every
    steps = {round(f * trainer.iterations / every) * every for f in SNAPSHOT_FRACTIONS}
    return sorted(s for s in steps if s < trainer.iterations)


def train_batch(
    batch: list[Config], label: str = "", on_start: StartHook | None = None
) -> list[Trained]:
    """Train several jobs that differ only in their init and seeds as one stacked computation.

    Every job contributes one replica per seed; each replica trains exactly as it would
    alone, so each job's result is the one it would get by itself.
    """
    settings = batch[0]
    data = load_dataset(settings.dataset)
    act = make_activation(settings.activation)
    starts = [starting_point(s, data, act) for s in batch]
    initial = Params.stack([params for params, _, _ in starts])
    if on_start is not None:
        on_start(initial, data, act)
    trainer = settings.trainer
    monitor = TrainingMonitor(act.name) if settings.diagnostics else None
    started = time.perf_counter()
    last_report = [started]

    def progress(iteration: int, cost: np.ndarray) -> None:
        now = time.perf_counter()
        if now - last_report[0] >= PROGRESS_EVERY_SECONDS:
            last_report[0] = now
            pct = 100.0 * iteration / trainer.iterations
            log.info(
                "%s: iteration %d/%d (%.0f%%), mean cost %.6g",
                label, iteration, trainer.iterations, pct, float(np.mean(cost)),
            )  # fmt: skip

    params, history = fit(
        initial, data.X_train, data.Y_train, act,
        rule=UpdateRule.from_config(trainer), iterations=trainer.iterations,
        log_every=trainer.log_every, batch_size=trainer.batch_size,
        shuffle_seed=trainer.shuffle_seed, on_log=progress, monitor=monitor,
        snapshots=snapshot_steps(trainer), engine=trainer.engine.value,
        dtype=trainer.dtype.value,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    train_accuracy = accuracy(params, data.X_train, data.Y_train, act)
    test_accuracy = accuracy(params, data.X_test, data.Y_test, act)
    results, start = [], 0
    for job, (_, init_reports, seeds) in zip(batch, starts, strict=True):
        part = slice(start, start + len(seeds))
        start = part.stop
        results.append(
            Trained(
                job, data, act, seeds, initial.take(part), init_reports, params.take(part),
                History(
                    history.steps, history.costs[part], history.final_cost[part],
                    {i: p.take(part) for i, p in history.snapshots.items()},
                ),
                monitor.take(part) if monitor is not None else None,
                train_accuracy[part], test_accuracy[part],
                seconds=seconds * len(seeds) / initial.replicas,  # its share of the batch
            )
        )  # fmt: skip
    return results


def train_and_evaluate(
    settings: Config, label: str = "", on_start: StartHook | None = None
) -> Trained:
    """Train the job's network(s) as the config says; no tracking."""
    return train_batch([settings], label, on_start)[0]


def run_job(cfg: DictConfig, job: JobInfo) -> Outcome:
    """Validate, then train inside an MLflow run that ends FINISHED or FAILED."""
    check_choices(job.choices)  # (an optional group's unknown option is Hydra-silent)
    settings = to_settings(cfg)  # ConfigError here: nothing has been created yet
    data = load_dataset(settings.dataset)  # DatasetError (a ConfigError) too: a bad CSV file
    check_fits(settings, data.n_features, data.X_train.shape[1])  # before any run exists
    if not settings.tracking.enabled:
        ready = batching.claim(cfg)
        result = ready.result if ready else train_and_evaluate(settings, job.name)
        return _outcome(job, result, None)

    uri = tracking.resolve_tracking_uri(settings.tracking.uri)
    tracking.check_reachable(uri)
    with tracking.server_loss_explained(uri):
        return _run_tracked(cfg, job, settings, data, uri)


def _run_tracked(
    cfg: DictConfig, job: JobInfo, settings: Config, data: Dataset, uri: str
) -> Outcome:
    """run_job's tracked part: the job's run (and its seeds' runs) in the store at ``uri``."""
    client = tracking.client_for(uri)
    experiment_id = tracking.ensure_experiment(client, settings.tracking.experiment, uri)
    parent = sweep_parent(uri, settings.tracking.experiment)
    if parent is None:  # a single run (a sweep's callback has looked already)
        orphans.mark_orphans(client, [experiment_id])
    tags = {
        group: job.choices.get(group, getattr(settings, group).name)
        for group in tracking.GROUP_TAGS
    }
    tags |= {
        tracking.ROLE_TAG: "job",
        tracking.JOB_NUM_TAG: str(job.num),
        tracking.OVERRIDES_TAG: job.name,
    }
    params = flatten(cfg)
    for number, (path, digest) in enumerate(data.files, start=1):  # which file, which content
        params[f"dataset.file{number}.sha256"] = f"{digest} {os.path.basename(path)}"
    if tuple(data.classes) != (0, 1):  # which of a CSV's labels became class 1
        params["dataset.classes"] = f"0={data.classes[0]}, 1={data.classes[1]}"
    dims = [data.n_features, *settings.model.hidden_sizes, 1]
    parameters = sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(dims))
    with tracking.tracked_run(
        client, uri, experiment_id, name=job.name, tags=tags,
        parent_run_id=parent,
    ) as run_id:  # fmt: skip
        # A batching launcher may have trained this job already, stacked with its siblings
        # (claim waits while its trainer process finishes it), and started its figures
        # while the job before it was recorded.
        ready = batching.claim(cfg)
        clock, waited = time.perf_counter(), 0.0  # waited: for MLflow before training
        figures = draws_figures(settings)
        # Params and the start's metrics go with the job's main write (one request, not
        # three) unless the job trains now: then they are written first, seen while it trains.
        unwritten = recording.Unwritten(params, parameters)
        recording.record_config(client, run_id, cfg)
        if ready:
            _prepare(ready, figures)
            for upcoming in batching.upcoming(DRAW_AHEAD):
                _prepare(upcoming, draws_figures(upcoming.result.settings))
            result, early = ready.result, ready.drawing
            initial_states = ready.states
        else:
            unwritten.write(client, run_id)
            unwritten = None
            render.warm_up()  # the figure workers start while the job trains
            early: dict[str, Future] = {}
            states: list[recording.InitialStates] = []  # initial diagnostics, computed once

            def draw_initial_state(initial: Params, data: Dataset, act: Activation) -> None:
                states.append(recording.InitialStates(settings, initial, data, act))
                if figures and settings.diagnostics and settings.seeds == 1:  # while it trains
                    early.update(render.submit(recording.initial_figures(states[0])))

            waited = time.perf_counter() - clock
            result = train_and_evaluate(settings, job.name, draw_initial_state)
            clock = time.perf_counter()
            initial_states = states[0] if states else recording.InitialStates.of(result)
        points = curve_points(settings)
        if settings.seeds == 1:
            recording.record_run(
                client, run_id, result, replica=0, figures=figures, drawing=early,
                states=initial_states, curve_points=points, unwritten=unwritten,
            )  # fmt: skip
        else:
            recording.record_seed_summary(
                client, run_id, result, initial_states, figures, drawing=early,
                curve_points=points, unwritten=unwritten,
            )  # fmt: skip
            for k, seed in enumerate(result.seeds if settings.tracking.seed_runs else ()):
                seed_tags = tags | {tracking.ROLE_TAG: "seed", tracking.SEED_TAG: str(seed)}
                with tracking.tracked_run(
                    client, uri, experiment_id, name=f"{job.name} seed={seed}",
                    tags=seed_tags, parent_run_id=run_id,
                ) as seed_run:  # fmt: skip
                    recording.record_config(client, seed_run, cfg)
                    recording.record_run(
                        client, seed_run, result, replica=k, figures=False,
                        states=initial_states, samples=False, curve_points=points,
                        unwritten=recording.Unwritten(params | {"seed": str(seed)}, parameters),
                    )  # fmt: skip
        # The time this job waited for MLflow and its figures (the last write excepted).
        logging_seconds = waited + time.perf_counter() - clock
        tracking.log_metrics(client, run_id, {"logging_seconds": logging_seconds})
    return _outcome(job, result, run_id, parent_key(uri, settings.tracking.experiment))


# Jobs trained ahead whose figures are drawn while the current job records: one keeps both
# figure workers busy while the main process writes to MLflow, and bounds what waits in memory.
DRAW_AHEAD = 1


def _prepare(ready: batching.Ready, figures: bool) -> None:
    """Compute a pre-trained job's initial diagnostics and submit its figures, once."""
    if ready.states is None:
        ready.states = recording.InitialStates.of(ready.result)
        if figures:
            ready.drawing = render.submit(recording.job_figures(ready.result, ready.states))


def curve_points(settings: Config) -> int:
    """How many points each per-layer training curve keeps (0: all): the figure policy's
    "large sweep" (more than tracking.figures_max_jobs jobs) thins them."""
    jobs = os.environ.get(SWEEP_JOBS_ENV, "")
    large = jobs.isdigit() and int(jobs) > settings.tracking.figures_max_jobs
    return settings.tracking.large_sweep_curve_points if large else 0


def draws_figures(settings: Config) -> bool:
    """Whether this job draws its own figures: tracking.figures, and for ``auto`` the size of
    the sweep it belongs to (single runs and sweeps of unknown size draw them)."""
    policy = settings.tracking.figures
    if policy != FigurePolicy.auto:
        return policy == FigurePolicy.all
    jobs = os.environ.get(SWEEP_JOBS_ENV, "")
    return not jobs.isdigit() or int(jobs) <= settings.tracking.figures_max_jobs


def parent_key(uri: str, experiment: str) -> str:
    """How the sweep callback names the parent run of one store and experiment."""
    return f"{uri} {experiment}"


def sweep_parent(uri: str, experiment: str) -> str | None:
    """The parent run the sweep callback opened for this store and experiment, if any."""
    parents = json.loads(os.environ.get(PARENT_RUN_ENV) or "{}")
    return parents.get(parent_key(uri, experiment))


def _outcome(job: JobInfo, result: Trained, run_id: str | None, place: str = "") -> Outcome:
    outcome = Outcome(
        name=job.name,
        init=result.settings.init.name,
        final_cost=float(np.mean(result.history.final_cost)),
        train_accuracy=float(np.mean(result.train_accuracy)),
        test_accuracy=float(np.mean(result.test_accuracy)),
        seconds=result.seconds,
        run_id=run_id,
        seeds=len(result.seeds),
        place=place,
        diverged=result.divergence.summary(),
    )
    what = f"{outcome.seeds} seeds, mean " if outcome.seeds > 1 else ""
    log.info(
        "%s: %scost %.6g, train %.2f%%, test %.2f%% (%d iterations, training %.2f s)",
        outcome.name, what, outcome.final_cost, 100 * outcome.train_accuracy,
        100 * outcome.test_accuracy, result.settings.trainer.iterations, outcome.seconds,
    )  # fmt: skip
    if outcome.diverged:
        log.warning("%s: diverged: %s", outcome.name, outcome.diverged)
    return outcome
