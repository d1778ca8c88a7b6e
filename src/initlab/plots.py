"""Figures for a run: the decision boundary (the course's picture), cost curves, diagnostics.

Figures are plain ``matplotlib.figure.Figure`` objects rendered by Agg (runs are headless):
no pyplot state to leak between jobs, and fixed axes positions instead of ``tight_layout``,
which would cost more than drawing the figure. matplotlib is imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The course: a grid with step 0.01, padded by 1 around the data, Spectral colours.
GRID_STEP = 0.01
GRID_PAD = 1.0
FIGSIZE = (7.0, 4.0)  # the course's plt.rcParams['figure.figsize']
BOUNDARY_FIGSIZE = (5.5, 5.0)  # near-square: circles look round with an equal aspect
PLOT_RECT = (0.1, 0.12, 0.86, 0.78)  # left, bottom, width, height of a single plot
# PNG settings for every figure: a fast zlib level (the files are a few tens of kB anyway).
SAVE_KWARGS: dict[str, Any] = {"format": "png", "dpi": 100, "pil_kwargs": {"compress_level": 3}}


def _figure(figsize: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _spectral():
    from matplotlib import colormaps

    return colormaps["Spectral"]


def decision_grid(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The course's mesh: np.arange from min-1 to max+1 with step 0.01, on both axes."""
    x_min, x_max = X[0].min() - GRID_PAD, X[0].max() + GRID_PAD
    y_min, y_max = X[1].min() - GRID_PAD, X[1].max() + GRID_PAD
    return np.meshgrid(np.arange(x_min, x_max, GRID_STEP), np.arange(y_min, y_max, GRID_STEP))


def decision_boundary_figure(
    predict: Callable[[np.ndarray], np.ndarray],
    X_train: np.ndarray,
    Y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    Y_test: np.ndarray | None = None,
    *,
    title: str = "",
) -> Figure:
    """Predicted regions on the course's grid, training points (dots), test points (crosses).

    ``predict`` maps an (n_features, m) array to m labels in {0, 1}.
    """
    xx, yy = decision_grid(X_train)
    Z = predict(np.c_[xx.ravel(), yy.ravel()].T).reshape(xx.shape)
    fig = _figure(BOUNDARY_FIGSIZE)
    ax = fig.add_axes((0.12, 0.1, 0.84, 0.8))
    spectral = _spectral()
    # Class 0 is always red and class 1 blue, like the points, even when a network predicts
    # one class everywhere (zeros init); regions lighter than points, so errors stand out.
    extent = (xx.min(), xx.max(), yy.min(), yy.max())
    ax.imshow(
        Z, origin="lower", extent=extent, cmap=spectral, vmin=0, vmax=1, alpha=0.45,
        interpolation="nearest", aspect="equal",
    )  # fmt: skip
    ax.scatter(
        X_train[0], X_train[1], c=np.squeeze(Y_train), cmap=spectral, vmin=0, vmax=1,
        s=18, edgecolors="white", linewidths=0.4, label="train",
    )  # fmt: skip
    if X_test is not None and Y_test is not None:
        ax.scatter(
            X_test[0], X_test[1], c=np.squeeze(Y_test), cmap=spectral, vmin=0, vmax=1,
            s=42, marker="X", edgecolors="k", linewidths=0.7, label="test",
        )  # fmt: skip
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def _cost_axes(fig: Figure, costs: np.ndarray, title: str) -> Any:
    ax = fig.add_axes(PLOT_RECT)
    finite = costs[np.isfinite(costs)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        ax.set_yscale("log")  # a ×10 start spans decades
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost (cross-entropy)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def cost_figure(steps: np.ndarray, costs: np.ndarray, *, title: str = "") -> Figure:
    """Cost against iteration; log scale when the cost spans decades (e.g. a ×10 start)."""
    fig = _figure(FIGSIZE)
    _cost_axes(fig, costs, title).plot(steps, costs, color="tab:blue")
    return fig


def seeds_cost_figure(steps: np.ndarray, costs: np.ndarray, *, title: str = "") -> Figure:
    """Every seed's cost curve (thin, costs is (K, n)) and their median (thick)."""
    fig = _figure(FIGSIZE)
    ax = _cost_axes(fig, costs, title)
    ax.plot(steps, costs.T, color="tab:blue", alpha=0.25, linewidth=0.8)
    median = np.median(costs, axis=0)
    ax.plot(steps, median, color="tab:red", linewidth=2, label=f"median of {len(costs)} seeds")
    ax.legend(fontsize=8)
    return fig


def signal_figure(layers: list[dict[str, float]], *, title: str = "") -> Figure:
    """Measured vs predicted std of pre-activations and activations against depth."""
    depth = np.arange(1, len(layers) + 1)
    fig = _figure(FIGSIZE)
    ax = fig.add_axes(PLOT_RECT)
    for key, colour in (("z_std", "tab:blue"), ("a_std", "tab:orange")):
        label = "pre-activation z" if key == "z_std" else "activation φ(z)"
        ax.plot(depth, [s[key] for s in layers], "o-", color=colour, label=f"{label}: measured")
        predicted = [s[f"{key}_predicted"] for s in layers]
        ax.plot(depth, predicted, "x--", color=colour, label=f"{label}: predicted")
    values = [
        s[k] for s in layers for k in ("z_std", "a_std", "z_std_predicted", "a_std_predicted")
    ]
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 50:
        ax.set_yscale("log")
    ax.set_xticks(depth, [f"{d}{' (out)' if d == len(layers) else ''}" for d in depth])
    ax.set_xlabel("layer")
    ax.set_ylabel("std over units and samples")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def activation_histograms_figure(params, X: np.ndarray, act, *, title: str = "") -> Figure:
    """One panel per hidden layer: the distribution of its activations at initialization."""
    from initlab.network import forward

    hidden = forward(params, X, act).activations[1:-1]
    n = len(hidden)
    fig = _figure((3.2 * n, 3.2))
    width = 1.0 / n
    for number, a in enumerate(hidden, start=1):
        ax = fig.add_axes(((number - 1) * width + 0.22 * width, 0.16, 0.7 * width, 0.64))
        values = a[0].ravel()
        spread = float(np.ptp(values)) if values.size else 0.0
        ax.hist(values, bins=50 if spread > 0 else 1, color="tab:blue", alpha=0.8)
        ax.set_title(f"layer {number}: std {values.std():.3g}", fontsize=9)
        ax.set_xlabel(f"{act.name}(z)", fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(f"Activations at init: {title}", fontsize=10)
    return fig
