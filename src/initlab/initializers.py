"""Weight initialization schemes: draw every layer's weights, set the biases.

Schemes draw layer by layer, input side first, ``W`` of shape ``(n_out, n_in)``; the normal
ones as ``standard_normal((n_out, n_in)) * std`` (the course's ``np.random.randn(n_out,
n_in) * scale``), so with the course's generator (:func:`initlab.seeding.course_rng`) the
course's weights come out bit for bit.

``xavier`` here means Glorot & Bengio (2010): Var(W) = 2 / (n_in + n_out). The course notes
also use the name for sqrt(1 / n_in), which is LeCun's rule: select it with ``init=lecun``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from initlab.activations import Activation
from initlab.config import (
    TRUNCATED_STD_FACTOR,
    ConfigError,
    ConstantInit,
    Distribution,
    FanMode,
    IdentityInit,
    InitConfig,
    LsuvInit,
    NormalInit,
    OrthogonalInit,
    RandomInit,
    SparseInit,
    TruncatedNormalInit,
    UniformInit,
    VarianceScalingInit,
    ZerosInit,
    parse_gain,
)
from initlab.gains import gain_squared
from initlab.network import Params, forward

Rng = np.random.RandomState | np.random.Generator
TRUNCATION = 2.0  # truncated normals are cut at ±2 std


@dataclass
class InitReport:
    """What an initializer did beyond drawing: LSUV's rescaling steps per layer, for one."""

    lsuv_iterations: list[int] = field(default_factory=list)
    lsuv_variances: list[float] = field(default_factory=list)


def resolve_gain_squared(spec: str, act: Activation | None) -> float:
    """gain² for ``auto`` (the run's activation), an activation name, or a number."""
    gain = parse_gain(spec)
    if isinstance(gain, float):
        return gain * gain
    if gain == "auto" or (act is not None and gain == act.name):
        if act is None:
            raise ConfigError("init.gain: 'auto' needs the run's activation")
        return act.gain_squared
    return gain_squared(gain)


def _variance(cfg: VarianceScalingInit, n_in: int, n_out: int, act: Activation | None) -> float:
    g2 = resolve_gain_squared(cfg.gain, act)
    if cfg.mode == FanMode.fan_in:
        return g2 / n_in
    if cfg.mode == FanMode.fan_out:
        return g2 / n_out
    return g2 * 2.0 / (n_in + n_out)  # 2/(n_in+n_out) exactly when the gain is 1


