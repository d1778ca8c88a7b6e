"""README promises checked end to end: the report's table shows what the store holds, and a
single run stopped by Ctrl-C ends KILLED.

The report's numbers are compared with MLflow's own reading of the store
(``mlflow.search_runs``), each cell to half a unit of its last printed digit, so a report
that swapped the train and test columns, or showed another run's numbers, fails.
"""

from __future__ import annotations

import math
import os
import signal
from html.parser import HTMLParser

import pytest

from conftest import run_cli, train_in_session
from initlab import tracking
from initlab.report import main as report_main

EXPERIMENT = "initialization"


class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts (header cells included)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _runs_table(html: str) -> list[dict[str, str]]:
    """The report's runs table (the one with train and test accuracy columns), as dicts."""
    parser = _Tables()
    parser.feed(html)
    (table,) = [t for t in parser.tables if t and {"job", "train acc", "test acc"} <= set(t[0])]
    header, *rows = table
    assert all(len(row) == len(header) for row in rows)
    return [dict(zip(header, row, strict=True)) for row in rows]


def _markdown_runs_table(md: str) -> list[dict[str, str]]:
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    start = next(i for i, line in enumerate(lines) if "| train acc | test acc |" in line)
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:  # after the |---| line
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != len(header) or not cells[0].isdigit():
            break
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _shown(text: str) -> tuple[float, float]:
    """A printed number (``48.67%``, ``0.711261``, ``1.2e-05``) as (value, half a unit of its
    last digit): what any correct rounding of the stored value lies within."""
    scale = 0.01 if text.endswith("%") else 1.0
    number = text.removesuffix("%")
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    half = 0.5 * 10.0 ** (int(exponent or 0) - decimals) * scale
    return float(number) * scale, half


def _cell_is(cell: str, stored: float) -> bool:
    value, half = _shown(cell)
    return abs(value - stored) <= half * (1 + 1e-9)


def _mean_and_std(cell: str) -> tuple[str, str]:
    """``90.33% ± 1.25`` (a multi-seed job) -> (``90.33%``, ``1.25%``)."""
    mean, _, std = cell.partition(" ± ")
    return mean, f"{std}%"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A small tracked sweep (2 inits × 1 or 3 seeds), its store, and its report."""
    import mlflow

    cwd = tmp_path_factory.mktemp("sweep")
    uri = f"sqlite:///{cwd / 'mlruns' / 'mlflow.db'}"
    result = run_cli(
        "-m", "init=he,random", "seeds=1,3", "trainer.iterations=200", "diagnostics=false",
        "tracking.figures=none", uri=uri, cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = cwd / "reports"
    assert report_main(["--tracking-uri", uri, "--out", str(out), "--no-log"]) == 0
    folder = out / EXPERIMENT / "latest"
    mlflow.set_tracking_uri(uri)
    try:
        runs = mlflow.search_runs(
            experiment_names=[EXPERIMENT], filter_string=f"tags.`{tracking.ROLE_TAG}` = 'job'"
        )
    finally:
        mlflow.set_tracking_uri(None)
    by_job = {int(row[f"tags.{tracking.JOB_NUM_TAG}"]): row for _, row in runs.iterrows()}
    assert sorted(by_job) == [0, 1, 2, 3]
    return (folder / "report.html").read_text(), (folder / "report.md").read_text(), by_job


@pytest.mark.parametrize("form", ["html", "markdown"])
def test_report_table_cells_are_the_stores_numbers(swept, form):
    html, md, by_job = swept
    rows = _runs_table(html) if form == "html" else _markdown_runs_table(md)
    assert sorted(int(row["job"]) for row in rows) == sorted(by_job)
    for row in rows:
        run = by_job[int(row["job"])]
        assert row["status"] == run["status"] == "FINISHED"
        assert row["init"] == run["tags.init"]
        seeds = int(run["params.seeds"])
        if seeds == 1:
            train, test = run["metrics.train_accuracy"], run["metrics.test_accuracy"]
            cost = run["metrics.final_cost"]
            train_cell, test_cell = row["train acc"], row["test acc"]
        else:  # the mean over seeds, ± their std
            train, test = run["metrics.train_accuracy_mean"], run["metrics.test_accuracy_mean"]
            cost = run["metrics.final_cost_mean"]
            (train_cell, train_std), (test_cell, test_std) = map(
                _mean_and_std, (row["train acc"], row["test acc"])
            )
            assert _cell_is(train_std, run["metrics.train_accuracy_std"]), (row, run)
            assert _cell_is(test_std, run["metrics.test_accuracy_std"]), (row, run)
            assert row["seeds (failed)"].startswith(f"{seeds} (")
        # The test can tell the columns apart: the two accuracies differ by more than the
        # rounding of a cell (train is k/300, test k/100).
        assert abs(train - test) > 2 * _shown(train_cell)[1], (row, train, test)
        assert _cell_is(train_cell, train), (row["job"], train_cell, train)
        assert _cell_is(test_cell, test), (row["job"], test_cell, test)
        assert math.isfinite(cost) and _cell_is(row["final cost"], cost), (row, cost)


def test_shown_numbers_carry_their_rounding():
    assert _shown("48.67%") == pytest.approx((0.4867, 0.00005))
    assert _shown("0.711261") == pytest.approx((0.711261, 5e-7))
    assert _shown("1.2e-05") == pytest.approx((1.2e-5, 5e-7))
    assert _shown("1773") == pytest.approx((1773.0, 0.5))
    assert _cell_is("48.67%", 146 / 300) and not _cell_is("47.00%", 146 / 300)


def test_ctrl_c_ends_a_single_run_killed(tmp_path, store):
    """README: "a run interrupted by Ctrl-C ends KILLED": a plain `python src/train.py` (no
    sweep) on the default engine, SIGINT to its process group as a terminal sends it, once
    it reports training progress (every 5 s)."""
    from mlflow.tracking import MlflowClient

    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "HYDRA_FULL_ERROR": "0"}
    args = ["trainer.iterations=50000000", f"hydra.run.dir={tmp_path}/outputs"]
    lines = []
    with train_in_session(args, tmp_path, env) as process:
        for line in process.stdout:  # the store is the process's alone until it ends
            lines.append(line)
            if "/50000000 (" in line:  # "iteration 190400/50000000 (0%), mean cost ..."
                break
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    out = "".join(lines) + rest
    assert process.returncode == 130, out
    assert "Traceback" not in out, out
    assert out.count("interrupted: KILLED") == 1 and "initlab: interrupted (Ctrl-C)." in out
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.info.status == "KILLED" and run.info.end_time is not None
