"""Figures for a run: the decision boundary (the course's picture), cost curves, diagnostics.

Figures are plain ``matplotlib.figure.Figure`` objects rendered by Agg (runs are headless):
no pyplot state to leak between jobs, and fixed axes positions instead of ``tight_layout``,
which would cost more than drawing the figure. matplotlib is imported lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The boundary's window: the data's range padded by GRID_PAD of its widest span on every side
# (the course pads circles of span ~2.2 by 1), sampled at GRID_POINTS along that span (the
# course's step 0.01 gives ~420): ~175k points whatever the data's scale.
GRID_PAD = 0.45
GRID_POINTS = 420
FIGSIZE = (7.0, 4.0)  # the course's plt.rcParams['figure.figsize']
PLOT_RECT = (0.1, 0.12, 0.86, 0.78)  # left, bottom, width, height of a single plot
# PNG settings for every figure: a fast zlib level (the files are a few tens of kB anyway).
SAVE_KWARGS: dict[str, Any] = {"format": "png", "dpi": 100, "pil_kwargs": {"compress_level": 3}}


def _figure(figsize: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


@dataclass(frozen=True)
class Plane:
    """The plane a boundary is drawn in: inputs = origin + basis · (u, v).

    Two features: the inputs themselves. More: the plane through the training mean spanned by
    the training set's two principal directions (the other directions held at the mean).
    One feature: the feature against a dummy vertical axis the network does not see.
    """

    origin: np.ndarray  # (d,)
    basis: np.ndarray  # (d, 2)
    labels: tuple[str, str]

    @staticmethod
    def of(X: np.ndarray, names: tuple[str, ...] = ()) -> Plane:
        d = X.shape[0]
        names = tuple(names) if len(names) == d else tuple(f"x{i + 1}" for i in range(d))
        if d == 2:
            return Plane(np.zeros(2), np.eye(2), (names[0], names[1]))
        if d == 1:
            return Plane(np.zeros(1), np.array([[1.0, 0.0]]), (names[0], "(no second input)"))
        mean = X.mean(axis=1)
        _, _, vt = np.linalg.svd((X - mean[:, None]).T, full_matrices=False)
        return Plane(mean, vt[:2].T, ("principal direction 1", "principal direction 2"))

    def coords(self, X: np.ndarray) -> np.ndarray:
        """(2, m) plane coordinates of inputs (their projection onto the plane)."""
        return self.basis.T @ (X - self.origin[:, None])

    def inputs(self, uv: np.ndarray) -> np.ndarray:
        """(d, m) inputs at plane coordinates (2, m)."""
        return self.origin[:, None] + self.basis @ uv


def decision_grid(
    points: np.ndarray, resolution: int = GRID_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """A mesh over the points' range (2, m), padded; square cells, ``resolution`` along the
    widest side."""
    lo, hi = points.min(axis=1), points.max(axis=1)
    span = float(max(np.max(hi - lo), 1e-9))
    pad = GRID_PAD * span
    step = (span + 2 * pad) / resolution
    return np.meshgrid(
        np.arange(lo[0] - pad, hi[0] + pad, step), np.arange(lo[1] - pad, hi[1] + pad, step)
    )


@dataclass(frozen=True)
class BoundaryData:
    """The points a boundary figure shows, and how its classes and inputs are called."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray | None = None
    Y_test: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    class_names: tuple[str, str] = ("0", "1")


# Class 0 red, class 1 blue, for the regions (P(class 1) from red through white to blue) and
# the points alike.
CLASS_COLOURS = ("#c0392b", "#2c6fbb")


# The evolution figure's panels are a third of the single figure's width: a coarser grid.
EVOLUTION_GRID_POINTS = 160


