"""Hand-over of jobs trained ahead of time, stacked with their siblings, to the jobs themselves.

The batching launcher (``hydra/launcher=initlab_batch``, in ``src/hydra_plugins/``) trains a
sweep's compatible jobs as one stacked computation before Hydra runs them (:func:`pretrain`);
each job's task then *claims* its result here
instead of training again, and records its MLflow run exactly as it would have. A job whose
result is not here (not batchable, or batching failed) simply trains itself.

In a sweep of two units or more the units train in a trainer process (:mod:`initlab.ahead`)
while the jobs of those already trained record here: a claim then waits for its unit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from initlab.config import job_config, to_settings

if TYPE_CHECKING:
    from concurrent.futures import Future

    from initlab.experiment import Trained

log = logging.getLogger(__name__)


@dataclass(eq=False)  # identity: a result is handed out once
class Ready:
    """A job's result trained ahead, and what was started for its recording before its turn
    (so that a job's figures are drawn while the job before it writes to MLflow)."""

    result: Trained
    states: Any = None  # its recording.InitialStates, once computed
    drawing: dict[str, Future] = field(default_factory=dict)  # its figures, being drawn


# Fingerprint of a job's config -> results trained for jobs with that config (in job order).
_ready: dict[str, list[Ready]] = {}
_unclaimed: list[Ready] = []  # every result not handed out yet, in job order

# What replicas can absorb: jobs that differ only in these train as one stacked computation.
REPLICA_KEYS = ("init", "seed", "seeds", "tracking")


def _resolved_text(cfg: DictConfig, without: Sequence[str] = ()) -> str:
    """The job's config (Hydra's own node aside), resolved, as canonical JSON (a tenth of
    the time YAML takes: a sweep computes this a few times per job)."""
    tree = {
        key: OmegaConf.to_container(node, resolve=True, enum_to_str=True)
        if OmegaConf.is_config(node := cfg[key])
        else node
        for key in cfg
        if key != "hydra" and key not in without
    }
    return json.dumps(tree, sort_keys=True, default=str)


def fingerprint(cfg: DictConfig) -> str:
    """Equal configs, equal jobs."""
    return _resolved_text(cfg)


def batch_key(cfg: DictConfig) -> str:
    """Jobs with the same key differ only in what replicas absorb (REPLICA_KEYS)."""
    return _resolved_text(cfg, without=REPLICA_KEYS)


# Job configs composed (and validated) by the sweep callback, kept so that the launcher
# does not compose them again: override list -> composed config.
_composed: dict[tuple[str, ...], DictConfig] = {}


def remember_composed(overrides: Sequence[str], cfg: DictConfig) -> None:
    _composed[tuple(overrides)] = cfg


def was_composed(overrides: Sequence[str]) -> bool:
    """Whether the sweep callback composed (and validated) this job already."""
    return tuple(overrides) in _composed


def remembered(jobs: Sequence[Sequence[str]]) -> list[DictConfig] | None:
    """The configs the sweep callback composed for these jobs (kept), if it did for all."""
    found = [_composed.get(tuple(job)) for job in jobs]
    return None if any(cfg is None for cfg in found) else found  # type: ignore[return-value]


def composed(overrides: Sequence[str]) -> DictConfig | None:
    """The config the sweep callback composed for these overrides, if any (handed out once)."""
    return _composed.pop(tuple(overrides), None)


def offer(cfg: DictConfig, result: Trained) -> None:
    ready = Ready(result)
    _ready.setdefault(fingerprint(cfg), []).append(ready)
    _unclaimed.append(ready)


def claim(cfg: DictConfig) -> Ready | None:
    """The result trained ahead for this job's config, if any (each is handed out once);
    if its unit is being trained in the trainer process, once that is done."""
    if not _ready and _ahead is None:
        return None
    key = fingerprint(cfg)
    units = _unit_of.get(key, [])
    while units and not _ready.get(key):  # (equal jobs may sit in several units)
        _collect(units.pop(0))
    waiting = _ready.get(key)
    if not waiting:
        return None
    ready = waiting.pop(0)
    _unclaimed.remove(ready)
    return ready


def upcoming(count: int) -> list[Ready]:
    """The next ``count`` results not handed out yet, in job order."""
    return _unclaimed[:count]


def clear(composed: bool = True) -> None:
    """Forget every result (and stop training ahead); with ``composed``, the configs the
    sweep callback composed too."""
    global _ahead
    if _ahead is not None:
        _ahead.stop()
        _ahead = None
    for kept in (_unit_of, _unit_jobs, _started_for, _started_order, _ready, _unclaimed):
        kept.clear()
    if composed:
        _composed.clear()


def plan_groups(configs: Sequence[DictConfig]) -> list[list[int]]:
    """Job indices grouped by batch key, in order of first appearance; only groups of 2+."""
    groups: dict[str, list[int]] = {}
    for index, cfg in enumerate(configs):
        try:
            groups.setdefault(batch_key(cfg), []).append(index)
        except Exception as exc:  # an unresolvable config trains (and fails) on its own
            log.debug("job #%d is not batchable: %s", index, exc)
    return [members for members in groups.values() if len(members) > 1]


def plan_units(configs: Sequence[DictConfig]) -> list[list[int]]:
    """Every job in one unit: the stacked groups and the jobs that stack with nothing, in
    order of their first job."""
    grouped = plan_groups(configs)
    in_group = {i for members in grouped for i in members}
    return sorted(grouped + [[i] for i in range(len(configs)) if i not in in_group])


# Training ahead in a process of its own (initlab.ahead): the units it trains, which unit
# each job's fingerprint belongs to, and each unit's job configs (until collected).
_ahead: Any = None
_unit_of: dict[str, list[int]] = {}
_unit_jobs: dict[int, list[DictConfig]] = {}


def start_ahead(jobs: Sequence[Sequence[str]], configs: Sequence[DictConfig]) -> None:
    """Start training ahead now, if the sweep has two units or more: the sweep callback
    calls this once every job is validated, so that the first unit trains while MLflow
    starts and the parent run is made (:func:`pretrain` then finds it started)."""
    from initlab import ahead as training_ahead

    units = plan_units(configs)
    if len(units) > 1 and training_ahead.available():
        try:
            _started_order.extend(_train_ahead(configs, _in_pieces(units, len(configs))))
            _started_for.extend(tuple(job) for job in jobs)
        except Exception as exc:  # (a fork refused): the launcher trains as it can
            log.warning("Could not start training ahead (%s)", exc)
            clear(composed=False)


# The jobs (override lists) training ahead was started for, and its order (start_ahead).
_started_for: list[tuple[str, ...]] = []
_started_order: list[int] = []


def pretrain(
    configs: Sequence[DictConfig],
    ahead: bool = True,
    overrides: Sequence[Sequence[str]] | None = None,
) -> list[int]:
    """Train every group of compatible jobs together and offer the results to the jobs;
    return the order in which to run the jobs (indices into ``configs``).

    With ``ahead`` and a sweep of two units or more, a trainer process trains the units in
    order while this process records the jobs of those already trained; the jobs then run
    unit by unit (a unit's jobs in sweep order), which is sweep order unless units
    interleave (``-m init=a,b activation=x,y`` alternates the two activations' groups).
    Otherwise the groups train here, now, and the jobs run in sweep order. Training ahead
    that :func:`start_ahead` started for the same jobs (``overrides``) is kept.
    """
    from initlab import ahead as training_ahead
    from initlab import render

    started = overrides is not None and _started_for == [tuple(o) for o in overrides]
    if _ahead is not None and ahead and started:
        return list(_started_order)
    clear(composed=False)  # anything started for other jobs, or not wanted
    units = plan_units(configs)
    if ahead and len(units) > 1 and training_ahead.available():
        return _train_ahead(configs, _in_pieces(units, len(configs)))
    groups = [members for members in units if len(members) > 1]
    if groups:
        render.warm_up()  # the figure workers start while the batch trains
    for members in groups:
        try:
            jobs = [job_config(configs[i]) for i in members]
            _log_stacked(members)
            _offer_all(jobs, training_ahead.train_unit([to_settings(job) for job in jobs]))
        except Exception as exc:  # fall back: each job trains (and may fail) on its own
            log.warning(
                "Joint training of jobs %s failed (%s); training them one by one", members, exc
            )
    return list(range(len(configs)))


# Training ahead, the last unit trains in pieces: what is left to record once the trainer
# is done (one core idle) is then the last piece, not the whole last group. Only the last:
# each piece costs the monitor's per-chunk work again. At least PIECE_MIN_JOBS jobs a piece
# (stacking pays for the NumPy engine; the compiled one runs a replica per core), and about
# PIECES pieces a sweep.
PIECE_MIN_JOBS = 8
PIECES = 12


def _in_pieces(units: list[list[int]], jobs: int) -> list[list[int]]:
    size = max(PIECE_MIN_JOBS, -(-jobs // PIECES))
    *first, last = units
    return [*first, *(last[i : i + size] for i in range(0, len(last), size))]


def _train_ahead(configs: Sequence[DictConfig], units: list[list[int]]) -> list[int]:
    global _ahead
    from initlab.ahead import TrainingAhead

    batches = []
    for number, members in enumerate(units):
        jobs = [job_config(configs[i]) for i in members]
        try:
            batches.append([to_settings(job) for job in jobs])
        except Exception:  # an invalid job: it fails on its own, in its turn
            batches.append([])
        _unit_jobs[number] = jobs if batches[-1] else []
        if len(members) > 1:
            _log_stacked(members)
        for job in jobs:
            _unit_of.setdefault(fingerprint(job), []).append(number)
    log.info(
        "Training %d units (stacked groups and lone jobs; the last one in pieces) in a trainer "
        "process, each while the one before it is recorded", len(units),
    )  # fmt: skip
    _ahead = TrainingAhead(batches)
    return [i for members in units for i in members]


def _collect(unit: int) -> None:
    """Offer unit ``unit``'s results once the trainer has them (once per unit)."""
    jobs = _unit_jobs.pop(unit, None)
    if jobs is None or _ahead is None:
        return
    results = _ahead.result(unit) if jobs else None  # no jobs: not valid, not trained
    if results is not None:
        _offer_all(jobs, results)


def _log_stacked(members: Sequence[int]) -> None:
    log.info("Training jobs %s together as stacked replicas", ", ".join(f"#{i}" for i in members))


def _offer_all(jobs: Sequence[DictConfig], results: Sequence[Trained]) -> None:
    for job, result in zip(jobs, results, strict=True):
        offer(job, result)
