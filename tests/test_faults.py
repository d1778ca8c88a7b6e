"""Faults a run meets: training that blows up, signals, a process that vanished, a net too
big for the machine. Each is said on the run and in the terminal, and nothing is left open."""

from __future__ import annotations

import numpy as np
import pytest
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


# --- signals: SIGTERM as Ctrl-C, SIGKILL found afterwards ------------------------------------

LONG_SWEEP = [
    "-m",
    "trainer.iterations=300,5000000",
    "hydra/launcher=basic",
    "trainer.engine=numpy",
]  # fmt: skip  (job 0 finishes at once, job 1 trains until it is stopped)


def _session(pid: int) -> list[str]:
    import subprocess

    # Ended processes whose parent went first may wait for a reaper that never comes (a
    # container's PID 1 that reaps nothing): zombies are ended, not left behind.
    found = subprocess.run(
        ["ps", "-o", "pid=,stat=", "-s", str(pid)], capture_output=True, text=True
    )
    return [line.split()[0] for line in found.stdout.splitlines() if "Z" not in line.split()[1]]


def _stop_in_job_1(tmp_path, store, stop, sweep=LONG_SWEEP, when="#1 :") -> tuple[int, str, int]:
    """Start ``sweep`` in its own session, call ``stop(process)`` once a line holding
    ``when`` is printed (job 1 trains); return (exit code, output, session id)."""
    import os
    import time

    from conftest import train_in_session

    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "HYDRA_FULL_ERROR": "0"}
    lines = []
    with train_in_session([*sweep, f"hydra.sweep.dir={tmp_path}/m"], tmp_path, env) as process:
        for line in process.stdout:
            lines.append(line)
            if when in line:
                break
        time.sleep(1.5)
        stop(process)
        rest, _ = process.communicate(timeout=60)
    return process.returncode, "".join(lines) + rest, process.pid


