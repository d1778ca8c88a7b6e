"""What a trained job writes into its MLflow runs: metrics, diagnostics and figures.

``record_run`` records one replica (a seed) of a trained job; ``record_seed_summary`` records
the statistics over a job's seeds on the job's own run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from initlab import render, tracking
from initlab.diagnostics import initial_diagnostics, theory_diagnostics
from initlab.divergence import DIVERGED_TAG
from initlab.plots import BoundaryData, chance_cost
from initlab.render import FigureSpec

if TYPE_CHECKING:
    from concurrent.futures import Future

    from initlab.activations import Activation
    from initlab.config import Config
    from initlab.datasets import Dataset
    from initlab.experiment import Trained
    from initlab.meanfield import MeanField
    from initlab.network import Params

# A seed "failed" if its cost is not finite or its training accuracy is within this margin
# of what predicting the majority class everywhere gets (chance).
CHANCE_MARGIN = 0.02
SUMMARISED = ("final_cost", "train_accuracy", "test_accuracy")


def _cost_curve(result: Trained, replica: int) -> tuple[list[int], list[float]]:
    """The logged costs plus the cost after the last step (at step = iterations)."""
    h = result.history
    steps = [*h.steps.tolist(), result.settings.trainer.iterations]
    return steps, [*h.costs[replica].tolist(), float(h.final_cost[replica])]


def steps_to_target(result: Trained) -> tuple[np.ndarray, np.ndarray]:
    """Per replica: the first logged step whose cost is at or below ``trainer.target_cost``
    (the run's ``iterations`` if it never gets there), and whether it got there."""
    target = result.settings.trainer.target_cost
    steps = np.append(result.history.steps, result.settings.trainer.iterations)
    costs = np.column_stack([result.history.costs, result.history.final_cost])
    below = costs <= target
    reached = below.any(axis=1)
    return np.where(reached, steps[np.argmax(below, axis=1)], steps[-1]), reached


def _target_metrics(result: Trained, replica: int) -> dict[str, float]:
    if result.settings.trainer.target_cost is None:
        return {}
    steps, reached = steps_to_target(result)
    return {"steps_to_target": float(steps[replica]), "target_reached": float(reached[replica])}


def _title(result: Trained) -> str:
    return _title_of(result.settings)


def _title_of(settings: Config) -> str:
    title = f"init={settings.init.name}, activation={settings.activation.name}"
    return title if settings.dataset.name == "circles" else f"{title}, {settings.dataset.name}"


@dataclass(frozen=True)
class InitialState:
    """One replica's start: per-layer statistics, and the theory (mean field, Jacobian)."""

    layers: list[dict[str, float]]
    theory: dict[str, float]
    spectrum: np.ndarray
    point: MeanField


ACTIVATION_SAMPLES = 2000


class InitialStates:
    """Each replica's :class:`InitialState`, computed once on first use: the figures drawn
    while the job trains and the metrics logged after it share them."""

    def __init__(self, settings: Config, initial: Params, data: Dataset, act: Activation):
        self.settings, self.initial, self.data, self.act = settings, initial, data, act
        self._states: dict[int, InitialState] = {}

    @staticmethod
    def of(result: Trained) -> InitialStates:
        return InitialStates(result.settings, result.initial, result.data, result.act)

    def activation_samples(self, replica: int, most: int = ACTIVATION_SAMPLES) -> bytes:
        """Up to ``most`` activations of every hidden layer at init, evenly spaced over units
        and examples, as an npz file's bytes (``layer1``, ``layer2``, ...)."""
        import io

        from initlab.network import forward

        hidden = forward(self.initial.replica(replica), self.data.X_train, self.act)
        arrays = {}
        for number, a in enumerate(hidden.activations[1:-1], start=1):
            values = a[0].ravel()
            pick = np.linspace(0, values.size - 1, min(most, values.size)).astype(int)
            arrays[f"layer{number}"] = values[pick].astype(np.float32)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def __getitem__(self, replica: int) -> InitialState:
        if replica not in self._states:
            cfg, X = self.settings.init, self.data.X_train
            layers, _ = initial_diagnostics(
                self.initial, cfg, X, self.data.Y_train, self.act, replica
            )
            theory, spectrum, point = theory_diagnostics(self.initial, cfg, X, self.act, replica)
            self._states[replica] = InitialState(layers, theory, spectrum, point)
        return self._states[replica]


def _diagnostic_metrics(
    result: Trained, replica: int, states: InitialStates, curve_points: int = 0
) -> list:
    """One replica's diagnostics as curves: each per-layer quantity at initialization is one
    metric whose step is the layer (``init/z_std`` at steps 1..L: MLflow's charts draw it
    against depth and overlay runs), the theory's numbers at step 0 (initialization), and the
    training curves at their iterations (``curve_points`` > 0: about that many of them)."""
    state = states[replica]
    by_quantity: dict[str, tuple[list[int], list[float]]] = {}
    for number, stats in enumerate(state.layers, start=1):
        for key, value in stats.items():
            steps, values = by_quantity.setdefault(f"init/{key}", ([], []))
            steps.append(number)
            values.append(value)
    lsuv = result.init_reports[replica].lsuv_iterations
    if lsuv:
        by_quantity["init/lsuv_iterations"] = (list(range(1, len(lsuv) + 1)), list(lsuv))
    curves = [tracking.Curve(key, steps, values) for key, (steps, values) in by_quantity.items()]
    curves += [tracking.Curve(key, [0], [value]) for key, value in state.theory.items()]
    if result.monitor is not None:
        for key, (steps, values) in result.monitor.curves(replica).items():
            curve = tracking.Curve(key, steps, values)
            # Unit counts and fractions stay put for thousands of steps: only their changes.
            stepwise = key.endswith(("distinct_units", "dead_fraction", "saturated_fraction"))
            curve = curve.thinned(curve_points)
            curves.append(curve.without_repeats() if stepwise else curve)
    return curves


def initial_figures(states: InitialStates, replica: int = 0) -> dict[str, FigureSpec]:
    """The figures of the state at initialization: they can be drawn while the job trains."""
    state, title = states[replica], _title_of(states.settings)
    return {
        tracking.SIGNAL_ARTIFACT: (
            "signal_figure", {"layers": state.layers, "title": f"Signal at init: {title}"}
        ),
        tracking.JACOBIAN_ARTIFACT: (
            "jacobian_spectrum_figure",
            {
                "singular_values": state.spectrum, "mean_field": state.point.as_dict(),
                "depth": len(states.initial.layer_dims) - 2, "title": title,
            },
        ),
        tracking.HISTOGRAMS_ARTIFACT: (
            "activation_histograms_figure",
            {
                "params": states.initial.replica(replica), "X": states.data.X_train,
                "act": states.act, "title": title,
            },
        ),
    }  # fmt: skip


def _chance_cost(result: Trained) -> float:
    return chance_cost(float(np.mean(result.data.Y_train)))


def _boundary_data(data: Dataset) -> BoundaryData:
    return BoundaryData(
        data.X_train, data.Y_train, data.X_test, data.Y_test,
        feature_names=tuple(
            f"{name} (standardized)" if data.feature_mean is not None else name
            for name in data.feature_names
        ),
        class_names=(str(data.classes[0]), str(data.classes[1])),
    )  # fmt: skip


def _which_seed(result: Trained, replica: int) -> str:
    return (
        f" (seed {result.seeds[replica]} of {len(result.seeds)})" if len(result.seeds) > 1 else ""
    )


def _boundary_figure(result: Trained, replica: int) -> FigureSpec:
    return (
        "decision_boundary_figure",
        {
            "params": result.params.replica(replica), "act": result.act,
            "data": _boundary_data(result.data),
            "title": f"{_title(result)}{_which_seed(result, replica)}",
        },
    )  # fmt: skip


def _evolution_figure(result: Trained, replica: int) -> FigureSpec | None:
    """The boundary at the snapshots the trainer kept and at the end."""
    kept = result.history.snapshots
    if not kept:
        return None
    end = result.settings.trainer.iterations
    snapshots = [(i, p.replica(replica)) for i, p in sorted(kept.items())]
    snapshots.append((end, result.params.replica(replica)))
    return (
        "boundary_evolution_figure",
        {
            "snapshots": snapshots, "act": result.act, "data": _boundary_data(result.data),
            "title": f"{_title(result)}{_which_seed(result, replica)}",
        },
    )  # fmt: skip


def record_config(client: Any, run_id: str, cfg: DictConfig) -> None:
    """The run's resolved config, as an artifact."""
    tracking.log_text(
        client, run_id, OmegaConf.to_yaml(cfg, resolve=True), tracking.CONFIG_ARTIFACT
    )


@dataclass
class Unwritten:
    """What a run knows from its start but writes with its main write (one request, not
    three): its params, and its network's number of weights and biases (metric
    ``parameters``; ``seeds`` is a param, as every config key)."""

    params: Mapping[str, Any]
    parameters: int

    def curves(self) -> list[tracking.Curve]:
        return [tracking.Curve("parameters", [0], [float(self.parameters)])]

    def write(self, client: Any, run_id: str) -> None:
        """Write it now (a job that trains in its run: its params are seen meanwhile)."""
        tracking.log_metrics(client, run_id, {}, self.curves(), params=self.params)


def _main_write(
    client: Any, run_id: str, scalars: dict, curves: list, final_step: int,
    unwritten: Unwritten | None,
) -> None:  # fmt: skip
    if unwritten is not None:
        curves = [*unwritten.curves(), *curves]
    params = unwritten.params if unwritten is not None else None
    tracking.log_metrics(client, run_id, scalars, curves, final_step=final_step, params=params)


def run_figures(result: Trained, replica: int, states: InitialStates) -> dict[str, FigureSpec]:
    """One replica's figures: its decision boundary, the boundary's evolution, its cost
    and, with diagnostics, the figures of its initial state."""
    specs: dict[str, FigureSpec] = {tracking.BOUNDARY_ARTIFACT: _boundary_figure(result, replica)}
    evolution = _evolution_figure(result, replica)
    if evolution is not None:
        specs[tracking.EVOLUTION_ARTIFACT] = evolution
    steps, costs = _cost_curve(result, replica)
    specs[tracking.COST_ARTIFACT] = (
        "cost_figure",
        {
            "steps": np.asarray(steps),
            "costs": np.asarray(costs),
            "title": f"Cost: {_title(result)}",
            "chance": _chance_cost(result),
        },
    )
    if result.settings.diagnostics:
        specs |= initial_figures(states, replica)
    return specs


def seed_summary_figures(result: Trained, states: InitialStates) -> dict[str, FigureSpec]:
    """A job's figures over its seeds: every seed's cost curve in one figure, the first
    seed's decision boundary and, with diagnostics, its initial state."""
    steps, costs = _seed_costs(result)
    title = f"Cost over {len(result.seeds)} seeds: {_title(result)}"
    specs: dict[str, FigureSpec] = {
        tracking.BOUNDARY_ARTIFACT: _boundary_figure(result, 0),
        tracking.COST_ARTIFACT: (
            "seeds_cost_figure",
            {
                "steps": np.asarray(steps),
                "costs": costs,
                "title": title,
                "chance": _chance_cost(result),
            },
        ),
    }
    if result.settings.diagnostics:
        specs |= initial_figures(states)
    return specs


def job_figures(result: Trained, states: InitialStates) -> dict[str, FigureSpec]:
    """The figures a job's own run gets (the seed summary's when it has several seeds)."""
    if len(result.seeds) > 1:
        return seed_summary_figures(result, states)
    return run_figures(result, 0, states)


def _draw_missing(
    specs: dict[str, FigureSpec], drawing: dict[str, Future] | None
) -> dict[str, Future]:
    """``drawing`` (figures submitted earlier: while the job trained, or while the job
    before it was recorded) and the rest of ``specs``, submitted now."""
    drawing = dict(drawing or {})
    return drawing | render.submit({k: s for k, s in specs.items() if k not in drawing})


def record_run(
    client: Any,
    run_id: str,
    result: Trained,
    replica: int,
    figures: bool = True,
    drawing: dict[str, Future] | None = None,
    states: InitialStates | None = None,
    samples: bool = True,
    curve_points: int = 0,
    unwritten: Unwritten | None = None,
) -> None:
    """One replica's metrics (cost curve, accuracies, diagnostics) and figures (with
    ``unwritten``: what the run has not written yet).

    The figures are drawn by worker processes while the metrics are logged; ``drawing`` holds
    those already submitted, and ``states`` the initial diagnostics already computed for
    them. ``samples``: also the activations at init that the report's histograms use
    (``diagnostics/activations.npz``).
    """
    states = states or InitialStates.of(result)
    steps, costs = _cost_curve(result, replica)
    scalars = {
        "final_cost": float(result.history.final_cost[replica]),
        "train_accuracy": float(result.train_accuracy[replica]),
        "test_accuracy": float(result.test_accuracy[replica]),
        "train_seconds": result.seconds / len(result.seeds),
        "diverged": float(bool(why := result.divergence.reasons[replica])),
    } | _target_metrics(result, replica)
    if why:
        client.set_tag(run_id, DIVERGED_TAG, why)
    curves = [tracking.Curve("cost", steps, costs).thinned(curve_points)]
    drawing = _draw_missing(run_figures(result, replica, states) if figures else {}, drawing)
    if result.settings.diagnostics:
        curves += _diagnostic_metrics(result, replica, states, curve_points)
        if samples:  # data, cheap: whatever the figure policy
            drawing[tracking.ACTIVATIONS_ARTIFACT] = render.ready(
                states.activation_samples(replica)
            )
    _main_write(client, run_id, scalars, curves, steps[-1], unwritten)
    render.log_drawn(client, run_id, drawing)


def seed_statistics(result: Trained) -> dict[str, float]:
    """Mean, std, min and max over seeds of the final cost and accuracies (and of
    steps_to_target, with the fraction of seeds that reached it, when the trainer has a
    target), and the fraction of seeds that failed (a cost that is not finite, or chance
    accuracy)."""
    values = {
        "final_cost": np.asarray(result.history.final_cost, dtype=float),
        "train_accuracy": np.asarray(result.train_accuracy, dtype=float),
        "test_accuracy": np.asarray(result.test_accuracy, dtype=float),
    }
    stats: dict[str, float] = {"seeds": float(len(result.seeds))}
    summarised = SUMMARISED
    if result.settings.trainer.target_cost is not None:
        values["steps_to_target"], reached = steps_to_target(result)
        stats["target_reached_fraction"] = float(np.mean(reached))
        summarised = (*SUMMARISED, "steps_to_target")
    for key in summarised:
        v = values[key]
        stats |= {
            f"{key}_mean": float(np.mean(v)), f"{key}_std": float(np.std(v)),
            f"{key}_min": float(np.min(v)), f"{key}_max": float(np.max(v)),
        }  # fmt: skip
    positive = float(np.mean(result.data.Y_train))
    chance = max(positive, 1.0 - positive)
    failed = ~np.isfinite(values["final_cost"]) | (
        values["train_accuracy"] <= chance + CHANCE_MARGIN
    )
    stats["failed_fraction"] = float(np.mean(failed))
    return stats


def seed_table(result: Trained) -> dict[str, list]:
    """Every seed's numbers as columns (the job run's ``seeds.json`` table)."""
    positive = float(np.mean(result.data.Y_train))
    chance = max(positive, 1.0 - positive)
    final = np.asarray(result.history.final_cost, dtype=float)
    train = np.asarray(result.train_accuracy, dtype=float)
    table = {
        "seed": list(result.seeds),
        "final_cost": final.tolist(),
        "train_accuracy": train.tolist(),
        "test_accuracy": np.asarray(result.test_accuracy, dtype=float).tolist(),
        "failed": (~np.isfinite(final) | (train <= chance + CHANCE_MARGIN)).tolist(),
    }
    if result.settings.trainer.target_cost is not None:
        table["steps_to_target"] = steps_to_target(result)[0].tolist()
    return table


def _seed_costs(result: Trained) -> tuple[list[int], np.ndarray]:
    """Every seed's cost curve, its final cost included: (steps, seeds × steps)."""
    steps = [*result.history.steps.tolist(), result.settings.trainer.iterations]
    return steps, np.column_stack([result.history.costs, result.history.final_cost])


def record_seed_summary(
    client: Any,
    run_id: str,
    result: Trained,
    states: InitialStates,
    figures: bool = True,
    drawing: dict[str, Future] | None = None,
    curve_points: int = 0,
    unwritten: Unwritten | None = None,
) -> None:
    """On the job's run: the seed statistics, the mean cost curve (metric ``cost``) with its
    min-max band, every seed's numbers as a table, and (with ``figures``) the figures of
    :func:`seed_summary_figures`; ``drawing`` holds those already submitted."""
    scalars = seed_statistics(result) | {"train_seconds": result.seconds}
    scalars.pop("seeds")  # a param already
    diverged = result.divergence
    scalars["diverged_fraction"] = diverged.count / len(result.seeds)
    if diverged.count:
        client.set_tag(run_id, DIVERGED_TAG, diverged.summary())
    steps, costs = _seed_costs(result)
    drawing = _draw_missing(seed_summary_figures(result, states) if figures else {}, drawing)
    tracking.log_table(client, run_id, seed_table(result), tracking.SEEDS_TABLE_ARTIFACT)
    curves = []
    if result.settings.diagnostics:
        curves = _diagnostic_metrics(result, 0, states, curve_points)
        drawing[tracking.ACTIVATIONS_ARTIFACT] = render.ready(states.activation_samples(0))
    with np.errstate(invalid="ignore"):  # a diverged seed's NaN spreads to its steps' stats
        band = {"cost": costs.mean(axis=0), "cost_min": costs.min(axis=0),
                "cost_max": costs.max(axis=0)}  # fmt: skip
    band_curves = (
        tracking.Curve(k, steps, v.tolist()).thinned(curve_points) for k, v in band.items()
    )
    curves = [*band_curves, *curves]
    _main_write(client, run_id, scalars, curves, steps[-1], unwritten)
    render.log_drawn(client, run_id, drawing)
