"""The report's reading side: which runs a report is about, and each run as a table row.

Reading never creates anything in the store: a missing store, experiment or run is an error.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from initlab import stores, tracking
from initlab.divergence import DIVERGED_TAG

if TYPE_CHECKING:  # mlflow costs seconds to import: not for --help
    from mlflow.entities import Experiment, Run
    from mlflow.tracking import MlflowClient

DEFAULT_EXPERIMENT = "initialization"
NO_OVERRIDES = "defaults"  # the overrides tag of a job run with no overrides
DEPTH_KEYS = ("z_std", "z_std_predicted", "z_std_draws")  # init/<key>, step = layer


class ReportError(Exception):
    """Nothing to report (no store, experiment or run), or MLflow refused: a message, no trace."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class RunRow:
    """One job run, as the report shows it."""

    run_id: str
    name: str
    job: str  # the job number tag, "" if the run has none
    groups: dict[str, str]  # init / activation / dataset choice names
    overrides: str  # space-separated Hydra overrides, "" for none
    status: str
    final_cost: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    steps: tuple[int, ...]
    costs: tuple[float, ...]
    # What distinguishes this run in the sweep: the varying keys and their values here.
    values: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    seeds: int = 1
    train_std: float | None = None  # over seeds
    test_std: float | None = None
    failed_fraction: float | None = None
    diverged: str = ""  # why (the run's initlab.diverged tag), "" if it did not
    cost_band: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # min, max over seeds
    depth_curves: dict[str, dict[int, float]] = field(default_factory=dict)
    grad_norms: dict[int, tuple[list[int], list[float]]] = field(default_factory=dict)
    # For the phase diagram: the mean-field point the run recorded at init (None if not).
    sigma_w: float | None = None
    sigma_b: float | None = None
    depth: int | None = None
    activation: tuple[tuple[str, str], ...] = ()  # the activation's params, name first
    bias_mean: float = 0.0

    @property
    def label(self) -> str:
        what = self.overrides or ", ".join(f"{k}={v}" for k, v in self.groups.items() if v)
        what = what or self.name
        return f"job {self.job}: {what}" if self.job else what

    @property
    def short_label(self) -> str:
        """The job number and only what varies in the sweep."""
        what = " ".join(f"{k}={v}" for k, v in self.values.items()) or self.name
        return f"{self.job}: {what}" if self.job else what


def select_runs(
    client: MlflowClient, experiment: str | None, run_id: str | None
) -> tuple[Experiment, Run | None, list[Run]]:
    """(experiment, sweep parent or None, the job runs to report)."""
    if run_id:
        return _runs_of_given_run(client, experiment, run_id)
    exp = find_experiment(client, experiment or DEFAULT_EXPERIMENT)
    sweeps = _search(
        client, exp.experiment_id, f"tags.`{tracking.ROLE_TAG}` = 'sweep'", max_results=1
    )
    if sweeps:
        return exp, sweeps[0], children_of(client, exp.experiment_id, sweeps[0].info.run_id)
    # No multirun yet: the single runs (job role, no parent) stand in for a sweep.
    jobs = _search(client, exp.experiment_id, f"tags.`{tracking.ROLE_TAG}` = 'job'")
    top_level = [run for run in jobs if tracking.PARENT_TAG not in run.data.tags]
    if not top_level:
        raise ReportError(f"experiment '{exp.name}' has no sweep and no job runs")
    return exp, None, top_level


def _runs_of_given_run(
    client: MlflowClient, experiment: str | None, run_id: str
) -> tuple[Experiment, Run | None, list[Run]]:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ReportError(f"no run '{run_id}' in the store") from exc
    if run.info.lifecycle_stage == "deleted":
        raise ReportError(f"run '{run_id}' is deleted")
    exp = client.get_experiment(run.info.experiment_id)
    if experiment and experiment != exp.name:
        raise ReportError(f"run '{run_id}' belongs to experiment '{exp.name}', not '{experiment}'")
    children = children_of(client, exp.experiment_id, run_id)
    if children or run.data.tags.get(tracking.ROLE_TAG) == "sweep":
        return exp, run, children
    return exp, None, [run]  # a single job run: a one-row report


