"""MLflow tracking: where the store is, experiments, parent/child runs, and batched logging.

Everything goes through an explicit ``MlflowClient``: no fluent "active run" global state, so
no run can leak from one job into the next. Knows nothing of NumPy internals or Hydra.

Store layout (the project's contract):
  default tracking URI  sqlite:///<project>/mlruns/mlflow.db   (absolute, not cwd-relative)
  artifacts             <project>/mlruns/artifacts/<run id>/artifacts/...
  overrides             tracking.uri in the config, else $MLFLOW_TRACKING_URI
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initlab import http_store, orphans, stores
from initlab.stores import StoreLost, TrackingError  # raised here and by stores

if TYPE_CHECKING:  # mlflow costs ~1-2 s to import: only when a run is really tracked
    from mlflow.tracking import MlflowClient

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STORE_DIR = PROJECT_ROOT / "mlruns"

# Tag names (the report and users' scripts read these).
ROLE_TAG = "initlab.role"  # "sweep": a multirun's parent; "job": a job's run; "seed": one seed
JOB_NUM_TAG = "initlab.job_num"
SEED_TAG = "initlab.seed"  # on the nested run of one seed of a multi-seed job
OVERRIDES_TAG = "initlab.overrides"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
GROUP_TAGS = ("init", "activation", "dataset")

# Artifact paths inside a run. Figures sit at the top level because the MLflow UI's compare
# view shows only top-level artifacts side by side.
BOUNDARY_ARTIFACT = "decision_boundary.png"
COST_ARTIFACT = "cost.png"
EVOLUTION_ARTIFACT = "boundary_evolution.png"  # the boundary at 0, 10, 50 and 100% of training
SIGNAL_ARTIFACT = "signal_propagation.png"
HISTOGRAMS_ARTIFACT = "activation_histograms.png"
JACOBIAN_ARTIFACT = "jacobian_spectrum.png"
# Up to 2000 activations of every hidden layer at init (npz, float32): the report's histograms.
ACTIVATIONS_ARTIFACT = "diagnostics/activations.npz"
CONFIG_ARTIFACT = "config/config.yaml"
SEEDS_TABLE_ARTIFACT = "seeds.json"  # a seeds=K job: one row per seed

# MLflow's per-request limits for log_batch.
_MAX_PARAMS_PER_BATCH = 100
_MAX_METRICS_PER_BATCH = 1000
_MAX_ENTITIES_PER_BATCH = 1000  # params, metrics and tags together


def resolve_tracking_uri(configured: str | None = None) -> str:
    """The config key wins, then $MLFLOW_TRACKING_URI, then the project's SQLite store."""
    if configured:
        return configured
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{DEFAULT_STORE_DIR / 'mlflow.db'}"


def artifact_root_for(uri: str) -> str | None:
    """Where a new experiment's artifacts go: beside a SQLite store, else the server decides."""
    if uri.startswith("sqlite:///"):
        db_path = Path(uri.removeprefix("sqlite:///"))
        return (db_path.parent / "artifacts").resolve().as_uri()
    return None


def check_reachable(uri: str, timeout: float = 3.0) -> None:
    """Fail fast, with the store in the message, if ``uri`` cannot take runs: a URI MLflow
    does not know, a tracking server that does not answer, a SQLite store that is damaged,
    read-only or locked (:mod:`initlab.stores`). A new SQLite store starts from an empty one.

    MLflow's own client retries for minutes before giving up; users deserve a clear answer now.
    """
    stores.check_uri(uri)
    if http_store.is_http(uri):
        http_store.bound_retries()  # a server that dies later: minutes of retries, not hours
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingError(
                f"MLflow tracking server {uri} is unreachable ({reason}). Start it, or unset "
                "MLFLOW_TRACKING_URI / tracking.uri to use the project's local store."
            ) from exc
    elif (db_path := stores.sqlite_path(uri)) is not None:
        stores.check_sqlite_store(db_path)
        if not db_path.exists() or db_path.stat().st_size == 0:
            _start_from_empty_store(db_path)


