"""The (σ_w, σ_b) phase diagram of a sweep: measured trainability beside mean-field theory.

A sweep over the weights' and the biases' scales (e.g. ``init.gain`` and ``init.bias_std``
with a fan-in init, as ``experiment=schoenholz2017`` does) records on every run its
``init/mean_field/sigma_w2`` and ``sigma_b2``. The figure puts each run's training accuracy
on that grid and draws what Schoenholz et al. (2017) predict: the order-to-chaos line
χ₁ = 1 and the contour where the net's depth L equals 6ξ_c, inside which it should train.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Where to evaluate the theory: a grid this fine over the plotted range (~5 s for tanh).
THEORY_GRID = (40, 20)  # σ_w points, σ_b points


@dataclass(frozen=True)
class PhasePoint:
    sigma_w: float
    sigma_b: float
    accuracy: float  # training accuracy (the mean over seeds for a multi-seed job)


@dataclass(frozen=True)
class PhaseSweep:
    points: list[PhasePoint]
    activation: dict[str, Any]  # the activation's config: name and its parameters
    depth: int  # hidden layers
    bias_mean: float


def is_phase_sweep(sweep: PhaseSweep | None) -> bool:
    """A grid worth drawing: at least two σ_w and two σ_b values, each (σ_w, σ_b) once (runs
    that differ in something else too, a seed or a learning rate, would share a cell)."""
    if sweep is None:
        return False
    cells = [(p.sigma_w, p.sigma_b) for p in sweep.points]
    return (
        len({w for w, _ in cells}) >= 2 and len({b for _, b in cells}) >= 2
        and len(set(cells)) == len(cells)
    )  # fmt: skip


def _activation(spec: dict[str, Any]):
    import dataclasses

    from initlab.activations import make_activation
    from initlab.config import GROUP_OPTIONS

    base = GROUP_OPTIONS["activation"][spec["name"]]
    fields = {f.name for f in dataclasses.fields(base)} - {"name"}
    return make_activation(
        dataclasses.replace(base, **{k: float(v) for k, v in spec.items() if k in fields})
    )


def theory(sweep: PhaseSweep, sigma_w: np.ndarray, sigma_b: np.ndarray) -> dict[str, np.ndarray]:
    """The critical σ_w for each σ_b, and ξ_c on the (σ_b, σ_w) grid."""
    from initlab import meanfield

    act = _activation(sweep.activation)
    critical = np.array(
        [math.sqrt(meanfield.critical_sigma_w2(act, b * b, sweep.bias_mean)) for b in sigma_b]
    )
    xi = np.array(
        [
            [meanfield.summary(act, w * w, b * b, sweep.bias_mean).depth_scale for w in sigma_w]
            for b in sigma_b
        ]
    )
    return {"critical": critical, "depth_scale": xi}


def _edges(values: Sequence[float]) -> np.ndarray:
    """Cell edges around sorted grid values (midpoints, the ends mirrored)."""
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def plot_phase_diagram(sweep: PhaseSweep, path: Path, new_figure, save) -> None:
    """The measured accuracies as a grid of cells (numbers printed), χ₁ = 1 and L = 6ξ_c."""
    ws = sorted({p.sigma_w for p in sweep.points})
    bs = sorted({p.sigma_b for p in sweep.points})
    grid = np.full((len(bs), len(ws)), np.nan)
    for p in sweep.points:
        grid[bs.index(p.sigma_b), ws.index(p.sigma_w)] = p.accuracy
    figure = new_figure(9, 5.5)
    ax = figure.add_axes((0.08, 0.1, 0.74, 0.76))
    mesh = ax.pcolormesh(_edges(ws), _edges(bs), grid, cmap="viridis", vmin=0.5, vmax=1.0)
    for i, b in enumerate(bs):
        for j, w in enumerate(ws):
            if np.isfinite(grid[i, j]):
                colour = "black" if grid[i, j] > 0.8 else "white"
                ax.text(w, b, f"{100 * grid[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color=colour)  # fmt: skip
    fine_w = np.linspace(_edges(ws)[0], _edges(ws)[-1], THEORY_GRID[0])
    fine_b = np.linspace(_edges(bs)[0], _edges(bs)[-1], THEORY_GRID[1])
    fine_b = fine_b[fine_b >= 0]
    lines = theory(sweep, fine_w, fine_b)
    ax.plot(lines["critical"], fine_b, color="red", linewidth=2, label="χ₁ = 1 (order | chaos)")
    xi = np.where(np.isfinite(lines["depth_scale"]), lines["depth_scale"], 1e9)
    contour = ax.contour(
        fine_w, fine_b, 6 * xi, levels=[sweep.depth], colors="white", linestyles="--"
    )
    ax.plot([], [], color="grey", linestyle="--", label=f"6 ξ_c = L = {sweep.depth} (white)")
    del contour
    ax.set_xlim(_edges(ws)[0], _edges(ws)[-1])
    ax.set_ylim(_edges(bs)[0], _edges(bs)[-1])
    ax.set_xlabel("σ_w  (weights N(0, σ_w²/n_in))")
    ax.set_ylabel("σ_b  (biases N(0, σ_b²))")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8, frameon=False)
    cax = figure.add_axes((0.85, 0.1, 0.03, 0.76))
    figure.colorbar(mesh, cax=cax, label="training accuracy")
    name = sweep.activation["name"]
    figure.suptitle(
        f"Trainability of {sweep.depth}-layer {name} nets: training accuracy (%) per run; "
        "theory: trainable between the dashed lines",
        fontsize=10,
    )
    save(figure, path)
