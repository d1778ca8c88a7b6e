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
from dataclasses import dataclass, field

import numpy as np

from initlab.activations import Activation, sigmoid
from initlab.config import InitConfig
from initlab.initializers import expected_weight_mean, expected_weight_std
from initlab.network import Forward, Params, backward, forward

RELU_LIKE = ("relu", "leaky_relu", "elu", "selu", "gelu", "softplus")
SATURATING = ("sigmoid", "tanh")
SATURATION = 0.05  # a unit is saturated where φ' is below 5% of its largest value

# Gaussian expectations by the trapezoidal rule on ±12 standard deviations. Gauss–Hermite
# would need far fewer nodes for smooth φ, but converges slowly at ReLU's kink (0.3% off
# for E[relu] with 160 nodes); a fine uniform grid is accurate to ~1e-7 for every φ here.
_GRID = np.linspace(-12.0, 12.0, 24_001)
_DENSITY = np.exp(-0.5 * _GRID * _GRID) / np.sqrt(2 * np.pi)


def gaussian_moments(phi, mean: float, variance: float) -> tuple[float, float]:
    """(E[φ(z)], E[φ(z)²]) for z ~ N(mean, variance), by quadrature."""
    values = phi(mean + np.sqrt(max(variance, 0.0)) * _GRID)
    return (
        float(np.trapezoid(values * _DENSITY, _GRID)),
        float(np.trapezoid(values * values * _DENSITY, _GRID)),
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
) -> SignalPrediction:
    """The variance recursion from the data's second moment through every layer."""
    second_moment = float(np.mean(X * X))  # E[x²] of the inputs, per feature
    z_std, a_std = [], []
    last = len(weight_second_moments) - 1
    for layer, (n_in, s, b) in enumerate(
        zip(layer_dims[:-1], weight_second_moments, biases, strict=True)
    ):
        variance = n_in * s * second_moment
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
    return int(np.unique(np.round(rows / (scale * rel_tol)), axis=0).shape[0])


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
    expected_mean = [
        expected_weight_mean(cfg, n_in, n_out, act) for n_in, n_out in itertools.pairwise(dims)
    ]
    # The recursion needs E[W²]. LSUV rescales on data, so only its realised weights know it.
    data_dependent = cfg.name == "lsuv"
    second_moments = [
        float(np.mean(w * w)) if data_dependent else sd * sd + m * m
        for w, sd, m in zip(one.weights, expected_std, expected_mean, strict=True)
    ]
    prediction = predict_signal(dims, second_moments, [float(b.mean()) for b in one.biases], X, act)
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
        layers.append(stats)
    return layers, prediction


@dataclass
class TrainingMonitor:
    """Collects per-layer gradient norm, activation std and distinct units while training."""

    steps: list[int] = field(default_factory=list)
    grad_norm: list[np.ndarray] = field(default_factory=list)  # each (K, L)
    a_std: list[np.ndarray] = field(default_factory=list)  # each (K, L)
    distinct: list[np.ndarray] = field(default_factory=list)  # each (K, L)

    def __call__(self, iteration: int, params: Params, fwd: Forward, grads: Params) -> None:
        self.steps.append(iteration)
        self.grad_norm.append(
            np.stack([np.sqrt((g * g).sum(axis=(1, 2))) for g in grads.weights], axis=1)
        )
        self.a_std.append(np.stack([a.std(axis=(1, 2)) for a in fwd.activations[1:]], axis=1))
        self.distinct.append(
            np.array(
                [
                    [
                        distinct_units(w[k], b[k])
                        for w, b in zip(params.weights, params.biases, strict=True)
                    ]
                    for k in range(params.replicas)
                ]
            )
        )

    def take(self, replicas: slice) -> TrainingMonitor:
        """The same record for some of the replicas."""
        return TrainingMonitor(
            list(self.steps),
            [g[replicas] for g in self.grad_norm],
            [a[replicas] for a in self.a_std],
            [d[replicas] for d in self.distinct],
        )

    def curves(self, replica: int = 0) -> dict[str, tuple[list[int], list[float]]]:
        """``{"train/layer1/grad_norm": (steps, values), ...}`` for one replica."""
        out: dict[str, tuple[list[int], list[float]]] = {}
        if not self.steps:
            return out
        for key, series in (
            ("grad_norm", self.grad_norm),
            ("a_std", self.a_std),
            ("distinct_units", self.distinct),
        ):
            table = np.stack(series)[:, replica, :]  # (n_logged, L)
            for layer in range(table.shape[1]):
                out[f"train/layer{layer + 1}/{key}"] = (
                    list(self.steps),
                    table[:, layer].astype(float).tolist(),
                )
        return out
