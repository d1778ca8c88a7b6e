"""MLflow round trips through the real CLI, each in a temporary store."""

from __future__ import annotations

import itertools
import resource
import socket
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import run_cli
from initlab import tracking

FAST = "trainer.iterations=300"
INIT_DIAGNOSTICS = (
    "w_std", "w_std_expected", "z_std", "z_std_predicted", "a_std", "a_std_predicted",
    "grad_norm", "distinct_units",
)  # fmt: skip


def _runs(uri: str) -> list:
    client = MlflowClient(tracking_uri=uri)
    experiments = client.search_experiments()
    return client.search_runs([e.experiment_id for e in experiments]) if experiments else []


@pytest.fixture(scope="module")
def two_job_sweep(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("sweep")
    uri = f"sqlite:///{cwd / 'mlruns' / 'mlflow.db'}"
    result = run_cli("-m", "init=zeros,he", FAST, uri=uri, cwd=cwd)
    return result, uri


def test_sweep_exits_cleanly_and_prints_the_table(two_job_sweep):
    result, _ = two_job_sweep
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "final cost" in line)
    assert lines[start].split()[:2] == ["job", "init"]  # a column for the one swept key
    assert "train acc" in out and "train s" in out and "share of the training time" in out
    rows = [line.split() for line in lines[start + 2 : start + 4]]
    assert [row[:2] for row in rows] == [["0", "zeros"], ["1", "he"]]
    assert "2 job(s) finished, 0 failed" in out
    assert "make ui" in out and "python src/report.py --run " in out


def test_the_parent_run_carries_the_sweeps_summary(two_job_sweep):
    import json

    _, uri = two_job_sweep
    client = MlflowClient(tracking_uri=uri)
    (parent,) = [r for r in _runs(uri) if r.data.tags.get(tracking.ROLE_TAG) == "sweep"]
    jobs = {
        r.data.tags["init"]: r for r in _runs(uri) if r.data.tags.get(tracking.ROLE_TAG) == "job"
    }
    he = jobs["he"]
    top = max(jobs.values(), key=lambda r: r.data.metrics["test_accuracy"])
    assert parent.data.tags["initlab.best_run"] == top.info.run_id
    assert parent.data.tags["initlab.best_job"] == top.data.tags[tracking.OVERRIDES_TAG]
    m = parent.data.metrics
    assert m["jobs_finished"] == 2 and m["jobs_failed"] == 0
    assert m["best_test_accuracy"] == top.data.metrics["test_accuracy"]
    path = client.download_artifacts(parent.info.run_id, "jobs.json")
    table = json.loads(Path(path).read_text())
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert [r["init"] for r in rows] == ["zeros", "he"]
    assert rows[1]["run_id"] == he.info.run_id and rows[0]["status"] == "FINISHED"


def test_sweep_has_one_parent_and_two_finished_children(two_job_sweep):
    _, uri = two_job_sweep
    runs = _runs(uri)
    parents = [r for r in runs if r.data.tags.get(tracking.ROLE_TAG) == "sweep"]
    children = [r for r in runs if r.data.tags.get(tracking.ROLE_TAG) == "job"]
    assert len(parents) == 1 and len(children) == 2 and len(runs) == 3
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert {c.data.tags[tracking.PARENT_TAG] for c in children} == {parent.info.run_id}
    assert {c.info.status for c in children} == {"FINISHED"}
    assert {c.data.tags["init"] for c in children} == {"zeros", "he"}
    assert {c.data.tags["activation"] for c in children} == {"relu"}
    assert {c.data.tags["dataset"] for c in children} == {"circles"}
    assert sorted(c.data.tags[tracking.JOB_NUM_TAG] for c in children) == ["0", "1"]


