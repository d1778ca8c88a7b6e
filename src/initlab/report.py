"""The sweep report: read a multirun back from MLflow into Markdown and self-contained HTML.

    python src/report.py [--experiment NAME] [--run PARENT_RUN_ID] [--tracking-uri URI]
                         [--out DIR] [--no-log]

Writes ``<out>/<experiment>/<sweep>/`` (``<sweep>`` names the parent run: its start time and
id, so another sweep never overwrites it), points ``<out>/<experiment>/latest`` at it, and logs
the folder to the parent run (artifacts ``report/``). Inside: ``report.md``, ``report.html``
(images inlined) and the figures. Reading never creates anything in the store: a missing
store, experiment or run is an error (exit 2), not an empty new one. The Markdown is
byte-identical for the same store: no dates of writing, no temp paths, stable order.

Sections: the runs (a column for every key the sweep varies; a multi-seed job's mean ± std and
its failed fraction), the lecture's numbers beside initlab's for the course grid, a heatmap
when two keys vary, cost curves (multi-seed: mean and min-max band), decision boundaries,
diagnostics at init and during training, the phase diagram of a (σ_w, σ_b) sweep, and the
command that reproduces the sweep.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from initlab import tracking
from initlab.report_data import (
    DEFAULT_EXPERIMENT,
    Histories,
    ReportError,
    RunRow,
    _run_order,
    check_store_exists,
    download_activation_samples,
    download_boundaries,
    select_runs,
    sweep_keys,
    to_row,
)
from initlab.report_data import split_overrides as split_overrides  # this module's API too
from initlab.report_text import (
    BOUNDARIES_FILE,
    CURVES_FILE,
    GRADIENTS_FILE,
    HEATMAP_FILE,
    HISTOGRAMS_FILE,
    HTML_FILE,
    MARKDOWN_FILE,
    MAX_DIAGNOSED,
    PHASE_FILE,
    SIGNAL_FILE,
    Report,
    lecture_rows,
    render_html,
    render_markdown,
)

if TYPE_CHECKING:  # mlflow and matplotlib cost seconds to import: not for --help
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

# Where reports go: $INITLAB_REPORTS, else the project's reports/ folder.
DEFAULT_OUT = Path(os.environ.get("INITLAB_REPORTS") or tracking.PROJECT_ROOT / "reports")
LATEST = "latest"  # <out>/<experiment>/latest: the newest report's folder (a link, and a file)
PARENT_ARTIFACTS = "report"  # where the report goes on the parent run


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="report.py",
        description="Summarize an initlab sweep from MLflow into Markdown and HTML.",
    )
    parser.add_argument(
        "--experiment",
        metavar="NAME",
        help=f"MLflow experiment (default: {DEFAULT_EXPERIMENT}, or the --run's experiment)",
    )
    parser.add_argument(
        "--run",
        metavar="PARENT_RUN_ID",
        help="parent run id of the sweep (default: the latest sweep)",
    )
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else the project's mlruns/mlflow.db)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=DEFAULT_OUT,
        help="reports folder (default: <project>/reports)",
    )
    parser.add_argument(
        "--no-log",
        action="store_true",
        help="do not log the report to the sweep's parent run (by default it is, as report/)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    uri = tracking.resolve_tracking_uri(args.tracking_uri)
    try:
        md_path = build_report(uri, args.experiment, args.run, args.out, log=not args.no_log)
    except ReportError as exc:
        print(f"report: error: {exc}", file=sys.stderr)
        return exc.exit_code
    latest = md_path.parent.parent / LATEST
    print(f"report: {_display_path(md_path)} (+ {HTML_FILE}); {_display_path(latest.parent)}"
          f"/{LATEST} points to it")  # fmt: skip
    return 0


def phase_sweep(rows: Sequence[RunRow]):  # -> initlab.phase_diagram.PhaseSweep | None
    """The finished runs as points of a (σ_w, σ_b) grid, if they share activation and depth."""
    from initlab.phase_diagram import PhasePoint, PhaseSweep

    done = [
        r for r in rows
        if r.status == "FINISHED" and r.sigma_w is not None and r.sigma_b is not None
        and r.train_accuracy is not None and r.depth is not None
    ]  # fmt: skip
    if not done or len({(r.activation, r.depth, r.bias_mean) for r in done}) != 1:
        return None
    points = [PhasePoint(r.sigma_w, r.sigma_b, r.train_accuracy) for r in done]  # type: ignore[arg-type]
    return PhaseSweep(points, dict(done[0].activation), done[0].depth, done[0].bias_mean)  # type: ignore[arg-type]


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def _safe_name(name: str) -> str:
    """An experiment name as one folder name (names may hold '/' or spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"


def build_report(
    uri: str, experiment: str | None, run_id: str | None, out: Path, *, log: bool = False
) -> Path:
    """Read the sweep, write the report's folder, point ``latest`` at it, log it to the
    parent run if ``log``; return the Markdown's path."""
    from mlflow.exceptions import MlflowException

    from initlab import report_figures as figures

    check_store_exists(uri)
    try:
        client = tracking.client_for(uri)
        exp, parent, runs = select_runs(client, experiment, run_id)
        varying, fixed = sweep_keys(runs)
        runs = sorted(runs, key=_run_order)
        histories = Histories(client, [run.info.run_id for run in runs])
        rows = [
            to_row(client, run, varying, i < MAX_DIAGNOSED, histories) for i, run in enumerate(runs)
        ]
        out_dir = out / _safe_name(exp.name) / report_folder(parent)
        out_dir.mkdir(parents=True, exist_ok=True)
        drawn: dict[str, bool] = {}
        with tempfile.TemporaryDirectory(prefix="initlab-report-") as tmp:
            images = download_boundaries(client, rows[: figures.MAX_BOUNDARIES], Path(tmp))
            drawn[BOUNDARIES_FILE] = figures.boundaries(rows, images, out_dir / BOUNDARIES_FILE)
            samples = download_activation_samples(client, rows[:MAX_DIAGNOSED], Path(tmp))
        drawn[HISTOGRAMS_FILE] = figures.histogram_grid(rows, samples, out_dir / HISTOGRAMS_FILE)
    except MlflowException as exc:
        raise ReportError(f"MLflow ({uri}): {exc.message}", exit_code=1) from exc
    drawn[CURVES_FILE] = figures.cost_curves(rows, out_dir / CURVES_FILE)
    drawn[SIGNAL_FILE] = figures.signal_overlay(rows, out_dir / SIGNAL_FILE)
    drawn[GRADIENTS_FILE] = figures.gradient_norms(rows, out_dir / GRADIENTS_FILE)
    heat_keys = heatmap_keys(rows, varying)
    drawn[HEATMAP_FILE] = plot_heatmap(rows, heat_keys, out_dir / HEATMAP_FILE)
    drawn[PHASE_FILE] = plot_phase(rows, out_dir / PHASE_FILE)
    report = Report(
        experiment=exp.name,
        parent_id=parent.info.run_id if parent else None,
        parent_name=parent.info.run_name if parent else None,
        sweep_overrides=parent.data.tags.get(tracking.OVERRIDES_TAG, "") if parent else "",
        rows=rows,
        varying=varying,
        fixed=fixed,
        curves_missing=[r.label for r in rows if not r.steps],
        boundaries_missing=[
            r.label for r in rows[: figures.MAX_BOUNDARIES] if r.run_id not in images
        ],
        figures=drawn,
        lecture=lecture_rows(rows),
        heatmap_keys=heat_keys if drawn[HEATMAP_FILE] else None,
    )
    md_path = out_dir / MARKDOWN_FILE
    md_path.write_text(render_markdown(report), encoding="utf-8", newline="\n")
    (out_dir / HTML_FILE).write_text(render_html(report, out_dir), encoding="utf-8", newline="\n")
    point_latest(out_dir)
    if log and parent is not None:
        log_to_parent(client, parent.info.run_id, out_dir)
    return md_path


def report_folder(parent: Run | None) -> str:
    """A sweep's folder: its parent's start (UTC) and id, e.g. 2026-11-30_05-34-12_b575fb34;
    the experiment's single runs (no sweep): ``single-runs``."""
    if parent is None:
        return "single-runs"
    started = datetime.fromtimestamp(parent.info.start_time / 1000, tz=UTC)
    return f"{started:%Y-%m-%d_%H-%M-%S}_{parent.info.run_id[:8]}"


def point_latest(out_dir: Path) -> None:
    """``latest`` next to the report folders: a relative link where links work, else a text
    file naming the folder."""
    latest = out_dir.parent / LATEST
    if latest.is_symlink() or latest.is_file():
        latest.unlink()
    elif latest.exists():  # a folder of that name: leave it, say so
        tracking.warn(f"{latest} is a folder; the latest report is {out_dir.name}")
        return
    try:
        os.symlink(out_dir.name, latest, target_is_directory=True)
    except OSError:
        latest.write_text(out_dir.name + "\n", encoding="utf-8")


def log_to_parent(client: MlflowClient, parent_id: str, out_dir: Path) -> None:
    """The report as the parent run's artifacts (``report/``), its overlay figures also at
    the top level, where the run's page shows them."""
    client.log_artifacts(parent_id, str(out_dir), PARENT_ARTIFACTS)
    for name in (CURVES_FILE, SIGNAL_FILE, HEATMAP_FILE, PHASE_FILE):
        if (out_dir / name).is_file():
            client.log_artifact(parent_id, str(out_dir / name))


def plot_phase(rows: Sequence[RunRow], path: Path) -> bool:
    """The phase diagram when the sweep spans several σ_w and σ_b; False (no file) otherwise."""
    from initlab import report_figures as figures
    from initlab.phase_diagram import is_phase_sweep, plot_phase_diagram

    sweep = phase_sweep(rows)
    if not is_phase_sweep(sweep):
        path.unlink(missing_ok=True)
        return False
    plot_phase_diagram(sweep, path, figures.new_figure, figures.save)
    return True


def heatmap_keys(rows: Sequence[RunRow], varying: Sequence[str]) -> tuple[str, str] | None:
    """The two keys of a sweep that varies exactly two (init × activation, say)."""
    return (varying[0], varying[1]) if len(varying) == 2 and len(rows) > 1 else None


def plot_heatmap(rows: Sequence[RunRow], keys: tuple[str, str] | None, path: Path) -> bool:
    """Test accuracy (a multi-seed job's mean) on the grid of the two swept keys."""
    from initlab import report_figures as figures

    if keys is None:
        return figures.heatmap({}, ("", ""), ([], []), path)
    cells: dict[tuple[str, str], list[float]] = {}
    order: tuple[list[str], list[str]] = ([], [])
    for row in rows:
        x, y = row.values[keys[0]], row.values[keys[1]]
        for axis, value in zip(order, (x, y), strict=True):
            if value not in axis:
                axis.append(value)
        if row.status == "FINISHED" and row.test_accuracy is not None:
            cells.setdefault((x, y), []).append(row.test_accuracy)
    means = {cell: float(np.mean(v)) for cell, v in cells.items()}
    return figures.heatmap(means, keys, order, path)


if __name__ == "__main__":  # pragma: no cover - the entry point is src/report.py
    raise SystemExit(main())