def _boundary_axes(
    ax,
    probability: Callable[[np.ndarray], np.ndarray],
    data: BoundaryData,
    resolution: int = GRID_POINTS,
    legend: bool = True,
):
    """Draw P(class 1) over the data's window, its 0.5 contour, the points and (with
    ``legend``) their legend on ``ax``; return (the image, for a colour bar; train and test
    accuracy; a note on degenerate P)."""
    from matplotlib.lines import Line2D

    plane = Plane.of(data.X_train, data.feature_names)
    one_feature = plane.basis.shape[0] == 1

    def coords(X: np.ndarray) -> np.ndarray:
        uv = plane.coords(X)
        if one_feature:  # one feature: spread the points over the dummy axis
            uv[1] = np.linspace(-1, 1, uv.shape[1])
        return uv

    train_uv = coords(data.X_train)
    xx, yy = decision_grid(train_uv, resolution)
    P = probability(plane.inputs(np.c_[xx.ravel(), yy.ravel()].T)).reshape(xx.shape)
    finite = np.isfinite(P)
    extent = (xx.min(), xx.max(), yy.min(), yy.max())
    image = ax.imshow(
        np.where(finite, P, np.nan), origin="lower", extent=extent, cmap="RdBu", vmin=0, vmax=1,
        alpha=0.55, interpolation="nearest", aspect="auto" if one_feature else "equal",
    )  # fmt: skip
    note = ""
    if not finite.all():
        note = f"{100 * (1 - finite.mean()):.0f}% of the plane: not a number (diverged)"
    elif np.ptp(P) < 1e-9:
        note = f"P(class 1) = {P.flat[0]:.3f} everywhere: no boundary"
    elif P.min() < 0.5 < P.max():
        ax.contour(xx, yy, P, levels=[0.5], colors="k", linewidths=1.2)
    accuracy = []
    handles = []
    for X, Y, marker, size, what in (
        (data.X_train, data.Y_train, "o", 16, "train"),
        (data.X_test, data.Y_test, "X", 40, "test"),
    ):
        if X is None or Y is None:
            continue
        uv, labels = coords(X), np.squeeze(Y).astype(int)
        for k in (0, 1):
            ax.scatter(uv[0][labels == k], uv[1][labels == k], c=CLASS_COLOURS[k], s=size,
                       marker=marker, edgecolors="white" if marker == "o" else "k",
                       linewidths=0.4 if marker == "o" else 0.6)  # fmt: skip
            handles.append(Line2D([], [], marker=marker, linestyle="", color=CLASS_COLOURS[k],
                                  label=f"{what}: {data.class_names[k]}"))  # fmt: skip
        with np.errstate(invalid="ignore"):
            accuracy.append(float(np.mean((probability(X) > 0.5) == labels)))
    if legend:
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.85)
    ax.set_xlabel(plane.labels[0])
    ax.set_ylabel(plane.labels[1])
    return image, accuracy, note


def _accuracy_text(accuracy: list[float]) -> str:
    names = ("train", "test")
    return ", ".join(f"{name} {100 * a:.2f}%" for name, a in zip(names, accuracy, strict=False))


def decision_boundary_figure(
    probability: Callable[[np.ndarray], np.ndarray], data: BoundaryData, *, title: str = ""
) -> Figure:
    """P(class 1) as shading over the data's window (red: class 0, blue: class 1), the 0.5
    contour, a colour bar, the training points (dots) and test points (crosses) by class, and
    the accuracies in the title. ``probability`` maps (n_features, m) inputs to m values.
    Data with other than two features are drawn in a plane (:class:`Plane`)."""
    fig = _figure((6.2, 5.2))
    ax = fig.add_axes((0.11, 0.1, 0.7, 0.78))
    image, accuracy, note = _boundary_axes(ax, probability, data)
    cax = fig.add_axes((0.84, 0.1, 0.03, 0.78))
    named = data.class_names != ("0", "1")
    fig.colorbar(
        image, cax=cax, label=f"P(class 1: {data.class_names[1]})" if named else "P(class 1)"
    )
    if note:
        ax.text(0.5, 0.04, note, transform=ax.transAxes, ha="center", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})  # fmt: skip
    heading = f"{title}\n" if title else ""
    ax.set_title(f"{heading}{_accuracy_text(accuracy)}", fontsize=9)
    return fig


def boundary_evolution_figure(
    snapshots: list[tuple[int, Callable[[np.ndarray], np.ndarray]]],
    data: BoundaryData,
    *,
    title: str = "",
) -> Figure:
    """The boundary at a few points of training (iteration, P(class 1)), side by side."""
    n = len(snapshots)
    fig = _figure((3.4 * n + 0.6, 3.9))
    width = 0.88 / n
    image = None
    for k, (iteration, probability) in enumerate(snapshots):
        ax = fig.add_axes((0.04 + k * width + 0.12 * width, 0.13, 0.8 * width, 0.66))
        image, accuracy, note = _boundary_axes(
            ax, probability, data, EVOLUTION_GRID_POINTS, legend=k == 0
        )
        ax.set_title(f"iteration {iteration}\n{_accuracy_text(accuracy)}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.locator_params(nbins=4)  # small panels: a few ticks read better (and draw faster)
        if k:  # one legend and one y-axis labelling are enough: the panels share the window
            ax.set_ylabel("")
            ax.tick_params(labelleft=False)
        if note:
            ax.text(0.5, 0.04, note, transform=ax.transAxes, ha="center", fontsize=7,
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})  # fmt: skip
    if image is not None:
        cax = fig.add_axes((0.94, 0.13, 0.012, 0.66))
        fig.colorbar(image, cax=cax).ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(f"Decision boundary during training: {title}", fontsize=10)
    return fig


