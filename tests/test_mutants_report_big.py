"""The report of a big sweep (more than 50 runs: best 10 first, the whole table after the
figures; notes that name at most ten runs; overlays with more runs than colours) and the bulk
history reading, written out exactly (found by mutation testing: each test fails on some
mutant of initlab.report_data or report_text that the other tests let by)."""

from __future__ import annotations

from types import SimpleNamespace

from initlab.report_data import Histories, RunRow
from initlab.report_text import (
    Report,
    _boundaries_note,
    _many_note,
    _missing_note,
    notes,
    render_html,
    render_markdown,
    table_cells,
)

BOUNDARY_ARTIFACT = "decision_boundary.png"
MANY = "Too many runs for a colour each: a thin line per run, coloured by its `{}`, and a bold "
MANY += "line per value of it: the median of its runs (the legend counts them)."


def _row(job: int, **kw) -> RunRow:
    fields = dict(
        run_id=f"r{job}", name=f"run-{job}", job=str(job), groups={}, overrides="",
        status="FINISHED", final_cost=0.5, train_accuracy=0.9, test_accuracy=job / 100,
        steps=(0, 100), costs=(0.7, 0.5), values={"lr": str(job), "init": "abc"[job % 3]},
    )  # fmt: skip
    fields.update(kw)
    return RunRow(**fields)


def _report(rows, **kw) -> Report:
    fields = dict(
        experiment="big", parent_id="p", parent_name="s", sweep_overrides="lr=0 init=a",
        rows=rows, varying=["lr", "init"], fixed=[], curves_missing=[], boundaries_missing=[],
        figures={},
    )  # fmt: skip
    fields.update(kw)
    return Report(**fields)


def _big() -> Report:
    """51 runs: the best ten by test accuracy, ties broken by train accuracy (a failed run
    with the best test accuracy is not among them); 21 runs with a signal curve."""
    special = {
        5: dict(status="FAILED", test_accuracy=0.99),
        47: dict(test_accuracy=0.47, train_accuracy=0.5),
        48: dict(test_accuracy=0.47, train_accuracy=0.0),
        49: dict(test_accuracy=0.49, train_accuracy=0.9),
        50: dict(test_accuracy=0.49, train_accuracy=0.95),
    }
    rows = [
        _row(j, depth_curves={"z_std": {1: 1.0}} if j <= 20 else {}, **special.get(j, {}))
        for j in range(51)
    ]
    return _report(
        rows, curves_missing=["x"], boundaries_missing=[f"m{i}" for i in range(12)],
        figures={"cost_curves.png": True, "decision_boundaries.png": True,
                 "signal_propagation.png": True},
    )  # fmt: skip


def _cells(j: int, train: str = "90.00%", test: str = "", status: str = "FINISHED") -> list[str]:
    return [str(j), str(j), "abc"[j % 3], status, "0.5", train, test or f"{j}.00%"]


BEST = [
    _cells(50, "95.00%", "49.00%"),
    _cells(49, "90.00%", "49.00%"),
    _cells(47, "50.00%", "47.00%"),
    _cells(48, "0.00%", "47.00%"),
    *(_cells(j) for j in (46, 45, 44, 43, 42, 41)),
]
ALL = [
    _cells(5, test="99.00%", status="FAILED") if j == 5
    else _cells(0, test="0.00%") if j == 0
    else next(c for c in BEST if c[0] == str(j)) if j in (47, 48, 49, 50)
    else _cells(j)
    for j in range(51)
]  # fmt: skip
HEADER = ["job", "lr", "init", "status", "final cost", "train acc", "test acc"]


def _md_rows(cells_list):
    return ["| " + " | ".join(cells) + " |" for cells in cells_list]


def _html_table(cells_list):
    head = "".join(f"<th>{c}</th>" for c in HEADER)
    numeric = {"job", "final cost", "train acc", "test acc"}
    body = [
        f'<tr class="{cells[3]}">'
        + "".join(
            f'<td class="num">{v}</td>' if c in numeric else f"<td>{v}</td>"
            for c, v in zip(HEADER, cells, strict=True)
        )
        + "</tr>"
        for cells in cells_list
    ]
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


