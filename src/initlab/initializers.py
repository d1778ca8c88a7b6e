"""Weight initialization schemes.

Every scheme draws, layer by layer, ``W = standard_normal((n_out, n_in)) * std`` (the course's
``np.random.randn(n_out, n_in) * scale``) and sets biases to 0, so with the course's generator
(:func:`initlab.seeding.course_rng`) the course's weights come out bit for bit.

``xavier`` here means Glorot & Bengio (2010): Var(W) = 2 / (n_in + n_out). The course notes
also use the name for sqrt(1 / n_in), which is LeCun's rule: select it with ``init=lecun``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from initlab.config import InitConfig
from initlab.network import Params

# std of W for a layer with n_in inputs and n_out outputs; None means "all zeros".
_STD: dict[str, Callable[[InitConfig, int, int], float | None]] = {
    "zeros": lambda cfg, n_in, n_out: None,
    "random": lambda cfg, n_in, n_out: cfg.scale,  # type: ignore[attr-defined]
    "he": lambda cfg, n_in, n_out: math.sqrt(2.0 / n_in),
    "xavier": lambda cfg, n_in, n_out: math.sqrt(2.0 / (n_in + n_out)),
    "lecun": lambda cfg, n_in, n_out: math.sqrt(1.0 / n_in),
}

SCHEMES = tuple(_STD)


def _layer_std(cfg: InitConfig, n_in: int, n_out: int) -> float | None:
    if cfg.name not in _STD:
        raise ValueError(f"unknown init scheme {cfg.name!r}; choose one of {list(SCHEMES)}")
    return _STD[cfg.name](cfg, n_in, n_out)


def weight_std(cfg: InitConfig, n_in: int, n_out: int) -> float:
    """The standard deviation the scheme gives a layer's weights (0 for zeros)."""
    std = _layer_std(cfg, n_in, n_out)
    return 0.0 if std is None else std


def init_layers(cfg: InitConfig, layer_dims: Sequence[int], rng: np.random.RandomState) -> Params:
    """One replica's parameters, shaped with a leading replica axis of length 1."""
    weights, biases = [], []
    for n_in, n_out in itertools.pairwise(layer_dims):
        std = _layer_std(cfg, n_in, n_out)
        # Zeros draws nothing, as in the course; the others draw layer by layer in order.
        w = np.zeros((n_out, n_in)) if std is None else rng.standard_normal((n_out, n_in)) * std
        weights.append(w[np.newaxis])
        biases.append(np.zeros((1, n_out, 1)))
    return Params(weights, biases)


def init_replicas(
    cfgs: Sequence[InitConfig], layer_dims: Sequence[int], rngs: Sequence[np.random.RandomState]
) -> Params:
    """K replicas (one per (scheme, generator) pair) stacked on the leading axis."""
    if len(cfgs) != len(rngs):
        raise ValueError(
            f"need one generator per replica: {len(cfgs)} schemes, {len(rngs)} generators"
        )
    return Params.stack([init_layers(c, layer_dims, r) for c, r in zip(cfgs, rngs, strict=True)])
