"""The sweep report: read a multirun back from MLflow into Markdown and self-contained HTML.

    python src/report.py [--experiment NAME] [--run PARENT_RUN_ID] [--tracking-uri URI] [--out DIR]

Writes ``<out>/<experiment>/``: ``report.md``, ``report.html`` (images inlined), and the two
figures ``cost_curves.png`` and ``decision_boundaries.png``. Reading never creates anything in
the store: a missing store, experiment or run is an error (exit 2), not an empty new one.
The Markdown is byte-identical for the same store: no dates, no temp paths, stable order.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import posixpath
import re
import shlex
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from initlab import tracking

if TYPE_CHECKING:  # mlflow and matplotlib cost seconds to import: not for --help
    from mlflow.entities import Experiment, Run
    from mlflow.tracking import MlflowClient

DEFAULT_EXPERIMENT = "initialization"
DEFAULT_OUT = tracking.PROJECT_ROOT / "reports"
MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
CURVES_FILE = "cost_curves.png"
BOUNDARIES_FILE = "decision_boundaries.png"
PHASE_FILE = "phase_diagram.png"
PHASE_NOTE = (
    "Each cell is one run: its training accuracy (%) at its (σ_w, σ_b), as recorded at init "
    "(`init/mean_field/sigma_w2`, `sigma_b2`). Red: the order-to-chaos line χ₁ = 1 of "
    "mean-field theory; dashed: where the depth L equals 6ξ_c (Schoenholz et al. 2017), "
    "the band in which a net this deep should train."
)
NO_OVERRIDES = "defaults"  # the overrides tag of a job run with no overrides
TRAIN_COMMAND = "python src/train.py"
MISSING = "-"  # table cell of a metric the run never logged (e.g. a failed job)
PANELS_PER_ROW = 4
PANEL_WIDTH_INCHES = 5.0
PNG_METADATA = {"Software": None}  # no matplotlib version in the PNGs: stable across installs


class ReportError(Exception):
    """Nothing to report (no store, experiment or run), or MLflow refused: a message, no trace."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class RunRow:
    """One job run, as the report shows it."""

    run_id: str
    name: str
    job: str  # the job number tag, "" if the run has none
    groups: dict[str, str]  # init / activation / dataset choice names
    overrides: str  # space-separated Hydra overrides, "" for none
    status: str
    final_cost: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    steps: tuple[int, ...]
    costs: tuple[float, ...]
    # For the phase diagram: the mean-field point the run recorded at init (None if not).
    sigma_w: float | None = None
    sigma_b: float | None = None
    depth: int | None = None
    activation: tuple[tuple[str, str], ...] = ()  # the activation's params, name first
    bias_mean: float = 0.0

    @property
    def label(self) -> str:
        what = self.overrides or ", ".join(f"{k}={v}" for k, v in self.groups.items() if v)
        what = what or self.name
        return f"job {self.job}: {what}" if self.job else what


@dataclass(frozen=True)
class Report:
    experiment: str
    parent_id: str | None  # None: no sweep, the experiment's top-level job runs
    parent_name: str | None
    sweep_overrides: str  # the parent's overrides tag: the sweep exactly as it was typed
    rows: list[RunRow]
    curves_missing: list[str]  # labels of runs without a cost history
    boundaries_missing: list[str]  # labels of runs without a decision-boundary plot
    has_curves: bool
    has_boundaries: bool
    has_phase_diagram: bool = False