CURVES_NOTE = MANY.format("init") + " No cost history for: x."
BOUNDARIES_NOTE = (
    f"The first 24 runs of 51 (each run's own plot is its artifact `{BOUNDARY_ARTIFACT}`). "
    "No decision boundary plot for 12 of 24 runs, among them: m0; m1; m2; m3; m4; m5; m6; m7; "
    "m8; m9; …"
)
SIGNAL = (
    "Solid: the std of each layer's pre-activations measured on the training set (the output "
    "over 256 redrawn output weights); dashed: the mean-field prediction. Exact zeros sit on "
    "the dotted line marked = 0. " + MANY.format("lr")
)


def test_a_big_sweeps_markdown_lists_the_best_runs_first_and_all_after_the_figures():
    align = "| ---: | --- | --- | --- | ---: | ---: | ---: |"
    expected = [
        "# initlab report: big",
        "",
        "Sweep `s` (parent run `p`) of experiment `big`: 51 runs (1 FAILED, 50 FINISHED).",
        "",
        "## Best 10 runs by test accuracy",
        "",
        "| " + " | ".join(HEADER) + " |",
        align,
        *_md_rows(BEST),
        "",
        "All 51 runs, in job order, are in the table after the figures.",
        "",
        "## Cost curves",
        "",
        "![Cost curves](cost_curves.png)",
        "",
        CURVES_NOTE,
        "",
        "## Decision boundaries",
        "",
        "![Decision boundaries](decision_boundaries.png)",
        "",
        BOUNDARIES_NOTE,
        "",
        "## Signal propagation at initialization",
        "",
        "![Signal propagation at initialization](signal_propagation.png)",
        "",
        SIGNAL,
        "",
        "## Runs",
        "",
        "| " + " | ".join(HEADER) + " |",
        align,
        *_md_rows(ALL),
        "",
        "## Reproduce",
        "",
        "```bash",
        "python src/train.py -m lr=0 init=a",
        "```",
        "",
    ]
    assert render_markdown(_big()).split("\n") == expected


def test_a_big_sweeps_html_lists_the_best_runs_first_and_all_after_the_figures(tmp_path):
    for name in ("cost_curves.png", "decision_boundaries.png", "signal_propagation.png"):
        (tmp_path / name).write_bytes(b"")
    page = render_html(_big(), tmp_path)
    img = '<img src="data:image/png;base64," alt="{}">'
    body = [
        "<h1>initlab report: big</h1>",
        "<p>Sweep <code>s</code> (parent run <code>p</code>) of experiment <code>big</code>: "
        "51 runs (1 FAILED, 50 FINISHED).</p>",
        "<h2>Best 10 runs by test accuracy</h2>",
        _html_table(BEST),
        "<p>All 51 runs, in job order, are in the table after the figures.</p>",
        "<h2>Cost curves</h2>",
        img.format("Cost curves"),
        "<p>" + CURVES_NOTE.replace("`init`", "<code>init</code>") + "</p>",
        "<h2>Decision boundaries</h2>",
        img.format("Decision boundaries"),
        "<p>" + BOUNDARIES_NOTE.replace("'", "&#x27;").replace(
            f"`{BOUNDARY_ARTIFACT}`", f"<code>{BOUNDARY_ARTIFACT}</code>") + "</p>",
        "<h2>Signal propagation at initialization</h2>",
        img.format("Signal propagation at initialization"),
        "<p>" + SIGNAL.replace("'", "&#x27;").replace("`lr`", "<code>lr</code>") + "</p>",
        "<h2>Runs</h2>",
        _html_table(ALL),
        "<h2>Reproduce</h2>",
        "<pre><code>python src/train.py -m lr=0 init=a</code></pre>",
        "</body>",
        "</html>",
        "",
    ]  # fmt: skip
    assert page.startswith("<!DOCTYPE html>\n")
    assert page.split("<body>\n", 1)[1] == "\n".join(body)


def test_fifty_runs_are_one_table():
    md = render_markdown(_report([_row(j) for j in range(50)]))
    assert "## Best" not in md and md.count("## Runs") == 1


def test_a_multi_seed_report_has_the_seeds_column_when_asked_about_one_row():
    rep = _report([_row(0, seeds=2, failed_fraction=0.5), _row(1)])
    assert table_cells(rep, rep.rows[1]) == [*_cells(1, test="1.00%"), "1"]
    assert table_cells(rep, rep.rows[1], False) == _cells(1, test="1.00%")


