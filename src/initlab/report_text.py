"""The report's text: the runs table, the lecture's numbers, the sections, in Markdown and
in self-contained HTML (images inlined). Names from the store (runs, experiments) are text,
never markup: they are escaped in both.
"""

from __future__ import annotations

import base64
import html
import re
import shlex
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from initlab import tracking
from initlab.lecture import LAST_PRINTED, PUBLISHED, is_course_setup
from initlab.report_data import NO_OVERRIDES, RunRow, split_overrides
from initlab.report_figures import MAX_BOUNDARIES, MAX_RUN_COLOURS, run_groups

MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
CURVES_FILE = "cost_curves.png"
BOUNDARIES_FILE = "decision_boundaries.png"
HEATMAP_FILE = "heatmap.png"
SIGNAL_FILE = "signal_propagation.png"
HISTOGRAMS_FILE = "activation_histograms.png"
GRADIENTS_FILE = "gradient_norms.png"
PHASE_FILE = "phase_diagram.png"
PHASE_NOTE = (
    "Each cell is one run: its training accuracy (%) at its (σ_w, σ_b), as recorded at init "
    "(`init/mean_field/sigma_w2`, `sigma_b2`). Red: the order-to-chaos line χ₁ = 1 of "
    "mean-field theory; dashed: where the depth L equals 6ξ_c (Schoenholz et al. 2017), "
    "the band in which a net this deep should train."
)
SIGNAL_NOTE = (
    "Solid: the std of each layer's pre-activations measured on the training set (the output "
    "over 256 redrawn output weights); dashed: the mean-field prediction. Exact zeros sit on "
    "the dotted line marked = 0."
)
TRAIN_COMMAND = "python src/train.py"
MISSING = "-"  # table cell of a metric the run never logged (e.g. a failed job)
MAX_DIAGNOSED = 12  # runs whose histograms and gradient norms the report draws
MAX_LISTED = 10  # runs a "no figure for" note names; more: how many, and the first ten
BIG_TABLE = 50  # more runs: the best BEST_ROWS first, the whole table after the figures
BEST_ROWS = 10


@dataclass(frozen=True)
class Report:
    experiment: str
    parent_id: str | None  # None: no sweep, the experiment's top-level job runs
    parent_name: str | None
    sweep_overrides: str  # the parent's overrides tag: the sweep exactly as it was typed
    rows: list[RunRow]
    varying: list[str]  # the keys the sweep varies: the table's columns
    fixed: list[str]  # key=value true of every run (what the sweep keeps)
    curves_missing: list[str]  # labels of runs without a cost history
    boundaries_missing: list[str]  # labels of runs without a decision-boundary plot
    figures: dict[str, bool]  # figure file -> drawn
    lecture: list[list[str]] = field(default_factory=list)  # the course grid's table rows
    heatmap_keys: tuple[str, str] | None = None


CSS = """
body { font-family: system-ui, sans-serif; max-width: 88rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.7rem; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.FAILED td, tr.KILLED td { color: #a00; }
code, pre { background: #f6f6f6; font-family: ui-monospace, monospace; }
p code { overflow-wrap: anywhere; }  /* a long sweep (a,b,c,...) wraps, the page stays wide */
pre { padding: 0.6rem; overflow-x: auto; }
img { max-width: 100%; }
"""