def test_children_carry_params_metrics_and_artifacts(two_job_sweep):
    _, uri = two_job_sweep
    client = MlflowClient(tracking_uri=uri)
    for child in (r for r in _runs(uri) if r.data.tags.get(tracking.ROLE_TAG) == "job"):
        params = child.data.params
        assert params["trainer.iterations"] == "300"
        assert params["trainer.lr"] == "0.01"
        assert params["model.hidden"] == "[10, 5]"
        assert params["init.name"] == child.data.tags["init"]
        metrics = child.data.metrics
        assert {"train_accuracy", "test_accuracy", "final_cost", "cost"} <= set(metrics)
        history = client.get_metric_history(child.info.run_id, "cost")
        assert [m.step for m in sorted(history, key=lambda m: m.step)] == [0, 100, 200, 300]
        assert history[-1].value == pytest.approx(metrics["final_cost"]) or any(
            m.step == 300 and m.value == pytest.approx(metrics["final_cost"]) for m in history
        )
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        figures = {tracking.BOUNDARY_ARTIFACT, tracking.COST_ARTIFACT, tracking.SIGNAL_ARTIFACT}
        figures |= {tracking.HISTOGRAMS_ARTIFACT, tracking.JACOBIAN_ARTIFACT}
        figures |= {tracking.EVOLUTION_ARTIFACT}
        assert figures | {"config", "diagnostics"} == artifacts

        def depth_curve(key: str, run_id: str = child.info.run_id) -> dict[int, float]:
            """init/<key>, whose step is the layer."""
            history = client.get_metric_history(run_id, f"init/{key}")
            assert len({m.step for m in history}) == len(history)
            return {m.step: m.value for m in history}

        for key in INIT_DIAGNOSTICS:  # one curve per quantity, against depth
            assert sorted(depth_curve(key)) == [1, 2, 3]
        assert sorted(depth_curve("dead_fraction")) == [1, 2]  # hidden layers only
        assert sorted(depth_curve("z_std_draws")) == [3]  # the output unit
        for layer in (1, 2, 3):
            for key in ("grad_norm", "a_mean", "a_std"):
                curve = client.get_metric_history(child.info.run_id, f"train/layer{layer}/{key}")
                assert sorted(m.step for m in curve) == [0, 100, 200]
            # Step-like quantities are logged where they change, and at both ends.
            curve = client.get_metric_history(
                child.info.run_id, f"train/layer{layer}/distinct_units"
            )
            assert {0, 200} <= {m.step for m in curve} <= {0, 100, 200}
        for layer in (1, 2):  # hidden layers only: the output unit is neither dead nor alive
            curve = client.get_metric_history(
                child.info.run_id, f"train/layer{layer}/dead_fraction"
            )
            assert {0, 200} <= {m.step for m in curve} <= {0, 100, 200}
        for key in ("max", "min", "mean_sq", "std"):  # the init's theory: at step 0
            (point,) = client.get_metric_history(child.info.run_id, f"init/jacobian/{key}")
            assert point.step == 0
        for key in ("final_cost", "train_accuracy", "test_accuracy"):  # after the last step
            (point,) = client.get_metric_history(child.info.run_id, key)
            assert point.step == 300
        assert child.data.params["seeds"] == "1" and "seeds" not in metrics
        assert metrics["parameters"] == 2 * 10 + 10 + 10 * 5 + 5 + 5 + 1
        # The course net: σ_w² = n_in·Var(W) of its 10 -> 5 layer; He's is 2 (ReLU-critical).
        expected_sigma_w2 = 2.0 if child.data.tags["init"] == "he" else 0.0
        assert metrics["init/mean_field/sigma_w2"] == pytest.approx(expected_sigma_w2)
        if child.data.tags["init"] == "he":
            assert metrics["init/mean_field/chi1"] == pytest.approx(1.0, abs=1e-9)
        config_path = client.download_artifacts(child.info.run_id, tracking.CONFIG_ARTIFACT)
        config_text = Path(config_path).read_text()
        assert "iterations: 300" in config_text
        if child.data.tags["init"] == "zeros":
            assert depth_curve("distinct_units") == {1: 1.0, 2: 1.0, 3: 1.0}
            assert metrics["train_accuracy"] == 0.5
            assert metrics["final_cost"] == pytest.approx(0.6931471805599453, rel=1e-12)