class LogWithZeros:
    """A log axis that shows exact zeros honestly: on a dotted floor line labelled "= 0"
    below the smallest positive value, with their own marker, instead of dropping them."""

    def __init__(self, ax, values: Sequence[float]) -> None:
        from matplotlib.ticker import NullFormatter

        positive = [v for v in values if v > 0 and math.isfinite(v)]
        self.ax = ax
        self.floor = (min(positive) if positive else 1.0) / 10
        self.has_zeros = any(v == 0 for v in values)
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())  # decades only: no crowded labels

    def plot(self, x, y, style: str, **kwargs) -> None:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        zero = y == 0
        shown = np.where(zero, self.floor, y)
        self.ax.plot(x, shown, style, **kwargs)
        if zero.any() and zero.sum() <= 20:  # few zeros: each marked; many: the floor line
            colour = kwargs.get("color")
            self.ax.plot(x[zero], shown[zero], "v", color=colour, markersize=7)

    def finish(self) -> None:
        if self.has_zeros:
            self.ax.axhline(self.floor, color="grey", linestyle=":", linewidth=1)
            self.ax.text(1.0, self.floor, " = 0", transform=self.ax.get_yaxis_transform(),
                         va="center", ha="left", fontsize=8, color="grey")  # fmt: skip


def chance_cost(positive_fraction: float) -> float:
    """The cost of the best constant prediction, the class frequency everywhere: ln 2 for
    balanced classes, what a net stuck at symmetry (a zeros start) stays at."""
    p = min(max(float(positive_fraction), 1e-12), 1 - 1e-12)
    return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))


