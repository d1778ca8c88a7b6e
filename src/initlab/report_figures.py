"""The report's figures: a sweep's runs side by side, drawn from what MLflow recorded.

Each function takes the report's rows (``initlab.report.RunRow``), draws one PNG and returns
whether it drew anything (False: no file, and a stale one is removed). Figures are sized for
a 1400-pixel-wide page: at most PANELS_PER_ROW panels a row, fonts of 8 points or more.
matplotlib is imported lazily (``--help`` must not pay for it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from initlab.plots import LogWithZeros

PANELS_PER_ROW = 3
PANEL_WIDTH_INCHES = 4.5
MAX_LEGEND = 16  # more runs than this: the legend goes below the plot in columns
MAX_PANEL_ROWS = 12  # per-job panels (histograms, gradients): the first 12 jobs
# More runs than this (tab20's colours): the overlays stop giving each run a colour and a
# legend entry. Each run is a thin line in the colour of its value of the first swept key
# with at most MAX_GROUPS values, and each value gets a bold median line and the one entry.
MAX_RUN_COLOURS = 20
MAX_GROUPS = 24
MAX_BOUNDARIES = 24  # decision-boundary montage: the first 24 runs (8 rows of 3)
PNG_METADATA = {"Software": None}  # no matplotlib version in the PNGs: stable across installs


def new_figure(width: float, height: float):  # -> matplotlib.figure.Figure
    import matplotlib

    matplotlib.use("Agg")  # no display here, and no pyplot global state to leak
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def save(figure, path: Path) -> None:
    figure.savefig(path, dpi=100, metadata=PNG_METADATA)


def _nothing(path: Path) -> bool:
    path.unlink(missing_ok=True)  # a stale figure from an earlier report would mislead
    return False


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20" if n <= 20 else "viridis"]
    return [cmap(i if n <= 20 else i / max(n - 1, 1)) for i in range(n)]


def _group_colours(n: int) -> list:
    """n colours told apart: tab10, tab20, then tab20b's dark shades after tab20's."""
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    extra = [colormaps["tab20b"](i) for i in range(0, 20, 4)]
    return [colormaps["tab20"](i) for i in range(20)] + extra[: n - 20]


def run_groups(rows: Sequence[Any]) -> tuple[str, list[tuple[str, list[Any]]]] | None:
    """(key, [(value, its runs)]) for the first swept key with 2 to MAX_GROUPS values among the
    rows, values in the order the runs first show them; None if no key has."""
    for key in rows[0].values if rows else ():
        order = list(dict.fromkeys(row.values.get(key, "") for row in rows))
        if 2 <= len(order) <= MAX_GROUPS:
            members: dict[str, list[Any]] = {value: [] for value in order}
            for row in rows:
                members[row.values.get(key, "")].append(row)
            return key, list(members.items())
    return None


def _median(points: Sequence[dict[int, float]]) -> tuple[list[int], list[float]]:
    """Per x (step, layer): the median of the finite values there (x without one: left out)."""
    xs = sorted({x for curve in points for x in curve})
    out: tuple[list[int], list[float]] = ([], [])
    for x in xs:
        values = [curve[x] for curve in points if x in curve and math.isfinite(curve[x])]
        if values:
            out[0].append(x)
            out[1].append(float(np.median(values)))
    return out


def _many_runs_legend(ax, key: str, groups: Sequence[tuple[str, list[Any]]]) -> None:
    """The values' entries right of the axes (the figure leaves room there)."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title=f"{key} (runs)", title_fontsize=8)  # fmt: skip


