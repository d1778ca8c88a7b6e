"""Diagnostics, checked against numbers worked out here with plain NumPy (found by mutation
testing: each test fails on some mutant of initlab.diagnostics that the other tests let by)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from initlab.activations import Linear, Relu, Sigmoid, Tanh
from initlab.config import ConstantInit, LsuvInit, NormalInit, VarianceScalingInit
from initlab.diagnostics import (
    TrainingMonitor,
    _unit_health,
    effective_sigma_w2,
    hidden_health,
    initial_diagnostics,
    theory_diagnostics,
    weight_second_moments,
)
from initlab.network import Forward, Params

STAT_KEYS = {
    "w_mean", "w_std", "w_std_expected", "z_mean", "z_std", "z_std_predicted", "a_mean",
    "a_std", "a_std_predicted", "grad_norm", "distinct_units",
}  # fmt: skip


def _params(*layers: tuple[list[list[float]], list[float]]) -> Params:
    """One replica from (W, b) pairs written out."""
    return Params(
        [np.array(w, dtype=float)[np.newaxis] for w, _ in layers],
        [np.array(b, dtype=float).reshape(1, -1, 1) for _, b in layers],
    )


class _Grad:
    """An activation stub whose φ' is given: to put values exactly on a threshold."""

    def __init__(self, value: float) -> None:
        self.value = value

    def grad(self, z, a):
        return np.full(np.shape(a), self.value)


def test_dead_units_are_those_never_positive_zero_included():
    z = np.array([[0.0, 0.0, 0.0], [-1.0, 2.0, -3.0], [-1.0, -1.0, -1.0]])
    assert _unit_health("relu", z, z, Relu("relu")) == {"dead_fraction": 2 / 3}


def test_saturation_is_below_5_percent_of_the_derivatives_peak():
    # σ(3.5) = 0.970687769: σ' = 0.0284 is above 5% of σ's peak 1/4 (0.0125), not of 1.
    z = np.array([[0.0, 3.5, 5.0, -5.0]])
    a = 1 / (1 + np.exp(-z))
    assert _unit_health("sigmoid", z, a, Sigmoid("sigmoid")) == {"saturated_fraction": 0.5}
    # tanh: peak 1, so 5% is 0.05: tanh'(1.5) = 0.181, tanh'(2.5) = 0.0266.
    z = np.array([[0.0, 1.5, 2.5, -2.5]])
    assert _unit_health("tanh", z, np.tanh(z), Tanh("tanh")) == {"saturated_fraction": 0.5}
    # Exactly 5% of the peak is not below it.
    one = np.zeros((1, 1))
    assert _unit_health("tanh", one, one, _Grad(0.05)) == {"saturated_fraction": 0.0}
    assert _unit_health("sigmoid", one, one, _Grad(0.0125)) == {"saturated_fraction": 0.0}
    assert _unit_health("linear", one, one, _Grad(0.0)) == {}


def test_hidden_health_counts_per_replica_and_layer():
    # Two replicas, one hidden layer of 2 units over 3 examples; the output layer is ignored.
    z = np.array([[[0.0, 0.0, 0.0], [1.0, -1.0, -1.0]], [[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]]])
    out = np.zeros((2, 1, 3))
    fwd = Forward([z, out], [np.zeros((2, 3)), z, out])
    dead = hidden_health("relu", fwd)["dead_fraction"]
    assert dead.shape == (2, 1)
    assert dead.tolist() == [[0.5], [1.0]]
    # sigmoid: φ'/peak = a(1 - a) / (1/4) below 0.05. a = 0.5: 1; 0.98: 0.0784; 0.99: 0.0396;
    # 0.012660282759551805: exactly 0.05 (not below). tanh's 1 - a² would count 0.98 too.
    a = np.array([[[0.5, 0.98, 0.99, 0.012660282759551805]]])
    fwd = Forward([a, a], [a, a, a])
    assert hidden_health("sigmoid", fwd)["saturated_fraction"].tolist() == [[0.25]]
    # tanh: 1 - a² below 0.05: a = 0.98 (0.0396) and -0.99 (0.0199), not 0.5 or 0.97 (0.0591).
    a = np.array([[[0.5, 0.98, -0.99, 0.97]]])
    fwd = Forward([a, a], [a, a, a])
    assert hidden_health("tanh", fwd)["saturated_fraction"].tolist() == [[0.5]]
    assert hidden_health("linear", fwd) == {}


