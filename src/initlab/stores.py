"""Is this tracking URI a store initlab can use? Checked before anything is written.

MLflow meets a bad store with a SQLAlchemy traceback, minutes of retries, or (for a URI it
does not know) a model-registry error. These checks name the URI or file, what is wrong with
it and what to do, in one line each (:class:`TrackingError`):

- the URI: its scheme is one MLflow can store runs at (a plain folder path is not: MLflow 3
  refuses the old file store);
- a SQLite store: its folder can be created and written to, the file (if any) is an SQLite
  database, whole (not truncated), that holds an MLflow schema, and is writable; another
  process's lock is waited for, for at most :func:`lock_wait_seconds`, and said so.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

# How long a job or a sweep waits for another process's lock on a SQLite store (another sweep
# writing) before it gives up; MLflow's own connections wait as long. $INITLAB_LOCK_WAIT sets it.
LOCK_WAIT_ENV = "INITLAB_LOCK_WAIT"
DEFAULT_LOCK_WAIT_SECONDS = 60.0
SQLITE_MAGIC = b"SQLite format 3\x00"
# Schemes MLflow 3 tracks runs at (a database through SQLAlchemy, or a tracking server).
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
SERVER_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")


def lock_wait_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(LOCK_WAIT_ENV) or DEFAULT_LOCK_WAIT_SECONDS))
    except ValueError:
        return DEFAULT_LOCK_WAIT_SECONDS


class TrackingError(RuntimeError):
    """The tracking store cannot be used; the message says which store, why, and what to do.
    (``initlab.tracking.TrackingError`` is this class.)"""


class StoreLost(TrackingError):
    """The store stopped answering while runs were being written (a tracking server that
    died): runs may exist, left as they were."""


def scheme_of(uri: str) -> str:
    """``sqlite`` for ``sqlite:///x.db``, ``postgresql`` for ``postgresql+psycopg://...``;
    ``""`` for a plain path."""
    if uri in ("databricks",):
        return uri
    head, sep, _ = uri.partition(":")
    if not sep or (len(head) == 1 and head.isalpha()):  # a path (or a Windows drive)
        return ""
    return head.split("+", 1)[0].lower()


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for an in-memory database)."""
    path = uri.removeprefix("sqlite://").removeprefix("/").split("?", 1)[0]
    if uri.startswith("sqlite:////"):
        path = "/" + path.lstrip("/")
    return None if path in ("", ":memory:") else Path(path)


def check_uri(uri: str) -> None:
    """A URI MLflow can store runs at; a plain path or an unknown scheme is refused with the
    URI to use instead."""
    scheme = scheme_of(uri)
    if scheme in DATABASE_SCHEMES + SERVER_SCHEMES:
        if scheme == "sqlite" and not uri.startswith("sqlite:///"):
            raise TrackingError(f"{uri}: write a SQLite store as sqlite:///<path to its .db file>")
        return
    if scheme in ("", "file"):
        path = Path(uri.removeprefix("file://").removeprefix("file:")).expanduser()
        target = path if path.suffix == ".db" else path / "mlflow.db"
        raise TrackingError(
            f"tracking URI {uri} is a path, not a store: MLflow 3 keeps runs in a database. "
            f"Use sqlite:///{target.absolute()} (a store in that folder)"
        )
    raise TrackingError(
        f"tracking URI {uri}: MLflow cannot store runs at a '{scheme}' URI. Use "
        "sqlite:///<path>.db (a local file), http://<host>:<port> (a tracking server) or "
        "postgresql://... (a database)"
    )