# --- command line ------------------------------------------------------------------------


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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    uri = tracking.resolve_tracking_uri(args.tracking_uri)
    try:
        md_path = build_report(uri, args.experiment, args.run, args.out)
    except ReportError as exc:
        print(f"report: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"report: {_display_path(md_path)} (+ {HTML_FILE})")
    return 0


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


# --- reading the store -------------------------------------------------------------------


def check_store_exists(uri: str) -> None:
    """Opening a missing SQLite or file store would create it: refuse before MLflow does."""
    scheme = uri.split(":", 1)[0] if "://" in uri or uri.startswith("file:") else ""
    if scheme == "sqlite":
        path = uri.removeprefix("sqlite:///").split("?", 1)[0]
        if not path or path == ":memory:" or not Path(path).is_file():
            raise ReportError(f"no MLflow store at {uri} (run a sweep first, or pass a URI)")
    elif scheme in ("http", "https"):
        try:
            tracking.check_reachable(uri)
        except tracking.TrackingError as exc:
            raise ReportError(str(exc)) from exc
    elif scheme in ("", "file") and uri != "databricks":  # a FileStore folder
        path = uri.removeprefix("file://").removeprefix("file:")
        if not Path(path).is_dir():
            raise ReportError(f"no MLflow store at {uri}")


def build_report(uri: str, experiment: str | None, run_id: str | None, out: Path) -> Path:
    """Read the sweep, write the report files, and return the Markdown's path."""
    from mlflow.exceptions import MlflowException

    check_store_exists(uri)
    try:
        client = tracking.client_for(uri)
        exp, parent, runs = select_runs(client, experiment, run_id)
        rows = sorted((to_row(client, run) for run in runs), key=_job_order)
        out_dir = out / _safe_name(exp.name)
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="initlab-report-") as tmp:
            images = download_boundaries(client, rows, Path(tmp))
            has_boundaries = plot_boundaries(rows, images, out_dir / BOUNDARIES_FILE)
    except MlflowException as exc:
        raise ReportError(f"MLflow ({uri}): {exc.message}", exit_code=1) from exc
    has_curves = plot_cost_curves(rows, out_dir / CURVES_FILE)
    has_phase_diagram = plot_phase(rows, out_dir / PHASE_FILE)
    report = Report(
        experiment=exp.name,
        parent_id=parent.info.run_id if parent else None,
        parent_name=parent.info.run_name if parent else None,
        sweep_overrides=parent.data.tags.get(tracking.OVERRIDES_TAG, "") if parent else "",
        rows=rows,
        curves_missing=[r.label for r in rows if not r.steps],
        boundaries_missing=[r.label for r in rows if r.run_id not in images],
        has_curves=has_curves,
        has_boundaries=has_boundaries,
        has_phase_diagram=has_phase_diagram,
    )
    md_path = out_dir / MARKDOWN_FILE
    md_path.write_text(render_markdown(report), encoding="utf-8", newline="\n")
    (out_dir / HTML_FILE).write_text(render_html(report, out_dir), encoding="utf-8", newline="\n")
    return md_path


def select_runs(
    client: MlflowClient, experiment: str | None, run_id: str | None
) -> tuple[Experiment, Run | None, list[Run]]:
    """(experiment, sweep parent or None, the job runs to report)."""
    if run_id:
        return _runs_of_given_run(client, experiment, run_id)
    exp = find_experiment(client, experiment or DEFAULT_EXPERIMENT)
    sweeps = _search(
        client, exp.experiment_id, f"tags.`{tracking.ROLE_TAG}` = 'sweep'", max_results=1
    )
    if sweeps:
        return exp, sweeps[0], children_of(client, exp.experiment_id, sweeps[0].info.run_id)
    # No multirun yet: the single runs (job role, no parent) stand in for a sweep.
    jobs = _search(client, exp.experiment_id, f"tags.`{tracking.ROLE_TAG}` = 'job'")
    top_level = [run for run in jobs if tracking.PARENT_TAG not in run.data.tags]
    if not top_level:
        raise ReportError(f"experiment '{exp.name}' has no sweep and no job runs")
    return exp, None, top_level


def _runs_of_given_run(
    client: MlflowClient, experiment: str | None, run_id: str
) -> tuple[Experiment, Run | None, list[Run]]:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ReportError(f"no run '{run_id}' in the store") from exc
    if run.info.lifecycle_stage == "deleted":
        raise ReportError(f"run '{run_id}' is deleted")
    exp = client.get_experiment(run.info.experiment_id)
    if experiment and experiment != exp.name:
        raise ReportError(f"run '{run_id}' belongs to experiment '{exp.name}', not '{experiment}'")
    children = children_of(client, exp.experiment_id, run_id)
    if children or run.data.tags.get(tracking.ROLE_TAG) == "sweep":
        return exp, run, children
    return exp, None, [run]  # a single job run: a one-row report