def _states(store: str) -> dict[str, str]:
    client = MlflowClient(tracking_uri=store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return {r.data.tags.get("initlab.role", "") + ":" + r.info.run_name: r.info.status
            for r in runs}  # fmt: skip


@pytest.mark.parametrize(
    ("to", "launcher"),
    [("process", "basic"), ("group", "basic"), ("process", "initlab_batch")],
)
def test_sigterm_ends_runs_and_the_parent_killed_like_ctrl_c(tmp_path, store, to, launcher):
    """`kill PID` (the process) and `timeout`/Slurm/a container stop (the whole group). Under
    the batching launcher job 1 waits for the trainer process, which is stopped too."""
    import os
    import signal
    import time

    def stop(process):
        if to == "process":
            os.kill(process.pid, signal.SIGTERM)
        else:
            os.killpg(process.pid, signal.SIGTERM)

    sweep = [item.replace("=basic", f"={launcher}") for item in LONG_SWEEP]
    code, out, session = _stop_in_job_1(tmp_path, store, stop, sweep=sweep)
    if launcher == "initlab_batch":
        assert "in a trainer process" in out
    assert code == 128 + signal.SIGTERM, out
    assert "initlab: stopped by SIGTERM." in out and "Traceback" not in out, out
    assert out.count("interrupted: KILLED") == 1
    time.sleep(1.5)  # the figure workers end with their process
    assert _session(session) == []
    states = _states(store)
    assert sorted(states.values()) == ["FINISHED", "KILLED", "KILLED"], states
    (quick,) = [name for name in states if name.startswith("job:trainer.iterations=300 ")]
    assert states[quick] == "FINISHED" and states[quick.replace("=300 ", "=5000000 ")] == "KILLED"


def test_a_killed_sweeps_runs_are_found_and_marked_killed(tmp_path, store):
    """SIGKILL cannot be caught: the runs stay RUNNING, the figure workers end on their own,
    and the next look at the store (make orphans, or the next run) marks the runs KILLED."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code, _, session = _stop_in_job_1(tmp_path, store, lambda p: os.kill(p.pid, signal.SIGKILL))
    assert code == -signal.SIGKILL
    time.sleep(2.0)
    assert _session(session) == []  # no figure worker left behind
    assert sorted(_states(store).values()) == ["FINISHED", "RUNNING", "RUNNING"]
    found = subprocess.run(
        [sys.executable, "-m", "initlab.orphans", store], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert found.stderr.count("which is gone: marked KILLED") == 2
    assert "2 orphaned run(s) marked KILLED" in found.stdout
    assert sorted(_states(store).values()) == ["FINISHED", "KILLED", "KILLED"]
    again = run_cli("trainer.iterations=20", uri=store, cwd=tmp_path)  # nothing left to mark
    assert again.returncode == 0 and "marked KILLED" not in again.stderr


# --- Hydra's joblib launcher: jobs in worker processes ---------------------------------------

JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def test_a_joblib_sweep_ends_and_records_every_job(tmp_path, store):
    """Its jobs run in loky workers, which have figure workers of their own: the sweep used to
    finish every run and then never exit. The summary comes from the launcher's returns."""
    import subprocess

    try:
        result = run_cli(
            "-m", "init=zeros,random,he,xavier", "activation=relu,tanh", "trainer.iterations=200",
            *JOBLIB, uri=store, cwd=tmp_path, timeout=240,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the joblib sweep did not exit within 240 s")
    assert result.returncode == 0, result.stderr
    assert "8 job(s) finished, 0 failed. Parent run" in result.stdout
    table = result.stdout.split("job  init")[1].split("\n\n")[0]
    assert len([row for row in table.splitlines()[2:] if row.strip()]) == 8
    client = MlflowClient(tracking_uri=store)
    runs = client.search_runs([client.get_experiment_by_name("initialization").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("initlab.role") == "sweep"]
    jobs = [r for r in runs if r.data.tags.get("initlab.role") == "job"]
    assert parent.info.status == "FINISHED" and parent.data.metrics["jobs_finished"] == 8
    assert len(jobs) == 8 and {r.info.status for r in jobs} == {"FINISHED"}
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {parent.info.run_id}
    assert len({r.data.tags["initlab.pid"] for r in jobs}) == 2  # two workers, not this one


@pytest.mark.parametrize("to", ["process", "group"])
def test_sigterm_ends_a_joblib_sweep_and_its_workers_runs(tmp_path, store, to):
    """The group: each worker ends its own run KILLED. The process alone: joblib kills its
    workers, and the sweep marks their runs KILLED as it ends, saying so."""
    import os
    import signal
    import time

    def stop(process):
        time.sleep(1.0)
        (os.kill if to == "process" else os.killpg)(process.pid, signal.SIGTERM)

    sweep = ["-m", "trainer.iterations=300,5000000,5000001", "trainer.engine=numpy", *JOBLIB]
    code, out, session = _stop_in_job_1(
        tmp_path, store, stop, sweep, when="trainer.iterations=300 trainer.engine=numpy: cost"
    )
    assert code == 128 + signal.SIGTERM, out
    assert "initlab: stopped by SIGTERM." in out and "Traceback" not in out, out
    assert "Its job runs in the store: 1 FINISHED, 2 KILLED." in out
    time.sleep(1.5)
    assert _session(session) == []  # no loky worker or figure worker left behind
    states = _states(store)
    assert sorted(states.values()) == ["FINISHED", "KILLED", "KILLED", "KILLED"], states


def test_only_runs_of_dead_processes_on_this_host_are_orphans():
    import os
    import socket

    from initlab import orphans

    me = orphans.process_tags()
    assert me[orphans.PID_TAG] == str(os.getpid()) and not orphans.is_orphan(me)
    assert orphans.is_orphan(me | {orphans.PID_TAG: "999999999"})  # no such process
    assert orphans.is_orphan(me | {orphans.PROCESS_START_TAG: "1"})  # the pid was reused
    assert not orphans.is_orphan(me | {orphans.HOST_TAG: socket.gethostname() + "-elsewhere"})
    assert not orphans.is_orphan({})  # not opened by initlab: cannot tell


# --- a net too big for the machine -------------------------------------------------------------


def test_the_memory_floor_counts_parameters_state_and_one_step(compose_cfg, monkeypatch):
    from initlab import memory
    from initlab.config import ConfigError, to_settings

    settings = to_settings(compose_cfg("model.hidden=[100,50]", "trainer=adam", "seeds=4"))
    found = memory.estimate(settings, n_features=2, n_train=300)
    parameters = (2 * 100 + 100) + (100 * 50 + 50) + (50 + 1)
    batch = 64  # adam's default batch
    assert found.parameters == parameters
    assert found.bytes == 8 * (4 * (3 + 2) * parameters + batch * (100 + 50 + 1))
    monkeypatch.setattr(memory, "available_bytes", lambda: found.bytes - 1)
    with pytest.raises(ConfigError, match=r"needs about .* this machine has .* available"):
        memory.check_fits(settings, 2, 300)
    monkeypatch.setattr(memory, "available_bytes", lambda: found.bytes)
    memory.check_fits(settings, 2, 300)  # fits exactly: runs
