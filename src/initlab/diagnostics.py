"""Per-layer diagnostics: what an initialization does to the signal, measured and predicted.

- :func:`initial_diagnostics`: at initialization, per layer, the weight statistics (and the
  std the formula gives), pre-activation and activation statistics over the training set,
  dead or saturated units, the gradient norm of the first step and the number of distinct
  units.
- :func:`predict_signal`: the mean-field variance recursion. A layer with fan-in n and
  weights of second moment s maps pre-activations z ~ N(b, v) to
  v' = n · s · E[φ(z)²] (the expectation by quadrature) around the bias b.
  For zero-mean i.i.d. weights it is the classic q_l = σ_w² E[φ(z)²] + σ_b² recursion.
- :class:`TrainingMonitor`: during training, at the cost-logging interval, per-layer
  gradient norm, activation std and distinct units.

Layers are numbered from 1 (the first hidden layer) to L (the output unit).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from initlab.activations import Activation, sigmoid
from initlab.config import InitConfig
from initlab.initializers import draw_weights, expected_weight_mean, expected_weight_std
from initlab.jacobian import jacobian_singular_values, jacobian_summary
from initlab.meanfield import gaussian_expectation
from initlab.network import Forward, Params, backward, forward

if TYPE_CHECKING:
    from initlab.meanfield import MeanField

RELU_LIKE = ("relu", "leaky_relu", "elu", "selu", "gelu", "softplus")
SATURATING = ("sigmoid", "tanh")
SATURATION = 0.05  # a unit is saturated where φ' is below 5% of its largest value


def gaussian_moments(phi, mean: float, variance: float) -> tuple[float, float]:
    """(E[φ(z)], E[φ(z)²]) for z ~ N(mean, variance), by the mean-field module's quadrature
    (Gauss–Legendre pieces cut at φ's kink, ~1e-13); an infinite variance gives (nan, inf)."""
    if not math.isfinite(variance):
        return math.nan, math.inf
    variance = max(variance, 0.0)
    return (
        gaussian_expectation(phi, mean, variance),
        gaussian_expectation(lambda u: phi(u) ** 2, mean, variance),
    )


@dataclass(frozen=True)
class SignalPrediction:
    """Per layer (1..L): the predicted std of pre-activations and of activations."""

    z_std: list[float]
    a_std: list[float]


def predict_signal(
    layer_dims: list[int],
    weight_second_moments: list[float],
    biases: list[float],
    X: np.ndarray,
    act: Activation,
    bias_variance: float = 0.0,
) -> SignalPrediction:
    """The variance recursion from the data's second moment through every layer; biases have
    the given means and (drawn independently per unit) ``bias_variance``."""
    second_moment = float(np.mean(X * X))  # E[x²] of the inputs, per feature
    z_std, a_std = [], []
    last = len(weight_second_moments) - 1
    for layer, (n_in, s, b) in enumerate(
        zip(layer_dims[:-1], weight_second_moments, biases, strict=True)
    ):
        variance = n_in * s * second_moment + bias_variance
        phi = sigmoid if layer == last else act
        mean_a, mean_a2 = gaussian_moments(phi, b, variance)
        z_std.append(float(np.sqrt(variance)))
        a_std.append(float(np.sqrt(max(mean_a2 - mean_a * mean_a, 0.0))))
        second_moment = mean_a2
    return SignalPrediction(z_std, a_std)


def distinct_units(weights: np.ndarray, biases: np.ndarray, rel_tol: float = 1e-9) -> int:
    """How many different units a layer has: rows of [W | b] equal up to rounding count once.

    Units that start equal get equal gradients and stay equal: a layer of n units then
    computes what one unit would (the symmetry that zeros init never breaks).
    """
    rows = np.hstack([weights, biases])
    scale = float(np.max(np.abs(rows))) or 1.0
    rounded = np.round(rows / (scale * rel_tol))
    if len(rounded) < 2:
        return len(rounded)
    # Rows sorted lexicographically, then the changes counted. (np.unique(axis=0) compares
    # rows through a structured view, and NumPy turns a Ctrl-C that lands there into a
    # TypeError: an interrupted run would end FAILED instead of KILLED.)
    ordered = rounded[np.lexsort(rounded.T[::-1])]
    before, after = ordered[:-1], ordered[1:]
    same = (after == before) | (np.isnan(after) & np.isnan(before))
    return int(1 + np.count_nonzero(~same.all(axis=1)))


def _unit_health(name: str, z: np.ndarray, a: np.ndarray, act: Activation) -> dict[str, float]:
    """Dead units (never positive on the data) or saturated activations, where meaningful."""
    if name in RELU_LIKE:
        return {"dead_fraction": float(np.mean(np.all(z <= 0, axis=-1)))}
    if name in SATURATING:
        peak = 0.25 if name == "sigmoid" else 1.0
        return {"saturated_fraction": float(np.mean(act.grad(z, a) < SATURATION * peak))}
    return {}


def initial_diagnostics(
    params: Params,
    cfg: InitConfig,
    X: np.ndarray,
    Y: np.ndarray,
    act: Activation,
    replica: int = 0,
) -> tuple[list[dict[str, float]], SignalPrediction]:
    """Per-layer statistics of one replica at initialization, and the predicted signal."""
    one = params.replica(replica)
    fwd = forward(one, X, act)
    grads = backward(one, fwd, Y, act)
    dims = one.layer_dims
    expected_std = [
        expected_weight_std(cfg, n_in, n_out, act) for n_in, n_out in itertools.pairwise(dims)
    ]
    prediction = predict_signal(
        dims, weight_second_moments(one, cfg, act), [cfg.bias] * len(dims[1:]), X, act,
        cfg.bias_std**2,
    )  # fmt: skip
    layers = []
    last = len(one.weights) - 1
    for layer, (w, b) in enumerate(zip(one.weights, one.biases, strict=True)):
        z, a = fwd.zs[layer][0], fwd.activations[layer + 1][0]
        stats = {
            "w_mean": float(w.mean()),
            "w_std": float(w.std()),
            "w_std_expected": expected_std[layer],
            "z_mean": float(z.mean()),
            "z_std": float(z.std()),
            "z_std_predicted": prediction.z_std[layer],
            "a_mean": float(a.mean()),
            "a_std": float(a.std()),
            "a_std_predicted": prediction.a_std[layer],
            "grad_norm": float(np.linalg.norm(grads.weights[layer][0])),
            "distinct_units": float(distinct_units(w[0], b[0])),
        }
        if layer < last:
            stats |= _unit_health(act.name, z, a, act)
        else:
            stats |= _output_over_draws(cfg, w[0], b[0], fwd.activations[layer][0], act)
        layers.append(stats)
    return layers, prediction


# The output layer has one unit: the spread of its z over examples is that of one weight
# draw, while the recursion predicts the spread over draws (a hidden layer's many units are
# many draws). In a deep net the last hidden layer's activations are nearly the same for every
# example, so one draw's spread over examples is far below the prediction (75-100% off)
# without the theory failing. The like-for-like measurement redraws the output layer.
OUTPUT_DRAWS = 256
_OUTPUT_DRAWS_SEED = 20_170_101  # fixed: the same redraws for every run


def _output_over_draws(
    cfg: InitConfig, w: np.ndarray, b: np.ndarray, hidden: np.ndarray, act: Activation
) -> dict[str, float]:
    """z and σ(z) of the output unit over OUTPUT_DRAWS draws of its weights and bias (the
    realised one first) and over the examples, given the realised last hidden layer."""
    rng = np.random.default_rng(_OUTPUT_DRAWS_SEED)
    n_in = w.shape[1]
    rows = [w] + [draw_weights(cfg, n_in, 1, rng, act) for _ in range(OUTPUT_DRAWS - 1)]
    W = np.vstack(rows)
    if cfg.name == "lsuv":  # LSUV scales its orthogonal row on data: redraws get that scale
        W[1:] *= np.linalg.norm(w) / np.linalg.norm(W[1:], axis=1, keepdims=True)
    biases = cfg.bias + cfg.bias_std * rng.standard_normal((OUTPUT_DRAWS, 1))
    biases[0] = b[0]
    z = W @ hidden + biases
    return {"z_std_draws": float(z.std()), "a_std_draws": float(sigmoid(z).std())}


def hidden_health(activation: str, fwd: Forward) -> dict[str, np.ndarray]:
    """Per replica and hidden layer, (K, L-1): the dead fraction of ReLU-like units (never
    positive on the data) or the saturated fraction of sigmoid/tanh activations (φ' below
    SATURATION of its peak), as :func:`initial_diagnostics` counts them."""
    zs, hidden = fwd.zs[:-1], fwd.activations[1:-1]
    if activation in RELU_LIKE:
        dead = [np.mean(np.all(z <= 0, axis=-1), axis=-1) for z in zs]
        return {"dead_fraction": np.stack(dead, axis=1)}
    if activation in SATURATING:
        # φ' from the activation: σ' = a(1 - a) (peak 1/4), tanh' = 1 - a² (peak 1).
        slope = (
            (lambda a: a * (1.0 - a) / 0.25) if activation == "sigmoid" else (lambda a: 1 - a * a)
        )
        saturated = [np.mean(slope(a) < SATURATION, axis=(-2, -1)) for a in hidden]
        return {"saturated_fraction": np.stack(saturated, axis=1)}
    return {}


@dataclass
class TrainingMonitor:
    """Per-layer statistics of every replica at each logged iteration, on the training set:
    gradient norm, activation mean and std, distinct units, and for the hidden layers the
    dead (ReLU-like) or saturated (sigmoid, tanh) fraction of the run's ``activation``."""

    activation: str = ""
    steps: list[int] = field(default_factory=list)
    series: dict[str, list[np.ndarray]] = field(default_factory=dict)  # key -> [(K, layers)]

    def __call__(self, iteration: int, params: Params, fwd: Forward, grads: Params) -> None:
        self.steps.append(iteration)
        layers = fwd.activations[1:]
        values = {
            "grad_norm": np.stack(
                [np.sqrt((g * g).sum(axis=(1, 2))) for g in grads.weights], axis=1
            ),
            "a_mean": np.stack([a.mean(axis=(1, 2)) for a in layers], axis=1),
            "a_std": np.stack([a.std(axis=(1, 2)) for a in layers], axis=1),
            "distinct_units": np.array(
                [
                    [
                        distinct_units(w[k], b[k])
                        for w, b in zip(params.weights, params.biases, strict=True)
                    ]
                    for k in range(params.replicas)
                ]
            ),
        } | hidden_health(self.activation, fwd)
        for key, value in values.items():
            self.series.setdefault(key, []).append(value)

    @property
    def grad_norm(self) -> list[np.ndarray]:
        return self.series.get("grad_norm", [])

    @property
    def a_std(self) -> list[np.ndarray]:
        return self.series.get("a_std", [])

    @property
    def distinct(self) -> list[np.ndarray]:
        return self.series.get("distinct_units", [])

    def take(self, replicas: slice) -> TrainingMonitor:
        """The same record for some of the replicas."""
        return TrainingMonitor(
            self.activation,
            list(self.steps),
            {key: [v[replicas] for v in values] for key, values in self.series.items()},
        )

    def curves(self, replica: int = 0) -> dict[str, tuple[list[int], list[float]]]:
        """``{"train/layer1/grad_norm": (steps, values), ...}`` for one replica."""
        out: dict[str, tuple[list[int], list[float]]] = {}
        for key, series in self.series.items():
            table = np.stack(series)[:, replica, :]  # (n_logged, layers)
            for layer in range(table.shape[1]):
                out[f"train/layer{layer + 1}/{key}"] = (
                    list(self.steps),
                    table[:, layer].astype(float).tolist(),
                )
        return out


# --- the theory at initialization: mean field and the Jacobian's spectrum -----------------


def weight_second_moments(one: Params, cfg: InitConfig, act: Activation) -> list[float]:
    """E[W²] of every layer of one replica, as the scheme's formula gives it. LSUV rescales
    on data, so only its realised weights know it."""
    if cfg.name == "lsuv":
        return [float(np.mean(w * w)) for w in one.weights]
    moments = []
    for n_in, n_out in itertools.pairwise(one.layer_dims):
        sd = expected_weight_std(cfg, n_in, n_out, act)
        mean = expected_weight_mean(cfg, n_in, n_out, act)
        moments.append(sd * sd + mean * mean)
    return moments


def effective_sigma_w2(one: Params, cfg: InitConfig, act: Activation) -> float:
    """σ_w² = n_in · E[W²] of the hidden-to-hidden layers (their mean; the first layer's
    when there is only one hidden layer)."""
    dims, moments = one.layer_dims, weight_second_moments(one, cfg, act)
    layers = list(range(1, len(dims) - 2)) or [0]  # hidden -> hidden weight matrices
    return float(np.mean([dims[layer] * moments[layer] for layer in layers]))


def theory_diagnostics(
    params: Params, cfg: InitConfig, X: np.ndarray, act: Activation, replica: int = 0
) -> tuple[dict[str, float], np.ndarray, MeanField]:
    """At initialization: the mean-field point of the net (σ_w², σ_b², μ_b) and the measured
    singular values of its hidden stack's Jacobian (``init/jacobian/...``; see
    :mod:`initlab.jacobian`), as metrics ``init/mean_field/...``, the spectrum and the point."""
    from initlab import meanfield  # (light: numpy only)

    one = params.replica(replica)
    # Where the length map starts: the first layer's variance on these data. It matters only
    # for marginal maps (linear at σ_w² = 1, ReLU at 2), where every q is a fixed point.
    q0 = one.layer_dims[0] * weight_second_moments(one, cfg, act)[0] * float(np.mean(X * X))
    q0 += cfg.bias_std**2
    sigma_w2, sigma_b2 = effective_sigma_w2(one, cfg, act), cfg.bias_std**2
    point = meanfield.summary(act, sigma_w2, sigma_b2, cfg.bias, q0=q0 if q0 > 0 else 1.0)
    values = jacobian_singular_values(params, X, act, replica=replica)
    scalars = {f"init/jacobian/{k}": v for k, v in jacobian_summary(values).items()}
    for key in ("sigma_w2", "sigma_b2", "q_star", "chi1", "c_star", "chi_c", "depth_scale"):
        scalars[f"init/mean_field/{key}"] = float(getattr(point, key))
    scalars["init/mean_field/trainable_depth"] = float(point.trainable_depth)
    scalars["init/mean_field/depth"] = float(len(params.layer_dims) - 2)  # hidden layers
    return scalars, values, point
