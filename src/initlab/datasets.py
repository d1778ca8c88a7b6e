"""Datasets, shaped the course's way: X is (n_features, m), Y is (1, m) of 0/1 labels.

One loader, :func:`load_dataset`, for every option of the ``dataset`` config group:

- generated 2-D sets (``circles``, ``moons``, ``xor``, ``gaussian``, ``spiral``): train and
  test are independent draws from their own seeds, through explicit generators (never global
  random state). ``circles`` is the course's data bit for bit (legacy MT19937 streams, as
  ``np.random.seed`` gives them); the others draw from ``np.random.default_rng(seed)`` or, for
  scikit-learn's generators, ``np.random.RandomState(seed)`` passed as ``random_state``.
- ``csv``: a user's file, read with the standard library; every problem with it is a
  :class:`DatasetError` naming the file, the column and the row.

``standardize`` rescales each feature with the mean and std of the *training* split, applied
to both splits. Results are memoized (a preflight and the job load the same data once) and
their arrays are read-only, since callers share them.
"""

from __future__ import annotations

import csv
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from initlab.config import (
    CirclesDataset,
    ConfigError,
    CsvDataset,
    DatasetConfig,
    GaussianDataset,
    GeneratedDataset,
    MoonsDataset,
    SpiralDataset,
    XorDataset,
    resolve_data_path,
)
from initlab.seeding import course_rng


class DatasetError(ConfigError):
    """The data a valid config points to cannot be used; the message names file, column, row."""


@dataclass(frozen=True)
class Dataset:
    name: str
    X_train: np.ndarray  # (n_features, m_train), float64
    Y_train: np.ndarray  # (1, m_train), 0/1
    X_test: np.ndarray
    Y_test: np.ndarray
    feature_names: tuple[str, ...] = ("x1", "x2")
    # The original label values mapped to 0 and 1, in that order (a CSV's values, sorted).
    classes: tuple[Any, ...] = (0, 1)
    # With standardize: the training statistics, (n_features, 1); raw X = X * std + mean.
    feature_mean: np.ndarray | None = None
    feature_std: np.ndarray | None = None
    # The files read (csv): (resolved path, sha256 of its bytes), to record with a run.
    files: tuple[tuple[str, str], ...] = ()

    @property
    def n_features(self) -> int:
        return self.X_train.shape[0]


# --- generators: each returns X of shape (n, 2) and y of shape (n,) ----------------------


def make_circles(
    n_samples: int, noise: float, factor: float, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """sklearn.datasets.make_circles, step for step (same draws from ``rng``, same result).

    Written out here because importing sklearn costs a run ~0.5 s and ~100 MB for these ten
    lines; the tests check that both give bit-identical data.
    """
    n_out = n_samples // 2
    n_in = n_samples - n_out
    # endpoint=False so that the first point is not also the last
    angles_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    angles_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack(
        [
            np.append(np.cos(angles_out), np.cos(angles_in) * factor),
            np.append(np.sin(angles_out), np.sin(angles_in) * factor),
        ]
    ).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_samples)  # sklearn's shuffle: resample without replacement
    rng.shuffle(order)
    X, y = X[order], y[order]
    X += rng.normal(scale=noise, size=X.shape)
    return X, y


