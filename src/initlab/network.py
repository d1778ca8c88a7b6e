"""A fully connected binary classifier in NumPy, with a leading replica axis on every array.

Parameters of K independent networks of the same shape are stacked: ``weights[l]`` has shape
``(K, n_out, n_in)`` and ``biases[l]`` ``(K, n_out, 1)``. Inputs ``X`` are ``(n_in, m)`` and
shared by all replicas, so the first layer is one broadcast matrix product. With K = 1 every
operation is the course's, in the course's order, so results are bit-identical to it.

Hidden layers use the configured activation; the output is one sigmoid unit trained with
cross-entropy, whose value is computed stably from the logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from initlab.activations import Activation, sigmoid


@dataclass
class Params:
    weights: list[np.ndarray]
    biases: list[np.ndarray]

    @property
    def replicas(self) -> int:
        return self.weights[0].shape[0]

    @property
    def layer_dims(self) -> list[int]:
        return [self.weights[0].shape[2]] + [w.shape[1] for w in self.weights]

    def copy(self) -> Params:
        return Params([w.copy() for w in self.weights], [b.copy() for b in self.biases])

    def take(self, replicas: slice) -> Params:
        """A copy of some replicas, keeping the leading axis."""
        return Params(
            [w[replicas].copy() for w in self.weights], [b[replicas].copy() for b in self.biases]
        )

    def replica(self, k: int) -> Params:
        """Replica k alone, still with a leading axis of length 1."""
        return self.take(slice(k, k + 1))

    @staticmethod
    def stack(parts: list[Params]) -> Params:
        n_layers = len(parts[0].weights)
        return Params(
            [np.concatenate([p.weights[layer] for p in parts]) for layer in range(n_layers)],
            [np.concatenate([p.biases[layer] for p in parts]) for layer in range(n_layers)],
        )


@dataclass
class Forward:
    """What backprop needs: pre-activations ``zs`` and activations ``activations`` per layer."""

    zs: list[np.ndarray]
    activations: list[np.ndarray]  # activations[0] is the input X

    @property
    def logits(self) -> np.ndarray:
        return self.zs[-1]

    @property
    def probs(self) -> np.ndarray:
        return self.activations[-1]


def forward(params: Params, X: np.ndarray, act: Activation) -> Forward:
    a = X
    zs, activations = [], [X]
    last = len(params.weights) - 1
    for layer, (w, b) in enumerate(zip(params.weights, params.biases, strict=True)):
        z = w @ a + b
        a = sigmoid(z) if layer == last else act(z)
        zs.append(z)
        activations.append(a)
    return Forward(zs, activations)


def cross_entropy(logits: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy per replica, from logits: finite where log(sigmoid) is not.

    Uses -[y log σ(z) + (1-y) log(1-σ(z))] = max(z, 0) - z·y + log(1 + exp(-|z|)).
    """
    m = Y.shape[-1]
    losses = np.maximum(logits, 0) - logits * Y + np.log1p(np.exp(-np.abs(logits)))
    return 1.0 / m * losses.sum(axis=(-2, -1))


def backward(params: Params, fwd: Forward, Y: np.ndarray, act: Activation) -> Params:
    """Gradients of the mean cross-entropy, in the course's order of operations."""
    m = Y.shape[-1]
    n_layers = len(params.weights)
    grad_w: list[np.ndarray] = [np.empty(0)] * n_layers
    grad_b: list[np.ndarray] = [np.empty(0)] * n_layers
    dz = 1.0 / m * (fwd.probs - Y)
    for layer in range(n_layers - 1, -1, -1):
        a_prev = fwd.activations[layer]
        grad_w[layer] = dz @ np.swapaxes(a_prev, -1, -2)
        grad_b[layer] = np.sum(dz, axis=-1, keepdims=True)
        if layer > 0:
            da = np.swapaxes(params.weights[layer], -1, -2) @ dz
            dz = da * act.grad(fwd.zs[layer - 1], a_prev)
    return Params(grad_w, grad_b)


# Columns evaluated at a time by :func:`probabilities`: a chunk of a 30 × 256 net holds
# 2 × 256 × 4096 doubles (16 MB), whatever the depth and the number of points.
CHUNK = 4096


def probabilities(params: Params, X: np.ndarray, act: Activation, chunk: int = CHUNK) -> np.ndarray:
    """σ(output) per replica, shape (K, 1, m), in chunks of columns keeping one layer at a time.

    The same arithmetic as :func:`forward` (so the same numbers), but memory that does not
    grow with depth × m: a decision-boundary grid has ~175k points.
    """
    out = np.empty((params.replicas, params.layer_dims[-1], X.shape[1]))
    last = len(params.weights) - 1
    for start in range(0, X.shape[1], chunk):
        a = X[:, start : start + chunk]
        for layer, (w, b) in enumerate(zip(params.weights, params.biases, strict=True)):
            z = w @ a + b
            a = sigmoid(z) if layer == last else act(z)
        out[..., start : start + chunk] = a
    return out


def predict(params: Params, X: np.ndarray, act: Activation) -> np.ndarray:
    """0/1 predictions, shape (K, 1, m): the course's ``a3 > 0.5``."""
    return (probabilities(params, X, act) > 0.5).astype(np.int64)


def accuracy(params: Params, X: np.ndarray, Y: np.ndarray, act: Activation) -> np.ndarray:
    """Fraction of correct predictions per replica, shape (K,)."""
    return np.mean(predict(params, X, act) == Y, axis=(-2, -1))