def test_artifacts_live_beside_the_store(two_job_sweep):
    _, uri = two_job_sweep
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("initialization")
    store_dir = uri.removeprefix("sqlite:///").rsplit("/", 1)[0]
    assert experiment.artifact_location.startswith(f"file://{store_dir}/artifacts")


def test_a_failing_job_ends_failed_and_the_sweep_reports_it(tmp_path, store):
    # A real runtime failure inside the job: under a 3 GiB address-space limit the 1.5M-unit
    # layer's 3.4 GiB activations cannot be allocated. The memory check (a floor, against the
    # machine's free memory) lets it through, so the failure happens where a job can fail.
    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    result = run_cli(
        "-m",
        "model.hidden=[3],[1500000]",
        "trainer.iterations=20",
        uri=store,
        cwd=tmp_path,
        preexec_fn=limit_address_space,
    )
    assert result.returncode != 0
    assert "1 job(s) finished, 1 failed" in result.stdout
    assert "FAILED: MemoryError" in result.stdout
    runs = _runs(store)
    statuses = sorted((r.data.tags.get(tracking.ROLE_TAG), r.info.status) for r in runs)
    assert statuses == [("job", "FAILED"), ("job", "FINISHED"), ("sweep", "FAILED")]
    assert all(r.info.status != "RUNNING" for r in runs)


