"""The hidden stack's Jacobian ∂h_L/∂h_1: finite differences, isometry, spread, budget, zeros."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

from initlab.activations import make_activation
from initlab.config import GROUP_OPTIONS, HeInit, LecunInit, OrthogonalInit, ZerosInit
from initlab.initializers import init_layers
from initlab.jacobian import (
    hidden_jacobians,
    jacobian_cost,
    jacobian_samples,
    jacobian_singular_values,
    jacobian_summary,
)
from initlab.network import Params

ACT = {name: make_activation(cfg) for name, cfg in GROUP_OPTIONS["activation"].items()}
TANH, RELU, LINEAR = ACT["tanh"], ACT["relu"], ACT["linear"]


def random_params(dims, rng, scale=1.5, bias=0.3, replicas=1):
    return Params(
        [
            rng.standard_normal((replicas, n_out, n_in)) * scale / math.sqrt(n_in)
            for n_in, n_out in itertools.pairwise(dims)
        ],
        [rng.standard_normal((replicas, n_out, 1)) * bias for n_out in dims[1:]],
    )


def test_matches_finite_differences_on_a_small_tanh_net():
    """Widths [3, 6, 6, 5, 1]: J = ∂h_3/∂h_1 (5 × 6) by central differences of a hand forward."""
    rng = np.random.default_rng(0)
    dims = [3, 6, 6, 5, 1]
    params = random_params(dims, rng, replicas=2)
    X = rng.standard_normal((3, 5))
    for replica in (0, 1):
        (w1, w2, w3, _), (b1, b2, b3, _) = (
            [w[replica] for w in params.weights],
            [b[replica] for b in params.biases],
        )

        def top(h1, w2=w2, b2=b2, w3=w3, b3=b3):  # h_1 -> h_3
            return np.tanh(w3 @ np.tanh(w2 @ h1 + b2) + b3)

        jac = hidden_jacobians(params, X, TANH, replica=replica)
        assert jac.shape == (5, 5, 6)
        for sample in range(5):
            h1 = np.tanh(w1 @ X[:, sample : sample + 1] + b1)
            eps = 1e-6
            numeric = np.hstack(
                [(top(h1 + eps * e) - top(h1 - eps * e)) / (2 * eps) for e in np.eye(6)[:, :, None]]
            )
            np.testing.assert_allclose(jac[sample], numeric, rtol=0, atol=1e-9)
            singular = jacobian_singular_values(params, X, TANH, replica=replica)[sample]
            expected = np.linalg.svd(numeric, compute_uv=False)
            np.testing.assert_allclose(singular, expected, rtol=0, atol=1e-9)


def test_one_hidden_layer_is_the_identity_and_none_is_an_error():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 3))
    jac = hidden_jacobians(random_params([2, 7, 1], rng), X, TANH)
    np.testing.assert_array_equal(jac, np.broadcast_to(np.eye(7), (3, 7, 7)))
    with pytest.raises(ValueError, match="no hidden layer"):
        jacobian_singular_values(random_params([2, 1], rng), X, TANH)


def test_orthogonal_deep_linear_net_is_an_isometry():
    """Saxe et al. 2014: products of orthogonal matrices are orthogonal, σ = 1 exactly."""
    dims = [2] + [32] * 12 + [1]
    X = np.random.default_rng(0).standard_normal((2, 4))
    by_scheme = init_layers(OrthogonalInit(), dims, np.random.default_rng(2), LINEAR)
    rng = np.random.default_rng(3)
    by_hand = random_params(dims, rng)
    for layer in range(1, len(dims) - 2):  # square hidden-to-hidden layers: Q of a QR
        by_hand.weights[layer][0] = np.linalg.qr(rng.standard_normal((32, 32)))[0]
    for params in (by_scheme, by_hand):
        singular = jacobian_singular_values(params, X, LINEAR)
        assert singular.shape == (4, 32)
        np.testing.assert_allclose(singular, 1.0, rtol=0, atol=1e-10)


def test_gaussian_deep_linear_net_spreads_but_keeps_mean_square_one():
    """Width 64, 20 hidden layers, W ~ N(0, 1/n): E[mean σ²] = E[tr(JᵀJ)]/n = 1 exactly
    (E[WᵀW] = I, layers independent), while the spectrum spreads over many decades.

    Tolerance: for m = 19 matrices, Var(tr(JᵀJ)) = Σ_k 2 E[tr((M_k M_kᵀ)²)]/n ≈ Σ_k 2k =
    m(m+1) (the second moment of a product of k Ginibre matrices is k + 1), so one net's
    mean σ² has std ≈ √380/64 ≈ 0.30 (0.35 measured over 400 nets). The mean of 32 nets has
    std ≈ 0.06; we allow 0.25, four of them.
    """
    dims = [2] + [64] * 20 + [1]
    X = np.random.default_rng(0).standard_normal((2, 1))
    mean_sq, spread = [], []
    for seed in range(32):
        params = init_layers(LecunInit(), dims, np.random.default_rng(seed), LINEAR)
        summary = jacobian_summary(jacobian_singular_values(params, X, LINEAR))
        mean_sq.append(summary["mean_sq"])
        # min may be 0: below max·n·eps a singular value is numerically zero
        spread.append(summary["max"] / summary["min"] if summary["min"] > 0 else np.inf)
    assert np.mean(mean_sq) == pytest.approx(1.0, abs=0.25)
    assert min(spread) > 10


def test_relu_cannot_be_isometric_orthogonal_tanh_nearly_is():
    """Pennington et al. 2017: ReLU's 0/1 masks spread the spectrum even with orthogonal
    weights at He's gain (σ_min ~ 1e-80 here); orthogonal tanh at gain 1 without bias (χ₁ = 1,
    q* → 0: tanh near its linear regime) keeps every singular value within a factor 3 (over
    30 seeds: σ in [0.46, 0.99], σ_max/σ_min <= 2.2)."""
    dims = [2] + [128] * 20 + [1]
    X = np.random.default_rng(0).standard_normal((2, 4))
    for init, act in [(HeInit(), RELU), (OrthogonalInit(gain="relu"), RELU)]:
        params = init_layers(init, dims, np.random.default_rng(4), act)
        summary = jacobian_summary(jacobian_singular_values(params, X, act))
        assert summary["max"] > 3 and summary["min"] < 1e-3
    params = init_layers(OrthogonalInit(), dims, np.random.default_rng(4), TANH)
    summary = jacobian_summary(jacobian_singular_values(params, X, TANH))
    assert summary["max"] <= 1.0 and summary["max"] < 3 * summary["min"]


def test_zero_and_dead_jacobians_give_zeros_without_warnings():
    dims = [2, 16, 16, 16, 1]
    X = np.random.default_rng(0).standard_normal((2, 5))
    dead = init_layers(HeInit(), dims, np.random.default_rng(5), RELU)
    for b in dead.biases:
        b -= 100.0  # every unit's z < 0: all masks are 0
    cases = [
        (init_layers(ZerosInit(), dims, np.random.default_rng(5), RELU), RELU),
        (init_layers(ZerosInit(), dims, np.random.default_rng(5), TANH), TANH),
        (dead, RELU),
    ]
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        for params, act in cases:
            singular = jacobian_singular_values(params, X, act)
            assert singular.shape == (5, 16) and not singular.any()
            summary = jacobian_summary(singular)
            assert summary == {"max": 0.0, "min": 0.0, "mean_sq": 0.0, "std": 0.0}


def test_flop_budget_caps_the_samples():
    dims = [2] + [256] * 30 + [1]
    assert jacobian_cost(dims) == 29 * 256**3
    assert jacobian_samples(dims, 300) == 4  # 2e9 // (29 · 256³)
    assert jacobian_samples(dims, 300, flop_budget=1.0) == 1  # always at least one
    assert jacobian_samples([2, 8, 8, 1], 300) == 16  # max_samples
    assert jacobian_samples([2, 8, 8, 1], 3) == 3  # all the points there are
    assert jacobian_samples([2, 8, 1], 300, max_samples=5) == 5  # identity: no cost
    params = random_params([2, 8, 8, 1], np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((2, 40))
    assert jacobian_singular_values(params, X, TANH, max_samples=7).shape == (7, 8)
    assert jacobian_singular_values(params, X, TANH, flop_budget=1024).shape == (2, 8)


def test_a_30_layer_256_wide_net():
    """The budget keeps this at 4 samples (~0.1 s on one idle core; no timing asserted)."""
    dims = [2] + [256] * 30 + [1]
    params = init_layers(HeInit(), dims, np.random.default_rng(6), RELU)
    X = np.random.default_rng(0).standard_normal((2, 300))
    singular = jacobian_singular_values(params, X, RELU)
    assert singular.shape == (4, 256)
    assert np.all(np.diff(singular, axis=1) <= 0)  # each row descending


def test_an_exploding_product_stays_finite_until_the_float_range_ends():
    """×10 weights on a linear net 120 layers deep: σ = 10^119 each row, computed by rescaling."""
    dims = [2] + [8] * 120 + [1]
    rng = np.random.default_rng(0)
    params = random_params(dims, rng)
    for layer in range(1, len(dims) - 2):
        params.weights[layer][0] = 10 * np.linalg.qr(rng.standard_normal((8, 8)))[0]
    singular = jacobian_singular_values(params, rng.standard_normal((2, 2)), LINEAR)
    np.testing.assert_allclose(singular, 1e119, rtol=1e-10)


def test_summaries_of_infinite_singular_values_are_inf_never_nan():
    """Products beyond the float range come back as inf (rescaled products don't overflow, but
    σ · e^scale does); their summaries stay inf, without warnings."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        summary = jacobian_summary(np.array([[np.inf, 1e200], [1e10, 0.0]]))
    assert summary == {"max": math.inf, "min": 0.0, "mean_sq": math.inf, "std": math.inf}
