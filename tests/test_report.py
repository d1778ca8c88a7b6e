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
    return main(["--tracking-uri", store.uri, "--out", str(out), *args])


@pytest.fixture(scope="module")
def latest(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    assert _report(store, out) == 0
    return out / EXPERIMENT


def test_report_files_are_written(latest: Path) -> None:
    for name in ("report.md", "report.html", "cost_curves.png", "decision_boundaries.png"):
        assert (latest / name).is_file(), name
        assert (latest / name).stat().st_size > 0


def test_table_rows_in_job_order_with_formatted_numbers(latest: Path) -> None:
    md = (latest / "report.md").read_text()
    rows = [line for line in md.splitlines() if re.match(r"\| \d ", line)]
    assert rows == [
        "| 0 | zeros | relu | circles | FINISHED | 0.693147 | 50.00% | 40.00% |",
        "| 1 | he | relu | circles | FINISHED | 0.0123457 | 99.12% | 89.12% |",
        "| 2 | xavier | relu | circles | FAILED | - | - | - |",
    ]


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
    again = (tmp_path / EXPERIMENT / "report.md").read_bytes()
    assert again == (latest / "report.md").read_bytes()
    assert str(tmp_path) not in again.decode()


def test_html_is_self_contained(latest: Path) -> None:
    page = (latest / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert 'src="http' not in page
    assert ".png" not in page.replace("data:image/png", "")  # no relative image path
    assert "<td>FAILED</td>" in page


def test_run_selects_a_given_sweep(store: Store, tmp_path: Path) -> None:
    assert _report(store, tmp_path, "--run", store.old_sweep) == 0
    md = (tmp_path / EXPERIMENT / "report.md").read_text()
    assert store.old_sweep in md
    assert "| 0 | random | relu | circles | FINISHED | 0.5 | 75.00% | 65.00% |" in md
    assert "zeros" not in md


def test_experiment_without_sweep_reports_its_single_runs(store: Store, tmp_path: Path) -> None:
    assert _report(store, tmp_path, "--experiment", "singles") == 0
    md = (tmp_path / "singles" / "report.md").read_text()
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
    from initlab.report import _new_figure, _save

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