def test_single_run_has_no_parent_and_is_deterministic(tmp_path, store):
    for _ in range(2):
        result = run_cli("init=random", "trainer.iterations=200", uri=store, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    runs = _runs(store)
    assert len(runs) == 2
    assert all(tracking.PARENT_TAG not in r.data.tags and r.info.status == "FINISHED" for r in runs)
    client = MlflowClient(tracking_uri=store)
    histories = [
        [
            (m.step, m.value)
            for m in sorted(client.get_metric_history(r.info.run_id, "cost"), key=lambda m: m.step)
        ]
        for r in runs
    ]
    assert histories[0] == histories[1]  # bit-identical
    assert runs[0].data.metrics["test_accuracy"] == runs[1].data.metrics["test_accuracy"]


BAD_INPUTS = [
    (["tracking.large_sweep_curve_points=1"], ["tracking.large_sweep_curve_points", ">= 2"]),
    (
        ["-m", "init=he,xavier", "hydra/launcher=initlab_parallel", "hydra.launcher.workers=0"],
        ["hydra.launcher.workers must be ≥ 1 (got 0)"],
    ),
    (
        ["-m", "init=he,xavier", "hydra/launcher=initlab_parallel", "hydra.launcher.backend=x"],
        ["hydra.launcher.backend=x: use one of local, ray"],
    ),
    (["init=foo"], ["init/foo", "he", "xavier", "zeros"]),
    (["trainer.lr=-1"], ["trainer.lr", "> 0"]),
    (["trainer.lr=abc"], ["trainer.lr", "Float"]),
    (["model.hidden=[]"], ["model.hidden", "non-empty"]),
    (["trainer.bogus=1"], ["trainer.bogus"]),
    (["-m", "init=he,foo"], ["init/foo", "lecun"]),
    (["-m", "init=zeros,he", "trainer.lr=0.1,-1"], ["trainer.lr", "> 0"]),
    (["-m", "trainer.lr=abc,0.1"], ["trainer.lr", "Float"]),
    (["-m", "model.hidden=[3],[]"], ["model.hidden"]),
    (["dataset=csv", "dataset.path=nope.csv"], ["dataset.path", "nope.csv"]),
    (["-m", "dataset=moons,csv", "dataset.path=nope.csv"], ["dataset.path", "nope.csv"]),
    (["trainer=adam", "trainer.beta1=1.5"], ["trainer.beta1", "[0, 1)"]),
    (["trainer=sgd", "trainer.batch_size=-1"], ["trainer.batch_size", ">= 0"]),
    (["model=deep", "model.depth=0"], ["model.depth"]),
    (["model=deep", "model.hidden=[3]"], ["model.hidden"]),
    (["init.bias_std=-1"], ["init.bias_std", ">= 0"]),
    (["+foo=1"], ["unknown key foo", "no such setting"]),
    (["+trainer.momentum=0.9"], ["trainer.momentum", "did you mean trainer=momentum?"]),
    (["-m", "init=he,xavier", "+optimizer=adam"], ["unknown key optimizer"]),
    (["init=hee"], ["did you mean init=he?"]),
    (["-m", "init=he,xavierr"], ["did you mean init=xavier?"]),
    (["trainer.lrr=0.1"], ["did you mean trainer.lr?"]),
    # An optional group's unknown option: Hydra would skip it and train the defaults.
    (["experiment=nope"], ["experiment=nope: no such option", "he2015"]),
    (["experiment=he2051"], ["did you mean he2015?"]),
    (["-m", "experiment=nope", "init=he,xavier"], ["experiment=nope: no such option"]),
    (["~init"], ["init has no value", "init=..."]),
    (["-m", "~init"], ["init has no value"]),
    (["tracking.uri=foo://bar"], ["foo://bar", "'foo' URI", "sqlite:///"]),
    (["tracking.uri=some/folder"], ["some/folder is a path", "/some/folder/mlflow.db"]),
    (["-m", "init=he,xavier", "tracking.uri=foo://bar"], ["'foo' URI"]),
    # 10¹⁰ weights: refused from shapes before any run, not a traceback inside training.
    (["model.hidden=[100000,100000]"], ["needs about 224.0 GB", "available", "smaller net"]),
    (["-m", "model.hidden=[10],[100000,100000]"], ["job [model.hidden=[100000,100000]"]),
]


BAD_CSVS = {  # file text -> what the message must name besides the file
    "a,b,label\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n": ["column 'b'", "oops"],
    "a,b,label\n1,2,x\n3,4,y\n5,6,z\n7,8,y\n": ["label", "two"],
    "a,b,label\n1,2,x\n3,nan,y\n5,6,x\n7,8,y\n": ["column 'b'"],
}


@pytest.mark.parametrize("text,expected", list(BAD_CSVS.items()), ids=["text", "classes", "nan"])
@pytest.mark.parametrize("mode", [[], ["-m", "init=he,xavier"]], ids=["single", "multirun"])
def test_a_bad_csv_stops_before_any_run(tmp_path, store, text, expected, mode):
    data = tmp_path / "bad data.csv"
    data.write_text(text)
    result = run_cli(
        *mode, "dataset=csv", f"dataset.path='{data}'", "dataset.test_fraction=0.5",
        uri=store, cwd=tmp_path,
    )  # fmt: skip
    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert "bad data.csv" in message, message
    for fragment in expected:
        assert fragment in message, message
    assert "Traceback" not in message
    assert _runs(store) == [] if (tmp_path / "mlruns" / "mlflow.db").exists() else True


@pytest.mark.parametrize(
    "args,expected", BAD_INPUTS, ids=lambda x: " ".join(x) if isinstance(x, list) else ""
)
def test_bad_input_fails_clearly_and_records_nothing(tmp_path, store, args, expected):
    result = run_cli(*args, uri=store, cwd=tmp_path)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    for fragment in expected:
        assert fragment in message, message
    assert "Traceback" not in message
    assert _runs(store) == [] if (tmp_path / "mlruns" / "mlflow.db").exists() else True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("mode", "iterations"),
    [
        ([], FAST),
        (["-m", "init=zeros,he"], FAST),
        # Two units: a trainer process starts before the store is looked at (a long first
        # unit); it must stop with the sweep, not keep the command waiting.
        (["-m", "init=zeros,he", "activation=relu,tanh"], "trainer.iterations=3000000"),
    ],
    ids=["single", "multirun", "multirun-training-ahead"],
)
def test_unreachable_tracking_server_is_a_clear_error(tmp_path, mode, iterations):
    uri = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    result = run_cli(*mode, iterations, uri=uri, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "unreachable" in result.stderr and uri in result.stderr
    assert time.monotonic() - started < 60


def test_help_lists_groups_without_heavy_imports(tmp_path):
    import subprocess

    from conftest import TRAIN

    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(TRAIN), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0
    for group in ("init:", "activation:", "dataset:", "model:", "trainer:", "experiment:"):
        assert group in result.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if "|" in line
    }
    assert not imported & {"mlflow", "sklearn", "matplotlib"}


