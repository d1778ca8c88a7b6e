"""The report reads a sweep back from a (temporary) MLflow store into Markdown and HTML."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from initlab import tracking
from initlab.report import main, split_overrides

EXPERIMENT = "initialization"
T0 = 1_700_000_000_000  # fixed timestamps (ms): the store's content is the same every time


@dataclass(frozen=True)
class Store:
    uri: str
    db: Path
    latest_sweep: str
    old_sweep: str


def _figure(color: str):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.add_subplot().fill_between([0, 1], [1, 1], color=color)
    return figure


def _job(client, exp_id, parent_id, num, init, *, start, cost=None, acc=None, failed=False):
    from mlflow.entities import Metric, Param

    tags = {
        tracking.ROLE_TAG: "job",
        tracking.JOB_NUM_TAG: str(num),
        tracking.OVERRIDES_TAG: f"init={init} model.hidden=[10, 5]",
        "init": init,
        "activation": "relu",
        "dataset": "circles",
    }
    if parent_id:
        tags[tracking.PARENT_TAG] = parent_id
    run_id = client.create_run(
        exp_id, start_time=start, tags=tags, run_name=f"init={init}"
    ).info.run_id
    client.log_batch(run_id, params=[Param("init.name", init), Param("trainer.iterations", "200")])
    if not failed:
        steps = [0, 100, 200]
        curve = [Metric("cost", cost * (3 - i), T0, s) for i, s in enumerate(steps)]
        scalars = [
            Metric("final_cost", cost, T0, 200),
            Metric("train_accuracy", acc, T0, 200),
            Metric("test_accuracy", acc - 0.1, T0, 200),
        ]
        client.log_batch(run_id, metrics=curve + scalars)
        client.log_figure(run_id, _figure("C0"), tracking.BOUNDARY_ARTIFACT)
    client.set_terminated(run_id, "FAILED" if failed else "FINISHED", end_time=start + 1)
    return run_id


def _sweep(client, exp_id, name, start):
    tags = {tracking.ROLE_TAG: "sweep", tracking.OVERRIDES_TAG: name}
    return client.create_run(exp_id, start_time=start, tags=tags, run_name=name).info.run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """An old sweep (1 job), the latest sweep (3 jobs, one FAILED), and a sweep-less experiment."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("store")
    db = root / "mlflow.db"
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri)
    artifacts = (root / "artifacts").as_uri()
    exp_id = client.create_experiment(EXPERIMENT, artifact_location=artifacts)

    old = _sweep(client, exp_id, "init=random", T0)
    _job(client, exp_id, old, 0, "random", start=T0 + 1, cost=0.5, acc=0.75)
    client.set_terminated(old, "FINISHED")

    latest = _sweep(client, exp_id, "init=zeros,he,xavier model.hidden=[10, 5]", T0 + 100)
    # Created out of job order: the report must order by job number, not by creation.
    _job(client, exp_id, latest, 2, "xavier", start=T0 + 101, failed=True)
    _job(client, exp_id, latest, 0, "zeros", start=T0 + 102, cost=0.6931471805599453, acc=0.5)
    _job(client, exp_id, latest, 1, "he", start=T0 + 103, cost=0.0123456789, acc=0.99123)
    client.set_terminated(latest, "FINISHED")

    singles = client.create_experiment("singles", artifact_location=artifacts)
    _job(client, singles, None, 0, "he", start=T0, cost=0.25, acc=0.875)
    return Store(uri=uri, db=db, latest_sweep=latest, old_sweep=old)


def _report(store: Store, out: Path, *args: str) -> int:
    return main(["--tracking-uri", store.uri, "--out", str(out), "--no-log", *args])


