"""Hidden-layer activations: each a forward map and its derivative, vectorized over arrays.

``grad(z, a)`` returns dφ/dz given the pre-activation ``z`` and the activation ``a = φ(z)``
(whichever is cheaper to use). ReLU's derivative is the mask ``z > 0``, exactly as the course
computes it, so the course path stays bit-identical. Every map is safe for large inputs:
no overflow warnings, no NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from initlab.config import ActivationConfig
from initlab.gains import gain_squared

# SELU's constants (Klambauer et al. 2017).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


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

    # In-place forms for the training loop's preallocated buffers; subclasses override them
    # where NumPy can do the work without temporaries.
    # ``mask`` is a boolean scratch buffer of z's shape that ``apply`` may fill for the same
    # layer's ``backprop`` to reuse.
    def apply(self, z: np.ndarray, out: np.ndarray, mask: np.ndarray) -> None:
        """out = φ(z)."""
        np.copyto(out, self(z))

    def backprop(
        self, da: np.ndarray, z: np.ndarray, a: np.ndarray, out: np.ndarray, mask: np.ndarray
    ) -> None:
        """out = da · φ'(z)."""
        np.multiply(da, self.grad(z, a), out=out)

    @property
    def gain_squared(self) -> float:
        """The recommended gain², for ``gain: auto`` and activation-named gains."""
        return gain_squared(self.name)


class Relu(Activation):
    def __call__(self, z):
        return np.maximum(0, z)

    def grad(self, z, a):
        return z > 0

    def apply(self, z, out, mask):
        # z · (z > 0): np.maximum(0, z) up to the sign of zeros, and the mask serves backprop.
        np.greater(z, 0.0, out=mask)
        np.multiply(z, mask, out=out)

    def backprop(self, da, z, a, out, mask):
        np.multiply(da, mask, out=out)


@dataclass(frozen=True)
class LeakyRelu(Activation):
    slope: float = 0.01

    def __call__(self, z):
        return np.where(z > 0, z, self.slope * z)

    def grad(self, z, a):
        return np.where(z > 0, 1.0, self.slope)

    @property
    def gain_squared(self) -> float:
        return gain_squared(self.name, self.slope)


@dataclass(frozen=True)
class Elu(Activation):
    alpha: float = 1.0
    scale: float = 1.0  # SELU is a scaled ELU

    def __call__(self, z):
        # expm1 of min(z, 0): exact near 0, and never overflows for large positive z.
        return self.scale * np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def grad(self, z, a):
        return self.scale * np.where(z > 0, 1.0, self.alpha * np.exp(np.minimum(z, 0)))


class Gelu(Activation):
    """The exact GELU, z·Φ(z) (Hendrycks & Gimpel 2016), not the tanh approximation."""

    def __call__(self, z):
        from scipy.special import ndtr  # Φ, the standard normal CDF

        return z * ndtr(z)

    def grad(self, z, a):
        from scipy.special import ndtr

        with np.errstate(over="ignore"):  # z² overflows for |z| > 1e154; exp(-inf) is 0
            return ndtr(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


class Softplus(Activation):
    def __call__(self, z):
        return np.logaddexp(0.0, z)  # log(1 + e^z) without overflow

    def grad(self, z, a):
        return sigmoid(z)


class Sigmoid(Activation):
    def __call__(self, z):
        return sigmoid(z)

    def grad(self, z, a):
        return a * (1.0 - a)


class Tanh(Activation):
    def __call__(self, z):
        return np.tanh(z)

    def grad(self, z, a):
        return 1.0 - a * a

    def apply(self, z, out, mask):
        np.tanh(z, out=out)

    def backprop(self, da, z, a, out, mask):
        np.multiply(a, a, out=out)
        np.subtract(1.0, out, out=out)
        np.multiply(da, out, out=out)


class Linear(Activation):
    def __call__(self, z):
        return z

    def grad(self, z, a):
        return np.ones_like(z)


def make_activation(cfg: ActivationConfig) -> Activation:
    """The activation an ``activation`` config option names."""
    name = cfg.name
    if name == "leaky_relu":
        return LeakyRelu(name, slope=cfg.slope)  # type: ignore[attr-defined]
    if name == "elu":
        return Elu(name, alpha=cfg.alpha)  # type: ignore[attr-defined]
    if name == "selu":
        return Elu(name, alpha=SELU_ALPHA, scale=SELU_SCALE)
    simple = {
        "relu": Relu, "gelu": Gelu, "softplus": Softplus,
        "sigmoid": Sigmoid, "tanh": Tanh, "linear": Linear,
    }  # fmt: skip
    if name not in simple:
        known = sorted([*simple, "leaky_relu", "elu", "selu"])
        raise ValueError(f"unknown activation {name!r}; choose one of {known}")
    return simple[name](name)