def _inline(text: str) -> str:
    """Markdown's `code` spans -> <code>, everything else escaped."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def lecture_rows(rows: Sequence[RunRow]) -> list[list[str]]:
    """For the course grid (the lecture's setup, the init the only thing varied): each init
    the lecture published, initlab's numbers beside the lecture's."""
    finished = [r for r in rows if r.status == "FINISHED"]
    if not finished or not all(is_course_setup(r.params) for r in finished):
        return []
    table = []
    for row in finished:
        init = row.params.get("init.name", "")
        published = PUBLISHED.get(init)
        if published is None or not _course_init(row.params):
            continue
        at = dict(zip(row.steps, row.costs, strict=True))
        table.append([
            init,
            f"{_digits(at.get(0))} / {_digits(published.cost_0)}",
            f"{_digits(at.get(LAST_PRINTED))} / {_digits(published.cost_14000)}",
            f"{format_accuracy(row.train_accuracy)} / {format_accuracy(published.train_accuracy)}",
            f"{format_accuracy(row.test_accuracy)} / {format_accuracy(published.test_accuracy)}",
        ])  # fmt: skip
    return table


def _digits(value: float | None) -> str:
    """A cost with the digits the lecture printed (ten, enough to see them agree); inf
    prints as inf."""
    if value is None:
        return MISSING
    return f"{value:.10g}"


def _course_init(params: dict[str, str]) -> bool:
    """The init as the lecture drew it: random ×10, He with ReLU's gain, fan_in, normal."""
    name = params.get("init.name")
    if name == "random":
        return params.get("init.scale") == "10.0"
    if name == "he":
        return (params.get("init.gain"), params.get("init.mode"),
                params.get("init.distribution")) == ("relu", "fan_in", "normal")  # fmt: skip
    return name == "zeros"


NUMERIC = {"job", "final cost", "train acc", "test acc", "seeds (failed)"}


def format_cost(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.6g}"  # inf prints as inf


def format_accuracy(value: float | None, std: float | None = None) -> str:
    if value is None:
        return MISSING
    text = f"{100 * value:.2f}%"  # stored as a fraction
    return f"{text} ± {100 * std:.2f}" if std is not None else text


def _multi_seed(report: Report) -> bool:
    return any(r.seeds > 1 for r in report.rows)


def table_header(report: Report) -> list[str]:
    what = report.varying or list(tracking.GROUP_TAGS)
    seeds = ["seeds (failed)"] if _multi_seed(report) else []
    return ["job", *what, "status", "final cost", "train acc", "test acc", *seeds]


def table_cells(report: Report, row: RunRow, multi_seed: bool | None = None) -> list[str]:
    """A row's cells (``multi_seed``: whether any run has seeds, known to a caller of many)."""
    what = [row.values[k] for k in report.varying] if report.varying else [
        row.groups[group] or MISSING for group in tracking.GROUP_TAGS]  # fmt: skip
    cells = [
        row.job or MISSING, *what, f"{row.status}, diverged" if row.diverged else row.status,
        format_cost(row.final_cost),
        format_accuracy(row.train_accuracy, row.train_std if row.seeds > 1 else None),
        format_accuracy(row.test_accuracy, row.test_std if row.seeds > 1 else None),
    ]  # fmt: skip
    if _multi_seed(report) if multi_seed is None else multi_seed:
        failed = row.failed_fraction
        cells.append(f"{row.seeds} ({100 * failed:.0f}%)" if failed is not None else str(row.seeds))
    return cells


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


def notes(report: Report) -> list[str]:
    lines = []
    if report.fixed:
        lines.append("Every run: " + ", ".join(f"`{item}`" for item in report.fixed) + ".")
    if any(r.seeds > 1 for r in report.rows):
        lines.append(
            "A multi-seed job's accuracies are the mean ± std over its seeds, its cost the "
            "mean; failed: the share of seeds whose cost is not finite or whose training "
            "accuracy stays within 2 points of chance (each seed's numbers: the job run's "
            f"`{tracking.SEEDS_TABLE_ARTIFACT}`)."
        )
    diverged = [
        f"{f'job {r.job}' if r.job else r.label}: {r.diverged}" for r in report.rows if r.diverged
    ]
    if len(diverged) > MAX_LISTED:  # a big sweep: how many, the first ones, the table has all
        diverged = [f"{len(diverged)} runs, among them {diverged[0]}", *diverged[1:MAX_LISTED],
                    "…"]  # fmt: skip
    if diverged:
        lines.append(
            "Diverged (the cost stopped being a number, or ended above where it started): "
            + "; ".join(diverged)
            + "."
        )
    return lines


def _missing_note(what: str, labels: list[str], of: int = 0) -> str:
    if len(labels) <= MAX_LISTED:
        return f"No {what} for: {'; '.join(labels)}." if labels else ""
    return (f"No {what} for {len(labels)} of {of} runs, among them: "
            f"{'; '.join(labels[:MAX_LISTED])}; …")  # fmt: skip


def _join(*notes: str) -> str:
    return " ".join(note for note in notes if note)


def _boundaries_note(report: Report) -> str:
    """Which runs the montage shows, and why runs have no plot of their own."""
    rows, missing = report.rows, report.boundaries_missing
    checked = min(len(rows), MAX_BOUNDARIES)
    if rows and len(missing) == checked:  # not one: the figure policy, most likely
        params = rows[0].params
        policy, most = params.get("tracking.figures"), params.get("tracking.figures_max_jobs")
        if policy == "none":
            return "No decision boundary plots: the runs drew no figures (`tracking.figures=none`)."
        if policy == "auto" and most and most.isdigit() and len(rows) > int(most):
            return (
                "No decision boundary plots: the runs logged metrics only "
                f"(`tracking.figures=auto` draws per-run figures in sweeps of up to "
                f"`tracking.figures_max_jobs` = {most} jobs; this one has {len(rows)})."
            )
    note = _missing_note("decision boundary plot", missing, checked)
    if len(rows) > MAX_BOUNDARIES and report.figures.get(BOUNDARIES_FILE):
        first = (f"The first {MAX_BOUNDARIES} runs of {len(rows)} (each run's own plot is its "
                 f"artifact `{tracking.BOUNDARY_ARTIFACT}`).")  # fmt: skip
        note = f"{first} {note}" if note else first
    return note


def big_table(report: Report) -> bool:
    """A sweep this big lists its best runs first and its whole table after the figures."""
    return len(report.rows) > BIG_TABLE


def best_rows(report: Report) -> list[RunRow]:
    """The finished runs with the highest test accuracy (train accuracy, then job, on ties)."""
    done = [r for r in report.rows if r.status == "FINISHED" and r.test_accuracy is not None]
    ordered = sorted(done, key=lambda r: (-(r.test_accuracy or 0), -(r.train_accuracy or 0)))
    return ordered[:BEST_ROWS]


def best_heading(report: Report) -> str:
    return f"Best {len(best_rows(report))} runs by test accuracy"


def table_note(report: Report) -> str:
    return f"All {len(report.rows)} runs, in job order, are in the table after the figures."


LECTURE_HEADER = ["init", "cost at 0: initlab / lecture", f"cost at {LAST_PRINTED}",
                  "train acc", "test acc"]  # fmt: skip
LECTURE_NOTE = (
    "The lecture printed inf at iteration 0 for the ×10 start (log of an exact 0); initlab "
    "computes the cost from the logits, finite. Its ×10 run is chaotic, so its digits depend "
    "on the machine's rounding (README: *Reproducing the course exactly*)."
)


def sections(report: Report) -> list[tuple[str, str | None, str]]:
    """(heading, image file or None, note) of the figure sections, in order."""
    drawn = report.figures
    parts: list[tuple[str, str | None, str]] = []
    if report.heatmap_keys:
        a, b = report.heatmap_keys
        parts.append((f"Test accuracy by {a} and {b}", HEATMAP_FILE, ""))
    parts += [
        (
            "Cost curves",
            CURVES_FILE if drawn.get(CURVES_FILE) else None,
            _join(
                _many_note(report, CURVES_FILE),
                _missing_note("cost history", report.curves_missing, len(report.rows)),
            ),
        ),
        (
            "Decision boundaries",
            BOUNDARIES_FILE if drawn.get(BOUNDARIES_FILE) else None,
            _boundaries_note(report),
        ),
    ]
    if drawn.get(SIGNAL_FILE):
        note = _join(SIGNAL_NOTE, _many_note(report, SIGNAL_FILE))
        parts.append(("Signal propagation at initialization", SIGNAL_FILE, note))
    if drawn.get(HISTOGRAMS_FILE):
        more = len([r for r in report.rows if r.depth_curves]) > MAX_DIAGNOSED
        parts.append(("Activations at initialization", HISTOGRAMS_FILE,
                      f"The first {MAX_DIAGNOSED} runs." if more else ""))  # fmt: skip
    if drawn.get(GRADIENTS_FILE):
        more = len([r for r in report.rows if r.grad_norms]) > MAX_DIAGNOSED
        parts.append(("Gradient norms during training", GRADIENTS_FILE,
                      f"The first {MAX_DIAGNOSED} runs." if more else ""))  # fmt: skip
    if drawn.get(PHASE_FILE):
        parts.append(("Phase diagram", PHASE_FILE, PHASE_NOTE))
    return parts


def _many_note(report: Report, figure: str) -> str:
    """For an overlay of more runs than it has colours: how to read it."""
    shown = [r for r in report.rows if (r.depth_curves.get("z_std") if figure == SIGNAL_FILE
                                        else r.steps)]  # fmt: skip
    if len(shown) <= MAX_RUN_COLOURS:
        return ""
    groups = run_groups(shown)
    if groups is None:
        return "Too many runs for a colour each: they are coloured in job order."
    return (f"Too many runs for a colour each: a thin line per run, coloured by its "
            f"`{groups[0]}`, and a bold line per value of it: the median of its runs "
            "(the legend counts them).")  # fmt: skip


def render_markdown(report: Report) -> str:
    lines = [
        f"# initlab report: {_md_text(report.experiment)}",
        "",
        _md_text(summary_line(report)),
        "",
    ]
    for note in notes(report):
        lines += [_md_text(note), ""]
    if big_table(report):
        lines += [f"## {best_heading(report)}", "", *_md_table(report, best_rows(report)), "",
                  _md_text(table_note(report))]  # fmt: skip
    else:
        lines += ["## Runs", "", *_md_table(report, report.rows)]
    if report.lecture:
        lines += ["", "## The lecture's numbers beside initlab's", "", _md_row(LECTURE_HEADER),
                  _md_row(["---", *["---:"] * 4])]  # fmt: skip
        lines += [_md_row(cells) for cells in report.lecture]
        lines += ["", _md_text(LECTURE_NOTE)]
    for heading, image, note in sections(report):
        lines += ["", f"## {_md_text(heading)}", ""]
        body = [f"![{_md_text(heading)}]({image})"] if image else []
        body += [_md_text(note)] if note else []
        lines += "\n\n".join(body or ["Nothing to show."]).split("\n")
    if big_table(report):
        lines += ["", "## Runs", "", *_md_table(report, report.rows)]
    lines += ["", "## Reproduce", "", "```bash", *reproduce_commands(report), "```", ""]
    return "\n".join(lines)


def _md_table(report: Report, rows: Sequence[RunRow]) -> list[str]:
    header = table_header(report)
    lines = [_md_row(header), _md_row([("---:" if c in NUMERIC else "---") for c in header])]
    multi = _multi_seed(report)
    return lines + [_md_row(table_cells(report, row, multi)) for row in rows]


def _md_text(text: str) -> str:
    """Run and experiment names are anyone's text: no raw HTML gets into the Markdown."""
    return html.escape(text, quote=False)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_md_text(cell).replace("|", "\\|") for cell in cells) + " |"


