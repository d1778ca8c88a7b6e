"""The singular values of the hidden stack's input-output Jacobian at initialization.

For hidden layers ``z_l = W_l h_{l-1} + b_l``, ``h_l = φ(z_l)`` (l = 1..L), the Jacobian of the
last hidden layer's activations with respect to the first's is::

    J(x) = ∂h_L/∂h_1 = D_L W_L D_{L-1} W_{L-1} ··· D_2 W_2,   D_l = diag(φ'(z_l(x))),

an ``n_L × n_1`` matrix per input x. The network's input layer (often 2 inputs) and its single
sigmoid output unit are left out: their Jacobians have only 1-2 singular values and would hide
the spectrum of the deep part. With one hidden layer J is the ``n_1 × n_1`` identity (no layer
lies between h_1 and h_L): every singular value is 1.

This is the Jacobian Saxe et al. (2014) study for deep linear nets (orthogonal weights: every
singular value exactly 1, "dynamical isometry") and Pennington et al. (2017) for nonlinear
ones: ReLU nets cannot be isometric at any σ_w (the D_l are 0/1 masks that kill half the
directions), orthogonal weights with tanh near criticality can. The mean of σ² over the
spectrum is, in the wide limit, the product of the layers' χ₁ = σ_w² E[φ'(z)²]
(:func:`initlab.meanfield.chi1`), i.e. ~χ₁^(L-1) at a fixed point.

Cost: J is built by pushing a batch of identity matrices through the layers, one matrix
product per layer for all samples together, so the work is
``samples · Σ_{l=2..L} n_l · n_{l-1} · n_1`` multiply-adds and the memory one
``samples × n_l × n_1`` product at a time, whatever the depth. :func:`jacobian_singular_values`
cuts the number of samples to stay within a budget of such operations (default 2e9): a
30-layer, 256-wide net gets 4 samples, computed in ~0.1 s on one idle core (OpenBLAS; its
threads can make that several times slower on a loaded machine).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from initlab.activations import Activation
from initlab.network import Params

FLOP_BUDGET = 2e9  # multiply-adds spent on the Jacobians of one network


def jacobian_cost(layer_dims: list[int]) -> int:
    """Multiply-adds for one sample's Jacobian: Σ_{l=2..L} n_l · n_{l-1} · n_1 (hidden l)."""
    hidden = layer_dims[1:-1]
    return sum(n_out * n_in * hidden[0] for n_in, n_out in itertools.pairwise(hidden))


def jacobian_samples(
    layer_dims: list[int], n_points: int, max_samples: int = 16, flop_budget: float = FLOP_BUDGET
) -> int:
    """How many of ``n_points`` inputs get a Jacobian: <= max_samples, within the budget, >= 1."""
    cost = jacobian_cost(layer_dims)
    affordable = int(flop_budget // cost) if cost > 0 else max_samples
    return max(1, min(max_samples, n_points, affordable))


def _scaled_jacobians(
    params: Params,
    X: np.ndarray,
    act: Activation,
    replica: int,
    max_samples: int,
    flop_budget: float,
) -> tuple[np.ndarray, float]:
    """(M, s) with J = e^s · M, M of shape (samples, n_L, n_1): exploding products stay finite."""
    dims = params.layer_dims
    if len(dims) < 3:
        raise ValueError(f"a network with layer sizes {dims} has no hidden layer")
    if not 0 <= replica < params.replicas:
        raise ValueError(f"replica {replica} out of range for {params.replicas} replicas")
    samples = jacobian_samples(dims, X.shape[1], max_samples, flop_budget)
    weights = [w[replica] for w in params.weights[:-1]]  # hidden layers only
    biases = [b[replica] for b in params.biases[:-1]]
    n_1 = dims[1]
    h = act(weights[0] @ X[:, :samples] + biases[0])  # h_1, (n_1, samples)
    # The running product is kept as (n_l, samples, n_1), so each layer's W_l multiplies all
    # samples' matrices in one BLAS call on a (n_{l-1}, samples · n_1) block.
    jac = np.repeat(np.eye(n_1)[:, None, :], samples, axis=1)
    log_scale = 0.0
    for w, b in zip(weights[1:], biases[1:], strict=True):
        z = w @ h + b
        h = act(z)
        slope = np.asarray(act.grad(z, h), dtype=float)  # φ'(z_l), (n_l, samples)
        jac = (w @ jac.reshape(w.shape[1], -1)).reshape(w.shape[0], samples, n_1)
        jac *= slope[:, :, None]
        peak = float(np.max(np.abs(jac)))
        if peak > 1e100:  # rescale before a deep exploding product overflows
            jac /= peak
            log_scale += float(np.log(peak))
    return np.moveaxis(jac, 1, 0), log_scale


def hidden_jacobians(
    params: Params,
    X: np.ndarray,
    act: Activation,
    replica: int = 0,
    max_samples: int = 16,
    flop_budget: float = FLOP_BUDGET,
) -> np.ndarray:
    """J(x) = ∂h_L/∂h_1 for the first inputs (columns) of X, shape (samples, n_L, n_1).

    ``samples`` is :func:`jacobian_samples` of X's columns: the first ones, deterministically.
    Entries beyond the float range are inf. Raises ValueError without hidden layers.
    """
    jac, log_scale = _scaled_jacobians(params, X, act, replica, max_samples, flop_budget)
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(jac) * np.exp(log_scale)


def jacobian_singular_values(
    params: Params,
    X: np.ndarray,
    act: Activation,
    replica: int = 0,
    max_samples: int = 16,
    flop_budget: float = FLOP_BUDGET,
) -> np.ndarray:
    """All singular values of J(x) = ∂h_L/∂h_1 for the first inputs of X.

    Returns shape (samples, min(n_L, n_1)), each row in descending order; ``samples`` is the
    number of X's columns used: at most ``max_samples``, fewer where
    ``samples · Σ_l n_l n_{l-1} n_1`` would exceed ``flop_budget``, at least 1. Replica
    ``replica`` of ``params``. Values within rounding of 0 (below max σ · max(n_L, n_1) · eps,
    as np.linalg.matrix_rank counts) are 0. Zero or dead layers give zero singular values,
    without warnings; singular values beyond the float range (an exploding product hundreds
    of layers deep) are inf.
    """
    jac, log_scale = _scaled_jacobians(params, X, act, replica, max_samples, flop_budget)
    values = np.linalg.svd(jac, compute_uv=False)
    # Below max(σ)·max(shape)·eps a singular value is rounding noise of a rank-deficient J
    # (np.linalg.matrix_rank's tolerance): it is 0, not 1e-17.
    noise = values[:, :1] * max(jac.shape[1:]) * np.finfo(values.dtype).eps
    values[values <= noise] = 0.0
    with np.errstate(over="ignore"):
        return values * np.exp(log_scale)


def jacobian_summary(singular_values: np.ndarray) -> dict[str, float]:
    """``max``, ``min``, ``mean_sq`` (mean σ², the wide-limit product of the layers' χ₁) and
    ``std`` (of σ) over all the given singular values (any shape; all samples pooled).

    All-zero spectra give zeros; infinite singular values (see
    :func:`jacobian_singular_values`) give inf, never nan, and no warnings.
    """
    s = np.asarray(singular_values, dtype=float).ravel()
    if s.size == 0:
        raise ValueError("no singular values to summarize")
    with np.errstate(over="ignore", invalid="ignore"):
        mean_sq = float(np.mean(s * s))
        std = float(s.std()) if np.all(np.isfinite(s)) else math.inf
    return {"max": float(s.max()), "min": float(s.min()), "mean_sq": mean_sq, "std": std}
