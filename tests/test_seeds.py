"""seeds=K: K seeds trained as stacked replicas, one nested MLflow run per seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import run_cli
from initlab import tracking
from initlab.config import to_settings
from initlab.experiment import train_and_evaluate
from initlab.recording import seed_statistics


@pytest.mark.parametrize("engine", ["auto", "numpy"])
@pytest.mark.parametrize("init", ["he", "random", "lsuv"])
def test_each_seed_trains_as_it_would_alone(compose_cfg, init, engine):
    """The README's promise, "each replica's numbers are exactly those it gets alone": bit for
    bit, on either engine (the ×10 random start, which amplifies any rounding difference,
    included)."""
    common = [f"init={init}", "trainer.iterations=400", "trainer.log_every=50", "diagnostics=false",
              f"trainer.engine={engine}"]  # fmt: skip
    stacked = train_and_evaluate(to_settings(compose_cfg(*common, "seed=5", "seeds=3")))
    assert stacked.seeds == [5, 6, 7]
    for k, seed in enumerate(stacked.seeds):
        alone = train_and_evaluate(to_settings(compose_cfg(*common, f"seed={seed}")))
        np.testing.assert_array_equal(stacked.history.costs[k], alone.history.costs[0])
        assert stacked.history.final_cost[k] == alone.history.final_cost[0]
        assert stacked.train_accuracy[k] == alone.train_accuracy[0]
        assert stacked.test_accuracy[k] == alone.test_accuracy[0]
        for a, b in zip(stacked.params.weights + stacked.params.biases,
                        alone.params.weights + alone.params.biases, strict=True):  # fmt: skip
            np.testing.assert_array_equal(a[k], b[0])


def test_seed_statistics(compose_cfg):
    good = train_and_evaluate(
        to_settings(
            compose_cfg("seeds=4", "trainer.iterations=3000", "trainer.lr=0.1", "diagnostics=false")
        )
    )
    stats = seed_statistics(good)
    assert stats["seeds"] == 4
    costs = good.history.final_cost
    assert stats["final_cost_mean"] == pytest.approx(costs.mean())
    assert stats["final_cost_std"] == pytest.approx(costs.std())
    assert (stats["final_cost_min"], stats["final_cost_max"]) == (costs.min(), costs.max())
    assert stats["train_accuracy_min"] > 0.6 and stats["failed_fraction"] == 0.0
    symmetric = train_and_evaluate(
        to_settings(compose_cfg("init=zeros", "seeds=3", "trainer.iterations=50"))
    )
    assert seed_statistics(symmetric)["failed_fraction"] == 1.0  # stuck at chance, every seed


def _seed_table(client: MlflowClient, run_id: str) -> dict[str, list]:
    import json

    path = client.download_artifacts(run_id, tracking.SEEDS_TABLE_ARTIFACT)
    table = json.loads(Path(path).read_text())  # log_table: {"columns": [...], "data": [...]}
    return {c: [row[i] for row in table["data"]] for i, c in enumerate(table["columns"])}


def test_seeds_log_one_nested_run_per_seed_when_asked(tmp_path, store):
    result = run_cli(
        "seeds=3", "seed=10", "trainer.iterations=200", "tracking.seed_runs=true",
        uri=store, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=store)
    runs = client.search_runs([client.get_experiment_by_name("initialization").experiment_id])
    jobs = [r for r in runs if r.data.tags[tracking.ROLE_TAG] == "job"]
    seeds = [r for r in runs if r.data.tags[tracking.ROLE_TAG] == "seed"]
    assert len(jobs) == 1 and len(seeds) == 3 and len(runs) == 4
    job = jobs[0]
    assert {r.data.tags[tracking.PARENT_TAG] for r in seeds} == {job.info.run_id}
    assert sorted(r.data.tags[tracking.SEED_TAG] for r in seeds) == ["10", "11", "12"]
    assert sorted(r.data.params["seed"] for r in seeds) == ["10", "11", "12"]
    assert all(r.info.status == "FINISHED" for r in runs)
    finals = np.array([r.data.metrics["final_cost"] for r in seeds])
    test_acc = np.array([r.data.metrics["test_accuracy"] for r in seeds])
    m = job.data.metrics
    assert job.data.params["seeds"] == "3" and "seeds" not in m  # a param, not a metric
    assert m["final_cost_mean"] == pytest.approx(finals.mean(), rel=1e-12)
    assert m["final_cost_std"] == pytest.approx(finals.std(), rel=1e-9)
    assert m["final_cost_max"] == pytest.approx(finals.max(), rel=1e-12)
    assert m["test_accuracy_min"] == pytest.approx(test_acc.min(), rel=1e-12)
    assert 0.0 <= m["failed_fraction"] <= 1.0
    table = _seed_table(client, job.info.run_id)  # the same numbers, on the job's run
    by_seed = {int(r.data.params["seed"]): r for r in seeds}
    assert table["seed"] == [10, 11, 12]
    for k, seed in enumerate(table["seed"]):  # (MLflow's table JSON keeps 10 digits)
        metrics = by_seed[seed].data.metrics
        assert table["final_cost"][k] == pytest.approx(metrics["final_cost"], rel=1e-9)
        assert table["test_accuracy"][k] == pytest.approx(metrics["test_accuracy"], rel=1e-9)
    curves = []
    for seed_run in seeds:
        history = sorted(
            client.get_metric_history(seed_run.info.run_id, "cost"), key=lambda p: p.step
        )
        assert [p.step for p in history] == [0, 100, 200]
        curves.append([p.value for p in history])

    def job_curve(key: str) -> list[float]:
        history = sorted(client.get_metric_history(job.info.run_id, key), key=lambda p: p.step)
        return [p.value for p in history]

    np.testing.assert_allclose(job_curve("cost"), np.mean(curves, axis=0), rtol=1e-12)
    np.testing.assert_array_equal(job_curve("cost_min"), np.min(curves, axis=0))
    np.testing.assert_array_equal(job_curve("cost_max"), np.max(curves, axis=0))
    job_artifacts = {a.path for a in client.list_artifacts(job.info.run_id)}
    assert {tracking.COST_ARTIFACT, tracking.BOUNDARY_ARTIFACT} <= job_artifacts
    assert "3 seeds, mean" in result.stderr + result.stdout


def test_seeds_default_to_a_table_not_nested_runs(tmp_path, store):
    result = run_cli("seeds=4", "trainer.iterations=100", uri=store, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("initialization").experiment_id])
    table = _seed_table(client, run.info.run_id)
    assert table["seed"] == [3, 4, 5, 6]
    assert np.mean(table["final_cost"]) == pytest.approx(run.data.metrics["final_cost_mean"], 1e-9)
    assert sum(table["failed"]) / 4 == run.data.metrics["failed_fraction"]


def test_steps_to_target_is_the_first_logged_step_at_or_below_it(compose_cfg):
    from initlab.recording import steps_to_target

    result = train_and_evaluate(
        to_settings(
            compose_cfg(
                "seeds=3", "trainer=adam", "trainer.iterations=600", "trainer.log_every=20",
                "trainer.target_cost=0.3", "diagnostics=false",
            )
        )
    )  # fmt: skip
    steps, reached = steps_to_target(result)
    costs, logged = result.history.costs, result.history.steps
    for k in range(3):
        first = next((s for s, c in zip(logged, costs[k], strict=True) if c <= 0.3), None)
        if first is None:
            assert not reached[k] and steps[k] == 600
        else:
            assert reached[k] and steps[k] == first
    assert reached.any()
    stats = seed_statistics(result)
    assert stats["target_reached_fraction"] == pytest.approx(reached.mean())
    assert stats["steps_to_target_mean"] == pytest.approx(steps.mean())
    # Never reached: the run's length, a lower bound, flagged as not reached.
    never = train_and_evaluate(
        to_settings(
            compose_cfg("trainer.iterations=50", "trainer.target_cost=0", "diagnostics=false")
        )
    )
    steps, reached = steps_to_target(never)
    assert steps.tolist() == [50] and not reached[0]