@pytest.fixture(scope="module")
def latest(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    assert _report(store, out) == 0
    return out / EXPERIMENT / "latest"


def test_report_files_are_written(latest: Path) -> None:
    for name in ("report.md", "report.html", "cost_curves.png", "decision_boundaries.png"):
        assert (latest / name).is_file(), name
        assert (latest / name).stat().st_size > 0


def test_table_rows_in_job_order_with_formatted_numbers(latest: Path) -> None:
    md = (latest / "report.md").read_text()
    assert "| job | init | status | final cost | train acc | test acc |" in md  # what varies
    rows = [line for line in md.splitlines() if re.match(r"\| \d ", line)]
    assert rows == [
        "| 0 | zeros | FINISHED | 0.693147 | 50.00% | 40.00% |",
        "| 1 | he | FINISHED | 0.0123457 | 99.12% | 89.12% |",
        "| 2 | xavier | FAILED | - | - | - |",
    ]
    # What every run shares is said once, above the table.
    assert "Every run: `model.hidden=[10, 5]`, `activation=relu`, `dataset=circles`." in md


def test_markdown_names_the_sweep_links_figures_and_reproduces(store: Store, latest: Path) -> None:
    md = (latest / "report.md").read_text()
    assert md.startswith("# initlab report: initialization\n")
    assert f"parent run `{store.latest_sweep}`" in md
    assert "3 runs (1 FAILED, 2 FINISHED)" in md
    assert md.index("![Cost curves](cost_curves.png)") < md.index(
        "![Decision boundaries](decision_boundaries.png)"
    )
    assert "No decision boundary plot for: job 2: init=xavier" in md
    assert "python src/train.py -m init=zeros,he,xavier 'model.hidden=[10, 5]'\n" in md


def test_markdown_is_deterministic(store: Store, latest: Path, tmp_path: Path) -> None:
    assert _report(store, tmp_path) == 0
    again = (tmp_path / EXPERIMENT / "latest" / "report.md").read_bytes()
    assert again == (latest / "report.md").read_bytes()
    # The HTML too, on one machine (its images are matplotlib's PNGs, without a version stamp;
    # another matplotlib or FreeType may draw other pixels).
    html_again = (tmp_path / EXPERIMENT / "latest" / "report.html").read_bytes()
    assert html_again == (latest / "report.html").read_bytes()
    assert str(tmp_path) not in again.decode()


def test_html_is_self_contained(latest: Path) -> None:
    page = (latest / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2  # cost curves, boundaries
    assert 'src="http' not in page
    assert ".png" not in page.replace("data:image/png", "")  # no relative image path
    assert "<td>FAILED</td>" in page


def test_run_selects_a_given_sweep_and_each_sweep_keeps_its_folder(
    store: Store, tmp_path: Path
) -> None:
    assert _report(store, tmp_path, "--run", store.old_sweep) == 0
    old = tmp_path / EXPERIMENT / "latest"
    md = (old / "report.md").read_text()
    assert store.old_sweep in md
    # One job: nothing varies, so the table names the groups.
    assert "| 0 | random | relu | circles | FINISHED | 0.5 | 75.00% | 65.00% |" in md
    assert "zeros" not in md
    old_folder = old.resolve()
    assert old_folder.name.endswith(store.old_sweep[:8])  # <start time>_<parent id>
    assert _report(store, tmp_path) == 0  # the latest sweep: a folder of its own
    new_folder = (tmp_path / EXPERIMENT / "latest").resolve()
    assert new_folder != old_folder and new_folder.name.endswith(store.latest_sweep[:8])
    assert store.old_sweep in (old_folder / "report.md").read_text()  # not overwritten


def test_experiment_without_sweep_reports_its_single_runs(store: Store, tmp_path: Path) -> None:
    assert _report(store, tmp_path, "--experiment", "singles") == 0
    md = (tmp_path / "singles" / "single-runs" / "report.md").read_text()
    assert "no sweep found" in md
    assert "| 0 | he | relu | circles | FINISHED | 0.25 | 87.50% | 77.50% |" in md
    assert "python src/train.py init=he 'model.hidden=[10, 5]'" in md


@pytest.mark.parametrize(
    "args",
    [["--experiment", "nope"], ["--run", "0123456789abcdef"], ["--experiment", "singles", "--run"]],
    ids=["missing-experiment", "missing-run", "run-of-other-experiment"],
)
def test_missing_things_exit_2_without_traceback(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    if args[-1] == "--run":
        args = [*args, store.latest_sweep]
    assert _report(store, tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("report: error: ")
    assert "Traceback" not in err
    assert not (tmp_path / EXPERIMENT).exists()


def test_missing_sqlite_store_is_not_created(tmp_path: Path, capsys) -> None:
    db = tmp_path / "nowhere" / "mlflow.db"
    assert main(["--tracking-uri", f"sqlite:///{db}", "--out", str(tmp_path / "out")]) == 2
    assert "no MLflow store" in capsys.readouterr().err
    assert not db.parent.exists()
    assert not (tmp_path / "out").exists()


def test_overrides_split_on_spaces_outside_brackets() -> None:
    assert split_overrides("init=he  model.hidden=[10, 5] x='a b'") == [
        "init=he",
        "model.hidden=[10, 5]",
        "x='a b'",
    ]
    assert split_overrides("") == []


def test_help_does_not_import_mlflow_or_matplotlib() -> None:
    code = (
        "import sys\nfrom initlab.report import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('mlflow', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().endswith("[]")


def test_the_phase_diagram_needs_a_grid_with_each_cell_once(tmp_path, monkeypatch):
    from initlab import phase_diagram
    from initlab.phase_diagram import PhasePoint, PhaseSweep, is_phase_sweep, plot_phase_diagram
    from initlab.report_figures import new_figure as _new_figure
    from initlab.report_figures import save as _save

    tanh = {"name": "tanh"}
    grid = [PhasePoint(w, b, 0.5 + 0.1 * i) for i, (w, b) in enumerate(
        [(1.0, 0.0), (2.0, 0.0), (1.0, 0.5), (2.0, 0.5)])]  # fmt: skip
    assert is_phase_sweep(PhaseSweep(grid, tanh, 30, 0.0))
    assert not is_phase_sweep(PhaseSweep(grid[:2], tanh, 30, 0.0))  # one σ_b only
    twice = [*grid, PhasePoint(1.0, 0.0, 0.9)]  # e.g. two seeds in one cell
    assert not is_phase_sweep(PhaseSweep(twice, tanh, 30, 0.0))
    monkeypatch.setattr(phase_diagram, "THEORY_GRID", (6, 3))  # the lines only need a sketch
    path = tmp_path / "phase.png"
    plot_phase_diagram(PhaseSweep(grid, tanh, 30, 0.0), path, _new_figure, _save)
    assert path.read_bytes().startswith(b"\x89PNG")
    lines = phase_diagram.theory(PhaseSweep(grid, tanh, 30, 0.0), np.array([1.0]), np.array([0.0]))
    assert lines["critical"][0] == pytest.approx(1.0, abs=1e-6)  # tanh at σ_b = 0: σ_w = 1


# --- reports of real sweeps (the CLI, then the report) -------------------------------------


def _sweep_report(tmp_path: Path, *args: str) -> tuple[str, Path, str]:
    """Run a sweep into a fresh store, report it (logging to the parent): (markdown, report
    folder, store URI)."""
    from conftest import run_cli

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    result = run_cli("-m", *args, uri=uri, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "reports"
    experiment = next(
        (a.split("=", 1)[1].strip("'") for a in args if a.startswith("tracking.experiment=")),
        EXPERIMENT,
    )
    assert main(["--tracking-uri", uri, "--out", str(out), "--experiment", experiment]) == 0
    folder = (out / re.sub(r"[^A-Za-z0-9._-]+", "_", experiment).strip("._") / "latest").resolve()
    return (folder / "report.md").read_text(), folder, uri


def test_a_report_shows_every_swept_key_a_heatmap_and_goes_to_the_parent(tmp_path):
    from mlflow.tracking import MlflowClient

    md, folder, uri = _sweep_report(
        tmp_path, "trainer.lr=0.01,0.1", "model.hidden=[10],[20,20]", "trainer.iterations=200"
    )
    assert "| job | trainer.lr | model.hidden | status |" in md
    assert "| 3 | 0.1 | [20,20] | FINISHED |" in md
    assert "## Test accuracy by trainer.lr and model.hidden" in md
    for name in ("heatmap.png", "signal_propagation.png", "activation_histograms.png",
                 "gradient_norms.png", "cost_curves.png", "decision_boundaries.png"):  # fmt: skip
        assert (folder / name).is_file(), name
    client = MlflowClient(tracking_uri=uri)
    (parent,) = client.search_runs(
        [client.get_experiment_by_name(EXPERIMENT).experiment_id], "tags.`initlab.role` = 'sweep'"
    )
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.html", "report/heatmap.png"} <= logged
    top = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"cost_curves.png", "signal_propagation.png", "heatmap.png"} <= top


def test_the_course_grid_report_sits_beside_the_lecture(tmp_path):
    md, _, _ = _sweep_report(tmp_path, "init=zeros,random,he,xavier")
    assert "## The lecture's numbers beside initlab's" in md
    assert "| he | 0.8830537463 / 0.8830537463 | 0.07357895963 / 0.07357895963 |" in md
    assert "| zeros | 0.6931471806 / 0.6931471806 | 0.6931471806 / 0.6931471806 |" in md
    assert "| random | 1773.5" in md and "/ inf |" in md  # the course's log(0)
    assert "83.00% / 83.00% | 86.00% / 86.00% |" in md


def test_multi_seed_jobs_show_mean_std_and_failed_fraction(tmp_path):
    md, folder, _ = _sweep_report(
        tmp_path, "init=he,zeros", "seeds=3", "trainer.iterations=300", "diagnostics=false"
    )
    assert "| job | init | status | final cost | train acc | test acc | seeds (failed) |" in md
    zeros = next(line for line in md.splitlines() if line.startswith("| 1 | zeros"))
    assert "50.00% ± 0.00" in zeros and zeros.endswith("| 3 (100%) |")
    assert "mean ± std over its seeds" in md
    assert not (folder / "signal_propagation.png").exists()  # no diagnostics, no such figure


def test_names_cannot_inject_html_into_the_markdown_or_the_html(tmp_path):
    md, folder, _ = _sweep_report(
        tmp_path, "init=he,zeros", "trainer.iterations=20",
        "tracking.experiment='<script>x</script>'",
    )  # fmt: skip
    prose = md.split("```")[0]  # a fenced code block shows text as it is: the command stays
    assert "<script>" not in prose and "&lt;script&gt;x&lt;/script&gt;" in prose
    page = (folder / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_a_sweep_can_write_its_report_when_it_ends(tmp_path):
    """tracking.report=true: the sweep writes (and logs to its parent) its report itself."""
    import os

    from conftest import TRAIN

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "INITLAB_REPORTS": str(tmp_path / "out")}
    result = subprocess.run(
        [sys.executable, str(TRAIN), "-m", "init=he,zeros", "trainer.iterations=50",
         "tracking.report=true", f"hydra.sweep.dir={tmp_path}/m"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    md = tmp_path / "out" / EXPERIMENT / "latest" / "report.md"
    assert md.is_file() and f"Report: {md.resolve()}" in result.stdout


# --- big sweeps: synthetic rows, no store ---------------------------------------------------


def _fake_rows(n: int, keys: dict[str, list[str]], figures: str = "auto"):
    """n finished job rows cycling through the keys' values (the last key fastest)."""
    from initlab.report_data import RunRow

    rows = []
    for i in range(n):
        values, rest = {}, i
        for key, choices in reversed(keys.items()):
            values[key] = choices[rest % len(choices)]
            rest //= len(choices)
        values = {key: values[key] for key in keys}
        acc = 0.5 + 0.4 * ((i * 37) % n) / n
        rows.append(RunRow(
            run_id=f"run{i:05d}", name=f"job{i}", job=str(i), groups={}, overrides="",
            status="FINISHED", final_cost=1 - acc, train_accuracy=acc, test_accuracy=acc - 0.01,
            steps=(0, 100, 200), costs=(0.7 + i % 5, 0.6, 0.5 - acc / 10), values=values,
            params={"tracking.figures": figures, "tracking.figures_max_jobs": "20"},
            depth_curves={"z_std": {1: 1.0 + i % 3, 2: 0.5 * (1 + i % 7)},
                          "z_std_draws": {3: 0.1 * (1 + i % 4)},
                          "z_std_predicted": {1: 1.0, 2: 0.6, 3: 0.2}},
        ))  # fmt: skip
    return rows


def _big_report(rows, drawn=None, boundaries_missing=None):
    from initlab.report_text import Report

    return Report(
        experiment=EXPERIMENT, parent_id="p" * 32, parent_name="big", sweep_overrides="x=1,2",
        rows=rows, varying=list(rows[0].values), fixed=[], curves_missing=[],
        boundaries_missing=[r.label for r in rows[:24]] if boundaries_missing is None
        else boundaries_missing,
        figures=drawn or {"cost_curves.png": True, "signal_propagation.png": True},
    )  # fmt: skip


def test_runs_are_grouped_by_the_first_swept_key_with_few_values():
    from initlab.report_figures import MAX_GROUPS, run_groups

    rows = _fake_rows(60, {"init": [f"i{k}" for k in range(30)], "act": ["relu", "tanh"]})
    key, groups = run_groups(rows)  # init has 30 values: too many colours; act has 2
    assert key == "act" and [(v, len(g)) for v, g in groups] == [("relu", 30), ("tanh", 30)]
    rows = _fake_rows(2 * MAX_GROUPS, {"init": [f"i{k}" for k in range(MAX_GROUPS)], "s": "12"})
    assert run_groups(rows)[0] == "init"
    assert run_groups(_fake_rows(40, {"lr": [str(k) for k in range(40)]})) is None


def test_overlays_of_many_runs_have_one_legend_entry_a_value_and_are_deterministic(tmp_path):
    from matplotlib.image import imread

    from initlab import report_figures as figures

    rows = _fake_rows(300, {"init": ["he", "xavier", "zeros"], "seed": ["1", "2"],
                            "lr": list("abcdefghij")})  # fmt: skip
    for draw, name in ((figures.cost_curves, "cost.png"), (figures.signal_overlay, "sig.png")):
        assert draw(rows, tmp_path / name)
        first = (tmp_path / name).read_bytes()
        assert draw(rows, tmp_path / name) and (tmp_path / name).read_bytes() == first
        # A page-sized figure, whatever the number of runs (not a legend of 300 entries).
        assert imread(tmp_path / name).shape[:2] == (600, 1000)
    # No key with few values: coloured in job order, still page-sized.
    many = _fake_rows(40, {"lr": [str(k) for k in range(40)]})
    assert figures.cost_curves(many, tmp_path / "jobs.png")
    assert imread(tmp_path / "jobs.png").shape[:2] == (600, 1000)


def test_the_boundary_montage_shows_the_first_runs_and_says_so(tmp_path):
    from initlab import report_figures as figures
    from initlab.report_text import render_markdown

    rows = _fake_rows(30, {"init": [f"i{k}" for k in range(30)]})
    picture = tmp_path / "b.png"
    figures.save(_figure("C1"), picture)
    assert figures.boundaries(rows, {r.run_id: picture for r in rows}, tmp_path / "m.png")
    from matplotlib.image import imread

    height = imread(tmp_path / "m.png").shape[0]
    assert height == round(100 * (figures.PANEL_WIDTH_INCHES + 0.35) * 8)  # 8 rows of 3
    drawn = {"decision_boundaries.png": True}
    md = render_markdown(_big_report(rows, drawn, boundaries_missing=[]))
    assert "The first 24 runs of 30 (each run's own plot is its artifact" in md


def test_a_big_sweeps_report_lists_its_best_runs_first_and_every_run_after_the_figures():
    from initlab.report_text import render_markdown

    rows = _fake_rows(198, {"init": [f"i{k}" for k in range(22)], "act": ["a", "b", "c"],
                            "seed": ["1", "2", "3"]})  # fmt: skip
    md = render_markdown(_big_report(rows))
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["## Best 10 runs by test accuracy", "## Cost curves",
                        "## Decision boundaries", "## Signal propagation at initialization",
                        "## Runs", "## Reproduce"]  # fmt: skip
    best = md.split("## Best")[1].split("## Cost")[0]
    accuracies = [float(c) for c in re.findall(r"\| ([\d.]+)% \|\n", best)]
    assert len(accuracies) == 10 and accuracies == sorted(accuracies, reverse=True)
    table = md.split("## Runs")[1]
    assert len(re.findall(r"^\| \d+ \|", table, flags=re.M)) == 198
    # The figure policy, not 198 labels, explains the missing boundary plots.
    assert "`tracking.figures_max_jobs` = 20 jobs; this one has 198)" in md
    assert "a bold line per value of it" in md and "coloured by its `init`" in md
    # Missing curves: how many, and the first ten, not every label.
    from dataclasses import replace

    report = replace(_big_report(rows), curves_missing=[r.label for r in rows])
    report = replace(report, rows=[replace(r, diverged="cost rose") for r in rows])
    md = render_markdown(report)
    assert "ended above where it started): 198 runs, among them job 0: cost rose; job 1:" in md
    assert "job 9: cost rose; …." in md and "job 10: cost rose" not in md
    assert "No cost history for 198 of 198 runs, among them: job 0: job0; job 1: job1;" in md
    assert "job 9: job9; …" in md and "job10" not in md


def test_histories_read_in_bulk_are_those_read_run_by_run(store: Store) -> None:
    from mlflow.tracking import MlflowClient

    from initlab.report_data import Histories, _history

    client = MlflowClient(tracking_uri=store.uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    ids = [run.info.run_id for run in runs]
    histories = Histories(client, ids)
    assert histories.bulk is not None  # the SQL store: one query a key
    for run_id in ids:
        for key in ("cost", "init/z_std", "final_cost"):  # final_cost: not a bulk key
            bulk = [(m.step, m.value, m.timestamp) for m in histories(run_id, key)]
            one = [(m.step, m.value, m.timestamp) for m in _history(client, run_id, key)]
            assert bulk == one
    assert any(histories(run_id, "cost") for run_id in ids)