def _job_colourbar(figure, ax, n: int) -> list:
    """No key to group by: colours from viridis in job order, read off a colour bar."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cmap = colormaps["viridis"]
    mappable = ScalarMappable(Normalize(0, max(n - 1, 1)), cmap)
    figure.colorbar(mappable, ax=ax, label="run (in job order)", fraction=0.04, pad=0.02)
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def _legend(ax, n: int) -> None:
    if n <= MAX_LEGEND:
        ax.legend(fontsize=8, loc="best")
    else:  # many runs: below the axes, in columns, so that it covers nothing
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15),
                  ncol=min(4, math.ceil(n / 12)), frameon=False)  # fmt: skip


# --- cost curves ------------------------------------------------------------------------


def cost_curves(rows: Sequence[Any], path: Path) -> bool:
    """Every run's cost against iteration on one axes; a multi-seed job's mean with the
    min-max band over its seeds."""
    curves = [row for row in rows if row.steps]
    if not curves:
        return _nothing(path)
    if len(curves) > MAX_RUN_COLOURS:
        return _many_cost_curves(curves, path)
    tall = len(curves) > MAX_LEGEND
    figure = new_figure(10, 6 + (math.ceil(len(curves) / 4) * 0.18 if tall else 0))
    ax = figure.add_axes((0.08, 0.1 + (0.3 if tall else 0), 0.9, 0.82 - (0.3 if tall else 0)))
    finite = [c for row in curves for c in row.costs if math.isfinite(c)]
    for row, colour in zip(curves, _colours(len(curves)), strict=True):
        label = row.short_label + (f" (mean of {row.seeds} seeds)" if row.seeds > 1 else "")
        ax.plot(row.steps, row.costs, color=colour, linewidth=1.5, label=label)
        if row.cost_band is not None:
            low, high = row.cost_band
            ax.fill_between(row.steps, low, high, color=colour, alpha=0.15, linewidth=0)
            finite += [c for c in (*low, *high) if math.isfinite(c)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 20:
        ax.set_yscale("log")  # cost spans decades between inits: log shows them all
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost (cross-entropy, training set)")
    ax.set_title("Cost during training" + (" (bands: min - max over seeds)" if any(
        r.cost_band is not None for r in curves) else ""), fontsize=11)  # fmt: skip
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, len(curves))
    save(figure, path)
    return True


def _many_cost_curves(curves: Sequence[Any], path: Path) -> bool:
    """More runs than colours: each run thin, coloured by its group, each group's median bold
    (one legend entry a group), or without a key to group by, coloured in job order."""
    figure = new_figure(10, 6)
    ax = figure.add_axes((0.08, 0.1, 0.66, 0.82))
    groups = run_groups(curves)
    finite = [c for row in curves for c in row.costs if math.isfinite(c)]
    if groups is None:
        colours = _job_colourbar(figure, ax, len(curves))
        for row, colour in zip(curves, colours, strict=True):
            ax.plot(row.steps, row.costs, color=colour, linewidth=0.6, alpha=0.5)
        ax.set_position((0.08, 0.1, 0.84, 0.82))
        title = f"Cost during training: {len(curves)} runs (colour: job order)"
    else:
        key, members = groups
        for (value, group), colour in zip(members, _group_colours(len(members)), strict=True):
            for row in group:
                ax.plot(row.steps, row.costs, color=colour, linewidth=0.6, alpha=0.35)
            steps, median = _median([dict(zip(r.steps, r.costs, strict=True)) for r in group])
            ax.plot(steps, median, color=colour, linewidth=2.2, label=f"{value} ({len(group)})")
        _many_runs_legend(ax, key, members)
        title = f"Cost during training: {len(curves)} runs (thin), median per {key} (bold)"
    if finite and min(finite) > 0 and max(finite) / min(finite) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost (cross-entropy, training set)")
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    save(figure, path)
    return True


# --- decision boundaries -----------------------------------------------------------------


def boundaries(rows: Sequence[Any], images: dict[str, Path], path: Path) -> bool:
    """The runs' own boundary plots side by side, captioned with what distinguishes them
    (the plots carry their own titles: the caption does not repeat them)."""
    shown = [row for row in rows if row.run_id in images][:MAX_BOUNDARIES]
    if not shown:
        return _nothing(path)
    from matplotlib.image import imread

    pictures = [imread(images[row.run_id]) for row in shown]
    aspect = max(p.shape[0] / p.shape[1] for p in pictures)
    ncols = min(len(shown), PANELS_PER_ROW)
    nrows = math.ceil(len(shown) / ncols)
    width = PANEL_WIDTH_INCHES
    figure = new_figure(width * ncols, (width * aspect + 0.35) * nrows)
    for index, (row, picture) in enumerate(zip(shown, pictures, strict=True)):
        r, c = divmod(index, ncols)
        ax = figure.add_axes((c / ncols, 1 - (r + 1) / nrows, 1 / ncols, (1 - 0.35 / (
            width * aspect + 0.35)) / nrows))  # fmt: skip
        ax.imshow(picture)
        ax.axis("off")
        ax.text(0.5, 1.0, row.short_label, transform=ax.transAxes, ha="center", va="bottom",
                fontsize=9)  # fmt: skip
    save(figure, path)
    return True


# --- diagnostics -------------------------------------------------------------------------


def signal_overlay(rows: Sequence[Any], path: Path) -> bool:
    """The pre-activations' std against depth at initialization, one colour per run:
    measured (solid, o; the output over redrawn output weights) and predicted (dashed, x)."""
    shown = [row for row in rows if row.depth_curves.get("z_std")]
    if not shown:
        return _nothing(path)
    if len(shown) > MAX_RUN_COLOURS:
        return _many_signals(shown, path)
    figure = new_figure(
        10, 5.5 + (0.2 * math.ceil(len(shown) / 4) if len(shown) > MAX_LEGEND else 0)
    )
    tall = len(shown) > MAX_LEGEND
    ax = figure.add_axes((0.08, 0.1 + (0.3 if tall else 0), 0.86, 0.8 - (0.3 if tall else 0)))
    values = [v for row in shown for key in ("z_std", "z_std_predicted", "z_std_draws")
              for v in row.depth_curves.get(key, {}).values()]  # fmt: skip
    axis = LogWithZeros(ax, values)
    depth = 1
    for row, colour in zip(shown, _colours(len(shown)), strict=True):
        measured = dict(row.depth_curves["z_std"])
        measured.update(row.depth_curves.get("z_std_draws", {}))  # the output: over draws
        layers = sorted(measured)
        depth = max(depth, layers[-1])
        axis.plot(layers, [measured[n] for n in layers], "o-", color=colour, markersize=4,
                  linewidth=1.3, label=row.short_label)  # fmt: skip
        predicted = row.depth_curves.get("z_std_predicted", {})
        if predicted:
            layers = sorted(predicted)
            axis.plot(layers, [predicted[n] for n in layers], "x--", color=colour,
                      markersize=4, linewidth=1, alpha=0.8)  # fmt: skip
    axis.finish()
    ax.plot([], [], "k-o", markersize=4, label="measured (solid)")
    ax.plot([], [], "k--x", markersize=4, label="predicted (dashed)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"layer (1 = first hidden, {depth} = output)")
    ax.set_ylabel("std of z = Wa + b at init")
    ax.set_title("Signal propagation at initialization", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, len(shown) + 2)
    save(figure, path)
    return True


def _measured(row: Any) -> dict[int, float]:
    measured = dict(row.depth_curves["z_std"])
    measured.update(row.depth_curves.get("z_std_draws", {}))  # the output: over draws
    return measured


def _many_signals(shown: Sequence[Any], path: Path) -> bool:
    """More runs than colours: each run's measured std thin in its group's colour, the group's
    median measured (solid, o) and predicted (dashed, x) bold; without a key to group by,
    the runs' measured std coloured in job order."""
    figure = new_figure(10, 6)
    ax = figure.add_axes((0.08, 0.1, 0.66, 0.8))
    values = [v for row in shown for key in ("z_std", "z_std_predicted", "z_std_draws")
              for v in row.depth_curves.get(key, {}).values()]  # fmt: skip
    axis = LogWithZeros(ax, values)
    depth = max(max(_measured(row)) for row in shown)
    groups = run_groups(shown)
    if groups is None:
        colours = _job_colourbar(figure, ax, len(shown))
        for row, colour in zip(shown, colours, strict=True):
            measured = _measured(row)
            layers = sorted(measured)
            axis.plot(layers, [measured[n] for n in layers], "-", color=colour, linewidth=0.6,
                      alpha=0.5)  # fmt: skip
        ax.set_position((0.08, 0.1, 0.84, 0.8))
        title = f"Signal propagation at initialization: {len(shown)} runs (colour: job order)"
    else:
        key, members = groups
        for (value, group), colour in zip(members, _group_colours(len(members)), strict=True):
            for row in group:
                measured = _measured(row)
                layers = sorted(measured)
                axis.plot(layers, [measured[n] for n in layers], "-", color=colour,
                          linewidth=0.6, alpha=0.35)  # fmt: skip
            layers, median = _median([_measured(row) for row in group])
            axis.plot(layers, median, "o-", color=colour, markersize=4, linewidth=2.2,
                      label=f"{value} ({len(group)})")  # fmt: skip
            predicted = [row.depth_curves.get("z_std_predicted", {}) for row in group]
            layers, median = _median([p for p in predicted if p])
            if layers:
                axis.plot(layers, median, "x--", color=colour, markersize=4, linewidth=1.5)
        ax.plot([], [], "k-o", markersize=4, label="median measured")
        ax.plot([], [], "k--x", markersize=4, label="median predicted")
        _many_runs_legend(ax, key, members)
        title = f"Signal propagation at init: {len(shown)} runs (thin), median per {key} (bold)"
    axis.finish()
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"layer (1 = first hidden, {depth} = output)")
    ax.set_ylabel("std of z = Wa + b at init")
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    save(figure, path)
    return True


