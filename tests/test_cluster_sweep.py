"""(slow) A sweep on the local demo cluster: PostgreSQL + MLflow server + a Ray head with two
worker CPUs. Every job's run FINISHED with its metrics and artifacts in the server; then a Ray
worker killed mid-sweep: no run left RUNNING, every job finished or recorded FAILED."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import cluster_cli, skip_without_cluster_tools, train_in_session
from initlab import cluster

# 20 jobs in 4 units (activation × lr; the 5 inits of each stack as replicas).
SWEEP = [
    "-m", "init=zeros,random,he,xavier,lecun", "activation=relu,tanh", "trainer.lr=0.01,0.02",
    "hydra/launcher=initlab_ray",
]  # fmt: skip


def _sweep(env: dict, cwd: Path, extra: list[str], on_line=None) -> tuple[int, str, float]:
    began = time.monotonic()
    lines = []
    with train_in_session([*SWEEP, *extra, f"hydra.sweep.dir={cwd}/m"], cwd, env) as process:
        for line in process.stdout:
            lines.append(line)
            if on_line:
                on_line(line)
        process.wait(timeout=600)
    return process.returncode, "".join(lines), time.monotonic() - began


def _runs(uri: str, experiment: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client, client.search_runs([found.experiment_id], max_results=1000)


def _ray_workers_running_units() -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "ray::run_unit" in line]


@pytest.fixture
def cluster_env(cluster_dir):
    skip_without_cluster_tools()
    try:
        up = cluster_cli("up", cluster_dir, timeout=400)
        assert up.returncode == 0, up.stdout + up.stderr
        yield {**os.environ, **cluster.read_env(cluster_dir), "HYDRA_FULL_ERROR": "0"}
    finally:
        cluster_cli("down", cluster_dir, timeout=120)


@pytest.mark.slow
def test_a_sweep_runs_on_ray_and_a_killed_worker_leaves_no_run_running(cluster_env, tmp_path):
    env, uri = cluster_env, cluster_env["MLFLOW_TRACKING_URI"]

    code, out, seconds = _sweep(env, tmp_path, ["tracking.experiment=ray-sweep"])
    assert code == 0, out[-4000:]
    assert "Launching 20 jobs as 4 units on Ray at" in out
    assert "20 job(s) finished, 0 failed" in out
    client, runs = _runs(uri, "ray-sweep")
    jobs = [r for r in runs if r.data.tags.get("initlab.role") == "job"]
    assert len(jobs) == 20 and {r.info.status for r in jobs} == {"FINISHED"}
    assert len({r.data.tags["initlab.pid"] for r in jobs}) >= 2  # Ray's worker processes
    for run in jobs:
        assert {"final_cost", "train_accuracy", "test_accuracy"} <= set(run.data.metrics)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
        assert "config" in {a.path for a in client.list_artifacts(run.info.run_id)}
    print(f"20-job sweep on Ray: {seconds:.1f} s")

    # A Ray worker killed while it runs a unit: its unit's jobs FAILED, nothing RUNNING.
    killed: list[int] = []

    def kill_a_worker(line: str) -> None:
        if killed or "#" not in line or "trainer.lr" not in line:
            return  # wait until a unit's jobs are being run
        workers = _ray_workers_running_units()
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])

    extra = ["tracking.experiment=ray-kill", "trainer.iterations=60000", "trainer.engine=numpy"]
    code, out, seconds = _sweep(env, tmp_path, extra, kill_a_worker)
    assert killed, "no Ray worker was found running a unit"
    assert code == 1, out[-4000:]
    assert "its worker died" in out and "failed" in out, out[-6000:]
    _, runs = _runs(uri, "ray-kill")
    statuses = {r.info.status for r in runs}
    assert "RUNNING" not in statuses, statuses
    jobs = [r for r in runs if r.data.tags.get("initlab.role") == "job"]
    failed = [r for r in jobs if r.info.status == "FAILED"]
    assert failed and all(r.info.status in ("FINISHED", "FAILED") for r in jobs)
    (parent,) = [r for r in runs if r.data.tags.get("initlab.role") == "sweep"]
    assert parent.info.status == "FAILED"
    print(f"sweep with a killed worker: {seconds:.1f} s, {len(failed)} job(s) FAILED")