def test_initial_diagnostics_of_a_small_linear_net_worked_out_by_hand():
    # x: 2 features, 4 examples; hidden layer W1 (2 units), output W2; linear hidden units.
    X = np.array([[1.0, -1.0, 2.0, 0.0], [0.0, 1.0, -1.0, 2.0]])
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    params = _params(([[1.0, 2.0], [-1.0, 0.5]], [0.5, -0.5]), ([[2.0, -1.0]], [0.25]))
    cfg = NormalInit(std=0.5, bias=0.1, bias_std=0.2)
    layers, prediction = initial_diagnostics(params, cfg, X, Y, Linear("linear"))
    assert set(layers[0]) == STAT_KEYS  # linear units: no dead or saturated share
    assert set(layers[1]) == STAT_KEYS | {"z_std_draws", "a_std_draws"}
    W1, b1 = np.array([[1.0, 2.0], [-1.0, 0.5]]), np.array([[0.5], [-0.5]])
    Z1 = W1 @ X + b1  # [[1.5, 1.5, 0.5, 4.5], [-1.5, 1, -3, 0.5]]
    hidden = layers[0]
    assert hidden["w_mean"] == 0.625 and hidden["w_std"] == pytest.approx(np.std(W1))
    assert hidden["w_std_expected"] == 0.5
    assert hidden["z_mean"] == pytest.approx(0.625) and hidden["z_std"] == pytest.approx(Z1.std())
    assert hidden["a_mean"] == pytest.approx(0.625) and hidden["a_std"] == pytest.approx(Z1.std())
    assert hidden["distinct_units"] == 2.0
    # The recursion: v1 = n_in · std² · E[x²] + bias_std² = 2 · 0.25 · 1.5 + 0.04 = 0.79;
    # a linear unit's activation std is then √v1 (its mean, the bias 0.1, drops out).
    assert hidden["z_std_predicted"] == pytest.approx(math.sqrt(0.79), rel=1e-12)
    assert hidden["a_std_predicted"] == pytest.approx(math.sqrt(0.79), rel=1e-9)
    assert prediction.z_std[0] == hidden["z_std_predicted"]
    # v2 = 2 · 0.25 · E[a1²] + 0.04, E[a1²] = v1 + 0.1² = 0.8.
    assert layers[1]["z_std_predicted"] == pytest.approx(math.sqrt(0.44), rel=1e-9)
    # The output unit is a sigmoid: the std of σ(z), z ~ N(0.1, 0.44) (scipy's quad, by hand).
    assert layers[1]["a_std_predicted"] == pytest.approx(0.15079056122664844, rel=1e-9)
    # The first step's gradient of the output layer: (σ(z2) - y) a1ᵀ / m.
    z2 = np.array([[2.0, -1.0]]) @ Z1 + 0.25
    dz = (1 / (1 + np.exp(-z2)) - Y) / 4
    assert layers[1]["grad_norm"] == pytest.approx(np.linalg.norm(dz @ Z1.T), rel=1e-12)


def _redrawn_outputs(w, b, hidden, std, bias, bias_std):
    """The output layer's z over 256 draws as initial_diagnostics makes them: the realised
    row first, then 255 rows N(0, std²) and biases from generator seed 20170101."""
    rng = np.random.default_rng(20_170_101)
    rows = [w] + [rng.standard_normal((1, w.shape[1])) * std for _ in range(255)]
    biases = bias + bias_std * rng.standard_normal((256, 1))
    biases[0] = b
    return np.vstack(rows) @ hidden + biases


def test_the_output_layer_is_measured_over_256_fixed_redraws():
    X = np.array([[1.0, -1.0, 2.0, 0.0], [0.0, 1.0, -1.0, 2.0]])
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    params = _params(([[1.0, 2.0], [-1.0, 0.5]], [0.5, -0.5]), ([[2.0, -1.0]], [0.25]))
    cfg = NormalInit(std=0.5, bias=0.1, bias_std=0.2)
    layers, _ = initial_diagnostics(params, cfg, X, Y, Relu("relu"))
    hidden = np.maximum(np.array([[1.0, 2.0], [-1.0, 0.5]]) @ X + [[0.5], [-0.5]], 0)
    z = _redrawn_outputs(np.array([[2.0, -1.0]]), 0.25, hidden, 0.5, 0.1, 0.2)
    assert layers[1]["z_std_draws"] == pytest.approx(z.std(), rel=1e-12)
    assert layers[1]["a_std_draws"] == pytest.approx((1 / (1 + np.exp(-z))).std(), rel=1e-12)


