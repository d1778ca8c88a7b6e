"""Bad stores: damaged, not MLflow's, read-only, unwritable, locked. Each is refused before
anything is written, in a line that names the file and the fix, and the store is untouched."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import run_cli
from initlab import stores
from initlab.tracking import TrackingError

FAST = "trainer.iterations=50"


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> Path:
    """A real store with one finished run in it."""
    cwd = tmp_path_factory.mktemp("good")
    db = cwd / "mlruns" / "mlflow.db"
    result = run_cli(FAST, uri=f"sqlite:///{db}", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return db


def _damage(good: Path, tmp_path: Path, how: str) -> Path:
    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir(parents=True)
    data = good.read_bytes()
    if how == "truncated":
        db.write_bytes(data[: len(data) // 2])
    elif how == "overwritten":
        db.write_bytes(b"not a database\n" * 200)
    elif how == "not_mlflow":
        with contextlib.closing(sqlite3.connect(db)) as con, con:
            con.execute("CREATE TABLE notes (text TEXT)")
    return db


@pytest.mark.parametrize(
    "how,expected",
    [
        ("truncated", "shorter than its header says (truncated?)"),
        ("overwritten", "is not an SQLite database"),
        ("not_mlflow", "not an MLflow store"),
    ],
)
@pytest.mark.parametrize("mode", [[], ["-m", "init=he,xavier"]], ids=["single", "multirun"])
def test_a_damaged_store_is_refused_and_left_untouched(good_store, tmp_path, how, expected, mode):
    db = _damage(good_store, tmp_path, how)
    before = db.read_bytes()
    result = run_cli(*mode, FAST, uri=f"sqlite:///{db}", cwd=tmp_path)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert expected in message and str(db) in message and f"mv {db} {db}.broken" in message
    assert "Traceback" not in message
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["mlflow.db"]  # no journal, no runs


def test_the_report_over_a_damaged_store_says_which_file(good_store, tmp_path, capsys):
    from initlab.report import main

    db = _damage(good_store, tmp_path, "truncated")
    before = db.read_bytes()
    assert main(["--tracking-uri", f"sqlite:///{db}", "--out", str(tmp_path / "reports")]) != 0
    message = capsys.readouterr().err
    assert f"the MLflow store {db} is shorter than its header says" in message
    assert not (tmp_path / "reports").exists() and db.read_bytes() == before


def test_an_empty_file_becomes_a_store(tmp_path):
    db = tmp_path / "mlflow.db"
    db.touch()
    result = run_cli(FAST, uri=f"sqlite:///{db}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    stores.check_sqlite_file(db)  # a whole MLflow store now


@contextlib.contextmanager
def _immutable(path: Path):
    """``path`` cannot be written, for root too (chattr +i); skips, saying why, where the
    file system or the container does not allow it."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed: cannot make a file unwritable for root")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i refused here ({made.stderr.strip()}): cannot test read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_an_unwritable_store_folder_is_refused_at_once(tmp_path):
    folder = tmp_path / "locked-folder"
    folder.mkdir()
    with _immutable(folder):
        started = time.monotonic()
        result = run_cli(FAST, uri=f"sqlite:///{folder / 'mlflow.db'}", cwd=tmp_path)
        elapsed = time.monotonic() - started
    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"the MLflow store folder {folder} is not writable" in message
    assert "Traceback" not in message and elapsed < 60  # was: MLflow's retries, 104 s
    assert list(folder.iterdir()) == []


def test_a_read_only_store_is_refused(good_store, tmp_path):
    db = tmp_path / "mlflow.db"
    shutil.copyfile(good_store, db)
    before = db.read_bytes()
    with _immutable(db):
        result = run_cli(FAST, uri=f"sqlite:///{db}", cwd=tmp_path)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"the MLflow store {db} is read-only" in message and "Traceback" not in message
    assert db.read_bytes() == before


def test_a_read_only_artifacts_folder_is_refused(good_store, tmp_path):
    db = tmp_path / "mlflow.db"
    shutil.copyfile(good_store, db)
    (tmp_path / "artifacts").mkdir()
    with _immutable(tmp_path / "artifacts"):
        result = run_cli(FAST, uri=f"sqlite:///{db}", cwd=tmp_path)
    message = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in message
    assert f"{tmp_path / 'artifacts'} is not writable" in message and "figures" in message


@contextlib.contextmanager
def _locked(db: Path, seconds: float):
    """Another process's write lock on ``db``, released after ``seconds``."""
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(seconds, holder.rollback)
    release.start()
    try:
        yield
    finally:
        release.cancel()
        with contextlib.suppress(sqlite3.Error):
            holder.rollback()
        holder.close()


def _run_with_lock_wait(db: Path, tmp_path: Path, wait: float, *args: str):
    import os

    os.environ[stores.LOCK_WAIT_ENV] = str(wait)
    try:
        return run_cli(*args, FAST, uri=f"sqlite:///{db}", cwd=tmp_path)
    finally:
        os.environ.pop(stores.LOCK_WAIT_ENV)


def test_a_lock_is_waited_for_and_said_so(good_store, tmp_path):
    db = tmp_path / "mlflow.db"
    shutil.copyfile(good_store, db)
    with _locked(db, seconds=2):
        result = _run_with_lock_wait(db, tmp_path, 30)
    assert result.returncode == 0, result.stderr
    assert f"the MLflow store {db} is locked by another process; waiting up to 30 s" in (
        result.stderr
    )


@pytest.mark.parametrize("mode", [[], ["-m", "init=he,xavier"]], ids=["single", "multirun"])
def test_a_lock_that_stays_fails_after_the_stated_wait(good_store, tmp_path, mode):
    db = tmp_path / "mlflow.db"
    shutil.copyfile(good_store, db)
    started = time.monotonic()
    with _locked(db, seconds=120):
        result = _run_with_lock_wait(db, tmp_path, 3, *mode)
        elapsed = time.monotonic() - started
    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{db} is still locked by another process after 3 s" in message
    assert "Traceback" not in message and elapsed < 60
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    assert len(client.search_runs([e.experiment_id for e in client.search_experiments()])) == 1


@pytest.mark.parametrize(
    "uri,scheme",
    [
        ("sqlite:////tmp/x/mlflow.db", "sqlite"),
        ("postgresql+psycopg://u@localhost/db", "postgresql"),
        ("http://127.0.0.1:5000", "http"),
        ("/tmp/x", ""),
        ("mlruns", ""),
        ("file:///tmp/x", "file"),
        ("foo://bar", "foo"),
    ],
)
def test_scheme_of(uri, scheme):
    assert stores.scheme_of(uri) == scheme


def test_sqlite_paths_and_the_lock_timeout_mlflow_gets():
    assert stores.sqlite_path("sqlite:////tmp/x/mlflow.db") == Path("/tmp/x/mlflow.db")
    assert stores.sqlite_path("sqlite:///rel/mlflow.db?timeout=3") == Path("rel/mlflow.db")
    assert stores.sqlite_path("sqlite:///:memory:") is None
    assert stores.sqlite_uri_for_mlflow("sqlite:////a.db").endswith("?timeout=60")
    assert stores.sqlite_uri_for_mlflow("sqlite:////a.db?timeout=3") == "sqlite:////a.db?timeout=3"
    assert stores.sqlite_uri_for_mlflow("http://h:1") == "http://h:1"
    with pytest.raises(TrackingError, match="sqlite:///<path"):
        stores.check_uri("sqlite://relative.db")
