"""Datasets, shaped the course's way: X is (n_features, m), Y is (1, m) of 0/1 labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from initlab.config import DatasetConfig
from initlab.seeding import course_rng


@dataclass(frozen=True)
class Dataset:
    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return self.X_train.shape[0]


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


def _circles(n: int, noise: float, factor: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_circles(n, noise, factor, course_rng(seed))
    return X.T, y.reshape(1, -1)


def load_dataset(cfg: DatasetConfig) -> Dataset:
    if cfg.name != "circles":
        raise ValueError(f"unknown dataset {cfg.name!r}; choose one of ['circles']")
    X_train, Y_train = _circles(cfg.n_train, cfg.noise, cfg.factor, cfg.train_seed)  # type: ignore[attr-defined]
    X_test, Y_test = _circles(cfg.n_test, cfg.noise, cfg.factor, cfg.test_seed)  # type: ignore[attr-defined]
    return Dataset(cfg.name, X_train, Y_train, X_test, Y_test)