def test_lsuv_output_redraws_take_the_realised_rows_length():
    X = np.array([[1.0, -1.0, 2.0, 0.0], [0.0, 1.0, -1.0, 2.0]])
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    w2 = np.array([[0.6, -0.8]]) * 3.0  # an orthogonal row rescaled by LSUV: length 3
    params = _params(([[1.0, 2.0], [-1.0, 0.5]], [0.0, 0.0]), (w2.tolist(), [0.0]))
    layers, _ = initial_diagnostics(params, LsuvInit(), X, Y, Linear("linear"))
    hidden = np.array([[1.0, 2.0], [-1.0, 0.5]]) @ X
    rng = np.random.default_rng(20_170_101)
    rows = [w2]
    for _ in range(255):  # a 1 × 2 orthogonal draw is a random unit row: here of length 3
        x = rng.standard_normal((2, 1))
        rows.append((x / np.linalg.norm(x)).T * 3.0)
    z = np.vstack(rows) @ hidden
    assert layers[1]["z_std_draws"] == pytest.approx(z.std(), rel=1e-12)


def test_distinct_units_scale_with_the_layer_and_tell_infinities_apart():
    from initlab.diagnostics import distinct_units

    # Equal up to 1e-9 of the layer's largest entry: one unit.
    assert distinct_units(np.array([[1e6], [1e6 + 1e-4]]), np.zeros((2, 1))) == 1
    assert distinct_units(np.array([[1.0], [1.0 + 1e-4]]), np.zeros((2, 1))) == 2
    with np.errstate(invalid="ignore"):  # inf / inf
        assert distinct_units(np.array([[np.inf], [1.0]]), np.zeros((2, 1))) == 2


def test_weight_second_moments_follow_the_formula_except_lsuv():
    params = _params(([[1.0, 2.0], [-1.0, 0.5]], [0.0, 0.0]), ([[2.0, -1.0]], [0.0]))
    assert weight_second_moments(params, NormalInit(std=0.5), Relu("relu")) == [0.25, 0.25]
    # LSUV: the realised weights' mean square.
    assert weight_second_moments(params, LsuvInit(), Relu("relu")) == [1.5625, 2.5]
    # A constant's second moment is its square (std 0).
    assert weight_second_moments(params, ConstantInit(value=0.5), Relu("relu")) == [0.25, 0.25]
    # gain auto: the run's activation's (tanh: 25/9), fan_in 2 then 2.
    auto = VarianceScalingInit(gain="auto")
    assert weight_second_moments(params, auto, Tanh("tanh")) == pytest.approx([25 / 18] * 2)


def test_effective_sigma_w2_averages_the_hidden_to_hidden_layers():
    def net(dims):
        return Params(
            [np.zeros((1, n_out, n_in)) for n_in, n_out in itertools.pairwise(dims)],
            [np.zeros((1, n, 1)) for n in dims[1:]],
        )

    cfg, act = NormalInit(std=0.5), Relu("relu")
    assert effective_sigma_w2(net([2, 3, 4, 5, 1]), cfg, act) == (3 * 0.25 + 4 * 0.25) / 2
    assert effective_sigma_w2(net([2, 3, 1]), cfg, act) == 2 * 0.25  # one hidden layer
    # gain auto needs the activation: tanh's 25/9 over fan-in 3.
    auto = VarianceScalingInit(gain="auto")
    assert effective_sigma_w2(net([2, 3, 4, 1]), auto, Tanh("tanh")) == pytest.approx(25 / 9)


def _linear_net() -> Params:
    """dims [2, 4, 4, 1]: σ_w² = 4 · std² from the one hidden-to-hidden layer."""
    rng = np.random.default_rng(3)
    return Params(
        [rng.standard_normal((1, 4, 2)), rng.standard_normal((1, 4, 4)), np.ones((1, 1, 4))],
        [np.zeros((1, 4, 1)), np.zeros((1, 4, 1)), np.zeros((1, 1, 1))],
    )