def test_cfg_job_prints_the_composed_config(tmp_path, store):
    result = run_cli("--cfg", "job", "init=random", "init.scale=5", uri=store, cwd=tmp_path)
    assert result.returncode == 0
    assert (
        "name: random" in result.stdout
        and "scale: 5" in result.stdout
        and "lr: 0.01" in result.stdout
    )


def test_new_stores_start_from_a_migrated_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("a", "b"):  # the first builds the cached template, the second copies it
        uri = f"sqlite:///{tmp_path / name / 'mlflow.db'}"
        tracking.check_reachable(uri)
        client = tracking.client_for(uri)
        experiment_id = tracking.ensure_experiment(client, "initialization", uri)
        run = client.create_run(experiment_id)
        client.set_terminated(run.info.run_id)
        default = client.get_experiment("0")
        assert default.artifact_location == (tmp_path / name / "artifacts").as_uri()
    assert len(list((tmp_path / "cache" / "initlab").glob("empty-mlflow-*.db"))) == 1


def test_a_sweep_over_experiments_gets_a_parent_in_each(tmp_path, store):
    result = run_cli(
        "-m", "experiment=course,tanh_study", "trainer.iterations=50", uri=store, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=store)
    for name, activation in (("initialization", "relu"), ("tanh_study", "tanh")):
        experiment = client.get_experiment_by_name(name)
        runs = client.search_runs([experiment.experiment_id])
        parents = [r for r in runs if r.data.tags[tracking.ROLE_TAG] == "sweep"]
        jobs = [r for r in runs if r.data.tags[tracking.ROLE_TAG] == "job"]
        assert len(parents) == 1 and len(jobs) == 1
        assert jobs[0].data.tags[tracking.PARENT_TAG] == parents[0].info.run_id
        assert jobs[0].data.tags["activation"] == activation
        assert parents[0].info.status == "FINISHED"


