"""Shared fixtures: composed configs (hydra.compose), a temporary MLflow store, the CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from initlab.config import CONF_DIR, register_configs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TRAIN = PROJECT_ROOT / "src" / "train.py"

register_configs()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mutmut (``make mutation``), the tests written to kill mutants run first: they are
    fast, and mutmut stops a mutant's tests at the first failure."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        items.sort(key=lambda item: "test_mutants_" not in item.nodeid)


@pytest.fixture
def compose_cfg() -> Iterator[Callable[..., DictConfig]]:
    """compose_cfg("init=he", ...) -> the job config Hydra would build for those overrides."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield lambda *overrides: compose(config_name="config", overrides=list(overrides))


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A tracking URI for an MLflow store of this test alone (created on first use)."""
    return f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"


def run_cli(
    *args: str, uri: str, cwd: Path, timeout: float = 300, preexec_fn=None
) -> subprocess.CompletedProcess:
    """Run ``python src/train.py ARGS`` against the store ``uri``, from ``cwd``."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [
            sys.executable,
            str(TRAIN),
            *args,
            f"hydra.run.dir={cwd}/outputs",
            f"hydra.sweep.dir={cwd}/multirun",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )


# --- the local demo cluster (tests/test_cluster*.py) ----------------------------------------


def cluster_cli(command: str, root: Path, timeout: float) -> subprocess.CompletedProcess:
    """``python -m initlab.cluster COMMAND --dir ROOT``."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "initlab.cluster", command, "--dir", str(root)],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def skip_without_cluster_tools() -> None:
    """Skip, saying why, where Ray, psycopg or PostgreSQL's initdb are missing."""
    from initlab import cluster

    pytest.importorskip("ray")
    pytest.importorskip("psycopg")
    try:
        cluster.pg_tool("initdb")
    except cluster.ClusterError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """A folder for the cluster that the postgres user can reach (pytest's tmp_path, under a
    0700 folder of root's, is not)."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="initlab-cluster-", dir="/tmp"))
    root.chmod(0o755)
    yield root / "c"
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def train_in_session(args: list[str], cwd: Path, env: dict) -> Iterator[subprocess.Popen]:
    """``python src/train.py ARGS`` in a session of its own (so that a signal can go to its
    whole group), stdout and stderr as one text stream; whatever of it is still running at
    the end is killed, group and all."""
    import signal

    process = subprocess.Popen(
        [sys.executable, str(TRAIN), *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
