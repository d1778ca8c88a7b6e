"""Faults a run meets: training that blows up, signals, a process that vanished, a net too
big for the machine. Each is said on the run and in the terminal, and nothing is left open."""

from __future__ import annotations

import numpy as np
from mlflow.tracking import MlflowClient

from conftest import run_cli
from initlab.divergence import DIVERGED_TAG, divergence


def test_divergence_reasons():
    steps = np.array([0, 100, 200])
    costs = np.array(
        [
            [0.9, 0.5, 0.2],  # trains
            [0.9, np.nan, np.nan],  # blows up
            [0.88, 3.0, 12.0],  # gets worse than its start
            [0.693, 0.693, 0.693],  # stuck (a zeros start): not diverged
            [2e3, 5.0, 0.9],  # a huge start that comes down: not diverged
        ]
    )
    final = np.array([0.1, np.nan, 15.2, 0.6931472, 0.4])
    found = divergence(steps, costs, final, end=300)
    assert found.reasons == (
        "", "cost not finite from iteration 100", "cost rose from 0.88 to 15.2", "", ""
    )  # fmt: skip
    assert found.count == 2
    assert found.summary() == "2 of 5 seeds (first: cost not finite from iteration 100)"
    assert divergence(steps, costs[:1], final[:1], end=300).summary() == ""
    inf_at_end = divergence(steps, costs[:1], np.array([np.inf]), end=300)
    assert inf_at_end.reasons == ("cost not finite from iteration 300",)


def test_a_diverged_run_is_recorded_and_the_sweep_goes_on(tmp_path, store):
    """`activation=linear trainer.lr=100` ends in nan and ReLU at lr 100 ends worse than it
    started: both FINISHED (they ran), tagged and counted, figures drawn, the sweep goes on."""
    result = run_cli(
        "-m", "activation=linear,relu", "trainer.lr=100,0.01", "trainer.iterations=500",
        uri=store, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert "DIVERGED: cost not finite from iteration 100" in out
    assert "DIVERGED: cost rose from" in out
    assert "4 job(s) finished (2 diverged), 0 failed" in out
    client = MlflowClient(tracking_uri=store)
    runs = client.search_runs([client.get_experiment_by_name("initialization").experiment_id])
    jobs = {
        r.data.tags["initlab.overrides"]: r
        for r in runs
        if r.data.tags.get("initlab.role") == "job"
    }
    for name, run in jobs.items():
        blew_up = "trainer.lr=100" in name
        assert run.info.status == "FINISHED"
        assert run.data.metrics["diverged"] == float(blew_up), name
        assert (DIVERGED_TAG in run.data.tags) == blew_up, name
        paths = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"decision_boundary.png", "cost.png"} <= paths  # still drawn
    parent = next(r for r in runs if r.data.tags.get("initlab.role") == "sweep")
    assert parent.data.metrics["jobs_diverged"] == 2.0
    from initlab.report import main

    assert main(["--tracking-uri", store, "--out", str(tmp_path / "r"), "--no-log"]) == 0
    md = (tmp_path / "r" / "initialization" / "latest" / "report.md").read_text()
    assert md.count("| FINISHED, diverged |") == 2
    assert "Diverged (the cost stopped being a number, or ended above where it started)" in md


def test_a_seeds_job_records_the_share_that_diverged(tmp_path, store):
    seeds = 3
    result = run_cli(
        "activation=linear", "trainer.lr=100", "trainer.iterations=300", f"seeds={seeds}",
        uri=store, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("initialization").experiment_id])
    assert run.data.metrics["diverged_fraction"] == 1.0
    assert run.data.tags[DIVERGED_TAG].startswith(f"{seeds} of {seeds} seeds (first: cost not")