def find_experiment(client: MlflowClient, name: str) -> Experiment:
    exp = client.get_experiment_by_name(name)  # a look-up: never creates the experiment
    if exp is None or exp.lifecycle_stage == "deleted":
        raise ReportError(f"no experiment '{name}' in the store")
    return exp


def children_of(client: MlflowClient, experiment_id: str, parent_id: str) -> list[Run]:
    return _search(client, experiment_id, f"tags.`{tracking.PARENT_TAG}` = '{parent_id}'")


def _search(
    client: MlflowClient, experiment_id: str, filter_string: str, max_results: int | None = None
) -> list[Run]:
    """All matching active runs, newest first (run id breaks ties), across result pages."""
    order = ["attributes.start_time DESC", "attributes.run_id ASC"]
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string, max_results=max_results or 1000,
            order_by=order, page_token=token,
        )  # fmt: skip
        runs += page
        token = page.token
        if not token or (max_results and len(runs) >= max_results):
            return runs[:max_results] if max_results else runs


def to_row(client: MlflowClient, run: Run) -> RunRow:
    tags, metrics = run.data.tags, run.data.metrics
    history = sorted(
        client.get_metric_history(run.info.run_id, "cost"),
        key=lambda m: (m.step, m.timestamp, m.value),
    )
    overrides = tags.get(tracking.OVERRIDES_TAG, "")
    # A job with several seeds records their means (and its cost curve is their mean).
    final_cost = metrics.get("final_cost", metrics.get("final_cost_mean", metrics.get("cost")))
    return RunRow(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id,
        job=tags.get(tracking.JOB_NUM_TAG, ""),
        groups={group: tags.get(group, "") for group in tracking.GROUP_TAGS},
        overrides="" if overrides == NO_OVERRIDES else overrides,
        status=run.info.status,
        final_cost=final_cost,
        train_accuracy=metrics.get("train_accuracy", metrics.get("train_accuracy_mean")),
        test_accuracy=metrics.get("test_accuracy", metrics.get("test_accuracy_mean")),
        steps=tuple(m.step for m in history),
        costs=tuple(m.value for m in history),
        sigma_w=_sqrt(metrics.get("init/mean_field/sigma_w2")),
        sigma_b=_sqrt(metrics.get("init/mean_field/sigma_b2")),
        depth=int(metrics["init/mean_field/depth"]) if "init/mean_field/depth" in metrics else None,
        activation=_activation_params(tags, run.data.params),
        bias_mean=float(run.data.params.get("init.bias", 0.0)),
    )


def _activation_params(tags: dict[str, str], params: dict[str, str]) -> tuple:
    """(("name", <choice>), (param, value), ...): the activation as its run configured it."""
    prefix = "activation."
    extra = sorted(
        (key.removeprefix(prefix), value)
        for key, value in params.items()
        if key.startswith(prefix) and key != "activation.name"
    )
    return (("name", tags.get("activation", "")), *extra)


def _sqrt(value: float | None) -> float | None:
    """σ from a recorded σ², rounded so that σ_w = 0.75 (σ² = 0.5625) reads 0.75 again."""
    return None if value is None else round(math.sqrt(value), 12)


def _job_order(row: RunRow) -> tuple[int, int, str, str]:
    """By job number; runs without one (single runs) after, by name then id."""
    if row.job.isdigit():
        return (0, int(row.job), "", row.run_id)
    return (1, 0, row.name, row.run_id)


def _safe_name(name: str) -> str:
    """An experiment name as one folder name (names may hold '/' or spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"


# --- figures -----------------------------------------------------------------------------


def _new_figure(width: float, height: float):  # -> matplotlib.figure.Figure
    import matplotlib

    matplotlib.use("Agg")  # no display here, and no pyplot global state to leak
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _save(figure, path: Path) -> None:
    figure.savefig(path, dpi=100, metadata=PNG_METADATA)


def plot_cost_curves(rows: Sequence[RunRow], path: Path) -> bool:
    """Every run's cost against iteration on one axes; False (and no file) if none has a curve."""
    curves = [row for row in rows if row.steps]
    if not curves:
        path.unlink(missing_ok=True)  # a stale figure from an earlier report would mislead
        return False
    figure = _new_figure(8, 5)
    ax = figure.add_subplot()
    for row in curves:
        ax.plot(row.steps, row.costs, label=row.label, linewidth=1.5)
    finite = [c for row in curves for c in row.costs if math.isfinite(c)]
    if finite and min(finite) > 0:  # cost spans decades between inits: log shows them all
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.set_title("Cost during training")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    figure.tight_layout()
    _save(figure, path)
    return True


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


