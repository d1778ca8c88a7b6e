"""The batching launcher: compatible jobs train together, and every run is what it would be."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import run_cli
from initlab import tracking

SWEEP = ["init=zeros,random,he,lsuv", "activation=relu,tanh", "trainer.iterations=300", "seeds=1"]


def _job_runs(uri: str) -> dict[str, object]:
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("initialization")
    runs = client.search_runs([experiment.experiment_id], f"tags.`{tracking.ROLE_TAG}` = 'job'")
    return {r.data.tags[tracking.OVERRIDES_TAG]: r for r in runs}


def _curve(uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    history = MlflowClient(tracking_uri=uri).get_metric_history(run_id, key)
    return sorted((m.step, m.value) for m in history)


def _artifact(uri: str, run_id: str, path: str) -> bytes:
    local = MlflowClient(tracking_uri=uri).download_artifacts(run_id, path)
    with open(local, "rb") as file:
        return file.read()


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same sweep under the batching launcher (the default), the parallel one (units of
    work on two processes) and Hydra's basic one."""
    out = {}
    for launcher in ("initlab_batch", "initlab_parallel", "basic"):
        cwd = tmp_path_factory.mktemp(launcher)
        uri = f"sqlite:///{cwd / 'mlruns' / 'mlflow.db'}"
        result = run_cli("-m", *SWEEP, f"hydra/launcher={launcher}", uri=uri, cwd=cwd)
        assert result.returncode == 0, result.stderr
        out[launcher] = (uri, result.stdout + result.stderr)
    return out


def test_compatible_jobs_are_trained_together(both):
    _, log = both["initlab_batch"]
    # Two groups (one per activation) of four init schemes each.
    assert log.count("together as stacked replicas") == 2
    _, basic_log = both["basic"]
    assert "together as stacked replicas" not in basic_log


def test_the_parallel_launcher_keeps_batching_and_runs_units_on_two_processes(both):
    _, log = both["initlab_parallel"]
    assert "Launching 8 jobs as 2 units on 2 local processes" in log
    assert log.count("together as stacked replicas") == 2
    assert "8 job(s) finished, 0 failed" in log
    pids = {r.data.tags["initlab.pid"] for r in _job_runs(both["initlab_parallel"][0]).values()}
    assert len(pids) == 2


# What may differ between two recordings of the same job: the clock and the process.
TIMING_METRICS = {"train_seconds", "logging_seconds"}
PROCESS_TAGS = {"initlab.pid", "initlab.process_start", "mlflow.parentRunId"}  # its own sweep's


def _same(a, b) -> bool:
    """Equal to the bit, NaN equal to NaN (a mean-field quantity undefined for the net)."""
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def _artifact_paths(uri: str, run_id: str, folder: str | None = None) -> set[str]:
    """Every artifact file of a run, folders walked."""
    client = MlflowClient(tracking_uri=uri)
    paths = set()
    for item in client.list_artifacts(run_id, folder):
        paths |= _artifact_paths(uri, run_id, item.path) if item.is_dir else {item.path}
    return paths


@pytest.mark.parametrize("launcher", ["initlab_batch", "initlab_parallel"])
def test_batched_runs_match_job_by_job_runs_exactly(both, launcher):
    """Every metric (its last value and its whole history), every param, the tags, and every
    artifact's path: what Hydra's basic launcher records, to the bit."""
    batched_uri, _ = both[launcher]
    basic_uri, _ = both["basic"]
    batched, basic = _job_runs(batched_uri), _job_runs(basic_uri)
    assert set(batched) == set(basic) and len(batched) == 8
    for name, run in batched.items():
        twin = basic[name]
        assert run.info.status == twin.info.status == "FINISHED"
        assert run.data.params == twin.data.params
        metrics, twin_metrics = run.data.metrics, twin.data.metrics
        assert set(metrics) == set(twin_metrics), name
        assert len(metrics) > 30, sorted(metrics)  # diagnostics included
        for key in set(metrics) - TIMING_METRICS:
            assert _same(metrics[key], twin_metrics[key]), (name, key)
            curve = _curve(batched_uri, run.info.run_id, key)
            assert len(curve) >= 1 and _same(curve, _curve(basic_uri, twin.info.run_id, key)), (
                name, key,
            )  # fmt: skip
        tags = {k: v for k, v in run.data.tags.items() if k not in PROCESS_TAGS}
        assert tags == {k: v for k, v in twin.data.tags.items() if k not in PROCESS_TAGS}, name
        assert _artifact_paths(batched_uri, run.info.run_id) == _artifact_paths(
            basic_uri, twin.info.run_id
        ), name
        # Figures drawn ahead (while the job before was recorded) are the same pictures.
        for figure in (tracking.BOUNDARY_ARTIFACT, tracking.EVOLUTION_ARTIFACT):
            assert _artifact(batched_uri, run.info.run_id, figure) == _artifact(
                basic_uri, twin.info.run_id, figure
            ), (name, figure)


def test_incompatible_jobs_fall_back_to_one_by_one(tmp_path, store):
    result = run_cli("-m", "trainer.lr=0.01,0.02", "trainer.iterations=50", uri=store, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "together as stacked replicas" not in result.stdout + result.stderr
    assert len(_job_runs(store)) == 2


def test_the_sweeper_composes_only_jobs_the_callback_did_not(monkeypatch):
    """The sweep callback composes every job before it creates the parent run; Hydra's own
    validation would compose each a second time (a tenth of a second per job)."""
    from hydra_plugins.initlab_sweeper.sweeper import InitlabSweeper
    from initlab import batching

    composed: list[list[str]] = []

    class Loader:
        def load_sweep_config(self, master_config, sweep_overrides):
            composed.append(sweep_overrides)

    sweeper = InitlabSweeper(max_batch_size=None, params=None)
    sweeper.config, sweeper.hydra_context = object(), None
    monkeypatch.setattr(sweeper, "config_loader", Loader(), raising=False)
    batching.remember_composed(["init=he"], object())
    try:
        sweeper.validate_batch_is_legal([["init=he"], ["init=zeros"]])
    finally:
        batching.clear()
    assert composed == [["init=zeros"]]


def test_units_train_in_a_trainer_process_and_jobs_keep_their_numbers(both):
    """The two activations' groups interleave in sweep order; the jobs run unit by unit, and
    each still gets its own number (tag, output folder) in Hydra's order."""
    import itertools

    uri, log = both["initlab_batch"]
    started = "Training 2 units (stacked groups and lone jobs; the last one in pieces)"
    assert log.count(started) == 1  # by the sweep callback; the launcher keeps it
    axes = [item.split("=", 1) for item in SWEEP]
    names = [
        " ".join(f"{key}={value}" for (key, _), value in zip(axes, values, strict=True))
        for values in itertools.product(*(values.split(",") for _, values in axes))
    ]
    runs = _job_runs(uri)
    assert sorted(runs) == sorted(names)
    for name, run in runs.items():
        assert run.data.tags[tracking.JOB_NUM_TAG] == str(names.index(name)), name