def test_theory_linear_net_fixed_point_by_hand():
    # Linear units: F(q) = σ_w² (q + μ_b²) + σ_b², so q* = (σ_w² μ_b² + σ_b²) / (1 - σ_w²).
    # σ_w² = 4 · 0.125 = 0.5, μ_b = 0.1, σ_b² = 0.25: q* = (0.005 + 0.25) / 0.5 = 0.51.
    cfg = NormalInit(std=math.sqrt(0.125), bias=0.1, bias_std=0.5)
    X = np.array([[1.0, -1.0], [1.0, 1.0]])
    scalars, _, point = theory_diagnostics(_linear_net(), cfg, X, Linear("linear"))
    assert scalars["init/mean_field/sigma_w2"] == pytest.approx(0.5)
    assert scalars["init/mean_field/sigma_b2"] == 0.25
    assert scalars["init/mean_field/q_star"] == pytest.approx(0.51, rel=1e-9)
    assert scalars["init/mean_field/chi1"] == pytest.approx(0.5, rel=1e-12)
    xi = 1 / math.log(2)  # ξ_c = -1 / ln χ₁
    assert scalars["init/mean_field/depth_scale"] == pytest.approx(xi, rel=1e-9)
    assert scalars["init/mean_field/trainable_depth"] == pytest.approx(6 * xi, rel=1e-9)
    assert scalars["init/mean_field/depth"] == 2.0
    assert {k for k in scalars if k.startswith("init/mean_field/")} == {
        f"init/mean_field/{k}" for k in ("sigma_w2", "sigma_b2", "q_star", "chi1", "c_star",
                                         "chi_c", "depth_scale", "trainable_depth", "depth")
    }  # fmt: skip
    assert point.q_star == scalars["init/mean_field/q_star"]


@pytest.mark.parametrize("x, q_star", [(1.0, 0.5), (0.0, 1.0)])
def test_theory_marginal_linear_map_starts_from_the_first_layers_variance(x, q_star):
    # σ_w² = 1, σ_b = 0: every q is a fixed point, so q* is where the map starts: the first
    # layer's variance n_in · std² · E[x²] = 2 · 0.25 · x², or 1 where that is 0.
    cfg = NormalInit(std=0.5)
    X = np.full((2, 3), x)
    scalars, _, _ = theory_diagnostics(_linear_net(), cfg, X, Linear("linear"))
    assert scalars["init/mean_field/q_star"] == pytest.approx(q_star, rel=1e-9)


def test_theory_gain_auto_and_the_replica_asked_for():
    cfg = VarianceScalingInit(gain="auto")
    X = np.array([[1.0, -1.0, 0.5], [1.0, 1.0, -2.0]])
    base = _linear_net()
    two = Params.stack([base, Params([3 * w for w in base.weights], base.biases)])
    scalars, values, _ = theory_diagnostics(two, cfg, X, Tanh("tanh"), replica=1)
    assert scalars["init/mean_field/sigma_w2"] == pytest.approx(25 / 9)
    alone, alone_values, _ = theory_diagnostics(two.replica(1), cfg, X, Tanh("tanh"))
    np.testing.assert_array_equal(values, alone_values)
    jac = {k: v for k, v in scalars.items() if k.startswith("init/jacobian/")}
    assert jac and jac == {k: v for k, v in alone.items() if k.startswith("init/jacobian/")}
    first, _, _ = theory_diagnostics(two, cfg, X, Tanh("tanh"), replica=0)
    assert {k: first[k] for k in jac} != jac


def test_monitor_take_keeps_activation_steps_and_the_replicas():
    monitor = TrainingMonitor("relu", [0, 10], {"a_std": [np.array([[1.0], [2.0], [3.0]])]})
    part = monitor.take(slice(1, 3))
    assert part.activation == "relu" and part.steps == [0, 10]
    assert part.steps is not monitor.steps
    assert [v.tolist() for v in part.series["a_std"]] == [[[2.0], [3.0]]]


def test_gain_auto_and_identity_moments_reach_every_formula():
    from initlab.config import IdentityInit

    X = np.array([[1.0, -1.0, 2.0, 0.0], [0.0, 1.0, -1.0, 2.0]])
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    params = _params(([[1.0, 2.0], [-1.0, 0.5]], [0.0, 0.0]), ([[2.0, -1.0]], [0.0]))
    auto = VarianceScalingInit(gain="auto")
    layers, _ = initial_diagnostics(params, auto, X, Y, Tanh("tanh"))
    assert [s["w_std_expected"] for s in layers] == pytest.approx([math.sqrt(25 / 18)] * 2)
    assert "z_std_draws" in layers[1]
    # identity 2 -> 3 with tanh's gain: E[W²] = g² · min / (n_in · n_out) = 25/9 · 2/6
    three = Params([np.zeros((1, 3, 2)), np.zeros((1, 1, 3))], [np.zeros((1, 3, 1))] * 2)
    moments = weight_second_moments(three, IdentityInit(gain="auto"), Tanh("tanh"))
    assert moments == pytest.approx([25 / 27, 25 / 9 / 3])