def _balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """n // 2 zeros and the rest ones (as make_circles splits), in random order."""
    return rng.permutation((np.arange(n) >= n // 2).astype(np.intp))


def make_xor(
    n_samples: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [-1, 1]², label 1 where x1 and x2 have opposite signs (the XOR of
    x1 > 0 and x2 > 0); balanced classes. The noise (std ``noise``) is added after labelling,
    so that it blurs the boundary along the axes, as in TensorFlow Playground."""
    y = _balanced_labels(n_samples, rng)
    sign = rng.choice(np.array([-1.0, 1.0]), size=n_samples)
    magnitude = rng.uniform(0.0, 1.0, size=(n_samples, 2))
    X = np.column_stack([sign * magnitude[:, 0], sign * (1 - 2 * y) * magnitude[:, 1]])
    X += rng.normal(scale=noise, size=X.shape)
    return X, y


def make_spiral(
    n_samples: int, noise: float, turns: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals, TensorFlow Playground's construction with the radius r drawn
    uniformly in [0, 1): angle t = 2π·turns·r, plus π for class 1; (r sin t, r cos t) plus
    Gaussian noise of std ``noise``. Balanced classes."""
    y = _balanced_labels(n_samples, rng)
    r = rng.uniform(0.0, 1.0, size=n_samples)
    t = 2 * np.pi * turns * r + np.pi * y
    X = np.column_stack([r * np.sin(t), r * np.cos(t)])
    X += rng.normal(scale=noise, size=X.shape)
    return X, y


def make_moons(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons as sklearn_moons  # lazy: importing costs ~0.5 s

    return sklearn_moons(n_samples=n_samples, noise=noise, random_state=np.random.RandomState(seed))


def gaussian_centres(separation: float, n_features: int = 2) -> np.ndarray:
    """The two blobs' centres: ``separation`` apart on the diagonal, around the origin."""
    c = separation / (2 * math.sqrt(n_features))
    return np.array([[-c] * n_features, [c] * n_features])


def make_gaussian(
    n_samples: int,
    separation: float,
    cluster_std: float,
    noise: float,
    seed: int,
    n_features: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's make_blobs around :func:`gaussian_centres` (class i = centre i); ``noise``,
    when > 0, adds Gaussian noise drawn next from the same stream."""
    from sklearn.datasets import make_blobs  # lazy: importing costs ~0.5 s

    rng = np.random.RandomState(seed)
    X, y = make_blobs(
        n_samples=n_samples,
        centers=gaussian_centres(separation, n_features),
        cluster_std=cluster_std,
        random_state=rng,
    )
    if noise > 0:
        X += rng.normal(scale=noise, size=X.shape)
    return X, y


def _generate(cfg: GeneratedDataset, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One draw of a generated set, in the course's layout: X (features, n), Y (1, n)."""
    if isinstance(cfg, CirclesDataset):
        # The course path: np.random.seed(seed) then make_circles, reproduced bit for bit.
        X, y = make_circles(n, cfg.noise, cfg.factor, course_rng(seed))
    elif isinstance(cfg, MoonsDataset):
        X, y = make_moons(n, cfg.noise, seed)
    elif isinstance(cfg, XorDataset):
        X, y = make_xor(n, cfg.noise, np.random.default_rng(seed))
    elif isinstance(cfg, GaussianDataset):
        X, y = make_gaussian(n, cfg.separation, cfg.cluster_std, cfg.noise, seed, cfg.n_features)
    elif isinstance(cfg, SpiralDataset):
        X, y = make_spiral(n, cfg.noise, cfg.turns, np.random.default_rng(seed))
    else:
        raise DatasetError(f"no generator for dataset {cfg.name!r} ({type(cfg).__name__})")
    return X.T, y.astype(np.intp, copy=False).reshape(1, -1)


# --- CSV files ---------------------------------------------------------------------------


@dataclass
class _Table:
    """The rows of one CSV file that matter: features (m, k), labels, file line numbers."""

    path: Path
    features: list[str]
    X: np.ndarray
    labels: list[str]
    lines: list[int]


def _where(table_path: Path, column: str, row: int, line: int) -> str:
    return f"{table_path}: column {column!r}, row {row} (line {line})"


def _read_csv(path: Path, label: str, features: list[str], key: str) -> _Table:
    """Read ``path``'s header and rows; ``features`` empty means every column but ``label``."""
    if not path.is_file():
        raise DatasetError(f"{key}: no such file: {path}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header: list[str] | None = None
            rows: list[list[str]] = []
            lines: list[int] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank lines (and rows of empty cells) are skipped
                if header is None:
                    header = [cell.strip() for cell in row]
                    continue
                if len(row) != len(header):
                    raise DatasetError(
                        f"{path}: line {reader.line_num} has {len(row)} fields, "
                        f"the header has {len(header)} ({', '.join(header)})"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a UTF-8 text file ({exc})") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: not a readable CSV file ({exc})") from None
    if header is None:
        raise DatasetError(f"{path}: the file is empty (expected a header row of column names)")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise DatasetError(f"{path}: the header repeats column(s) {', '.join(repeated)}")
    columns = ", ".join(repr(c) for c in header)
    wanted = [c for c in header if c != label] if not features else list(features)
    for column, what in [(label, "dataset.label"), *((c, "dataset.features") for c in wanted)]:
        if column not in header:
            raise DatasetError(
                f"{path}: no column {column!r} ({what}); the file's columns are: {columns}"
            )
    if not wanted:
        raise DatasetError(f"{path}: no feature columns besides the label {label!r}")
    if not rows:
        raise DatasetError(f"{path}: no data rows after the header")

    X = np.empty((len(rows), len(wanted)))
    for j, column in enumerate(wanted):
        i_col = header.index(column)
        cells = [row[i_col].strip() for row in rows]
        try:
            X[:, j] = np.array(cells, dtype=np.float64)
        except ValueError:
            X[:, j] = _parse_column(path, column, cells, lines)  # raises, naming the row
        bad = np.flatnonzero(~np.isfinite(X[:, j]))
        if bad.size:
            i = int(bad[0])
            raise DatasetError(
                f"{_where(path, column, i + 1, lines[i])}: {cells[i]!r} is not a finite number"
            )
    i_label = header.index(label)
    labels = [row[i_label].strip() for row in rows]
    for i, value in enumerate(labels):
        if not value:
            raise DatasetError(f"{_where(path, label, i + 1, lines[i])}: the label is empty")
    return _Table(path, wanted, X, labels, lines)


def _parse_column(path: Path, column: str, cells: list[str], lines: list[int]) -> np.ndarray:
    """Cell by cell, to name the first value that is not a number."""
    values = np.empty(len(cells))
    for i, cell in enumerate(cells):
        where = _where(path, column, i + 1, lines[i])
        if not cell:
            raise DatasetError(f"{where}: the value is empty (a feature must be a number)")
        try:
            values[i] = float(cell)
        except ValueError:
            raise DatasetError(f"{where}: {cell!r} is not a number") from None
    return values


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Classes:
    """The two label values of a training file: ``keys[0]`` is 0, ``keys[1]`` is 1."""

    numeric: bool  # all labels are numbers: compared as numbers ("1" and "1.0" are one)
    keys: tuple[Any, Any]

    def code(self, value: str) -> int | None:
        key = _as_number(value) if self.numeric else value
        return self.keys.index(key) if key in self.keys else None

    @property
    def values(self) -> tuple[Any, ...]:
        """The original values, numbers as ints where they are whole."""
        return tuple(int(k) if isinstance(k, float) and k.is_integer() else k for k in self.keys)


def _classes(table: _Table, label: str) -> _Classes:
    """Exactly two distinct label values, sorted (numerically when all are numbers)."""
    distinct = set(table.labels)
    numbers = {v: _as_number(v) for v in distinct}
    numeric = all(x is not None for x in numbers.values())
    if numeric:
        for i, value in enumerate(table.labels):
            if not math.isfinite(numbers[value]):  # type: ignore[arg-type]
                where = _where(table.path, label, i + 1, table.lines[i])
                raise DatasetError(f"{where}: the label {value!r} is not a finite number")
        keys = sorted(set(numbers.values()))
    else:
        keys = sorted(distinct)
    if len(keys) != 2:
        shown = _Classes(numeric, tuple(keys[:10])).values  # type: ignore[arg-type]
        more = f" and {len(keys) - 10} more" if len(keys) > 10 else ""
        raise DatasetError(
            f"{table.path}: column {label!r} (dataset.label) must hold exactly two distinct "
            f"values (the two classes); found {len(keys)}: "
            f"{', '.join(repr(v) for v in shown)}{more}"
        )
    return _Classes(numeric, (keys[0], keys[1]))


def _encode(table: _Table, classes: _Classes, label: str) -> np.ndarray:
    codes = np.empty((1, len(table.labels)), dtype=np.intp)
    for i, value in enumerate(table.labels):
        code = classes.code(value)
        if code is None:
            raise DatasetError(
                f"{_where(table.path, label, i + 1, table.lines[i])}: the label {value!r} is "
                f"not one of the training file's two classes {list(classes.values)}"
            )
        codes[0, i] = code
    return codes


def _load_csv(cfg: CsvDataset) -> tuple[Any, ...]:
    """X_train, Y_train, X_test, Y_test (the course's layout), feature names, classes."""
    path = resolve_data_path(cfg.path)
    train = _read_csv(path, cfg.label, [str(f) for f in cfg.features], "dataset.path")
    classes = _classes(train, cfg.label)
    Y = _encode(train, classes, cfg.label)
    m = Y.shape[1]
    if cfg.test_path is None:
        n_test = math.ceil(m * cfg.test_fraction)  # as scikit-learn's train_test_split
        if m - n_test < 2:
            raise DatasetError(
                f"{path}: {m} data row(s) are too few to hold out dataset.test_fraction="
                f"{cfg.test_fraction} ({n_test} test rows) and keep >= 2 training rows"
            )
        order = np.random.default_rng(cfg.split_seed).permutation(m)
        test, kept = order[:n_test], order[n_test:]
        X_train, Y_train, X_test, Y_test = train.X[kept], Y[:, kept], train.X[test], Y[:, test]
        where = f"{path}: the training split (dataset.split_seed={cfg.split_seed})"
        hint = "use more rows, another split_seed or a separate test_path"
    else:
        if m < 2:
            raise DatasetError(f"{path}: {m} data row is too few for training (needs >= 2)")
        test_file = _read_csv(
            resolve_data_path(cfg.test_path), cfg.label, train.features, "dataset.test_path"
        )
        X_train, Y_train = train.X, Y
        X_test, Y_test = test_file.X, _encode(test_file, classes, cfg.label)
        where, hint = str(path), "training needs rows of both classes"
    if len(set(Y_train[0].tolist())) < 2:
        only = classes.values[int(Y_train[0, 0])]
        raise DatasetError(f"{where} holds only the class {only!r} (column {cfg.label!r}); {hint}")
    return X_train.T, Y_train, X_test.T, Y_test, tuple(train.features), classes.values


# --- loading -----------------------------------------------------------------------------


def standardize(
    X_train: np.ndarray, X_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean 0, std 1 per feature (row) with the training split's statistics, applied to both
    splits. A feature constant on the training split is only centred (its std is taken as 1).
    Returns the two splits, the mean and the std, (n_features, 1)."""
    mean = X_train.mean(axis=1, keepdims=True)
    std = X_train.std(axis=1, keepdims=True)
    constant = np.ptp(X_train, axis=1) == 0
    mean[constant, 0] = X_train[constant, 0]  # exactly: the rounded mean need not be
    std[constant] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std, mean, std


def _build(cfg: DatasetConfig) -> Dataset:
    feature_names: tuple[str, ...] = ("x1", "x2")
    classes: tuple[Any, ...] = (0, 1)
    files: tuple[tuple[str, str], ...] = ()
    if isinstance(cfg, GeneratedDataset):
        X_train, Y_train = _generate(cfg, cfg.n_train, cfg.train_seed)
        X_test, Y_test = _generate(cfg, cfg.n_test, cfg.test_seed)
        feature_names = tuple(f"x{i + 1}" for i in range(X_train.shape[0]))
    elif isinstance(cfg, CsvDataset):
        X_train, Y_train, X_test, Y_test, feature_names, classes = _load_csv(cfg)
        paths = [cfg.path] if cfg.test_path is None else [cfg.path, cfg.test_path]
        files = tuple(_checksum(resolve_data_path(p)) for p in paths)
    else:
        raise DatasetError(f"no loader for dataset {cfg.name!r} ({type(cfg).__name__})")
    mean = std = None
    if cfg.standardize:
        X_train, X_test, mean, std = standardize(X_train, X_test)
    arrays = (X_train, Y_train, X_test, Y_test, mean, std)
    for a in arrays:
        if a is not None:
            a.setflags(write=False)  # shared through the cache: nobody may change them
    return Dataset(
        cfg.name, X_train, Y_train, X_test, Y_test,
        feature_names=feature_names, classes=classes, feature_mean=mean, feature_std=std,
        files=files,
    )  # fmt: skip


def _checksum(path: Path) -> tuple[str, str]:
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def _frozen(value: Any) -> Hashable:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _file_stamp(path: str, key: str) -> tuple[str, int, int]:
    resolved = resolve_data_path(path)
    try:
        stat = resolved.stat()
    except OSError:
        raise DatasetError(f"{key}: no such file: {resolved}") from None
    return str(resolved), stat.st_mtime_ns, stat.st_size


def cache_key(cfg: DatasetConfig) -> Hashable:
    """The config's type and values and, for files, their resolved path, mtime and size."""
    values = tuple((f.name, _frozen(getattr(cfg, f.name))) for f in fields(cfg))
    stamps: tuple = ()
    if isinstance(cfg, CsvDataset):
        stamps = (_file_stamp(cfg.path, "dataset.path"),)
        if cfg.test_path is not None:
            stamps += (_file_stamp(cfg.test_path, "dataset.test_path"),)
    return (type(cfg).__qualname__, values, stamps)


_CACHE_SIZE = 8
_cache: OrderedDict[Hashable, Dataset] = OrderedDict()
_cache_lock = threading.Lock()


def load_dataset(cfg: DatasetConfig) -> Dataset:
    """The train and test sets ``cfg`` describes (memoized: the same arrays, read-only, for
    the same config and files). Raises :class:`DatasetError` for data that cannot be used."""
    key = cache_key(cfg)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    data = _build(cfg)
    with _cache_lock:
        _cache[key] = data
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return data


def clear_cache() -> None:
    """Forget every memoized dataset (tests; a file rewritten within the mtime resolution)."""
    with _cache_lock:
        _cache.clear()