def _probe_writable(folder: Path, needed_for: str) -> None:
    """Create and remove a file in ``folder``: permissions, a read-only file system or an
    immutable folder all show here, for root too (``os.access`` would say yes to root)."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".initlab-probe-"):
            pass
    except OSError as exc:
        raise TrackingError(
            f"the MLflow store folder {folder} is not writable ({exc.strerror}): {needed_for}. "
            "Fix its permissions or choose another tracking.uri"
        ) from exc


def _truncated(path: Path, header: bytes) -> bool:
    """Whether the file is shorter than the page count its header states (valid only when
    the header's "version valid for" matches its change counter, as SQLite itself checks)."""
    if len(header) < 100 or header[92:96] != header[24:28]:
        return False
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    return pages > 0 and path.stat().st_size < pages * page_size


def _damaged(path: Path, why: str) -> TrackingError:
    return TrackingError(
        f"the MLflow store {path} {why}. initlab left it untouched: move it aside "
        f"(mv {path} {path}.broken) to start a new store there, or restore it from a backup"
    )


def check_sqlite_file(path: Path, writable: bool = True) -> None:
    """An existing database file that is whole, not locked by another process (waited for),
    holds MLflow's schema, and (``writable``) can be written."""
    with open(path, "rb") as file:
        header = file.read(100)
    if not header:
        return  # an empty file is an empty database: MLflow builds its schema in it
    if not header.startswith(SQLITE_MAGIC):
        raise _damaged(path, "is not an SQLite database (overwritten?)")
    if _truncated(path, header):
        raise _damaged(path, "is shorter than its header says (truncated?)")
    wait_for_lock(path)
    try:
        with contextlib.closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True,
                                                timeout=lock_wait_seconds())) as db:  # fmt: skip
            db.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            raise _damaged(path, "is an SQLite database but not an MLflow store") from exc
        raise _damaged(path, f"cannot be read ({exc})") from exc
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, f"is damaged ({exc})") from exc
    if not writable:
        return
    try:
        with open(path, "r+b"):
            pass
    except OSError as exc:
        raise TrackingError(
            f"the MLflow store {path} is read-only ({exc.strerror}): runs cannot be recorded. "
            "Fix its permissions, or choose another tracking.uri"
        ) from exc


def wait_for_lock(path: Path, wait: float | None = None) -> None:
    """Wait (at most ``wait`` seconds, :func:`lock_wait_seconds` by default, saying so) until
    no other process holds a lock that would stop us writing to the store; fail clearly if
    one still does."""
    wait = lock_wait_seconds() if wait is None else wait
    started = time.monotonic()
    said = False
    while True:
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=min(1.0, wait))) as db:
                db.execute("BEGIN IMMEDIATE")  # a write lock, released at once
                db.rollback()
            return
        except sqlite3.DatabaseError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise _damaged(path, f"cannot be opened for writing ({exc})") from exc
        waited = time.monotonic() - started
        if waited >= wait:
            raise TrackingError(
                f"the MLflow store {path} is still locked by another process after {wait:.0f} s "
                "(another sweep writing, or a program holding a transaction open). Try again "
                "when it is done"
            )
        if not said:
            print(
                f"initlab: the MLflow store {path} is locked by another process; "
                f"waiting up to {wait:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            said = True


def check_sqlite_store(path: Path) -> None:
    """A SQLite store initlab can write to: folder, file, schema, lock."""
    folder = path.absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackingError(f"cannot create the MLflow store folder {folder}: {exc}") from exc
    _probe_writable(folder, "SQLite writes beside its database")
    artifacts = folder / "artifacts"  # where initlab's experiments keep the runs' files
    if artifacts.is_dir():
        _probe_writable(artifacts, "the runs' figures and files go there")
    if path.exists():
        if not path.is_file():
            raise TrackingError(
                f"the MLflow store {path} is not a file: choose another tracking.uri"
            )
        check_sqlite_file(path)


def sqlite_uri_for_mlflow(uri: str) -> str:
    """The URI MLflow's client gets: for SQLite, its connections wait for a lock as long as
    :func:`wait_for_lock` does (SQLite's default is 5 s), unless the URI sets a timeout."""
    if scheme_of(uri) != "sqlite" or "timeout=" in uri:
        return uri
    joiner = "&" if "?" in uri else "?"
    return f"{uri}{joiner}timeout={max(lock_wait_seconds(), 5.0):g}"
