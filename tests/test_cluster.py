"""The local demo cluster (python -m initlab.cluster): its folder, its refusals, that it stops
only its own processes; and (slow) the three services up, used and down again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import cluster_cli, run_cli, skip_without_cluster_tools
from initlab import cluster


def test_arguments_default_to_a_cluster_folder_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = cluster.parse_args(["up"])
    assert (args.command, args.dir) == ("up", tmp_path / ".cluster")
    assert (args.num_cpus, args.timeout) == (cluster.NUM_CPUS, cluster.START_TIMEOUT)
    assert cluster.parse_args(["status", "--dir", "x/c"]).dir == tmp_path / "x" / "c"
    for bad in (["start"], ["up", "--num-cpus", "0"], ["up", "--dir", "my cluster"]):
        with pytest.raises(SystemExit) as exit_:
            cluster.parse_args(bad)
        assert exit_.value.code == 2


def test_the_env_file_is_plain_lines_for_export(tmp_path):
    services = {"mlflow": {"url": "http://127.0.0.1:5123"}, "ray": {"address": "127.0.0.1:6123"}}
    path = cluster.write_env(tmp_path, cluster.client_env(tmp_path, services))
    lines = path.read_text().splitlines()
    assert lines[:2] == ["MLFLOW_TRACKING_URI=http://127.0.0.1:5123", "RAY_ADDRESS=127.0.0.1:6123"]
    assert all(re.fullmatch(r"[A-Z_]+=\S+", line) for line in lines)  # export $(cat env)
    env = cluster.read_env(tmp_path)
    assert env["RAY_AUTH_TOKEN_PATH"] == str(tmp_path / "ray_auth_token")
    assert env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    assert cluster.read_env(tmp_path / "nowhere") == {}


def test_ray_gets_a_temp_folder_short_enough_for_its_sockets():
    assert cluster.ray_temp_dir(Path("/w/.cluster")) == Path("/w/.cluster/ray")
    deep = Path("/tmp/pytest-of-root/pytest-123/test_something_long0/cluster")
    short = cluster.ray_temp_dir(deep)
    assert len(str(short)) <= cluster.RAY_TEMP_MAX_CHARS
    assert short == cluster.ray_temp_dir(deep) != cluster.ray_temp_dir(deep / "other")


def test_postgresql_keeps_its_port_in_its_config(tmp_path):
    (tmp_path / "postgresql.conf").write_text(
        "#port = 5432\t\t# (change requires restart)\nport = 5432\n\nport = 45678  # ours\n"
    )
    assert cluster.pg_port(tmp_path) == 45678
    assert cluster.pg_port(tmp_path / "none") is None


def test_up_without_postgresql_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(cluster, "PG_BIN_GLOBS", [str(tmp_path / "no-postgresql")])
    assert cluster.main(["up", "--dir", str(tmp_path / "c")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "initdb is not installed: apt-get install postgresql" in err
    assert not (tmp_path / "c" / "services.json").exists()
    assert not (tmp_path / "c" / "env").exists()


def test_status_and_down_of_a_cluster_that_never_ran(tmp_path, capsys):
    assert cluster.main(["status", "--dir", str(tmp_path)]) == 3
    assert capsys.readouterr().out.count("not running") == 3
    for _ in range(2):  # idempotent
        assert cluster.main(["down", "--dir", str(tmp_path)]) == 0
        assert "nothing was running" in capsys.readouterr().out


def test_down_stops_its_own_session_and_nothing_else(tmp_path):
    """A recorded session is stopped whole (every process group in it); a session number now
    held by a process that started later than the recorded one is left alone."""
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', " \
           "'import os, time; os.setpgid(0, 0); time.sleep(60)']); time.sleep(60)"  # fmt: skip
    service = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(cluster.session_members(service.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        members = cluster.session_members(service.pid)
        assert len(members) == 2  # the service and its child, in a process group of its own
        start = cluster.process_start(service.pid)
        record = {"url": "http://127.0.0.1:1", "pid": service.pid, "session": service.pid}

        cluster.save_services(tmp_path, {"mlflow": {**record, "start": str(int(start) - 1)}})
        assert cluster.main(["down", "--dir", str(tmp_path)]) == 0
        assert cluster.session_members(service.pid) == members  # not ours: untouched

        cluster.save_services(tmp_path, {"mlflow": {**record, "start": start}})
        began = time.monotonic()
        assert cluster.main(["down", "--dir", str(tmp_path)]) == 0
        assert cluster.session_members(service.pid) == []
        assert time.monotonic() - began < cluster.MLFLOW_STOP_GRACE
        assert not (tmp_path / "services.json").exists()
    finally:
        for pid in cluster.session_members(service.pid):
            os.kill(pid, 9)
        service.wait(timeout=10)


# --- the services themselves -----------------------------------------------------------------


def _listening(pids: set[int]) -> list[str]:
    """The local addresses the processes ``pids`` listen on (TCP)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, timeout=30).stdout
    return [line.split()[3] for line in out.splitlines()
            if {int(p) for p in re.findall(r"pid=(\d+)", line)} & pids]  # fmt: skip


