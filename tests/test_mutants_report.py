"""The report's text and reading, without an MLflow store: exact output for rows written out
here (found by mutation testing: each test fails on some mutant of initlab.report,
report_data or report_text that the other tests let by). tests/golden/ holds the expected
Markdown and HTML."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from initlab.lecture import COURSE_PARAMS
from initlab.report_data import RunRow
from initlab.report_text import (
    Report,
    format_accuracy,
    format_cost,
    lecture_rows,
    render_html,
    render_markdown,
    sections,
    summary_line,
)

GOLDEN = Path(__file__).parent / "golden"
HE = {**COURSE_PARAMS, "init.name": "he", "init.gain": "relu", "init.mode": "fan_in",
      "init.distribution": "normal"}  # fmt: skip
ZEROS = {**COURSE_PARAMS, "init.name": "zeros"}
RANDOM = {**COURSE_PARAMS, "init.name": "random", "init.scale": "10.0"}


def _row(job, init, status="FINISHED", groups=None, **kw) -> RunRow:
    fields = dict(
        run_id=f"r{job}", name=f"run-{job}", job="" if job is None else str(job),
        groups=groups or {"init": init, "activation": "relu", "dataset": "circles"},
        overrides=f"init={init}", status=status, final_cost=0.5, train_accuracy=0.9,
        test_accuracy=0.8, steps=(0, 14000), costs=(0.7, 0.1),
    )  # fmt: skip
    fields.update(kw)
    return RunRow(**fields)


def _course_sweep() -> Report:
    rows = [
        _row(0, "zeros", params=ZEROS, final_cost=0.6931471805599453, train_accuracy=0.5,
             test_accuracy=0.5, costs=(0.6931471805599453, 0.6931471805599453),
             values={"init": "zeros"}),
        _row(1, "random", params=RANDOM, final_cost=math.inf,
             costs=(math.inf, 0.38279729866923734), values={"init": "random"},
             diverged="cost is inf"),
        _row(2, "he", params=HE, final_cost=0.0123456789, train_accuracy=0.99123,
             test_accuracy=0.96, costs=(0.8830537463419761, 0.07357895962677365),
             values={"init": "he"}),
        _row(3, "xavier", status="FAILED", final_cost=None, train_accuracy=None,
             test_accuracy=None, steps=(), costs=(), params=HE, values={"init": "xavier"}),
    ]  # fmt: skip
    return Report(
        experiment="initialization", parent_id="abc123",
        parent_name="init=zeros,random,he,xavier",
        sweep_overrides="init=zeros,random,he,xavier model.hidden=[10, 5]", rows=rows,
        varying=["init"], fixed=["activation=relu", "dataset=circles"],
        curves_missing=["job 3: init=xavier"], boundaries_missing=[],
        figures={"cost_curves.png": True, "decision_boundaries.png": False,
                 "signal_propagation.png": True},
        lecture=lecture_rows(rows), heatmap_keys=None,
    )  # fmt: skip


def _single_runs() -> Report:
    def row(job, init, **kw):
        fields = dict(
            groups={"init": init, "activation": "tanh", "dataset": ""},
            overrides=f"init={init} model.hidden=[10, 5]", final_cost=0.25,
            train_accuracy=0.875, test_accuracy=0.75, steps=(0, 100), costs=(0.7, 0.25),
        )  # fmt: skip
        return _row(job, init, **{**fields, **kw})

    rows = [
        row(None, "he", seeds=3, train_std=0.0125, test_std=0.05, failed_fraction=1 / 3,
            diverged="cost rose"),
        row(None, "a|b", status="KILLED", final_cost=None, train_accuracy=None,
            test_accuracy=None, steps=(), costs=(), overrides=""),
    ]  # fmt: skip
    return Report(
        experiment="<b>exp</b>", parent_id=None, parent_name=None, sweep_overrides="",
        rows=rows, varying=[], fixed=[], curves_missing=[],
        boundaries_missing=["run-None: x", "y"],
        figures={"cost_curves.png": False, "decision_boundaries.png": False,
                 "activation_histograms.png": True, "gradient_norms.png": True,
                 "phase_diagram.png": True},
        lecture=[], heatmap_keys=("init", "activation"),
    )  # fmt: skip


@pytest.mark.parametrize(
    "make, name, images",
    [
        (_course_sweep, "report_sweep",
         {"cost_curves.png": b"PNG1", "signal_propagation.png": b"PNG2"}),
        (_single_runs, "report_single_runs",
         dict.fromkeys(["heatmap.png", "activation_histograms.png", "gradient_norms.png",
                        "phase_diagram.png"], b"P")),
    ],
)  # fmt: skip
def test_markdown_and_html_are_exactly_the_golden_files(make, name, images, tmp_path):
    for file, content in images.items():
        (tmp_path / file).write_bytes(content)
    report = make()
    assert render_markdown(report) == (GOLDEN / f"{name}.md").read_text(encoding="utf-8")
    assert render_html(report, tmp_path) == (GOLDEN / f"{name}.html").read_text(encoding="utf-8")


def test_lecture_rows_only_for_the_course_setup_and_its_inits():
    sweep = _course_sweep()
    assert [r[0] for r in sweep.lecture] == ["zeros", "random", "he"]
    # One finished run off the lecture's setup: no lecture table at all.
    off = [*sweep.rows[:2], replace(sweep.rows[2], params={**HE, "trainer.lr": "0.1"})]
    assert lecture_rows(off) == []
    assert lecture_rows([sweep.rows[3]]) == []  # nothing finished
    # Inits drawn otherwise than the lecture did are left out of it.
    for params in (
        {**RANDOM, "init.scale": "1.0"},
        {**HE, "init.gain": "2"}, {**HE, "init.mode": "fan_out"},
        {**HE, "init.distribution": "uniform"},
        {**COURSE_PARAMS, "init.name": "xavier"},
    ):  # fmt: skip
        assert lecture_rows([replace(sweep.rows[0], params=params)]) == []
    # A run without the lecture's logged iterations shows "-" there.
    short = replace(sweep.rows[0], steps=(0,), costs=(0.5,))
    assert lecture_rows([short])[0][1:3] == ["0.5 / 0.6931471806", "- / 0.6931471806"]


def test_numbers_are_formatted_as_the_table_shows_them():
    assert format_cost(None) == "-"
    assert format_cost(math.inf) == "inf"
    assert format_cost(0.123456789) == "0.123457"
    assert format_accuracy(None) == "-"
    assert format_accuracy(0.98765) == "98.77%"
    assert format_accuracy(0.98765, 0.01234) == "98.77% ± 1.23"


def test_summary_counts_runs_in_the_singular_too():
    one = replace(_single_runs(), rows=_single_runs().rows[:1])
    assert summary_line(one) == (
        "Top-level runs of experiment `<b>exp</b>` (no sweep found): 1 run (1 FINISHED)."
    )


def test_sections_say_when_only_the_first_runs_are_drawn():
    row = _row(1, "he", depth_curves={"z_std": {1: 1.0}}, grad_norms={1: ([0], [1.0])})
    figures = {"activation_histograms.png": True, "gradient_norms.png": True}
    report = replace(_single_runs(), rows=[row] * 13, figures=figures, heatmap_keys=None)
    notes = {heading: note for heading, _, note in sections(report)}
    assert notes["Activations at initialization"] == "The first 12 runs."
    assert notes["Gradient norms during training"] == "The first 12 runs."
    report = replace(report, rows=[row] * 12)
    notes = {heading: note for heading, _, note in sections(report)}
    assert notes["Activations at initialization"] == ""
    assert notes["Gradient norms during training"] == ""


# --- initlab.report: the CLI's pieces ----------------------------------------------------


def test_help_names_every_option_and_its_default(capsys):
    from initlab.report import main

    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for line in (
        "usage: report.py",
        "Summarize an initlab sweep from MLflow into Markdown and HTML.",
        "--experiment NAME MLflow experiment (default: initialization, or the --run's experiment)",
        "--run PARENT_RUN_ID parent run id of the sweep (default: the latest sweep)",
        "--tracking-uri URI MLflow store (default: $MLFLOW_TRACKING_URI, else the project's "
        "mlruns/mlflow.db)",
        "--out DIR reports folder (default: <project>/reports)",
        "--no-log do not log the report to the sweep's parent run (by default it is, as report/)",
    ):
        assert line in text


def test_arguments_parse_to_their_fields():
    from initlab.report import DEFAULT_OUT, parse_args

    args = parse_args([])
    assert (args.experiment, args.run, args.tracking_uri, args.out, args.no_log) == (
        None, None, None, DEFAULT_OUT, False)  # fmt: skip
    args = parse_args(["--experiment", "e", "--run", "r", "--tracking-uri", "u", "--out", "o",
                       "--no-log"])  # fmt: skip
    assert (args.experiment, args.run, args.tracking_uri, args.out, args.no_log) == (
        "e", "r", "u", Path("o"), True)  # fmt: skip


def _phase_row(w, b, acc=0.9, **kw):
    fields = dict(sigma_w=w, sigma_b=b, train_accuracy=acc, depth=10,
                  activation=(("name", "tanh"),), bias_mean=0.0)  # fmt: skip
    return _row(1, "he", **{**fields, **kw})


def test_phase_sweep_takes_finished_runs_sharing_activation_depth_and_bias():
    from initlab.phase_diagram import PhasePoint
    from initlab.report import phase_sweep

    rows = [_phase_row(1.0, 0.0, 0.5), _phase_row(2.0, 0.5, 0.75),
            _phase_row(3.0, 0.0, status="FAILED")]  # fmt: skip
    sweep = phase_sweep(rows)
    assert sweep.points == [PhasePoint(1.0, 0.0, 0.5), PhasePoint(2.0, 0.5, 0.75)]
    assert (sweep.activation, sweep.depth, sweep.bias_mean) == ({"name": "tanh"}, 10, 0.0)
    for missing in ("sigma_w", "sigma_b", "train_accuracy", "depth"):
        assert phase_sweep([_phase_row(1.0, 0.0, **{missing: None})]) is None
    assert phase_sweep([]) is None
    for other in ({"depth": 5}, {"bias_mean": 0.1}, {"activation": (("name", "relu"),)}):
        assert phase_sweep([rows[0], _phase_row(2.0, 0.5, **other)]) is None
    assert phase_sweep([_phase_row(1.0, 0.0, bias_mean=0.25)]).bias_mean == 0.25


def test_folder_names():
    from types import SimpleNamespace

    from initlab.report import _safe_name, report_folder

    assert _safe_name("a b/c..d") == "a_b_c..d"
    assert _safe_name("._x_.") == "x"
    assert _safe_name("///") == "experiment"
    parent = SimpleNamespace(info=SimpleNamespace(start_time=1_700_000_000_123,
                                                  run_id="b575fb34aa11"))  # fmt: skip
    assert report_folder(parent) == "2023-11-14_22-13-20_b575fb34"
    assert report_folder(None) == "single-runs"


def test_latest_points_at_the_newest_folder(tmp_path, capsys):
    from initlab.report import point_latest

    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir(), second.mkdir()
    point_latest(first)
    assert (tmp_path / "latest").is_symlink() and (tmp_path / "latest").readlink() == Path("one")
    point_latest(second)
    assert (tmp_path / "latest").readlink() == Path("two")
    (tmp_path / "latest").unlink()
    (tmp_path / "latest").write_text("one\n")  # where links fail: a file naming the folder
    point_latest(second)
    assert (tmp_path / "latest").readlink() == Path("two")


def test_latest_as_a_file_where_links_fail_and_a_folder_is_left_alone(tmp_path, monkeypatch,
                                                                         capsys):  # fmt: skip
    import os

    from initlab.report import point_latest

    folder = tmp_path / "two"
    folder.mkdir()

    def refuse(*args, **kwargs):
        raise OSError("no links here")

    monkeypatch.setattr(os, "symlink", refuse)
    point_latest(folder)
    assert (tmp_path / "latest").read_text(encoding="utf-8") == "two\n"
    point_latest(folder)  # the file is replaced
    assert (tmp_path / "latest").read_text(encoding="utf-8") == "two\n"
    (tmp_path / "latest").unlink()
    (tmp_path / "latest").mkdir()
    point_latest(folder)
    assert (tmp_path / "latest").is_dir()
    assert capsys.readouterr().err == (
        f"initlab: {tmp_path / 'latest'} is a folder; the latest report is two\n"
    )


class _Logger:
    def __init__(self):
        self.calls = []

    def log_artifacts(self, run_id, folder, path):
        self.calls.append(("dir", run_id, Path(folder).name, path))

    def log_artifact(self, run_id, file):
        self.calls.append(("file", run_id, Path(file).name))


def test_the_report_goes_to_the_parent_with_its_overlays_on_top(tmp_path):
    from initlab.report import log_to_parent

    for name in ("cost_curves.png", "heatmap.png", "report.md", "decision_boundaries.png"):
        (tmp_path / name).write_bytes(b"x")
    client = _Logger()
    log_to_parent(client, "p1", tmp_path)
    assert client.calls == [
        ("dir", "p1", tmp_path.name, "report"),
        ("file", "p1", "cost_curves.png"),
        ("file", "p1", "heatmap.png"),
    ]


def test_heatmap_keys_need_two_varying_keys_and_two_rows():
    from initlab.report import heatmap_keys

    rows = [_row(1, "he"), _row(2, "zeros")]
    assert heatmap_keys(rows, ["init", "activation"]) == ("init", "activation")
    assert heatmap_keys(rows, ["init"]) is None
    assert heatmap_keys(rows, ["a", "b", "c"]) is None
    assert heatmap_keys(rows[:1], ["init", "activation"]) is None


def test_heatmap_cells_are_mean_test_accuracies_of_finished_runs(monkeypatch, tmp_path):
    from initlab import report_figures
    from initlab.report import plot_heatmap

    seen = []

    def heatmap(cells, keys, order, path):
        seen.append((cells, keys, order, path))
        return bool(cells)

    monkeypatch.setattr(report_figures, "heatmap", heatmap)

    def cell(job, x, y, acc, status="FINISHED"):
        return _row(job, "he", values={"init": x, "activation": y}, test_accuracy=acc,
                    status=status)  # fmt: skip

    rows = [cell(0, "he", "relu", 0.5), cell(1, "he", "relu", 0.75), cell(2, "zeros", "tanh", 1.0),
            cell(3, "xavier", "relu", 0.9, "FAILED"), cell(4, "he", "tanh", None)]  # fmt: skip
    path = tmp_path / "heatmap.png"
    assert plot_heatmap(rows, ("init", "activation"), path) is True
    cells, keys, order, where = seen[-1]
    assert cells == {("he", "relu"): 0.625, ("zeros", "tanh"): 1.0}
    assert keys == ("init", "activation") and where == path
    assert order == (["he", "zeros", "xavier"], ["relu", "tanh"])
    assert plot_heatmap(rows, None, path) is False
    assert seen[-1] == ({}, ("", ""), ([], []), path)


def test_the_phase_diagram_is_drawn_only_for_a_grid(monkeypatch, tmp_path):
    from initlab import phase_diagram
    from initlab.report import plot_phase

    drawn = []
    monkeypatch.setattr(phase_diagram, "plot_phase_diagram",
                        lambda sweep, path, new, save: drawn.append((sweep, path)))  # fmt: skip
    path = tmp_path / "phase.png"
    path.write_bytes(b"stale")
    grid = [_phase_row(w, b) for w in (1.0, 2.0) for b in (0.0, 0.5)]
    assert plot_phase(grid, path) is True
    assert len(drawn) == 1 and drawn[0][1] == path and len(drawn[0][0].points) == 4
    assert plot_phase(grid[:2], path) is False  # one σ_w only
    assert not path.exists() and len(drawn) == 1


# --- initlab.report_data: reading runs, through a stand-in for MlflowClient -------------


def _run(run_id, *, name=None, tags=None, metrics=None, params=None, start=0, status="FINISHED",
         experiment="1", stage="active"):  # fmt: skip
    from types import SimpleNamespace

    info = SimpleNamespace(run_id=run_id, run_name=name, status=status, start_time=start,
                           experiment_id=experiment, lifecycle_stage=stage)  # fmt: skip
    data = SimpleNamespace(tags=tags or {}, metrics=metrics or {}, params=params or {})
    return SimpleNamespace(info=info, data=data)


class _Page(list):
    token = None


class _Client:
    """search_runs answers in pages of ``page`` runs; filters by the tag the report asks."""

    def __init__(self, runs, histories=None, artifacts=None, page=2):
        self.runs, self.histories, self.artifacts, self.page = runs, histories or {}, {}, page
        self.artifacts = artifacts or {}
        self.searches = []

    def search_runs(self, ids, filter_string, max_results, order_by, page_token):
        from initlab import tracking

        self.searches.append((ids, filter_string, max_results, order_by, page_token))
        key, _, value = filter_string.partition(" = ")
        tag = key.removeprefix("tags.`").removesuffix("`")
        hits = [r for r in self.runs if r.data.tags.get(tag) == value.strip("'")]
        hits.sort(key=lambda r: (-r.info.start_time, r.info.run_id))
        start = int(page_token or 0)
        size = min(self.page, max_results)
        page = _Page(hits[start : start + size])
        page.token = str(start + size) if start + size < len(hits) else None
        assert tag in (tracking.ROLE_TAG, tracking.PARENT_TAG)
        return page

    def get_metric_history(self, run_id, key):
        from types import SimpleNamespace

        points = self.histories.get((run_id, key), [])
        return [SimpleNamespace(step=s, value=v, timestamp=t) for s, v, t in points]

    def get_run(self, run_id):
        from mlflow.exceptions import MlflowException

        for run in self.runs:
            if run.info.run_id == run_id:
                return run
        raise MlflowException(f"Run '{run_id}' not found")

    def get_experiment(self, experiment_id):
        from types import SimpleNamespace

        return SimpleNamespace(experiment_id=experiment_id, name=f"exp{experiment_id}",
                               lifecycle_stage="active")  # fmt: skip

    def get_experiment_by_name(self, name):
        from types import SimpleNamespace

        if name == "gone":
            return SimpleNamespace(experiment_id="9", name=name, lifecycle_stage="deleted")
        if name.startswith("exp"):
            return SimpleNamespace(experiment_id=name[3:], name=name, lifecycle_stage="active")
        return None

    def list_artifacts(self, run_id, path):
        from types import SimpleNamespace

        return [SimpleNamespace(path=p) for p in self.artifacts.get((run_id, path), [])]

    def download_artifacts(self, run_id, artifact, dst):
        target = Path(dst) / Path(artifact).name
        target.write_bytes(b"data")
        return str(target)


def _role(role, **tags):
    from initlab import tracking

    return {tracking.ROLE_TAG: role, **tags}


def test_search_reads_every_page_newest_first():
    from initlab.report_data import _search

    runs = [_run(f"r{i}", tags=_role("job"), start=i) for i in range(5)]
    client = _Client(runs, page=2)
    found = _search(client, "1", "tags.`initlab.role` = 'job'")
    assert [r.info.run_id for r in found] == ["r4", "r3", "r2", "r1", "r0"]
    assert [s[4] for s in client.searches] == [None, "2", "4"]
    assert client.searches[0][2] == 1000
    assert client.searches[0][3] == ["attributes.start_time DESC", "attributes.run_id ASC"]
    assert client.searches[0][0] == ["1"]
    client = _Client(runs, page=2)
    assert [r.info.run_id for r in _search(client, "1", "tags.`initlab.role` = 'job'", 3)] == [
        "r4", "r3", "r2"]  # fmt: skip
    assert [s[2] for s in client.searches] == [3, 3]


def test_select_runs_the_latest_sweep_or_the_top_level_jobs():
    from initlab import tracking
    from initlab.report_data import ReportError, select_runs

    old = _run("s0", tags=_role("sweep"), start=1)
    new = _run("s1", tags=_role("sweep"), start=2)
    kids = [_run(f"j{i}", tags=_role("job", **{tracking.PARENT_TAG: "s1"}), start=3 + i)
            for i in range(3)]  # fmt: skip
    other = _run("j9", tags=_role("job", **{tracking.PARENT_TAG: "s0"}), start=9)
    exp, parent, runs = select_runs(_Client([old, new, *kids, other]), "exp1", None)
    assert exp.name == "exp1" and parent is new
    assert [r.info.run_id for r in runs] == ["j2", "j1", "j0"]
    single = _run("solo", tags=_role("job"), start=5)
    exp, parent, runs = select_runs(_Client([single, other]), "exp1", None)
    assert parent is None and runs == [single]
    with pytest.raises(ReportError, match="experiment 'exp1' has no sweep and no job runs"):
        select_runs(_Client([other]), "exp1", None)
    with pytest.raises(ReportError, match="no experiment 'initialization' in the store"):
        select_runs(_Client([]), None, None)
    with pytest.raises(ReportError, match="no experiment 'gone' in the store"):
        select_runs(_Client([]), "gone", None)


def test_select_runs_of_a_given_run():
    from initlab import tracking
    from initlab.report_data import ReportError, select_runs

    sweep = _run("s1", tags=_role("sweep"), experiment="1")
    empty = _run("s2", tags=_role("sweep"), experiment="1")
    kid = _run("j1", tags=_role("job", **{tracking.PARENT_TAG: "s1"}), experiment="1")
    job = _run("j2", tags=_role("job"), experiment="1")
    gone = _run("j3", stage="deleted")
    client = _Client([sweep, empty, kid, job, gone])
    assert select_runs(client, None, "s1")[1:] == (sweep, [kid])
    assert select_runs(client, "exp1", "s2")[1:] == (empty, [])
    exp, parent, runs = select_runs(client, None, "j2")
    assert (exp.name, parent, runs) == ("exp1", None, [job])
    with pytest.raises(ReportError, match="no run 'nope' in the store"):
        select_runs(client, None, "nope")
    with pytest.raises(ReportError, match="run 'j3' is deleted"):
        select_runs(client, None, "j3")
    with pytest.raises(ReportError, match="run 's1' belongs to experiment 'exp1', not 'other'"):
        select_runs(client, "other", "s1")


def test_override_parsing():
    from initlab.report_data import parse_overrides, split_overrides

    assert split_overrides("a=1 b=(x y) c={p: 1} d=\"q r\"   e=2") == [
        "a=1", "b=(x y)", "c={p: 1}", 'd="q r"', "e=2"]  # fmt: skip
    assert split_overrides("x='a ]' y=1") == ["x='a ]'", "y=1"]
    assert parse_overrides("init=he +x=1 ~y model.hidden=[10, 5]") == {
        "init": "he", "x": "1", "y": "", "model.hidden": "[10, 5]"}  # fmt: skip
    assert parse_overrides("defaults") == {}


def test_sweep_keys_split_varying_from_shared():
    from initlab import tracking
    from initlab.report_data import sweep_keys

    def job(overrides, **groups):
        return _run("r", tags={tracking.OVERRIDES_TAG: overrides, **groups})

    runs = [job("init=he lr=1", init="he", activation="relu", dataset="circles"),
            job("init=zeros lr=1", init="zeros", activation="relu", dataset="moons"),
            job("init=he lr=1 seed=2", init="he", activation="relu", dataset="")]  # fmt: skip
    varying, fixed = sweep_keys(runs)
    assert varying == ["init", "seed"]
    assert fixed == ["lr=1", "activation=relu"]
    assert sweep_keys([job("defaults", init="he")]) == ([], ["init=he"])


def test_small_helpers():
    from initlab.report_data import _activation_params, _run_order, _spread, _sqrt

    assert _sqrt(None) is None and _sqrt(0.5625) == 0.75 and _sqrt(2.0) == 1.414213562373
    assert _spread([1, 2, 3]) == [1, 2, 3]
    assert _spread(list(range(1, 7))) == [1, 2, 3, 4, 5, 6]
    assert _spread(list(range(1, 12))) == [1, 3, 5, 7, 9, 11]
    assert _spread(list(range(1, 31)), most=3) == [1, 15, 30]  # round(14.5) is 14
    params = {"activation.name": "elu", "activation.alpha": "0.5", "activation.beta": "1",
              "init.name": "he"}  # fmt: skip
    assert _activation_params({"activation": "elu"}, params) == (
        ("name", "elu"), ("alpha", "0.5"), ("beta", "1"))  # fmt: skip
    assert _activation_params({}, {}) == (("name", ""),)
    from initlab import tracking

    def run(job, name, run_id):
        return _run(run_id, name=name, tags={tracking.JOB_NUM_TAG: job} if job else {})

    runs = [run("", None, "z"), run("10", "b", "x"), run("", "a", "y"), run("2", "c", "w")]
    assert [r.info.run_id for r in sorted(runs, key=_run_order)] == ["w", "x", "y", "z"]


def test_to_row_reads_tags_metrics_params_and_histories():
    from initlab import tracking
    from initlab.divergence import DIVERGED_TAG
    from initlab.report_data import to_row

    tags = {tracking.JOB_NUM_TAG: "4", tracking.OVERRIDES_TAG: "init=he seeds=2",
            "init": "he", "activation": "elu", "dataset": "moons", DIVERGED_TAG: "nan",
            tracking.PARENT_TAG: "p"}  # fmt: skip
    metrics = {"final_cost_mean": 0.5, "train_accuracy_mean": 0.75, "test_accuracy_mean": 0.5,
               "train_accuracy_std": 0.1, "test_accuracy_std": 0.2, "failed_fraction": 0.5,
               "init/z_std": 1.0, "init/mean_field/sigma_w2": 0.5625,
               "init/mean_field/sigma_b2": 0.01, "init/mean_field/depth": 7.0}  # fmt: skip
    params = {"seeds": "2", "init.bias": "0.25", "activation.alpha": "0.5"}
    hist = {
        ("r", "cost"): [(100, 0.5, 2), (0, 0.9, 1), (100, 0.4, 1)],
        ("r", "cost_min"): [(0, 0.8, 1), (100, 0.3, 1), (100, 0.35, 2)],
        ("r", "cost_max"): [(0, 1.0, 1), (100, 0.6, 1), (100, 0.65, 2)],
        ("r", "init/z_std"): [(2, 0.5, 1), (1, 1.0, 1)],
        ("r", "init/z_std_predicted"): [(1, 1.1, 1)],
        ("r", "init/z_std_draws"): [(2, 0.7, 1)],
        ("r", "train/layer1/grad_norm"): [(0, 3.0, 1), (10, 2.0, 1)],
    }  # fmt: skip
    run = _run("r", name="job-4", tags=tags, metrics=metrics, params=params, status="FINISHED")
    row = to_row(_Client([run], hist), run, ["init", "lr"])
    assert row == RunRow(
        run_id="r", name="job-4", job="4",
        groups={"init": "he", "activation": "elu", "dataset": "moons"},
        overrides="init=he seeds=2", status="FINISHED", final_cost=0.5, train_accuracy=0.75,
        test_accuracy=0.5, steps=(0, 100, 100), costs=(0.9, 0.4, 0.5),
        values={"init": "he", "lr": "(default)"}, params=params, seeds=2, train_std=0.1,
        test_std=0.2, failed_fraction=0.5, diverged="nan",
        cost_band=((0.8, 0.3, 0.35), (1.0, 0.6, 0.65)),
        depth_curves={"z_std": {1: 1.0, 2: 0.5}, "z_std_predicted": {1: 1.1},
                      "z_std_draws": {2: 0.7}},
        grad_norms={1: ([0, 10], [3.0, 2.0])}, sigma_w=0.75, sigma_b=0.1, depth=7,
        activation=(("name", "elu"), ("alpha", "0.5")), bias_mean=0.25,
    )  # fmt: skip
    assert to_row(_Client([run], hist), run, diagnosed=False).grad_norms == {}


def test_to_row_of_a_plain_run():
    from initlab import tracking
    from initlab.report_data import to_row

    metrics = {
        "final_cost": 0.25,
        "final_cost_mean": 9.0,
        "train_accuracy": 0.5,
        "train_accuracy_mean": 9.0,
        "test_accuracy": 0.25,
        "test_accuracy_mean": 9.0,
    }
    run = _run("abc", tags={tracking.OVERRIDES_TAG: "defaults"}, metrics=metrics,
               params={"seeds": ""}, status="KILLED")  # fmt: skip
    row = to_row(_Client([run], {("abc", "cost_min"): [(0, 1.0, 1)]}), run)
    assert (row.name, row.job, row.overrides, row.status, row.seeds) == (
        "abc", "", "", "KILLED", 1)  # fmt: skip
    assert (row.final_cost, row.train_accuracy, row.test_accuracy) == (0.25, 0.5, 0.25)
    assert row.groups == {"init": "", "activation": "", "dataset": ""}
    assert (row.cost_band, row.depth_curves, row.sigma_w, row.depth) == (None, {}, None, None)
    assert row.bias_mean == 0.0 and row.diverged == ""
    only_cost = _run("c", metrics={"cost": 0.5}, params={"seeds": "3"})
    hist = {("c", "cost"): [(0, 1.0, 1)], ("c", "cost_min"): [(0, 1.0, 1)]}
    row = to_row(_Client([only_cost], hist), only_cost)
    assert row.final_cost == 0.5 and row.seeds == 3
    assert row.cost_band is None  # no cost_max: the band needs both, as long as the curve


def test_downloads_only_what_each_run_logged(tmp_path):
    import numpy as np

    from initlab import tracking
    from initlab.report_data import download_activation_samples, download_boundaries

    rows = [_row(1, "he", run_id="a"), _row(2, "he", run_id="b")]
    client = _Client([], artifacts={("a", None): [tracking.BOUNDARY_ARTIFACT]})
    found = download_boundaries(client, rows, tmp_path)
    assert found == {"a": tmp_path / "boundaries" / "a" / tracking.BOUNDARY_ARTIFACT}
    folder = tracking.ACTIVATIONS_ARTIFACT.rsplit("/", 1)[0]
    client = _Client([], artifacts={("b", folder): [tracking.ACTIVATIONS_ARTIFACT]})

    def download(run_id, artifact, dst):
        target = Path(dst) / "activations.npz"
        np.savez(target, layer1=np.array([1.0, 2.0]), layer3=np.array([0.0]))
        return str(target)

    client.download_artifacts = download
    samples = download_activation_samples(client, rows, tmp_path)
    assert list(samples) == ["b"] and sorted(samples["b"]) == [1, 3]
    assert samples["b"][1].tolist() == [1.0, 2.0]


def test_a_missing_store_is_refused_before_mlflow_creates_it(tmp_path, monkeypatch):
    from initlab import tracking
    from initlab.report_data import ReportError, check_store_exists

    for uri in (f"sqlite:///{tmp_path / 'none.db'}", "sqlite:///:memory:", "sqlite:///",
                f"sqlite:///{tmp_path / 'none.db'}?mode=ro"):  # fmt: skip
        with pytest.raises(ReportError, match="no MLflow store at") as err:
            check_store_exists(uri)
        assert err.value.exit_code == 2
        assert str(err.value) == (f"no MLflow store at {uri} (run a sweep first, or pass a URI)")
    (tmp_path / "bad.db").write_bytes(b"not a database at all, but long enough" * 4)
    with pytest.raises(ReportError, match="not an SQLite database"):
        check_store_exists(f"sqlite:///{tmp_path / 'bad.db'}")
    (tmp_path / "empty.db").write_bytes(b"")
    check_store_exists(f"sqlite:///{tmp_path / 'empty.db'}?x=1")
    for uri in (str(tmp_path / "nowhere"), f"file://{tmp_path / 'nowhere'}",
                f"file:{tmp_path / 'nowhere'}"):  # fmt: skip
        with pytest.raises(ReportError, match=f"^no MLflow store at {uri}$"):
            check_store_exists(uri)
    check_store_exists(str(tmp_path))
    check_store_exists(f"file://{tmp_path}")
    check_store_exists("databricks")
    asked = []

    def unreachable(uri):
        asked.append(uri)
        raise tracking.TrackingError("no server")

    monkeypatch.setattr(tracking, "check_reachable", unreachable)
    for uri in ("http://127.0.0.1:9", "https://127.0.0.1:9"):
        with pytest.raises(ReportError, match=r"^no server$"):
            check_store_exists(uri)
    assert asked == ["http://127.0.0.1:9", "https://127.0.0.1:9"]


def test_two_seeds_are_several_and_one_seed_shows_no_spread():
    two = _row(1, "he", seeds=2, train_std=0.01, test_std=0.02, failed_fraction=0.5,
               values={"init": "he"})  # fmt: skip
    one = _row(2, "zeros", seeds=1, train_std=0.01, test_std=0.02, values={"init": "zeros"})
    report = replace(_course_sweep(), rows=[two, one], lecture=[])
    markdown = render_markdown(report)
    assert "| 1 | he | FINISHED | 0.5 | 90.00% ± 1.00 | 80.00% ± 2.00 | 2 (50%) |" in markdown
    assert "| 2 | zeros | FINISHED | 0.5 | 90.00% | 80.00% | 1 |" in markdown
    assert (
        "| job | init | status | final cost | train acc | test acc | seeds (failed) |" in markdown
    )
    assert "A multi-seed job's accuracies are the mean ± std over its seeds" in markdown


def test_a_sweep_without_overrides_and_without_runs():
    report = replace(_course_sweep(), rows=[], sweep_overrides="defaults", lecture=[])
    assert summary_line(report) == (
        "Sweep `init=zeros,random,he,xavier` (parent run `abc123`) of experiment "
        "`initialization`: 0 runs."
    )
    assert render_markdown(report).endswith("```bash\npython src/train.py -m\n```\n")


def test_every_diverged_run_is_named_and_boundaries_are_shown_when_drawn():
    rows = [_row(1, "he", diverged="nan", values={"init": "he"}),
            _row(2, "zeros", diverged="rose", values={"init": "zeros"})]  # fmt: skip
    figures = {"decision_boundaries.png": True}
    report = replace(_course_sweep(), rows=rows, figures=figures, lecture=[])
    markdown = render_markdown(report)
    assert (
        "Diverged (the cost stopped being a number, or ended above where it started): "
        "job 1: nan; job 2: rose." in markdown
    )
    assert "## Decision boundaries\n\n![Decision boundaries](decision_boundaries.png)\n" in markdown


def test_lecture_rows_skip_an_unpublished_init_and_go_on():
    sweep = _course_sweep()
    xavier = replace(sweep.rows[0], params={**COURSE_PARAMS, "init.name": "xavier"})
    assert [r[0] for r in lecture_rows([xavier, sweep.rows[2]])] == ["he"]


def test_main_prints_where_the_report_is(tmp_path, monkeypatch, capsys):
    from initlab import report

    monkeypatch.chdir(tmp_path)
    written = tmp_path / "reports" / "exp" / "2023_x" / "report.md"
    monkeypatch.setattr(report, "build_report", lambda *args, **kwargs: written)
    assert report.main(["--tracking-uri", "sqlite:///x.db"]) == 0
    assert capsys.readouterr().out == (
        "report: reports/exp/2023_x/report.md (+ report.html); reports/exp/latest points to it\n"
    )
    elsewhere = tmp_path.parent / "elsewhere" / "e" / "s" / "report.md"
    monkeypatch.setattr(report, "build_report", lambda *args, **kwargs: elsewhere)
    assert report.main(["--tracking-uri", "sqlite:///x.db"]) == 0
    assert capsys.readouterr().out == (
        f"report: {elsewhere} (+ report.html); {elsewhere.parent.parent}/latest points to it\n"
    )


def test_safe_names_keep_letters_of_either_case():
    from initlab.report import _safe_name

    assert _safe_name("ABC.def") == "ABC.def"
    assert _safe_name("X.y.") == "X.y"


def test_report_folders_are_named_in_utc_whatever_the_local_zone(monkeypatch):
    import time
    from types import SimpleNamespace

    from initlab.report import report_folder

    parent = SimpleNamespace(info=SimpleNamespace(start_time=1_700_000_000_123,
                                                  run_id="b575fb34aa11"))  # fmt: skip
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert report_folder(parent) == "2023-11-14_22-13-20_b575fb34"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_phase_diagram_gets_the_reports_figure_helpers(monkeypatch, tmp_path):
    from initlab import phase_diagram, report_figures
    from initlab.report import plot_phase

    got = []
    monkeypatch.setattr(phase_diagram, "plot_phase_diagram",
                        lambda sweep, path, new, save: got.append((new, save)))  # fmt: skip
    grid = [_phase_row(w, b) for w in (1.0, 2.0) for b in (0.0, 0.5)]
    assert plot_phase(grid, tmp_path / "phase.png") is True
    assert got == [(report_figures.new_figure, report_figures.save)]


def test_build_report_diagnoses_the_first_12_runs_and_logs_only_when_asked(monkeypatch, tmp_path):
    from initlab import report, report_figures, tracking

    sweep = _run("s1", name="sweep", tags=_role("sweep", **{tracking.OVERRIDES_TAG: "init=a,b"}),
                 start=1_700_000_000_000)  # fmt: skip
    kids = [
        _run(f"j{i:02d}", tags=_role("job", **{tracking.PARENT_TAG: "s1", tracking.JOB_NUM_TAG:
             str(i), tracking.OVERRIDES_TAG: f"init=i{i}"}), start=i)
        for i in range(13)
    ]  # fmt: skip
    client = _Client([sweep, *kids], page=100)
    monkeypatch.setattr(tracking, "client_for", lambda uri: client)
    monkeypatch.setattr(report, "check_store_exists", lambda uri: None)
    diagnosed, logged = [], []
    real_to_row = report.to_row

    def to_row(client, run, varying, diagnose, histories=None):
        diagnosed.append(diagnose)
        return real_to_row(client, run, varying, diagnose, histories)

    monkeypatch.setattr(report, "to_row", to_row)
    monkeypatch.setattr(report, "log_to_parent", lambda *args: logged.append(args))
    for name in ("boundaries", "histogram_grid", "cost_curves", "signal_overlay",
                 "gradient_norms", "heatmap"):  # fmt: skip
        monkeypatch.setattr(report_figures, name, lambda *args, **kwargs: False)
    md = report.build_report("sqlite:///x.db", "exp1", None, tmp_path)
    assert diagnosed == [True] * 12 + [False]
    assert logged == []
    assert md == tmp_path / "exp1" / "2023-11-14_22-13-20_s1" / "report.md"
    report.build_report("sqlite:///x.db", "exp1", None, tmp_path, log=True)
    assert logged == [(client, "s1", md.parent)]


def test_search_stops_as_soon_as_it_has_enough():
    from initlab.report_data import _search

    runs = [_run(f"r{i}", tags=_role("job"), start=i) for i in range(5)]
    client = _Client(runs, page=2)
    assert [r.info.run_id for r in _search(client, "1", "tags.`initlab.role` = 'job'", 2)] == [
        "r4", "r3"]  # fmt: skip
    assert len(client.searches) == 1


def test_runs_without_an_overrides_tag():
    from initlab import tracking
    from initlab.report_data import parse_overrides, sweep_keys, to_row

    plain = _run("p", tags={"init": "he"})
    typed = _run("t", tags={tracking.OVERRIDES_TAG: "lr=1", "init": "he"})
    assert sweep_keys([plain, typed]) == (["lr"], ["init=he"])
    assert sweep_keys([plain]) == ([], ["init=he"])
    assert to_row(_Client([plain]), plain).overrides == ""
    assert parse_overrides("Xfoo=1 +~bar=2") == {"Xfoo": "1", "bar": "2"}


def test_a_single_seed_run_has_no_cost_band():
    from initlab.report_data import to_row

    run = _run("r", params={"seeds": "1"})
    hist = {("r", key): [(0, 1.0, 1)] for key in ("cost", "cost_min", "cost_max")}
    assert to_row(_Client([run], hist), run).cost_band is None
    run = _run("r", params={"seeds": "2"})
    assert to_row(_Client([run], hist), run).cost_band == ((1.0,), (1.0,))


def _fake_store(monkeypatch, runs, histories=None):
    """build_report on the fake client: figures stubbed to 'drawn', the Report captured."""
    from initlab import report, report_figures, tracking

    client = _Client(runs, histories, page=100)
    monkeypatch.setattr(tracking, "client_for", lambda uri: client)
    monkeypatch.setattr(report, "check_store_exists", lambda uri: None)
    captured = []
    real = report.render_markdown

    def render(rep):
        captured.append(rep)
        return real(rep)

    monkeypatch.setattr(report, "render_markdown", render)

    def drawn(*args):
        Path(args[-1]).write_bytes(b"P")  # every figure function takes the file last
        return True

    for name in ("boundaries", "histogram_grid", "cost_curves", "signal_overlay",
                 "gradient_norms"):  # fmt: skip
        monkeypatch.setattr(report_figures, name, drawn)
    monkeypatch.setattr(report_figures, "heatmap", lambda *args: bool(args[0]) and drawn(*args))
    monkeypatch.setattr(report, "plot_phase", drawn)
    return client, captured


def test_build_report_hands_the_text_everything_it_read(monkeypatch, tmp_path):
    from initlab import report, tracking

    tags = {tracking.OVERRIDES_TAG: "init=he,zeros activation=relu,tanh"}
    sweep = _run("s1", name="the sweep", tags=_role("sweep", **tags), start=1_700_000_000_000)

    def job(i, init, act, steps=True):
        job_tags = {
            tracking.PARENT_TAG: "s1",
            tracking.JOB_NUM_TAG: str(i),
            tracking.OVERRIDES_TAG: f"init={init} activation={act}",
            "dataset": "moons",
        }
        return _run(f"j{i}", tags=_role("job", **job_tags), start=10 - i,
                    metrics={"test_accuracy": 0.5 + i / 10})  # fmt: skip

    jobs = [job(0, "he", "relu"), job(1, "zeros", "tanh")]
    jobs[0].data.params.update(HE)  # the lecture's setup: its table is there
    jobs[1].data.params.update(ZEROS)
    _, captured = _fake_store(monkeypatch, [sweep, *jobs], {("j0", "cost"): [(0, 0.7, 1)]})
    report.build_report("sqlite:///x.db", "exp1", None, tmp_path)
    (rep,) = captured
    assert (rep.experiment, rep.parent_id, rep.parent_name) == ("exp1", "s1", "the sweep")
    assert rep.sweep_overrides == "init=he,zeros activation=relu,tanh"
    assert [r.run_id for r in rep.rows] == ["j0", "j1"]
    assert rep.varying == ["init", "activation"] and rep.fixed == ["dataset=moons"]
    assert rep.curves_missing == ["job 1: init=zeros activation=tanh"]
    assert rep.boundaries_missing == ["job 0: init=he activation=relu",
                                      "job 1: init=zeros activation=tanh"]  # fmt: skip
    assert rep.figures == dict.fromkeys(
        ["decision_boundaries.png", "activation_histograms.png", "cost_curves.png",
         "signal_propagation.png", "gradient_norms.png", "heatmap.png", "phase_diagram.png"],
        True,
    )  # fmt: skip
    assert [r[0] for r in rep.lecture] == ["he", "zeros"]
    assert rep.heatmap_keys == ("init", "activation")
    for run in jobs:  # no test accuracy: no heatmap cell, so no heatmap and no keys
        run.data.metrics.clear()
    report.build_report("sqlite:///x.db", "exp1", None, tmp_path)
    assert captured[-1].heatmap_keys is None and captured[-1].figures["heatmap.png"] is False


def test_build_report_of_single_runs_and_of_a_sweep_without_tags(monkeypatch, tmp_path):
    from initlab import report, report_figures, tracking

    solo = _run("solo", name="alone", tags=_role("job"), start=5)
    _, captured = _fake_store(monkeypatch, [solo])
    monkeypatch.setattr(report_figures, "heatmap", lambda *args, **kwargs: False)
    md = report.build_report("sqlite:///x.db", "exp1", None, tmp_path)
    assert md == tmp_path / "exp1" / "single-runs" / "report.md"
    rep = captured[-1]
    assert (rep.parent_id, rep.parent_name, rep.sweep_overrides) == (None, None, "")
    assert rep.heatmap_keys is None and rep.figures["heatmap.png"] is False
    bare = _run("s9", name="bare", tags=_role("sweep"), start=1)
    kid = _run("k", tags=_role("job", **{tracking.PARENT_TAG: "s9"}))
    _, captured = _fake_store(monkeypatch, [bare, kid])
    report.build_report("sqlite:///x.db", "exp1", None, tmp_path)
    assert captured[-1].sweep_overrides == ""


def test_mlflow_failures_become_report_errors(monkeypatch, tmp_path):
    from mlflow.exceptions import MlflowException

    from initlab import report
    from initlab.report_data import ReportError

    client, _ = _fake_store(monkeypatch, [])

    def refuse(*args, **kwargs):
        raise MlflowException("the server said no")

    client.get_experiment_by_name = refuse
    with pytest.raises(ReportError) as err:
        report.build_report("sqlite:///x.db", "exp1", None, tmp_path)
    assert str(err.value) == "MLflow (sqlite:///x.db): the server said no"
    assert err.value.exit_code == 1


def test_main_logs_to_the_parent_unless_told_not_to(monkeypatch, tmp_path, capsys):
    from initlab import report

    monkeypatch.chdir(tmp_path)
    asked = []

    def build(uri, experiment, run_id, out, **kwargs):
        asked.append((experiment, run_id, out, kwargs))
        return tmp_path / "r" / "e" / "s" / "report.md"

    monkeypatch.setattr(report, "build_report", build)
    report.main(["--tracking-uri", "sqlite:///x.db", "--experiment", "e", "--run", "r1",
                 "--out", "o"])  # fmt: skip
    report.main(["--tracking-uri", "sqlite:///x.db", "--no-log"])
    assert asked == [("e", "r1", Path("o"), {"log": True}),
                     (None, None, report.DEFAULT_OUT, {"log": False})]  # fmt: skip


def test_help_starts_with_its_description(capsys):
    from initlab.report import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert "\n\nSummarize an initlab sweep from MLflow into Markdown and HTML.\n\n" in (
        capsys.readouterr().out
    )


def test_reading_details_of_overrides_searches_and_store_uris(tmp_path, monkeypatch):
    from initlab import tracking
    from initlab.report_data import ReportError, check_store_exists, select_runs, split_overrides

    assert split_overrides("a=[[1, 2], [3]] b=1") == ["a=[[1, 2], [3]]", "b=1"]
    assert split_overrides("a=[X y] b=1") == ["a=[X y]", "b=1"]
    sweep = _run("s1", tags=_role("sweep"))
    client = _Client([sweep, _run("s0", tags=_role("sweep"))])
    select_runs(client, "exp1", None)
    assert client.searches[0][1] == f"tags.`{tracking.ROLE_TAG}` = 'sweep'"
    assert client.searches[0][2] == 1  # the latest sweep alone is asked for
    (tmp_path / "store.db").write_bytes(b"")
    check_store_exists(f"sqlite:///{tmp_path / 'store.db'}?a=1?b=2")
    check_store_exists(f"file:{tmp_path}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ":memory:").write_bytes(b"")  # a file of that name is still no store
    with pytest.raises(ReportError):
        check_store_exists("sqlite:///:memory:")


def test_the_report_checks_a_sqlite_store_read_only(tmp_path, monkeypatch):
    from initlab import stores
    from initlab.report_data import check_store_exists

    asked = []
    monkeypatch.setattr(stores, "check_sqlite_file",
                        lambda path, **kwargs: asked.append((path, kwargs)))  # fmt: skip
    (tmp_path / "s.db").write_bytes(b"x")
    check_store_exists(f"sqlite:///{tmp_path / 's.db'}")
    assert asked == [(tmp_path / "s.db", {"writable": False})]


def test_build_report_reads_gradient_norms_through_the_client(monkeypatch, tmp_path):
    from initlab import report, tracking

    sweep = _run("s1", name="sweep", tags=_role("sweep"), start=1)
    kid = _run("k", tags=_role("job", **{tracking.PARENT_TAG: "s1"}), metrics={"init/z_std": 1.0})
    hist = {("k", "init/z_std"): [(1, 1.0, 1)], ("k", "train/layer1/grad_norm"): [(0, 3.0, 1)]}
    _, captured = _fake_store(monkeypatch, [sweep, kid], hist)
    report.build_report("sqlite:///x.db", "exp1", None, tmp_path)
    assert captured[-1].rows[0].grad_norms == {1: ([0], [3.0])}
