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


def _circles(n: int, noise: float, factor: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles  # heavy import, only when data is needed

    X, y = make_circles(n_samples=n, noise=noise, factor=factor, random_state=course_rng(seed))
    return X.T, y.reshape(1, -1)


def load_dataset(cfg: DatasetConfig) -> Dataset:
    if cfg.name != "circles":
        raise ValueError(f"unknown dataset {cfg.name!r}; choose one of ['circles']")
    X_train, Y_train = _circles(cfg.n_train, cfg.noise, cfg.factor, cfg.train_seed)  # type: ignore[attr-defined]
    X_test, Y_test = _circles(cfg.n_test, cfg.noise, cfg.factor, cfg.test_seed)  # type: ignore[attr-defined]
    return Dataset(cfg.name, X_train, Y_train, X_test, Y_test)