def test_a_csv_run_records_which_file_and_which_labels(tmp_path, store):
    result = run_cli("dataset=csv", "trainer.iterations=20", "diagnostics=false", uri=store,
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = _runs(store)
    params = run.data.params
    assert params["dataset.classes"] == "0=versicolor, 1=virginica"
    digest, name = params["dataset.file1.sha256"].split()
    assert name == "iris_versicolor_virginica.csv" and len(digest) == 64


@pytest.mark.parametrize(
    "policy,pngs", [([], False), (["tracking.figures=all"], True)], ids=["auto", "all"]
)
def test_the_figure_policy_skips_per_run_figures_of_big_sweeps(tmp_path, store, policy, pngs):
    """auto: a sweep of more than tracking.figures_max_jobs jobs draws no per-run figures (the
    report still draws its own from the metrics and the activation samples)."""
    result = run_cli(
        "-m", "init=he,xavier", "trainer.iterations=50", "tracking.figures_max_jobs=1", *policy,
        uri=store, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=store)
    for run in (r for r in _runs(store) if r.data.tags[tracking.ROLE_TAG] == "job"):
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert any(a.endswith(".png") for a in artifacts) == pngs, artifacts
        assert "diagnostics" in artifacts and "init/z_std" in run.data.metrics


def test_ctrl_c_ends_the_sweep_with_one_line_per_interrupted_run(tmp_path, store):
    """SIGINT to the process group (a terminal's Ctrl-C) while job 1 trains inside its run:
    that run and the parent end KILLED, job 0 stays FINISHED, nothing is left RUNNING, and the
    output is one line per interrupted run, without tracebacks from the process or its
    figure workers."""
    import os
    import signal
    import subprocess

    from conftest import TRAIN

    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "HYDRA_FULL_ERROR": "0"}
    command = [
        sys.executable, str(TRAIN), "-m", "init=he,xavier,zeros", "hydra/launcher=basic",
        "trainer.engine=numpy", "trainer.iterations=200000", f"hydra.sweep.dir={tmp_path}/m",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines = []
    try:
        for line in process.stdout:  # wait until job 1 has started (job 0 is recorded)
            lines.append(line)
            if "#1 :" in line:
                break
        time.sleep(1.0)
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    out = "".join(lines) + rest
    assert process.returncode == 130, out
    assert "Traceback" not in out, out
    assert out.count("interrupted: KILLED") == 1 and "initlab: interrupted (Ctrl-C)." in out
    runs = _runs(store)
    (parent,) = [r for r in runs if r.data.tags[tracking.ROLE_TAG] == "sweep"]
    assert parent.info.status == "KILLED"
    statuses = {r.data.tags["init"]: r.info.status for r in runs if r != parent}
    assert statuses == {"he": "FINISHED", "xavier": "KILLED"}  # zeros never started


def test_curves_without_repeats_keep_the_same_polyline():
    curve = tracking.Curve("k", [0, 1, 2, 3, 4, 5, 6], [1, 1, 1, 2, 2, 2, 2])
    short = curve.without_repeats()
    assert list(short.steps) == [0, 2, 3, 6] and list(short.values) == [1, 1, 2, 2]
    flat = tracking.Curve("k", [0, 100, 200], [5.0, 5.0, 5.0]).without_repeats()
    assert list(flat.steps) == [0, 200]
    assert tracking.Curve("k", [7], [3.0]).without_repeats().steps == [7]
    moving = tracking.Curve("k", [0, 1, 2], [1.0, 2.0, 3.0])
    assert moving.without_repeats() == moving


def test_thinned_curves_keep_their_ends_and_even_spacing():
    steps = list(range(0, 15001, 100))  # 151 logged steps, as a course run
    curve = tracking.Curve("k", steps, [float(s) for s in steps])
    thin = curve.thinned(30)
    assert len(thin.steps) == 30 and thin.steps[0] == 0 and thin.steps[-1] == 15000
    gaps = {b - a for a, b in itertools.pairwise(thin.steps)}
    assert gaps <= {500, 600}  # 150 intervals over 29 gaps: 5 or 6 logged steps apart
    assert list(thin.values) == [float(s) for s in thin.steps]
    assert curve.thinned(0) == curve and curve.thinned(500) == curve


def test_a_large_sweep_thins_its_curves_but_not_the_values_at_init(tmp_path, store):
    """A sweep of more jobs than tracking.figures_max_jobs is "large"."""
    result = run_cli(
        "-m", "init=he,xavier", "trainer.iterations=3000", "tracking.figures_max_jobs=1",
        "tracking.large_sweep_curve_points=8", uri=store, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=store)
    for run in _runs(store):
        if run.data.tags.get(tracking.ROLE_TAG) != "job":
            continue
        cost = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "cost"))
        # 31 logged costs (0, 100, ..., 3000) thinned to 8, ends kept.
        assert [step for step, _ in cost] == [0, 400, 900, 1300, 1700, 2100, 2600, 3000]
        assert cost[-1][1] == run.data.metrics["final_cost"]
        grad = client.get_metric_history(run.info.run_id, "train/layer1/grad_norm")
        steps = sorted(m.step for m in grad)  # the monitor's steps run 0..2900: ends kept
        assert len(grad) == 8 and steps[0] == 0 and steps[-1] == 2900
        assert len(client.get_metric_history(run.info.run_id, "init/a_std")) == 3  # whole