def _template_path() -> Path:
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "initlab"
    return cache / f"empty-mlflow-{version('mlflow')}.db"


def _start_from_empty_store(db_path: Path) -> None:
    """Give a new SQLite store MLflow's schema by copying an empty, migrated one.

    Building the schema runs ~60 Alembic migrations (about 1.5 s); the result depends only on
    the MLflow version, so it is built once per machine and version and then copied. Any
    problem with the cache just leaves the creation to MLflow.
    """
    template = _template_path()
    try:
        if not template.exists():
            template.parent.mkdir(parents=True, exist_ok=True)
            scratch = template.with_suffix(f".{os.getpid()}.tmp")
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            store = SqlAlchemyStore(f"sqlite:///{scratch}", scratch.parent.as_uri())
            store.engine.dispose()
            os.replace(scratch, template)  # atomic: racing processes each publish a whole file
        scratch = db_path.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(template, scratch)
        # MLflow's "Default" experiment keeps its artifacts beside this store, not the cache.
        with contextlib.closing(sqlite3.connect(scratch)) as db, db:
            db.execute(
                "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                ((db_path.parent / "artifacts").resolve().as_uri(),),
            )
        os.replace(scratch, db_path)
    except Exception as exc:  # the cache is an optimisation, never a requirement
        warn(f"could not use the empty-store cache ({exc}); MLflow will build the schema")


def client_for(uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=stores.sqlite_uri_for_mlflow(uri))


def ensure_experiment(client: MlflowClient, name: str, uri: str) -> str:
    """The experiment's id, creating it (with the artifact root beside the store) if needed."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_root_for(uri))
    except Exception:  # another process created it between our look-up and create
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


# --- runs that are always closed -----------------------------------------------------------

# Runs this process opened and has not closed yet: closed as KILLED if the process exits first.
_open_runs: dict[str, tuple[str, str]] = {}


def _close_leftover_runs() -> None:
    for run_id, (uri, _) in list(_open_runs.items()):
        with contextlib.suppress(Exception):
            client_for(uri).set_terminated(run_id, status="KILLED")
        _open_runs.pop(run_id, None)


atexit.register(_close_leftover_runs)


def start_run(
    client: MlflowClient,
    uri: str,
    experiment_id: str,
    *,
    name: str,
    tags: Mapping[str, str],
    parent_run_id: str | None = None,
) -> str:
    all_tags = dict(tags) | orphans.process_tags()  # so a later process can tell if we died
    if parent_run_id:
        all_tags[PARENT_TAG] = parent_run_id
    run = client.create_run(experiment_id, run_name=name, tags=all_tags)
    _open_runs[run.info.run_id] = (uri, name)
    return run.info.run_id


def end_run(client: MlflowClient, run_id: str, status: str) -> None:
    client.set_terminated(run_id, status=status)
    _open_runs.pop(run_id, None)


@contextlib.contextmanager
def tracked_run(
    client: MlflowClient,
    uri: str,
    experiment_id: str,
    *,
    name: str,
    tags: Mapping[str, str],
    parent_run_id: str | None = None,
) -> Iterator[str]:
    """A run that ends FINISHED, FAILED if the body raises, KILLED on Ctrl-C."""
    run_id = start_run(
        client, uri, experiment_id, name=name, tags=tags, parent_run_id=parent_run_id
    )
    try:
        yield run_id
    except KeyboardInterrupt:
        if end_run_if_possible(client, uri, run_id, "KILLED", name):
            warn(f"run '{name}' ({run_id}) interrupted: KILLED")
        raise
    except BaseException:
        end_run_if_possible(client, uri, run_id, "FAILED", name)
        raise
    end_run(client, run_id, "FINISHED")


@contextlib.contextmanager
def server_loss_explained(uri: str) -> Iterator[None]:
    """A tracking server that stops answering inside the body: one TrackingError saying so
    (which server, how long it was retried, what to change) instead of MLflow's trace."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, TrackingError) or not http_store.is_http(uri):
            raise
        if http_store.is_lost_server(exc):
            raise StoreLost(http_store.lost_server_message(uri)) from exc
        raise