def find_experiment(client: MlflowClient, name: str) -> Experiment:
    exp = client.get_experiment_by_name(name)  # a look-up: never creates the experiment
    if exp is None or exp.lifecycle_stage == "deleted":
        raise ReportError(f"no experiment '{name}' in the store")
    return exp


def children_of(client: MlflowClient, experiment_id: str, parent_id: str) -> list[Run]:
    return _search(client, experiment_id, f"tags.`{tracking.PARENT_TAG}` = '{parent_id}'")


def _search(
    client: MlflowClient, experiment_id: str, filter_string: str, max_results: int | None = None
) -> list[Run]:
    """All matching active runs, newest first (run id breaks ties), across result pages."""
    order = ["attributes.start_time DESC", "attributes.run_id ASC"]
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string, max_results=max_results or 1000,
            order_by=order, page_token=token,
        )  # fmt: skip
        runs += page
        token = page.token
        if not token or (max_results and len(runs) >= max_results):
            return runs[:max_results] if max_results else runs


def _activation_params(tags: dict[str, str], params: dict[str, str]) -> tuple:
    """(("name", <choice>), (param, value), ...): the activation as its run configured it."""
    prefix = "activation."
    extra = sorted(
        (key.removeprefix(prefix), value)
        for key, value in params.items()
        if key.startswith(prefix) and key != "activation.name"
    )
    return (("name", tags.get("activation", "")), *extra)


def _sqrt(value: float | None) -> float | None:
    """σ from a recorded σ², rounded so that σ_w = 0.75 (σ² = 0.5625) reads 0.75 again."""
    return None if value is None else round(math.sqrt(value), 12)


def split_overrides(text: str) -> list[str]:
    """'init=he model.hidden=[10, 5]' -> ['init=he', 'model.hidden=[10, 5]'].

    Splits on spaces outside brackets and quotes, since a Hydra value may hold spaces.
    """
    items: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char.isspace() and depth <= 0:
            if current:
                items.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        items.append("".join(current))
    return items


def check_store_exists(uri: str) -> None:
    """Opening a missing SQLite or file store would create it: refuse before MLflow does."""
    scheme = uri.split(":", 1)[0] if "://" in uri or uri.startswith("file:") else ""
    if scheme == "sqlite":
        path = uri.removeprefix("sqlite:///").split("?", 1)[0]
        if not path or path == ":memory:" or not Path(path).is_file():
            raise ReportError(f"no MLflow store at {uri} (run a sweep first, or pass a URI)")
        try:  # damaged, or not MLflow's: say so, not a SQLAlchemy traceback
            stores.check_sqlite_file(Path(path), writable=False)
        except tracking.TrackingError as exc:
            raise ReportError(str(exc)) from exc
    elif scheme in ("http", "https"):
        try:
            tracking.check_reachable(uri)
        except tracking.TrackingError as exc:
            raise ReportError(str(exc)) from exc
    elif scheme in ("", "file") and uri != "databricks":  # a FileStore folder
        path = uri.removeprefix("file://").removeprefix("file:")
        if not Path(path).is_dir():
            raise ReportError(f"no MLflow store at {uri}")