@pytest.mark.slow
def test_the_cluster_comes_up_takes_a_tracked_run_and_goes_down(cluster_dir, tmp_path):
    skip_without_cluster_tools()
    import psycopg
    from mlflow.tracking import MlflowClient

    try:
        began = time.monotonic()
        result = cluster_cli("up", cluster_dir, timeout=400)
        up_seconds = time.monotonic() - began
        assert result.returncode == 0, result.stdout + result.stderr
        services = json.loads((cluster_dir / "services.json").read_text())
        env = cluster.read_env(cluster_dir)
        assert env["MLFLOW_TRACKING_URI"] == services["mlflow"]["url"]

        # PostgreSQL: the mlflow database, on the loopback only
        pg = {"host": "127.0.0.1", "port": services["postgres"]["port"], "user": "postgres"}
        with psycopg.connect(**pg, dbname="mlflow", connect_timeout=10) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        # MLflow
        with urllib.request.urlopen(env["MLFLOW_TRACKING_URI"] + "/health", timeout=10) as r:
            assert r.status == 200
        # Ray: a client of the head runs a task
        probe = ("import os, ray; ray.init(address=os.environ['RAY_ADDRESS'], "
                 "log_to_driver=False); print(ray.get(ray.remote(lambda: 6 * 7).remote(), "
                 "timeout=60))")  # fmt: skip
        ray_env = {**os.environ, **env}
        answer = subprocess.run([sys.executable, "-c", probe], env=ray_env, capture_output=True,
                                text=True, timeout=180)  # fmt: skip
        assert answer.stdout.strip().splitlines()[-1:] == ["42"], answer.stderr[-3000:]

        # every socket the three listen on is on the loopback
        ours = {services["postgres"]["pid"]}
        for name in ("mlflow", "ray"):
            ours |= set(cluster.session_members(services[name]["session"]))
        if shutil.which("ss"):
            addresses = _listening(ours)
            assert addresses, "no listening socket found for the services"
            assert all(a.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")) for a in addresses), (
                addresses
            )

        # a tracked run through the server, its artifacts stored by the server
        run = run_cli("trainer.iterations=200", uri=env["MLFLOW_TRACKING_URI"], cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        experiment = client.get_experiment_by_name("initialization")
        (finished,) = client.search_runs([experiment.experiment_id])
        assert finished.info.status == "FINISHED"
        assert finished.info.artifact_uri.startswith("mlflow-artifacts:/")
        names = {a.path for a in client.list_artifacts(finished.info.run_id)}
        assert {"decision_boundary.png", "cost.png", "config"} <= names
        stored = list((cluster_dir / "artifacts").rglob("decision_boundary.png"))
        assert len(stored) == 1

        began = time.monotonic()
        result = cluster_cli("down", cluster_dir, timeout=120)
        down_seconds = time.monotonic() - began
        assert result.returncode == 0, result.stdout + result.stderr
        assert cluster.postmaster(cluster_dir / "postgres") is None
        for name in ("mlflow", "ray"):
            assert cluster.session_members(services[name]["session"]) == [], name
        assert cluster.process_start(services["postgres"]["pid"]) is None
        for name in ("postgres", "mlflow", "ray"):
            assert not cluster._port_open(services[name]["port"]), name
        assert cluster_cli("status", cluster_dir, timeout=60).returncode == 3
        print(f"cluster up {up_seconds:.1f} s, down {down_seconds:.1f} s")
    finally:
        cluster_cli("down", cluster_dir, timeout=120)