def truncated_standard_normal(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    """N(0, 1) redrawn until every value lies within ±2 (rejection keeps the shape exact)."""
    w = rng.standard_normal(shape)
    outside = np.abs(w) > TRUNCATION
    while outside.any():
        w[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(w) > TRUNCATION
    return w


def _draw(distribution: Distribution, std: float, shape: tuple[int, int], rng: Rng) -> np.ndarray:
    """Zero-mean draws whose std is ``std`` (a truncated normal's is corrected to be)."""
    if distribution == Distribution.uniform:
        bound = math.sqrt(3.0) * std
        return rng.uniform(-bound, bound, shape)
    if distribution == Distribution.truncated_normal:
        return truncated_standard_normal(rng, shape) * (std / TRUNCATED_STD_FACTOR)
    return rng.standard_normal(shape) * std


def _orthogonal(n_out: int, n_in: int, rng: Rng) -> np.ndarray:
    """A semi-orthogonal (n_out, n_in) matrix: rows orthonormal if n_out <= n_in, else columns.

    QR of a Gaussian matrix, with the signs of R's diagonal folded in so that the result is
    uniformly (Haar) distributed, as in torch's orthogonal_.
    """
    tall = rng.standard_normal((max(n_out, n_in), min(n_out, n_in)))
    q, r = np.linalg.qr(tall)
    q *= np.sign(np.diag(r))
    return q if n_out >= n_in else q.T


def _sparse(cfg: SparseInit, n_out: int, n_in: int, rng: Rng) -> np.ndarray:
    """N(0, std²) with ceil(sparsity · n_out) zeros in every column, at random rows."""
    w = rng.standard_normal((n_out, n_in)) * cfg.std
    zeros = math.ceil(cfg.sparsity * n_out)
    for column in range(n_in):
        w[rng.permutation(n_out)[:zeros], column] = 0.0
    return w


def draw_weights(
    cfg: InitConfig, n_in: int, n_out: int, rng: Rng, act: Activation | None = None
) -> np.ndarray:
    """One layer's weights, shape (n_out, n_in)."""
    shape = (n_out, n_in)
    if isinstance(cfg, ZerosInit):
        return np.zeros(shape)  # draws nothing, as in the course
    if isinstance(cfg, ConstantInit):
        return np.full(shape, cfg.value)
    if isinstance(cfg, RandomInit):
        return rng.standard_normal(shape) * cfg.scale
    if isinstance(cfg, NormalInit):
        return rng.standard_normal(shape) * cfg.std
    if isinstance(cfg, UniformInit):
        return rng.uniform(-cfg.bound, cfg.bound, shape)
    if isinstance(cfg, TruncatedNormalInit):
        std = cfg.std / TRUNCATED_STD_FACTOR if cfg.corrected else cfg.std
        return truncated_standard_normal(rng, shape) * std
    if isinstance(cfg, VarianceScalingInit):
        return _draw(cfg.distribution, math.sqrt(_variance(cfg, n_in, n_out, act)), shape, rng)
    if isinstance(cfg, OrthogonalInit | LsuvInit):
        gain = (
            math.sqrt(resolve_gain_squared(cfg.gain, act))
            if isinstance(cfg, OrthogonalInit)
            else 1.0
        )
        return gain * _orthogonal(n_out, n_in, rng)
    if isinstance(cfg, IdentityInit):
        if cfg.strict and n_out != n_in:
            raise ConfigError(
                f"init=identity with strict: true needs square layers, but a layer maps "
                f"{n_in} -> {n_out} units; set init.strict=false for the rectangular identity"
            )
        return math.sqrt(resolve_gain_squared(cfg.gain, act)) * np.eye(n_out, n_in)
    if isinstance(cfg, SparseInit):
        return _sparse(cfg, n_out, n_in, rng)
    raise ConfigError(f"unknown init scheme {cfg.name!r}")


def expected_weight_std(
    cfg: InitConfig, n_in: int, n_out: int, act: Activation | None = None
) -> float:
    """The std of a layer's weights that the scheme's formula gives (over all entries).

    LSUV's depends on the data: this is its orthogonal start's.
    """
    if isinstance(cfg, ZerosInit | ConstantInit):
        return 0.0
    if isinstance(cfg, RandomInit):
        return cfg.scale
    if isinstance(cfg, NormalInit):
        return cfg.std
    if isinstance(cfg, UniformInit):
        return cfg.bound / math.sqrt(3.0)
    if isinstance(cfg, TruncatedNormalInit):
        return cfg.std if cfg.corrected else cfg.std * TRUNCATED_STD_FACTOR
    if isinstance(cfg, VarianceScalingInit):
        return math.sqrt(_variance(cfg, n_in, n_out, act))
    if isinstance(cfg, OrthogonalInit | LsuvInit):
        gain2 = resolve_gain_squared(cfg.gain, act) if isinstance(cfg, OrthogonalInit) else 1.0
        return math.sqrt(gain2 / max(n_in, n_out))  # unit rows (or columns) of length n_in
    if isinstance(cfg, IdentityInit):
        share = min(n_in, n_out) / (n_in * n_out)
        return math.sqrt(resolve_gain_squared(cfg.gain, act) * share * (1 - share))
    if isinstance(cfg, SparseInit):
        return cfg.std * math.sqrt(1 - math.ceil(cfg.sparsity * n_out) / n_out)
    raise ConfigError(f"unknown init scheme {cfg.name!r}")


def expected_weight_mean(
    cfg: InitConfig, n_in: int, n_out: int, act: Activation | None = None
) -> float:
    if isinstance(cfg, ConstantInit):
        return cfg.value
    if isinstance(cfg, IdentityInit):
        return math.sqrt(resolve_gain_squared(cfg.gain, act)) * min(n_in, n_out) / (n_in * n_out)
    return 0.0


def init_layers(
    cfg: InitConfig, layer_dims: Sequence[int], rng: Rng, act: Activation | None = None
) -> Params:
    """One replica's parameters, shaped with a leading replica axis of length 1.

    Layer by layer, the weights are drawn, then (only when ``bias_std`` > 0, so that the
    course's stream is untouched) the biases' noise.
    """
    weights, biases = [], []
    for n_in, n_out in itertools.pairwise(layer_dims):
        weights.append(draw_weights(cfg, n_in, n_out, rng, act)[np.newaxis])
        bias = np.full((1, n_out, 1), float(cfg.bias))
        if cfg.bias_std > 0:
            bias += cfg.bias_std * rng.standard_normal((1, n_out, 1))
        biases.append(bias)
    return Params(weights, biases)


def lsuv(
    params: Params, X: np.ndarray, act: Activation, cfg: LsuvInit
) -> tuple[Params, InitReport]:
    """Layer-sequential unit variance (Mishkin & Matas 2016), on every replica at once.

    Layer by layer from the input, the layer's output (its pre-activation) on the batch is
    measured and the weights divided by its std, until the variance is within ``tolerance``
    of 1. Biases are left as they are (their constant start).
    """
    params = params.copy()
    batch = X if cfg.batch_size == 0 else X[:, : cfg.batch_size]
    report = InitReport()
    for layer in range(len(params.weights)):
        variance = _layer_output_variance(params, batch, act, layer)
        steps = 0
        while np.any(np.abs(variance - 1.0) >= cfg.tolerance) and steps < cfg.max_iterations:
            # Only replicas still outside the tolerance are rescaled: each replica ends as
            # it would alone.
            outside = (np.abs(variance - 1.0) >= cfg.tolerance) & (variance > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(outside, 1.0 / np.sqrt(variance), 1.0)
            params.weights[layer] *= factor[:, np.newaxis, np.newaxis]
            variance = _layer_output_variance(params, batch, act, layer)
            steps += 1
        report.lsuv_iterations.append(steps)
        report.lsuv_variances.append(float(variance[0]))
    return params, report


def _layer_output_variance(
    params: Params, X: np.ndarray, act: Activation, layer: int
) -> np.ndarray:
    head = Params(params.weights[: layer + 1], params.biases[: layer + 1])
    z = forward(head, X, act).zs[layer]
    return z.var(axis=(-2, -1))


def initialize(
    cfg: InitConfig,
    layer_dims: Sequence[int],
    rng: Rng,
    act: Activation,
    X: np.ndarray | None = None,
) -> tuple[Params, InitReport]:
    """The parameters a run starts from; data-dependent schemes (LSUV) use the batch ``X``."""
    params = init_layers(cfg, layer_dims, rng, act)
    if isinstance(cfg, LsuvInit):
        if X is None:
            raise ValueError("init=lsuv needs a data batch")
        return lsuv(params, X, act, cfg)
    return params, InitReport()


def init_replicas(
    cfgs: Sequence[InitConfig],
    layer_dims: Sequence[int],
    rngs: Sequence[Rng],
    act: Activation | None = None,
) -> Params:
    """K replicas (one per (scheme, generator) pair) stacked on the leading axis."""
    if len(cfgs) != len(rngs):
        raise ValueError(
            f"need one generator per replica: {len(cfgs)} schemes, {len(rngs)} generators"
        )
    return Params.stack(
        [init_layers(c, layer_dims, r, act) for c, r in zip(cfgs, rngs, strict=True)]
    )
