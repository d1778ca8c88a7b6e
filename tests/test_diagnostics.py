"""Diagnostics: the variance recursion against measurement, symmetry, activation safety."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from initlab.activations import make_activation
from initlab.config import GROUP_OPTIONS, CirclesDataset, ConstantInit, HeInit, LecunInit, ZerosInit
from initlab.datasets import load_dataset
from initlab.diagnostics import TrainingMonitor, distinct_units, initial_diagnostics, predict_signal
from initlab.initializers import expected_weight_std, init_layers, init_replicas
from initlab.network import forward
from initlab.seeding import course_rng
from initlab.trainer import fit

WIDTH, DEPTH, DRAWS = 500, 6, 8


@pytest.mark.parametrize(
    "act_name,init",
    [("linear", LecunInit()), ("relu", HeInit()), ("tanh", LecunInit())],
    ids=["linear", "relu", "tanh"],
)
def test_predicted_variance_matches_a_wide_deep_net(act_name, init):
    """The recursion predicts the expectation over weight draws: measure it over 8 draws.

    (One draw of a ReLU net drifts from it by a few percent per layer at this width: finite-
    width fluctuations of the squared norm grow like depth / width, Hanin & Rolnick 2018.)
    """
    act = make_activation(GROUP_OPTIONS["activation"][act_name])
    X = np.random.default_rng(0).standard_normal((100, 300))
    dims = [100, *[WIDTH] * DEPTH, 1]
    params = init_replicas(
        [init] * DRAWS, dims, [np.random.default_rng(s) for s in range(DRAWS)], act
    )
    second_moments = [
        expected_weight_std(init, n_in, n_out, act) ** 2 for n_in, n_out in itertools.pairwise(dims)
    ]
    prediction = predict_signal(dims, second_moments, [0.0] * (DEPTH + 1), X, act)
    fwd = forward(params, X, act)
    for layer in range(DEPTH):
        z, a = fwd.zs[layer], fwd.activations[layer + 1]
        assert np.sqrt(np.mean(z * z)) == pytest.approx(prediction.z_std[layer], rel=0.04)
        assert a.std() == pytest.approx(prediction.a_std[layer], rel=0.04)
    if act_name != "tanh":  # variance-preserving inits: the signal neither grows nor dies
        assert prediction.z_std[DEPTH - 1] == pytest.approx(prediction.z_std[0], rel=1e-6)
    else:  # LeCun under tanh loses variance layer by layer (tanh's gain is 5/3, not 1)
        assert prediction.z_std[DEPTH - 1] < 0.8 * prediction.z_std[0]


def test_single_run_diagnostics_follow_the_prediction_on_a_wide_layer():
    act = make_activation(GROUP_OPTIONS["activation"]["relu"])
    X = np.random.default_rng(0).standard_normal((100, 300))
    Y = np.zeros((1, 300))
    params = init_layers(HeInit(), [100, 1000, 1], np.random.default_rng(1), act)
    layers, _ = initial_diagnostics(params, HeInit(), X, Y, act)
    assert layers[0]["z_std"] == pytest.approx(layers[0]["z_std_predicted"], rel=0.02)
    assert layers[0]["a_std"] == pytest.approx(layers[0]["a_std_predicted"], rel=0.02)
    assert layers[0]["w_std"] == pytest.approx(layers[0]["w_std_expected"], rel=0.02)


def test_initial_diagnostics_report_the_weight_formula_and_dead_units():
    data = load_dataset(CirclesDataset())
    act = make_activation(GROUP_OPTIONS["activation"]["relu"])
    params = init_layers(HeInit(), [2, 10, 5, 1], course_rng(3), act)
    layers, _ = initial_diagnostics(params, HeInit(), data.X_train, data.Y_train, act)
    assert len(layers) == 3
    assert layers[0]["w_std_expected"] == np.sqrt(2 / 2)
    assert layers[1]["w_std_expected"] == np.sqrt(2 / 10)
    assert 0 <= layers[0]["dead_fraction"] <= 1 and "dead_fraction" not in layers[2]
    assert all(s["grad_norm"] > 0 for s in layers)
    assert [s["distinct_units"] for s in layers] == [10, 5, 1]


def test_saturation_is_measured_for_sigmoid_and_tanh():
    act = make_activation(GROUP_OPTIONS["activation"]["tanh"])
    X = np.random.default_rng(0).standard_normal((2, 200))
    big = init_layers(GROUP_OPTIONS["init"]["random"], [2, 50, 1], course_rng(3), act)
    small = init_layers(GROUP_OPTIONS["init"]["small"], [2, 50, 1], course_rng(3), act)
    Y = np.zeros((1, 200))
    saturated_big = initial_diagnostics(big, GROUP_OPTIONS["init"]["random"], X, Y, act)[0][0]
    saturated_small = initial_diagnostics(small, GROUP_OPTIONS["init"]["small"], X, Y, act)[0][0]
    assert saturated_big["saturated_fraction"] > 0.8  # ×10 weights: tanh pinned at ±1
    assert saturated_small["saturated_fraction"] == 0.0


def test_distinct_units_agrees_with_numpys_unique_rows():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = rng.integers(1, 12), rng.integers(1, 5)
        pool = rng.integers(-2, 3, size=(rng.integers(1, 5), m + 1)).astype(float)
        rows = pool[rng.integers(0, len(pool), size=n)]  # duplicates on purpose
        expected = np.unique(rows, axis=0).shape[0]
        assert distinct_units(rows[:, :m], rows[:, m:]) == expected
    nan = np.array([[np.nan, 1.0], [np.nan, 1.0]])
    assert distinct_units(nan, np.zeros((2, 1))) == 1


def test_distinct_units_counts_rows():
    w = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0 + 1e-15], [0.0, 1.0]])
    assert distinct_units(w, np.zeros((4, 1))) == 2
    assert distinct_units(w, np.array([[0.0], [1.0], [0.0], [0.0]])) == 3


@pytest.mark.parametrize("init", [ZerosInit(), ConstantInit(value=0.3)], ids=lambda c: c.name)
def test_symmetric_starts_stay_one_unit_per_layer(init):
    data = load_dataset(CirclesDataset())
    act = make_activation(GROUP_OPTIONS["activation"]["relu"])
    monitor = TrainingMonitor()
    fit(
        init_layers(init, [2, 10, 5, 1], course_rng(3), act), data.X_train, data.Y_train, act,
        lr=0.05, iterations=400, log_every=50, monitor=monitor,
    )  # fmt: skip
    distinct = np.stack(monitor.distinct)[:, 0, :]
    np.testing.assert_array_equal(distinct, np.ones_like(distinct))
    curves = monitor.curves()
    assert curves["train/layer1/distinct_units"][1] == [1.0] * 8


def test_he_keeps_every_unit_distinct_and_reports_gradients():
    data = load_dataset(CirclesDataset())
    act = make_activation(GROUP_OPTIONS["activation"]["relu"])
    monitor = TrainingMonitor()
    fit(
        init_layers(HeInit(), [2, 10, 5, 1], course_rng(3), act), data.X_train, data.Y_train, act,
        lr=0.01, iterations=300, log_every=100, monitor=monitor,
    )  # fmt: skip
    distinct = np.stack(monitor.distinct)[:, 0, :]
    np.testing.assert_array_equal(distinct, np.tile([10, 5, 1], (3, 1)))
    curves = monitor.curves()
    assert curves["train/layer2/grad_norm"][0] == [0, 100, 200]
    assert all(v > 0 for v in curves["train/layer2/grad_norm"][1])
    assert set(curves) == {
        f"train/layer{n}/{k}"
        for n in (1, 2, 3)
        for k in ("grad_norm", "a_mean", "a_std", "distinct_units")
    }


@pytest.mark.parametrize("name", list(GROUP_OPTIONS["activation"]))
def test_activations_are_safe_for_large_inputs(name):
    act = make_activation(GROUP_OPTIONS["activation"][name])
    z = np.array([-1e200, -1e6, -800.0, -50.0, -1.0, 0.0, 1.0, 50.0, 800.0, 1e6, 1e200])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = act(z)
        g = act.grad(z, a)
    assert np.all(
        np.isfinite(a) | (np.abs(z) >= 800) & np.isin(name, ["linear", "relu", "leaky_relu"])
    )
    assert np.all(np.isfinite(g))
    assert np.all(np.isfinite(a))


@pytest.mark.parametrize(
    "act_name,init_name,key",
    [("relu", "he", "dead_fraction"), ("tanh", "random", "saturated_fraction")],
)
def test_training_monitor_tracks_mean_and_unit_health(act_name, init_name, key):
    """At step 0 the monitor sees the initial network: its activation mean/std and its
    dead or saturated fractions are the initial diagnostics' (computed another way)."""
    data = load_dataset(CirclesDataset())
    act = make_activation(GROUP_OPTIONS["activation"][act_name])
    init = GROUP_OPTIONS["init"][init_name]
    params = init_layers(init, [2, 30, 30, 1], course_rng(3), act)
    monitor = TrainingMonitor(act_name)
    fit(
        params, data.X_train, data.Y_train, act, lr=0.01, iterations=200, log_every=100,
        monitor=monitor,
    )  # fmt: skip
    layers, _ = initial_diagnostics(params, init, data.X_train, data.Y_train, act)
    curves = monitor.curves()
    for number, stats in enumerate(layers, start=1):
        assert curves[f"train/layer{number}/a_mean"][1][0] == pytest.approx(stats["a_mean"])
        assert curves[f"train/layer{number}/a_std"][1][0] == pytest.approx(stats["a_std"])
        if number < len(layers):
            assert curves[f"train/layer{number}/{key}"][1][0] == stats[key]
    assert f"train/layer{len(layers)}/{key}" not in curves  # the output unit has none
    assert any(value > 0 for number in (1, 2) for value in curves[f"train/layer{number}/{key}"][1])