def _cost_axes(fig: Figure, costs: np.ndarray, title: str, chance: float | None) -> Any:
    """Axes for cost curves. On a linear axis the runs of a dataset share a window, from 0 to
    1.5 × the chance cost (doubled while the curve would not fit), so that cost figures placed
    side by side compare; costs over decades (a ×10 start) get a log axis."""
    ax = fig.add_axes(PLOT_RECT)
    finite = costs[np.isfinite(costs)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        ax.set_yscale("log")
    elif chance is not None:  # 1.5 × chance, doubled until the curve fits: few windows
        top, highest = 1.5 * chance, float(finite.max()) if finite.size else 0.0
        while top < highest:
            top *= 2
        ax.set_ylim(0, top)
    if chance is not None:
        ax.axhline(chance, color="0.45", linestyle=":", linewidth=1)
        ax.text(0.99, chance, f"chance: {chance:.3f} ", color="0.35", fontsize=8, ha="right",
                va="bottom", transform=ax.get_yaxis_transform())  # fmt: skip
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost (cross-entropy)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _mark_divergence(ax, steps: np.ndarray, costs: np.ndarray) -> None:
    """Where the cost stops being a number, say so: a diverged run is not a flat line."""
    bad = ~np.isfinite(np.atleast_2d(costs)).all(axis=0)
    if bad.any():
        ax.set_xlim(steps[0], steps[-1])  # the whole run, not only its finite part
        good = ~bad
        if good.sum() <= 2:  # too few points for a line: show them
            ax.plot(steps[good], np.atleast_2d(costs)[:, good].T, "o", color="tab:blue")
        first = steps[int(np.argmax(bad))]
        ax.axvline(first, color="tab:red", linestyle="--", linewidth=1)
        note = f" not finite from iteration {first} (diverged)"
        ax.text(first, 0.5, note, color="tab:red", transform=ax.get_xaxis_transform(),
                fontsize=8, rotation=90, va="center")  # fmt: skip


def cost_figure(
    steps: np.ndarray, costs: np.ndarray, *, title: str = "", chance: float | None = None
) -> Figure:
    """Cost against iteration; log scale when the cost spans decades (e.g. a ×10 start); a
    cost that becomes NaN or infinite is marked where it does; ``chance``
    (:func:`chance_cost`) as a dotted reference line."""
    fig = _figure(FIGSIZE)
    ax = _cost_axes(fig, costs, title, chance)
    ax.plot(steps, costs, color="tab:blue")
    _mark_divergence(ax, np.asarray(steps), np.asarray(costs))
    return fig


def seeds_cost_figure(
    steps: np.ndarray, costs: np.ndarray, *, title: str = "", chance: float | None = None
) -> Figure:
    """Every seed's cost curve (thin, costs is (K, n)), the range they span (band) and their
    mean (thick): the job's ``cost`` metric is that mean. Axes as :func:`cost_figure`'s."""
    fig = _figure(FIGSIZE)
    ax = _cost_axes(fig, costs, title, chance)
    with np.errstate(invalid="ignore"):
        low, high, mean = costs.min(axis=0), costs.max(axis=0), costs.mean(axis=0)
    ax.fill_between(steps, low, high, color="tab:blue", alpha=0.15, label="min - max over seeds")
    ax.plot(steps, costs.T, color="tab:blue", alpha=0.25, linewidth=0.8)
    ax.plot(steps, mean, color="tab:red", linewidth=2, label=f"mean of {len(costs)} seeds")
    _mark_divergence(ax, np.asarray(steps), costs)
    ax.legend(fontsize=8)
    return fig


def signal_figure(layers: list[dict[str, float]], *, title: str = "") -> Figure:
    """Measured vs predicted std of pre-activations and activations against depth.

    Hidden layers are measured over their units and the examples; the output unit over
    draws of its weights and the examples (``*_draws``), which is what the prediction is
    about; the realised output unit's own spread over the examples is the hollow marker.
    Spreads over decades, and exact zeros (a zeros start), go on a log axis with the zeros on
    a floor marked "= 0", not off the axis or on a linear axis around 0.
    """
    depth = np.arange(1, len(layers) + 1)
    out = layers[-1]
    keys = ("z_std", "a_std", "z_std_predicted", "a_std_predicted", "z_std_draws", "a_std_draws")
    values = [s[k] for s in layers for k in keys if k in s and np.isfinite(s[k])]
    positive = [v for v in values if v > 0]
    logarithmic = any(v == 0 for v in values) or (
        bool(positive) and max(positive) / min(positive) > 50
    )
    fig = _figure(FIGSIZE)
    ax = fig.add_axes(PLOT_RECT)
    axis = LogWithZeros(ax, values) if logarithmic else None

    def plot(x, y, style, **kwargs):
        (axis.plot if axis is not None else ax.plot)(x, y, style, **kwargs)

    for key, colour in (("z_std", "tab:blue"), ("a_std", "tab:orange")):
        label = "pre-activation z" if key == "z_std" else "activation φ(z)"
        measured = [s[key] for s in layers[:-1]] + [out.get(f"{key}_draws", out[key])]
        plot(depth, measured, "o-", color=colour, label=f"{label}: measured")
        predicted = [s[f"{key}_predicted"] for s in layers]
        plot(depth, predicted, "x--", color=colour, label=f"{label}: predicted")
        if f"{key}_draws" in out:
            plot(depth[-1:], [out[key]], "o", mfc="none", color=colour,
                 label=f"{label}: this output unit alone")  # fmt: skip
    if axis is not None:
        axis.finish()
    ticks = depth if len(layers) <= 12 else np.array(shown_layers(len(layers), 8))
    ax.set_xticks(ticks, [f"{d}{' (out)' if d == len(layers) else ''}" for d in ticks])
    ax.set_xlabel("layer")
    ax.set_ylabel("std over units (draws) and samples")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


MAX_PANELS = 6


def shown_layers(n_layers: int, most: int = MAX_PANELS) -> list[int]:
    """Layer numbers (1-based) a figure shows: all, or ``most`` spread from first to last."""
    if n_layers <= most:
        return list(range(1, n_layers + 1))
    return sorted({round(1 + i * (n_layers - 1) / (most - 1)) for i in range(most)})


def activation_histograms_figure(params, X: np.ndarray, act, *, title: str = "") -> Figure:
    """The distribution of each hidden layer's activations at initialization (one panel per
    layer; deep nets: six layers from the first to the last), on one x-range shared by the
    panels, so a spread that grows or shrinks with depth shows as one. A layer whose values
    are all the same (a zeros start: all exactly 0) is a labelled line, not a bar."""
    from matplotlib.ticker import MaxNLocator

    from initlab.network import forward

    hidden = forward(params, X, act).activations[1:-1]
    shown = shown_layers(len(hidden))
    panels = [hidden[number - 1][0].ravel() for number in shown]
    finite_all = np.concatenate([v[np.isfinite(v)] for v in panels])
    lo, hi = (float(finite_all.min()), float(finite_all.max())) if finite_all.size else (-1, 1)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        lo, hi = lo - 1.0, hi + 1.0
    n = len(shown)
    fig = _figure((3.2 * n, 3.2))
    width = 1.0 / n
    for slot, (number, values) in enumerate(zip(shown, panels, strict=True)):
        ax = fig.add_axes((slot * width + 0.22 * width, 0.16, 0.7 * width, 0.64))
        finite = values[np.isfinite(values)]
        if finite.size and np.all(finite == finite[0]):
            ax.axvline(finite[0], color="tab:blue", linewidth=3)
            ax.text(0.5, 0.85, f"all {finite.size} values\nare exactly {finite[0]:g}",
                    transform=ax.transAxes, ha="center", va="top", fontsize=8)  # fmt: skip
            ax.set_yticks([])
        elif finite.size:
            ax.hist(finite, bins=50, range=(lo, hi), color="tab:blue", alpha=0.8)
        if finite.size < values.size:
            ax.text(0.5, 0.5, f"{values.size - finite.size} values not finite",
                    transform=ax.transAxes, ha="center", fontsize=8, color="tab:red")  # fmt: skip
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(MaxNLocator(4))  # legible, never overlapping
        std = float(finite.std()) if finite.size else float("nan")
        ax.set_title(f"layer {number}: std {std:.3g}", fontsize=9)
        ax.set_xlabel(f"{act.name}(z)", fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(f"Activations at init: {title}", fontsize=10)
    return fig


def _format_theory(mean_field: dict[str, Any], depth: int) -> str:
    """The mean-field numbers of the net, as lines of text."""
    mf = mean_field

    def num(value: float) -> str:
        return "∞" if value == np.inf else "n/a" if not np.isfinite(value) else f"{value:.3g}"

    lines = [
        f"σ_w² = {num(mf['sigma_w2'])}, σ_b² = {num(mf['sigma_b2'])}",
        f"q* = {num(mf['q_star'])}, χ₁ = {num(mf['chi1'])} ({mf['phase']})",
    ]
    xi = mf["depth_scale"]
    if np.isfinite(xi) or xi == np.inf:
        trainable = "yes" if depth <= 6 * xi else "no"
        lines.append(f"ξ_c = {num(xi)}; depth {depth} ≤ 6ξ_c: {trainable}")
    return "\n".join(lines)


def jacobian_spectrum_figure(
    singular_values: np.ndarray, mean_field: dict[str, Any], depth: int, *, title: str = ""
) -> Figure:
    """Histogram of the hidden stack's Jacobian singular values at init, with the mean-field
    theory of the net beside it (χ₁ = 1 is the order-to-chaos line, all σ = 1 is isometry)."""
    values = np.asarray(singular_values, dtype=float).ravel()
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    fig = _figure(FIGSIZE)
    ax = fig.add_axes((0.1, 0.14, 0.55, 0.74))
    if positive.size == 0:
        ax.text(
            0.5, 0.5, "every singular value is 0:\nno signal reaches the last hidden layer",
            ha="center", va="center", transform=ax.transAxes, fontsize=10,
        )  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        lo, hi = positive.min(), positive.max()
        if hi / lo > 20:
            bins = np.geomspace(lo, hi, 40) if hi > lo else 10
            ax.set_xscale("log")
        else:
            bins = np.linspace(min(lo, 1.0) * 0.95, max(hi, 1.0) * 1.05, 40)
        ax.hist(positive, bins=bins, color="tab:blue", alpha=0.8)
        ax.axvline(1.0, color="k", linestyle="--", linewidth=1, label="isometry (σ = 1)")
        ax.set_xlabel("singular value σ of ∂h_L/∂h_1")
        ax.set_ylabel("count")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(alpha=0.3)
    zeros = int(np.sum(finite == 0))
    stats = [
        f"{values.size} singular values",
        f"max {finite.max():.3g}, min {finite.min():.3g}" if finite.size else "none finite",
        f"mean σ² {np.mean(finite**2):.3g}" if finite.size else "",
    ]
    if zeros:
        stats.append(f"{zeros} exactly 0 (not drawn)")
    if finite.size < values.size:
        stats.append(f"{values.size - finite.size} overflowed (not drawn)")
    text = "measured\n" + "\n".join(s for s in stats if s)
    text += "\n\nmean-field theory\n" + _format_theory(mean_field, depth)
    fig.text(0.68, 0.86, text, va="top", fontsize=8.5, family="DejaVu Sans")
    heading = f"Jacobian spectrum at init, {depth} hidden layers"
    fig.suptitle(f"{heading}: {title}" if title else heading, fontsize=10)
    return fig