def render_html(report: Report, out_dir: Path) -> str:
    title = html.escape(f"initlab report: {report.experiment}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{title}</title><style>{CSS}</style></head>',
        "<body>",
        f"<h1>{title}</h1>",
        f"<p>{_inline(summary_line(report))}</p>",
        *(f"<p>{_inline(note)}</p>" for note in notes(report)),
    ]
    if big_table(report):
        parts += [
            f"<h2>{html.escape(best_heading(report))}</h2>",
            _runs_table(report, best_rows(report)),
            f"<p>{_inline(table_note(report))}</p>",
        ]
    else:
        parts += ["<h2>Runs</h2>", _runs_table(report, report.rows)]
    if report.lecture:
        parts += [
            "<h2>The lecture's numbers beside initlab's</h2>",
            _html_table(
                LECTURE_HEADER, report.lecture, [""] * len(report.lecture), LECTURE_HEADER[1:]
            ),
            f"<p>{_inline(LECTURE_NOTE)}</p>",
        ]
    for heading, image, note in sections(report):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if image:
            parts.append(f'<img src="{_data_uri(out_dir / image)}" alt="{html.escape(heading)}">')
        if note or not image:
            parts.append(f"<p>{_inline(note or 'Nothing to show.')}</p>")
    if big_table(report):
        parts += ["<h2>Runs</h2>", _runs_table(report, report.rows)]
    commands = "\n".join(html.escape(c) for c in reproduce_commands(report))
    parts += ["<h2>Reproduce</h2>", f"<pre><code>{commands}</code></pre>", "</body>", "</html>", ""]
    return "\n".join(parts)


def _runs_table(report: Report, rows: Sequence[RunRow]) -> str:
    multi = _multi_seed(report)
    cells = [table_cells(report, r, multi) for r in rows]
    return _html_table(table_header(report), cells, [r.status for r in rows], NUMERIC)


def _html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    classes: Sequence[str],
    numeric: Collection[str],
) -> str:
    """A table whose ``numeric`` columns are right-aligned, as the Markdown's ``---:``."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = []
    for cells, status in zip(rows, classes, strict=True):
        tds = "".join(
            f'<td class="num">{html.escape(v)}</td>' if c in numeric
            else f"<td>{html.escape(v)}</td>"
            for c, v in zip(header, cells, strict=True)
        )  # fmt: skip
        body.append(
            f'<tr class="{html.escape(status)}">{tds}</tr>' if status else f"<tr>{tds}</tr>"
        )
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"