def end_run_if_possible(
    client: MlflowClient, uri: str, run_id: str, status: str, name: str
) -> bool:
    """End a run that is ending badly anyway; if its store cannot be told (a server that is
    gone: one quick look, not minutes of retries), say so and go on."""
    try:
        if http_store.is_http(uri):
            check_reachable(uri)
        end_run(client, run_id, status)
        return True
    except Exception as exc:
        _open_runs.pop(run_id, None)  # no second attempt at exit
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warn(
            f"could not record run '{name}' ({run_id}) as {status} ({reason}); it stays "
            "RUNNING in the store until the next sweep or `make orphans` marks it KILLED"
        )
        return False


# --- logging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    key: str
    steps: Sequence[int]
    values: Sequence[float]

    def without_repeats(self) -> Curve:
        """The same polyline with fewer points: a point equal to both neighbours is dropped
        (the ends stay), so a piecewise-constant curve costs a few writes, not one a step,
        and MLflow's chart, joining points with lines, draws exactly the same picture."""
        v, keep = list(self.values), []
        for i in range(len(v)):
            if i in (0, len(v) - 1) or not (v[i] == v[i - 1] == v[i + 1]):
                keep.append(i)
        return Curve(self.key, [self.steps[i] for i in keep], [v[i] for i in keep])

    def thinned(self, points: int) -> Curve:
        """At most about ``points`` points, evenly spaced in index, both ends kept (0: all)."""
        n = len(self.steps)
        if points <= 0 or n <= points:
            return self
        keep = sorted({round(k * (n - 1) / (points - 1)) for k in range(points)})
        return Curve(self.key, [self.steps[i] for i in keep], [self.values[i] for i in keep])


def log_params(client: MlflowClient, run_id: str, params: Mapping[str, Any]) -> None:
    log_metrics(client, run_id, {}, params=params)


def log_metrics(
    client: MlflowClient,
    run_id: str,
    scalars: Mapping[str, float],
    curves: Sequence[Curve] = (),
    *,
    final_step: int = 0,
    params: Mapping[str, Any] | None = None,
) -> None:
    """Scalars and whole curves (and ``params``) in as few requests as MLflow allows (never
    point by point): each request costs the store a few milliseconds besides its rows."""
    import time

    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    metrics = [Metric(k, float(v), now, final_step) for k, v in sorted(scalars.items())]
    for curve in curves:
        metrics += [
            Metric(curve.key, float(v), now, int(s))
            for s, v in zip(curve.steps, curve.values, strict=True)
        ]
    items = [Param(k, str(v)) for k, v in sorted((params or {}).items())]
    while metrics or items:
        some_params = items[:_MAX_PARAMS_PER_BATCH]
        room = min(_MAX_METRICS_PER_BATCH, _MAX_ENTITIES_PER_BATCH - len(some_params))
        some_metrics = metrics[:room]
        client.log_batch(run_id, metrics=some_metrics, params=some_params)
        items, metrics = items[len(some_params) :], metrics[len(some_metrics) :]


def log_text(client: MlflowClient, run_id: str, text: str, artifact_file: str) -> None:
    client.log_text(run_id, text, artifact_file)


def log_table(client: MlflowClient, run_id: str, columns: dict[str, list], artifact_file: str):
    """A table artifact (MLflow's log_table: the UI shows it as a table)."""
    client.log_table(run_id, data=columns, artifact_file=artifact_file)


def warn(message: str) -> None:
    print(f"initlab: {message}", file=sys.stderr)
