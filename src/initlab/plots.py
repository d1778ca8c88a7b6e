"""Figures for a run: the decision boundary (the course's picture) and the cost curve.

matplotlib is imported lazily and always with the Agg backend: runs are headless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The course: a grid with step 0.01, padded by 1 around the data, filled contour, Spectral map.
GRID_STEP = 0.01
GRID_PAD = 1.0
FIGSIZE = (7.0, 4.0)  # the course's plt.rcParams['figure.figsize']
BOUNDARY_FIGSIZE = (5.5, 5.0)  # near-square: circles look round with an equal aspect


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


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
    """Filled predicted regions, training points (circles) and test points (crosses) on top.

    ``predict`` maps an (n_features, m) array to m labels in {0, 1}.
    """
    plt = _pyplot()
    xx, yy = decision_grid(X_train)
    Z = predict(np.c_[xx.ravel(), yy.ravel()].T).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=BOUNDARY_FIGSIZE)
    # Fixed levels: class 0 is always red and class 1 blue, like the points, even when a
    # network predicts one class everywhere (zeros init).
    # Regions are drawn lighter than the points so that misclassified points stand out.
    ax.contourf(
        xx, yy, Z, levels=[-0.5, 0.5, 1.5], cmap=plt.cm.Spectral, vmin=0, vmax=1, alpha=0.45
    )
    if 0 < Z.mean() < 1:
        ax.contour(xx, yy, Z, levels=[0.5], colors="k", linewidths=0.8)
    ax.scatter(
        X_train[0],
        X_train[1],
        c=np.squeeze(Y_train),
        cmap=plt.cm.Spectral,
        vmin=0,
        vmax=1,
        s=18,
        edgecolors="white",
        linewidths=0.4,
        label="train",
    )
    if X_test is not None and Y_test is not None:
        ax.scatter(
            X_test[0],
            X_test[1],
            c=np.squeeze(Y_test),
            cmap=plt.cm.Spectral,
            vmin=0,
            vmax=1,
            s=42,
            marker="X",
            edgecolors="k",
            linewidths=0.7,
            label="test",
        )
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def cost_figure(steps: np.ndarray, costs: np.ndarray, *, title: str = "") -> Figure:
    """Cost against iteration; log scale when the cost spans decades (e.g. a ×10 start)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot(steps, costs, color="tab:blue")
    finite = costs[np.isfinite(costs)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost (cross-entropy)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    _pyplot().close(fig)