def plot_phase(rows: Sequence[RunRow], path: Path) -> bool:
    """The phase diagram when the sweep spans several σ_w and σ_b; False (no file) otherwise."""
    from initlab.phase_diagram import is_phase_sweep, plot_phase_diagram

    sweep = phase_sweep(rows)
    if not is_phase_sweep(sweep):
        path.unlink(missing_ok=True)
        return False
    plot_phase_diagram(sweep, path, _new_figure, _save)
    return True


def download_boundaries(client: MlflowClient, rows: Sequence[RunRow], tmp: Path) -> dict[str, Path]:
    """run id -> local copy of its decision-boundary PNG, for the runs that logged one."""
    folder = posixpath.dirname(tracking.BOUNDARY_ARTIFACT)
    images: dict[str, Path] = {}
    for row in rows:
        listed = {info.path for info in client.list_artifacts(row.run_id, folder)}
        if tracking.BOUNDARY_ARTIFACT not in listed:
            continue
        dst = tmp / row.run_id
        dst.mkdir()
        images[row.run_id] = Path(
            client.download_artifacts(row.run_id, tracking.BOUNDARY_ARTIFACT, str(dst))
        )
    return images


def plot_boundaries(rows: Sequence[RunRow], images: dict[str, Path], path: Path) -> bool:
    """The runs' boundary plots side by side, titled; False (and no file) if there are none."""
    shown = [row for row in rows if row.run_id in images]
    if not shown:
        path.unlink(missing_ok=True)
        return False
    from matplotlib.image import imread

    pictures = [imread(images[row.run_id]) for row in shown]
    aspect = max(p.shape[0] / p.shape[1] for p in pictures)  # panels as tall as the plots
    ncols = min(len(shown), PANELS_PER_ROW)
    nrows = math.ceil(len(shown) / ncols)
    width = PANEL_WIDTH_INCHES
    figure = _new_figure(width * ncols, (width * aspect + 0.4) * nrows)  # + a title line
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, row, picture in zip(axes, shown, pictures, strict=False):
        ax.imshow(picture)
        ax.set_title(row.label, fontsize=10)
    for ax in axes:
        ax.axis("off")
    figure.tight_layout()
    _save(figure, path)
    return True


# --- text --------------------------------------------------------------------------------

TABLE_HEADER = ("job", "init", "activation", "dataset", "status", "final cost", "train acc",
                "test acc")  # fmt: skip
NUMERIC_COLUMNS = {"job", "final cost", "train acc", "test acc"}


def format_cost(value: float | None) -> str:
    return MISSING if value is None else f"{value:.6g}"


def format_accuracy(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.2f}%"  # stored as a fraction


def table_cells(row: RunRow) -> list[str]:
    return [
        row.job or MISSING,
        *(row.groups[group] or MISSING for group in tracking.GROUP_TAGS),
        row.status,
        format_cost(row.final_cost),
        format_accuracy(row.train_accuracy),
        format_accuracy(row.test_accuracy),
    ]


def split_overrides(text: str) -> list[str]:
    """'init=he model.hidden=[10, 5]' -> ['init=he', 'model.hidden=[10, 5]'].

    Splits on spaces outside brackets and quotes, since a Hydra value may hold spaces.
    """
    items: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char.isspace() and depth <= 0:
            if current:
                items.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        items.append("".join(current))
    return items


def reproduce_commands(report: Report) -> list[str]:
    """A sweep: its own -m command, as typed (the parent's tag). Single runs: one each."""
    if report.parent_id is None:
        return [_command([], split_overrides(row.overrides)) for row in report.rows]
    overrides = "" if report.sweep_overrides == NO_OVERRIDES else report.sweep_overrides
    return [_command(["-m"], split_overrides(overrides))]