def _shown_layers(n: int, most: int = 6) -> list[int]:
    if n <= most:
        return list(range(1, n + 1))
    return sorted({round(1 + i * (n - 1) / (most - 1)) for i in range(most)})


def histogram_grid(rows: Sequence[Any], samples: dict[str, dict[int, np.ndarray]], path: Path
                   ) -> bool:  # fmt: skip
    """Activations at init, a row per run and a column per hidden layer (six at most); each
    layer's x-range is shared by all runs, so spreads compare by eye. All-zero layers are a
    labelled spike at 0; non-finite values are counted in the panel."""
    shown = [row for row in rows if samples.get(row.run_id)][:MAX_PANEL_ROWS]
    if not shown:
        return _nothing(path)
    from matplotlib.ticker import MaxNLocator

    n_layers = max(max(samples[row.run_id]) for row in shown)
    layers = _shown_layers(n_layers)
    ranges = {}
    for layer in layers:
        values = np.concatenate([samples[r.run_id].get(layer, np.empty(0)) for r in shown])
        values = values[np.isfinite(values)]
        lo, hi = (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)
        if hi - lo < 1e-12 * max(1.0, abs(hi)):  # every value the same (all 0, say)
            lo, hi = lo - 1.0, hi + 1.0
        ranges[layer] = (lo, hi)
    label_width = 0.3 + 0.065 * max(len(row.short_label) for row in shown)  # inches
    width, height = 2.3 * len(layers) + label_width + 0.3, 1.3 * len(shown) + 1.0
    figure = new_figure(width, height)
    grid = figure.subplots(len(shown), len(layers), squeeze=False, sharex="col")
    for i, row in enumerate(shown):
        for j, layer in enumerate(layers):
            ax = grid[i, j]
            values = samples[row.run_id].get(layer, np.empty(0))
            finite = values[np.isfinite(values)]
            if finite.size and np.all(finite == finite[0]):
                ax.axvline(finite[0], color="tab:blue", linewidth=3)
                ax.text(0.5, 0.8, f"all {finite[0]:g}", transform=ax.transAxes, ha="center",
                        fontsize=8)  # fmt: skip
            elif finite.size:
                ax.hist(finite, bins=40, range=ranges[layer], color="tab:blue", alpha=0.85)
            if finite.size < values.size:
                bad = values.size - finite.size
                ax.text(0.5, 0.6, f"{bad} non-finite", transform=ax.transAxes, ha="center",
                        fontsize=8, color="tab:red")  # fmt: skip
            ax.set_yticks([])
            ax.tick_params(labelsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(3))  # no crowded tick labels
            if i == 0:
                ax.set_title(f"layer {layer}", fontsize=9)
            if j == 0:
                ax.set_ylabel(row.short_label, fontsize=8, rotation=0, ha="right", va="center")
    figure.subplots_adjust(left=label_width / width, right=1 - 0.2 / width,
                           top=1 - 0.75 / height, bottom=0.45 / height, hspace=0.35,
                           wspace=0.12)  # fmt: skip
    figure.suptitle("Activations at initialization (x-range shared per layer)", fontsize=11)
    save(figure, path)
    return True