def test_ten_diverged_runs_or_missing_figures_are_all_named():
    rep = _report([_row(j, diverged="nan") for j in range(10)])
    listed = "; ".join(f"job {j}: nan" for j in range(10))
    assert notes(rep) == [
        f"Diverged (the cost stopped being a number, or ended above where it started): {listed}."
    ]
    labels = [f"m{i}" for i in range(10)]
    assert _missing_note("plot", labels, 30) == f"No plot for: {'; '.join(labels)}."


def test_the_boundaries_note_says_why_no_run_has_a_plot():
    def note(n, policy, most, drawn=False, missing=None):
        params = {"tracking.figures": policy, "tracking.figures_max_jobs": most}
        rows = [_row(j, params=params) for j in range(n)]
        labels = [f"job {j}" for j in range(min(n, 24))] if missing is None else missing
        figures = {"decision_boundaries.png": drawn}
        return _boundaries_note(_report(rows, boundaries_missing=labels, figures=figures))

    assert note(2, "none", "3") == (
        "No decision boundary plots: the runs drew no figures (`tracking.figures=none`)."
    )
    auto = (
        "No decision boundary plots: the runs logged metrics only (`tracking.figures=auto` "
        "draws per-run figures in sweeps of up to `tracking.figures_max_jobs` = 3 jobs; this "
        "one has 4)."
    )
    assert note(4, "auto", "3") == auto
    assert note(3, "auto", "3") == "No decision boundary plot for: job 0; job 1; job 2."
    assert note(4, "always", "3") == "No decision boundary plot for: job 0; job 1; job 2; job 3."
    # The montage shows the first 24 runs: said when there are more, not when there are 24.
    assert note(24, "always", "3", drawn=True, missing=[]) == ""
    assert note(2, "always", "3", drawn=True, missing=[]) == ""
    assert note(25, "always", "3", drawn=True, missing=[]) == (
        f"The first 24 runs of 25 (each run's own plot is its artifact `{BOUNDARY_ARTIFACT}`)."
    )


def test_overlays_of_more_than_twenty_runs_say_how_they_are_coloured():
    twenty = _report([_row(j) for j in range(20)])
    assert _many_note(twenty, "cost_curves.png") == ""
    one_value = _report([_row(j, values={"lr": "1"}) for j in range(21)], varying=["lr"])
    assert _many_note(one_value, "cost_curves.png") == (
        "Too many runs for a colour each: they are coloured in job order."
    )


class _BulkClient:
    """A client whose store reads a key's history for many runs at once (at most
    ``max_results`` points), and whose run-by-run reading gives other values."""

    def __init__(self, points):
        self.points = points  # run id -> [(step, value)]
        self.bulk_calls = []
        self._tracking_client = SimpleNamespace(
            store=SimpleNamespace(get_metric_history_bulk=self.bulk)
        )

    def bulk(self, run_ids, key, max_results):
        self.bulk_calls.append((list(run_ids), key))
        found = [
            SimpleNamespace(run_id=run, step=s, value=v, timestamp=0)
            for run in run_ids
            for s, v in self.points.get(run, [])
        ]
        return found[:max_results]

    def get_metric_history(self, run_id, key):
        return [SimpleNamespace(step=0, value=-1.0, timestamp=0)]


def test_histories_read_bulk_keys_in_bulk_for_two_runs_or_more():
    client = _BulkClient({"a": [(s, 1.0) for s in range(130)], "b": [(0, 2.0)]})
    histories = Histories(client, ["a", "b"])
    assert [(m.step, m.value) for m in histories("b", "cost")] == [(0, 2.0)]
    assert len(histories("a", "cost")) == 130
    assert client.bulk_calls == [(["a", "b"], "cost")]
    # Other keys, and a single run, are read run by run.
    assert [(m.step, m.value) for m in histories("a", "final_cost")] == [(0, -1.0)]
    assert [(m.step, m.value) for m in Histories(client, ["a"])("a", "cost")] == [(0, -1.0)]
    assert client.bulk_calls == [(["a", "b"], "cost")]