def _command(flags: list[str], args: list[str]) -> str:
    return " ".join([TRAIN_COMMAND, *flags, *(shlex.quote(arg) for arg in args)])


def summary_line(report: Report) -> str:
    counts = Counter(row.status for row in report.rows)
    states = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    runs = f"{len(report.rows)} run{'s' if len(report.rows) != 1 else ''}"
    runs += f" ({states})" if states else ""
    if report.parent_id is None:
        return f"Top-level runs of experiment `{report.experiment}` (no sweep found): {runs}."
    return (
        f"Sweep `{report.parent_name}` (parent run `{report.parent_id}`) of experiment "
        f"`{report.experiment}`: {runs}."
    )


def _missing_note(what: str, labels: list[str]) -> str:
    return f"No {what} for: {'; '.join(labels)}." if labels else ""


def sections(report: Report) -> list[tuple[str, str | None, str]]:
    """(heading, image file or None, note) of the two figure sections."""
    return [
        (
            "Cost curves",
            CURVES_FILE if report.has_curves else None,
            _missing_note("cost history", report.curves_missing),
        ),
        (
            "Decision boundaries",
            BOUNDARIES_FILE if report.has_boundaries else None,
            _missing_note("decision boundary plot", report.boundaries_missing),
        ),
    ] + ([("Phase diagram", PHASE_FILE, PHASE_NOTE)] if report.has_phase_diagram else [])


def render_markdown(report: Report) -> str:
    lines = [f"# initlab report: {report.experiment}", "", summary_line(report), "", "## Runs", ""]
    lines.append(_md_row(TABLE_HEADER))
    lines.append(_md_row([("---:" if c in NUMERIC_COLUMNS else "---") for c in TABLE_HEADER]))
    lines += [_md_row(table_cells(row)) for row in report.rows]
    for heading, image, note in sections(report):
        lines += ["", f"## {heading}", ""]
        body = [f"![{heading}]({image})"] if image else []
        body += [note] if note else []
        lines += "\n\n".join(body or ["Nothing to show."]).split("\n")
    lines += ["", "## Reproduce", "", "```bash", *reproduce_commands(report), "```", ""]
    return "\n".join(lines)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


# --- HTML (self-contained: inline CSS, images as data URIs) ------------------------------

CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.7rem; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.FAILED td, tr.KILLED td { color: #a00; }
code, pre { background: #f6f6f6; font-family: ui-monospace, monospace; }
pre { padding: 0.6rem; overflow-x: auto; }
img { max-width: 100%; }
"""


def _inline(text: str) -> str:
    """Markdown's `code` spans -> <code>, everything else escaped."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(report: Report, out_dir: Path) -> str:
    title = html.escape(f"initlab report: {report.experiment}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{title}</title><style>{CSS}</style></head>',
        "<body>",
        f"<h1>{title}</h1>",
        f"<p>{_inline(summary_line(report))}</p>",
        "<h2>Runs</h2>",
        _html_table(report.rows),
    ]
    for heading, image, note in sections(report):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if image:
            parts.append(f'<img src="{_data_uri(out_dir / image)}" alt="{html.escape(heading)}">')
        if note or not image:
            parts.append(f"<p>{_inline(note or 'Nothing to show.')}</p>")
    commands = "\n".join(html.escape(c) for c in reproduce_commands(report))
    parts += ["<h2>Reproduce</h2>", f"<pre><code>{commands}</code></pre>", "</body>", "</html>", ""]
    return "\n".join(parts)


def _html_table(rows: Sequence[RunRow]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in TABLE_HEADER)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{html.escape(v)}</td>' if c in NUMERIC_COLUMNS
            else f"<td>{html.escape(v)}</td>"
            for c, v in zip(TABLE_HEADER, table_cells(row), strict=True)
        )  # fmt: skip
        body.append(f'<tr class="{html.escape(row.status)}">{cells}</tr>')
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


if __name__ == "__main__":  # pragma: no cover - the entry point is src/report.py
    raise SystemExit(main())