def gradient_norms(rows: Sequence[Any], path: Path) -> bool:
    """Each run's weight-gradient norm per layer during training (a panel per run, a line
    per layer from light to dark with depth), on a log axis with zeros shown."""
    shown = [row for row in rows if row.grad_norms][:MAX_PANEL_ROWS]
    if not shown:
        return _nothing(path)
    from matplotlib import colormaps

    ncols = min(len(shown), PANELS_PER_ROW)
    nrows = math.ceil(len(shown) / ncols)
    figure = new_figure(PANEL_WIDTH_INCHES * ncols + 0.4, 2.7 * nrows + 0.6)
    grid = figure.subplots(nrows, ncols, squeeze=False)
    for ax in grid.ravel()[len(shown) :]:
        ax.axis("off")
    for ax, row in zip(grid.ravel(), shown, strict=False):
        layers = sorted(row.grad_norms)
        values = [v for layer in layers for v in row.grad_norms[layer][1]]
        axis = LogWithZeros(ax, values)
        cmap = colormaps["viridis"]
        for k, layer in enumerate(layers):
            steps, norms = row.grad_norms[layer]
            colour = cmap(0.9 * (1 - k / max(len(layers) - 1, 1)))
            axis.plot(steps, norms, "-", color=colour, linewidth=1,
                      label=f"layer {layer}" if k in (0, len(layers) - 1) else None)  # fmt: skip
        axis.finish()
        ax.set_title(row.short_label, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    figure.suptitle("Gradient norm per layer during training (light: first layer, dark: last)",
                    fontsize=11)  # fmt: skip
    top = 1 - 0.75 / (2.7 * nrows + 0.6)  # room for the suptitle above the panels' titles
    figure.subplots_adjust(left=0.06, right=0.96, top=top, bottom=0.1 / nrows, hspace=0.5,
                           wspace=0.3)  # fmt: skip
    save(figure, path)
    return True


# --- two swept keys ----------------------------------------------------------------------


def heatmap(
    cells: dict[tuple[str, str], float],
    keys: tuple[str, str],
    order: tuple[list[str], list[str]],
    path: Path,
    what: str = "test accuracy",
) -> bool:
    """A grid of the two swept keys' values, each cell the runs' accuracy in percent."""
    if not cells:
        return _nothing(path)
    xs, ys = order
    grid = np.full((len(ys), len(xs)), np.nan)
    for (x, y), value in cells.items():
        grid[ys.index(y), xs.index(x)] = value
    figure = new_figure(max(5.0, 1.1 * len(xs) + 2.5), max(3.0, 0.6 * len(ys) + 1.6))
    ax = figure.add_axes((0.22, 0.18, 0.62, 0.7))
    image = ax.imshow(grid, cmap="viridis", vmin=0.5, vmax=1.0, aspect="auto")
    for i in range(len(ys)):
        for j in range(len(xs)):
            if math.isfinite(grid[i, j]):
                colour = "black" if grid[i, j] > 0.8 else "white"
                ax.text(j, i, f"{100 * grid[i, j]:.1f}", ha="center", va="center", fontsize=9,
                        color=colour)  # fmt: skip
            else:
                ax.text(j, i, "-", ha="center", va="center", fontsize=9, color="grey")
    ax.set_xticks(range(len(xs)), xs, fontsize=8, rotation=30 if len(xs) > 4 else 0)
    ax.set_yticks(range(len(ys)), ys, fontsize=8)
    ax.set_xlabel(keys[0])
    ax.set_ylabel(keys[1])
    cax = figure.add_axes((0.87, 0.18, 0.03, 0.7))
    figure.colorbar(image, cax=cax, label=what)
    ax.set_title(f"{what} (%) by {keys[0]} and {keys[1]}", fontsize=10)
    save(figure, path)
    return True