def test_bias_std_draws_biases_and_enters_the_recursion():
    """Biases N(bias, σ_b²): their spread is σ_b, and z's variance gains σ_b² (measured on a
    1000-unit layer, where the mean over units stands for the mean over draws)."""
    act = make_activation(GROUP_OPTIONS["activation"]["tanh"])
    init = LecunInit(bias=0.1, bias_std=0.5)
    X = np.random.default_rng(0).standard_normal((100, 300))
    params = init_layers(init, [100, 1000, 1000, 1], np.random.default_rng(1), act)
    b = params.biases[0][0]
    assert b.mean() == pytest.approx(0.1, abs=0.05) and b.std() == pytest.approx(0.5, rel=0.06)
    layers, _ = initial_diagnostics(params, init, X, np.zeros((1, 300)), act)
    for stats in layers[:2]:
        assert stats["z_std"] == pytest.approx(stats["z_std_predicted"], rel=0.03)
    without = initial_diagnostics(params, LecunInit(bias=0.1), X, np.zeros((1, 300)), act)[0]
    assert without[0]["z_std_predicted"] ** 2 == pytest.approx(
        layers[0]["z_std_predicted"] ** 2 - 0.25, rel=1e-9
    )


@pytest.mark.parametrize(
    "act_name,init,sigma_w2,chi1",
    [
        ("relu", HeInit(), 2.0, 1.0),  # He: the ReLU critical point
        ("relu", GROUP_OPTIONS["init"]["xavier"], 1.0, 0.5),  # square layers: 2/(n+n) = 1/n
        ("linear", GROUP_OPTIONS["init"]["orthogonal"], 1.0, 1.0),
        ("tanh", LecunInit(gain="0.5"), 0.25, 0.25),  # ordered, q* = 0: χ₁ = σ_w² φ'(0)²
    ],
)
def test_theory_diagnostics_give_the_nets_mean_field_point(act_name, init, sigma_w2, chi1):
    from initlab.diagnostics import theory_diagnostics

    act = make_activation(GROUP_OPTIONS["activation"][act_name])
    X = np.random.default_rng(0).standard_normal((2, 200))
    params = init_layers(init, [2, 40, 40, 40, 1], np.random.default_rng(1), act)
    scalars, spectrum, point = theory_diagnostics(params, init, X, act)
    assert scalars["init/mean_field/sigma_w2"] == pytest.approx(sigma_w2, rel=1e-9)
    assert scalars["init/mean_field/chi1"] == pytest.approx(chi1, abs=1e-6)
    assert scalars["init/mean_field/depth"] == 3
    assert spectrum.shape == (16, 40)  # 16 examples, 40 singular values each
    if act_name == "relu" and chi1 == 1.0:  # marginal: q* is where the data put layer 1
        first_layer_variance = 2 * (2.0 / 2) * float(np.mean(X * X))  # n_in · Var(W) · E[x²]
        assert point.q_star == pytest.approx(first_layer_variance, rel=1e-9)
    if act_name == "linear":  # a product of orthogonal matrices: an isometry
        np.testing.assert_allclose(spectrum, 1.0, rtol=1e-9)