def sweep_keys(runs: Sequence[Run]) -> tuple[list[str], list[str]]:
    """(the keys whose value differs between the runs, in the order typed; key=value pairs
    every run shares), from the runs' override tags and group choices."""
    values: dict[str, list[str]] = {}
    for run in runs:
        for key in parse_overrides(run.data.tags.get(tracking.OVERRIDES_TAG, "")):
            values.setdefault(key, [])
    for run in runs:
        mine = parse_overrides(run.data.tags.get(tracking.OVERRIDES_TAG, ""))
        for key in values:
            values[key].append(mine.get(key, "(default)"))
    varying = [key for key, seen in values.items() if len(set(seen)) > 1]
    fixed = [f"{key}={seen[0]}" for key, seen in values.items() if len(set(seen)) == 1]
    for group in tracking.GROUP_TAGS:  # choices nobody typed: the defaults, shared or not
        choices = {run.data.tags.get(group, "") for run in runs}
        if group not in values and len(choices) == 1 and "" not in choices:
            fixed.append(f"{group}={choices.pop()}")
    return varying, fixed


def parse_overrides(text: str) -> dict[str, str]:
    """'init=he +x=1 model.hidden=[10, 5]' -> {'init': 'he', 'x': '1', 'model.hidden': ...}."""
    pairs = {}
    for item in split_overrides("" if text == NO_OVERRIDES else text):
        key, _, value = item.partition("=")
        pairs[key.lstrip("+~")] = value
    return pairs


def _spread(layers: list[int], most: int = 6) -> list[int]:
    """At most ``most`` of the layers, spread from the first to the last."""
    if len(layers) <= most:
        return layers
    return sorted({layers[round(i * (len(layers) - 1) / (most - 1))] for i in range(most)})


def _history(client: MlflowClient, run_id: str, key: str) -> list:
    return sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))


BULK_KEYS = ("cost", "cost_min", "cost_max", *(f"init/{key}" for key in DEPTH_KEYS))
BULK_CHUNK = 500  # run ids a query (SQLite allows 999 bound variables in old builds)


class Histories:
    """The metric histories every row reads (BULK_KEYS), one query a key for all the runs
    where the store can (MLflow's SQL store), else run by run; other keys run by run. A
    2000-run report reads ~8000 histories: ~2.5 ms each, one at a time."""

    def __init__(self, client: MlflowClient, run_ids: Sequence[str]) -> None:
        self.client = client
        self.run_ids = list(run_ids)
        store = getattr(getattr(client, "_tracking_client", None), "store", None)
        self.bulk = getattr(store, "get_metric_history_bulk", None)
        self.read: dict[str, dict[str, list]] = {}

    def __call__(self, run_id: str, key: str) -> list:
        if self.bulk is None or key not in BULK_KEYS or len(self.run_ids) < 2:
            return _history(self.client, run_id, key)
        if key not in self.read:
            found: dict[str, list] = {}
            for start in range(0, len(self.run_ids), BULK_CHUNK):
                chunk = self.run_ids[start : start + BULK_CHUNK]
                for item in self.bulk(chunk, key, max_results=2**62):
                    found.setdefault(item.run_id, []).append(item)  # a Metric with its run_id
            self.read[key] = {
                run: sorted(metrics, key=lambda m: (m.step, m.timestamp))
                for run, metrics in found.items()
            }
        return self.read[key].get(run_id, [])


