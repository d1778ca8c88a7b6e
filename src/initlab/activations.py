"""Hidden-layer activations: each a forward map and its derivative, vectorized over arrays.

``grad(z, a)`` returns dφ/dz given the pre-activation ``z`` and the activation ``a = φ(z)``
(whichever is cheaper to use). ReLU's derivative is the mask ``z > 0``, exactly as the course
computes it, so the course path stays bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from initlab.config import ActivationConfig


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), the course's formula; exp overflow to inf gives the right limit 0."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Activation:
    name: str

    def __call__(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def grad(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Relu(Activation):
    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(0, z)

    def grad(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return z > 0


@dataclass(frozen=True)
class LeakyRelu(Activation):
    slope: float = 0.01

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, self.slope * z)

    def grad(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.where(z > 0, 1.0, self.slope)


class Sigmoid(Activation):
    def __call__(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(z)

    def grad(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return a * (1.0 - a)


class Tanh(Activation):
    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z)

    def grad(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return 1.0 - a * a


def make_activation(cfg: ActivationConfig) -> Activation:
    """The activation an ``activation`` config option names."""
    if cfg.name == "leaky_relu":
        return LeakyRelu(cfg.name, slope=cfg.slope)  # type: ignore[attr-defined]
    simple = {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh}
    if cfg.name not in simple:
        raise ValueError(
            f"unknown activation {cfg.name!r}; choose one of {sorted([*simple, 'leaky_relu'])}"
        )
    return simple[cfg.name](cfg.name)
