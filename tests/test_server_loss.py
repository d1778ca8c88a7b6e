"""A tracking server that goes away mid-sweep: bounded retries, a clear failure, runs found."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import train_in_session
from initlab import http_store


def test_retry_defaults_never_override_the_users(monkeypatch):
    for name in http_store.BOUNDED_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(http_store.RETRIES_ENV, "9")
    http_store.bound_retries()
    assert os.environ[http_store.RETRIES_ENV] == "9"
    assert os.environ[http_store.BACKOFF_ENV] == "1"
    assert os.environ[http_store.TIMEOUT_ENV] == "20"


def test_give_up_time_follows_urllib3s_backoff(monkeypatch):
    monkeypatch.setenv(http_store.RETRIES_ENV, "4")
    monkeypatch.setenv(http_store.BACKOFF_ENV, "1")
    monkeypatch.setenv(http_store.JITTER_ENV, "0")
    assert http_store.give_up_seconds() == 2 + 4 + 8  # no sleep before the first retry
    for name in (http_store.RETRIES_ENV, http_store.BACKOFF_ENV, http_store.JITTER_ENV):
        monkeypatch.delenv(name)
    # MLflow's own defaults: 7 retries, factor 2, jitter up to 1 s each
    assert http_store.give_up_seconds() == 4 + 8 + 16 + 32 + 64 + 128 + 7


def test_a_lost_server_is_recognised_through_the_causes():
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise RuntimeError("API request to /api/2.0/mlflow/runs/log-batch failed") from exc
    except RuntimeError as exc:
        assert http_store.is_lost_server(exc)
    assert not http_store.is_lost_server(ValueError("model.hidden must not be empty"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(tmp_path: Path, port: int) -> subprocess.Popen:
    mlflow = Path(sys.executable).with_name("mlflow")
    with open(tmp_path / "server.log", "a") as log:
        server = subprocess.Popen(
            [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
             "--artifacts-destination", str(tmp_path / "artifacts")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    _stop(server)
    pytest.fail(
        "the MLflow server did not start within 90 s:\n"
        + (tmp_path / "server.log").read_text()[-2000:]
    )


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_open_job_run(uri: str) -> None:
    client = MlflowClient(tracking_uri=uri)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name("initialization")
        running = client.search_runs(
            [experiment.experiment_id],
            "attributes.status = 'RUNNING' and tags.`initlab.role` = 'job'",
        )
        if running:
            return
        time.sleep(0.1)
    pytest.fail("job 3's run did not open within 30 s")


@pytest.mark.slow
def test_a_sweep_whose_server_dies_fails_within_bounded_time_and_its_runs_are_found(tmp_path):
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    server = _start_server(tmp_path, port)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "HYDRA_FULL_ERROR": "0"}
    for name in http_store.BOUNDED_DEFAULTS:
        env.pop(name, None)
    args = ["-m", "init=zeros,random,he", "activation=relu,tanh", "trainer.iterations=60000",
            "trainer.engine=numpy", "hydra/launcher=basic",
            f"hydra.sweep.dir={tmp_path}/m"]  # fmt: skip
    lines = []
    with train_in_session(args, tmp_path, env) as sweep:
        for line in sweep.stdout:
            lines.append(line)
            if "#3 :" in line:  # three jobs recorded, the fourth under way
                break
        _wait_for_open_job_run(uri)  # it trains inside its run (the basic launcher)
        _stop(server, signal.SIGKILL)
        killed_at = time.monotonic()
        rest, _ = sweep.communicate(timeout=180)
        took = time.monotonic() - killed_at
    out = "".join(lines) + rest
    assert sweep.returncode == 1, out
    assert "3 job(s) finished, 3 failed" in out, out
    assert took < 60, f"gave up {took:.0f} s after the server died"
    assert "stopped answering; gave up after 4 retries" in out, out
    assert "FAILED (the store could not be told)" in out, out
    assert "Traceback" not in out, out
    # The job whose run was open when the server died, and the parent: each said so.
    unclosed = out.count("could not record run")
    assert unclosed == 2 and "could not record run 'the sweep's parent'" in out, out

    server = _start_server(tmp_path, port)  # back: the runs it was not told about are found
    try:
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("initialization").experiment_id
        running = client.search_runs([experiment], "attributes.status = 'RUNNING'")
        assert len(running) == unclosed
        found = subprocess.run(
            [sys.executable, "-m", "initlab.orphans", uri],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert found.returncode == 0, found.stderr
        assert f"{unclosed} orphaned run(s) marked KILLED" in found.stdout
        statuses = [r.info.status for r in client.search_runs([experiment])]
        assert "RUNNING" not in statuses and statuses.count("FINISHED") >= 3
    finally:
        _stop(server)