def to_row(
    client: MlflowClient,
    run: Run,
    varying: Sequence[str] = (),
    diagnosed: bool = True,
    histories: Histories | None = None,
) -> RunRow:
    """A run as a table row, with what the figures need: its cost curve (and band), its
    signal at init and, if ``diagnosed``, the gradient norms of up to six layers (first to
    last: the gradient figure draws those)."""
    tags, metrics, params = run.data.tags, run.data.metrics, run.data.params
    read = histories or (lambda run_id, key: _history(client, run_id, key))
    history = read(run.info.run_id, "cost")
    overrides = tags.get(tracking.OVERRIDES_TAG, "")
    seeds = int(params.get("seeds", "1") or 1)
    band = None
    if seeds > 1:
        low = [m.value for m in read(run.info.run_id, "cost_min")]
        high = [m.value for m in read(run.info.run_id, "cost_max")]
        band = (tuple(low), tuple(high)) if len(low) == len(high) == len(history) else None
    depth_curves = {}
    grad_norms: dict[int, tuple[list[int], list[float]]] = {}
    if "init/z_std" in metrics:  # diagnostics were on
        for key in DEPTH_KEYS:
            depth_curves[key] = {m.step: m.value for m in read(run.info.run_id, f"init/{key}")}
        layers = sorted(depth_curves["z_std"])
        for layer in _spread(layers) if diagnosed else ():
            points = _history(client, run.info.run_id, f"train/layer{layer}/grad_norm")
            if points:
                grad_norms[layer] = ([m.step for m in points], [m.value for m in points])
    mine = parse_overrides(overrides)
    # A job with several seeds records their means (and its cost curve is their mean).
    final_cost = metrics.get("final_cost", metrics.get("final_cost_mean", metrics.get("cost")))
    return RunRow(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id,
        job=tags.get(tracking.JOB_NUM_TAG, ""),
        groups={group: tags.get(group, "") for group in tracking.GROUP_TAGS},
        overrides="" if overrides == NO_OVERRIDES else overrides,
        status=run.info.status,
        final_cost=final_cost,
        train_accuracy=metrics.get("train_accuracy", metrics.get("train_accuracy_mean")),
        test_accuracy=metrics.get("test_accuracy", metrics.get("test_accuracy_mean")),
        steps=tuple(m.step for m in history),
        costs=tuple(m.value for m in history),
        values={key: mine.get(key, "(default)") for key in varying},
        params=dict(params),
        seeds=seeds,
        train_std=metrics.get("train_accuracy_std"),
        test_std=metrics.get("test_accuracy_std"),
        failed_fraction=metrics.get("failed_fraction"),
        diverged=tags.get(DIVERGED_TAG, ""),
        cost_band=band,
        depth_curves=depth_curves,
        grad_norms=grad_norms,
        sigma_w=_sqrt(metrics.get("init/mean_field/sigma_w2")),
        sigma_b=_sqrt(metrics.get("init/mean_field/sigma_b2")),
        depth=int(metrics["init/mean_field/depth"]) if "init/mean_field/depth" in metrics else None,
        activation=_activation_params(tags, params),
        bias_mean=float(params.get("init.bias", 0.0)),
    )


def _run_order(run: Run) -> tuple[int, int, str, str]:
    """Runs as the report lists them: by job number; runs without one after, by name, id."""
    job = run.data.tags.get(tracking.JOB_NUM_TAG, "")
    if job.isdigit():
        return (0, int(job), "", run.info.run_id)
    return (1, 0, run.info.run_name or run.info.run_id, run.info.run_id)


def download_boundaries(client: MlflowClient, rows: Sequence[RunRow], tmp: Path) -> dict[str, Path]:
    """run id -> local copy of its decision-boundary PNG, for the runs that logged one."""
    return _download(client, rows, tracking.BOUNDARY_ARTIFACT, tmp / "boundaries")


def download_activation_samples(
    client: MlflowClient, rows: Sequence[RunRow], tmp: Path
) -> dict[str, dict[int, np.ndarray]]:
    """run id -> {hidden layer: sampled activations at init}, for the runs that logged them."""
    files = _download(client, rows, tracking.ACTIVATIONS_ARTIFACT, tmp / "activations")
    samples = {}
    for run_id, path in files.items():
        with np.load(path) as archive:
            samples[run_id] = {int(k.removeprefix("layer")): archive[k] for k in archive.files}
    return samples


def _download(client: MlflowClient, rows: Sequence[RunRow], artifact: str, tmp: Path):
    folder = posixpath.dirname(artifact)
    found: dict[str, Path] = {}
    for row in rows:
        listed = {info.path for info in client.list_artifacts(row.run_id, folder or None)}
        if artifact not in listed:
            continue
        dst = tmp / row.run_id
        dst.mkdir(parents=True)
        found[row.run_id] = Path(client.download_artifacts(row.run_id, artifact, str(dst)))
    return found
