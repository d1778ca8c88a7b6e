"""Initializers draw exactly what their formulas say, checked against plain NumPy draws from
the same generator and numbers written out here (found by mutation testing: each test fails
on some mutant of initlab.initializers that the other tests let by)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initlab.activations import Linear, Relu, Tanh
from initlab.config import (
    ConfigError,
    ConstantInit,
    Distribution,
    FanMode,
    IdentityInit,
    LsuvInit,
    NormalInit,
    OrthogonalInit,
    RandomInit,
    SparseInit,
    TruncatedNormalInit,
    UniformInit,
    VarianceScalingInit,
    ZerosInit,
)
from initlab.initializers import (
    draw_weights,
    expected_weight_mean,
    expected_weight_std,
    init_layers,
    init_replicas,
    initialize,
    lsuv,
    resolve_gain_squared,
    truncated_standard_normal,
)
from initlab.network import Params

K = 0.87962566103423978  # the std of a standard normal truncated to ±2


def rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_gain_squared_from_a_number_a_name_or_auto():
    assert resolve_gain_squared("1.5", None) == 2.25
    assert resolve_gain_squared("tanh", None) == 25 / 9
    assert resolve_gain_squared("auto", Tanh("tanh")) == 25 / 9
    assert resolve_gain_squared("tanh", Tanh("tanh")) == 25 / 9
    assert resolve_gain_squared("relu", Tanh("tanh")) == 2.0
    with pytest.raises(ConfigError, match=r"init.gain: 'auto' needs the run's activation"):
        resolve_gain_squared("auto", None)


@pytest.mark.parametrize(
    "mode, variance",
    [(FanMode.fan_in, 2.25 / 4), (FanMode.fan_out, 2.25 / 6), (FanMode.fan_avg, 2.25 * 2 / 10)],
)
def test_variance_scaling_draws_by_fan_and_distribution(mode, variance):
    std = math.sqrt(variance)
    normal = VarianceScalingInit(mode=mode, gain="1.5")
    assert expected_weight_std(normal, 4, 6) == pytest.approx(std, rel=1e-15)
    np.testing.assert_array_equal(
        draw_weights(normal, 4, 6, rng()), rng().standard_normal((6, 4)) * std
    )
    uniform = VarianceScalingInit(mode=mode, gain="1.5", distribution=Distribution.uniform)
    bound = math.sqrt(3.0) * std
    np.testing.assert_array_equal(
        draw_weights(uniform, 4, 6, rng()), rng().uniform(-bound, bound, (6, 4))
    )
    truncated = VarianceScalingInit(
        mode=mode, gain="1.5", distribution=Distribution.truncated_normal
    )
    w = draw_weights(truncated, 4, 6, rng())
    np.testing.assert_allclose(w, truncated_standard_normal(rng(), (6, 4)) * (std / K), rtol=1e-15)


def test_truncated_normal_redraws_until_within_two():
    w = truncated_standard_normal(rng(1), (200, 50))
    assert np.abs(w).max() <= 2.0 and w.shape == (200, 50)
    plain = rng(1).standard_normal((200, 50))
    inside = np.abs(plain) <= 2.0
    np.testing.assert_array_equal(w[inside], plain[inside])  # kept where it was within ±2
    assert (np.abs(plain) > 2.0).sum() > 0

    # Exactly 2 stays, drawn first or redrawn: the cut is |w| > 2.
    class Fixed:
        def __init__(self, *values):
            self.values, self.calls = list(values), 0

        def standard_normal(self, shape):
            self.calls += 1
            return np.full(shape, self.values.pop(0))

    fixed = Fixed(2.0, 0.0)
    assert truncated_standard_normal(fixed, (2, 2)).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    assert fixed.calls == 1
    fixed = Fixed(-3.0, 2.0, 0.0)
    assert truncated_standard_normal(fixed, (2, 2)).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    assert fixed.calls == 2


def test_each_scheme_draws_what_its_formula_says():
    assert draw_weights(ZerosInit(), 3, 2, rng()).tolist() == [[0.0] * 3] * 2
    assert draw_weights(ConstantInit(value=0.25), 3, 2, rng()).tolist() == [[0.25] * 3] * 2
    np.testing.assert_array_equal(
        draw_weights(RandomInit(scale=3.0), 3, 2, rng()), rng().standard_normal((2, 3)) * 3.0
    )
    np.testing.assert_array_equal(
        draw_weights(NormalInit(std=0.2), 3, 2, rng()), rng().standard_normal((2, 3)) * 0.2
    )
    np.testing.assert_array_equal(
        draw_weights(UniformInit(bound=0.3), 3, 2, rng()), rng().uniform(-0.3, 0.3, (2, 3))
    )
    plain = truncated_standard_normal(rng(), (2, 3))
    np.testing.assert_array_equal(
        draw_weights(TruncatedNormalInit(std=0.2), 3, 2, rng()), plain * 0.2
    )
    corrected = TruncatedNormalInit(std=0.2, corrected=True)
    np.testing.assert_array_equal(draw_weights(corrected, 3, 2, rng()), plain * (0.2 / K))


@pytest.mark.parametrize("n_out, n_in", [(3, 5), (5, 3), (4, 4)])
def test_orthogonal_is_the_sign_fixed_q_of_a_gaussian_matrix(n_out, n_in):
    tall = rng().standard_normal((max(n_out, n_in), min(n_out, n_in)))
    q, r = np.linalg.qr(tall)
    q = q * np.sign(np.diag(r))
    expected = 1.5 * (q if n_out >= n_in else q.T)
    w = draw_weights(OrthogonalInit(gain="1.5"), n_in, n_out, rng())
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-15)
    assert w.shape == (n_out, n_in)
    auto = draw_weights(OrthogonalInit(gain="auto"), n_in, n_out, rng(), Tanh("tanh"))
    np.testing.assert_allclose(auto, expected / 1.5 * (5 / 3), rtol=1e-12, atol=1e-15)
    lsuv_start = draw_weights(LsuvInit(), n_in, n_out, rng())  # gain 1
    np.testing.assert_allclose(lsuv_start, expected / 1.5, rtol=1e-12, atol=1e-15)


def test_identity_and_its_strict_form():
    assert draw_weights(IdentityInit(gain="2"), 3, 2, rng()).tolist() == [
        [2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]  # fmt: skip
    auto = draw_weights(IdentityInit(gain="auto"), 2, 2, rng(), Relu("relu"))
    assert auto.tolist() == [[math.sqrt(2.0), 0.0], [0.0, math.sqrt(2.0)]]
    assert draw_weights(IdentityInit(strict=True), 2, 2, rng()).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ConfigError) as err:
        draw_weights(IdentityInit(strict=True), 3, 2, rng())
    assert str(err.value) == (
        "init=identity with strict: true needs square layers, but a layer maps 3 -> 2 units; "
        "set init.strict=false for the rectangular identity"
    )


def test_sparse_zeroes_ceil_of_sparsity_times_rows_in_every_column():
    w = draw_weights(SparseInit(sparsity=0.3, std=0.5), 4, 5, rng())
    r = rng()
    expected = r.standard_normal((5, 4)) * 0.5
    for column in range(4):
        expected[r.permutation(5)[:2], column] = 0.0  # ceil(0.3 · 5) = 2
    np.testing.assert_array_equal(w, expected)
    assert ((w == 0).sum(axis=0) == 2).all()


@pytest.mark.parametrize(
    "cfg, std, mean",
    [
        (ZerosInit(), 0.0, 0.0),
        (ConstantInit(value=0.25), 0.0, 0.25),
        (RandomInit(scale=3.0), 3.0, 0.0),
        (NormalInit(std=0.2), 0.2, 0.0),
        (UniformInit(bound=0.3), 0.3 / math.sqrt(3), 0.0),
        (TruncatedNormalInit(std=0.2), 0.2 * K, 0.0),
        (TruncatedNormalInit(std=0.2, corrected=True), 0.2, 0.0),
        (OrthogonalInit(gain="2"), math.sqrt(4 / 6), 0.0),
        (LsuvInit(), math.sqrt(1 / 6), 0.0),
        # identity 4 -> 6: 4 ones among 24 entries; std √(g² p (1 - p)), p = 1/6
        (IdentityInit(gain="2"), math.sqrt(4 * (1 / 6) * (5 / 6)), 2 / 6),
        (SparseInit(sparsity=0.3, std=0.5), 0.5 * math.sqrt(1 - 2 / 6), 0.0),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_expected_std_and_mean_of_a_4_to_6_layer(cfg, std, mean):
    assert expected_weight_std(cfg, 4, 6) == pytest.approx(std, rel=1e-15)
    assert expected_weight_mean(cfg, 4, 6) == pytest.approx(mean, rel=1e-15)


def test_expected_std_uses_the_activation_for_gain_auto():
    act = Tanh("tanh")
    assert expected_weight_std(OrthogonalInit(gain="auto"), 4, 6, act) == pytest.approx(
        math.sqrt(25 / 9 / 6))  # fmt: skip
    identity = IdentityInit(gain="auto")
    assert expected_weight_std(identity, 4, 6, act) == pytest.approx(
        math.sqrt(25 / 9 * (1 / 6) * (5 / 6)))  # fmt: skip
    assert expected_weight_mean(identity, 4, 6, act) == pytest.approx(5 / 3 / 6)


def test_init_layers_draws_weights_then_bias_noise_layer_by_layer():
    cfg = NormalInit(std=0.5, bias=0.1, bias_std=0.2)
    params = init_layers(cfg, [2, 3, 1], rng())
    r = rng()
    w1 = r.standard_normal((3, 2)) * 0.5
    b1 = 0.1 + 0.2 * r.standard_normal((1, 3, 1))
    w2 = r.standard_normal((1, 3)) * 0.5
    b2 = 0.1 + 0.2 * r.standard_normal((1, 1, 1))
    np.testing.assert_array_equal(params.weights[0], w1[np.newaxis])
    np.testing.assert_array_equal(params.weights[1], w2[np.newaxis])
    np.testing.assert_allclose(params.biases[0], b1, rtol=1e-15)
    np.testing.assert_allclose(params.biases[1], b2, rtol=1e-15)
    plain = init_layers(NormalInit(std=0.5, bias=0.1), [2, 3, 1], rng())
    assert plain.biases[0].tolist() == [[[0.1], [0.1], [0.1]]]
    r = rng()
    r.standard_normal((3, 2))  # no bias noise: the second layer's draws come right after
    np.testing.assert_array_equal(plain.weights[1][0], r.standard_normal((1, 3)) * 0.5)
    auto = init_layers(VarianceScalingInit(gain="auto"), [2, 3], rng(), Tanh("tanh"))
    np.testing.assert_allclose(
        auto.weights[0][0], rng().standard_normal((3, 2)) * (5 / 3) / math.sqrt(2)
    )


def test_init_replicas_stacks_one_draw_per_generator():
    params = init_replicas([NormalInit(std=0.5), ZerosInit()], [2, 3, 1], [rng(1), rng(2)])
    assert params.replicas == 2
    np.testing.assert_array_equal(params.weights[0][0], rng(1).standard_normal((3, 2)) * 0.5)
    assert not params.weights[0][1].any()
    auto = init_replicas([VarianceScalingInit(gain="auto")], [2, 3], [rng(1)], Tanh("tanh"))
    np.testing.assert_allclose(
        auto.weights[0][0], rng(1).standard_normal((3, 2)) * (5 / 3) / math.sqrt(2)
    )
    with pytest.raises(ValueError) as err:
        init_replicas([ZerosInit()], [2, 1], [rng(1), rng(2)])
    assert str(err.value) == "need one generator per replica: 1 schemes, 2 generators"


def _data():
    return np.random.default_rng(5).standard_normal((3, 40)) * 2.0


def test_lsuv_scales_each_layer_to_unit_output_variance():
    X = _data()
    act = Tanh("tanh")
    start = init_layers(LsuvInit(), [3, 4, 4, 1], rng(), act)
    out, report = lsuv(start, X, act, LsuvInit(tolerance=0.01))
    assert len(report.lsuv_iterations) == 3 and all(n >= 1 for n in report.lsuv_iterations)
    a = X
    for layer, (w, b) in enumerate(zip(out.weights, out.biases, strict=True)):
        z = w[0] @ a + b[0]
        assert abs(z.var() - 1.0) < 0.01
        assert report.lsuv_variances[layer] == pytest.approx(z.var(), rel=1e-12)
        # only rescaled: the same direction as the orthogonal start
        ratio = w[0] / start.weights[layer][0]
        np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-12)
        a = np.tanh(z)
    np.testing.assert_array_equal(
        start.weights[0], init_layers(LsuvInit(), [3, 4, 4, 1], rng(), act).weights[0]
    )


def test_lsuv_stops_at_max_iterations_and_leaves_dead_replicas():
    X = _data()
    act = Linear("linear")
    start = init_layers(LsuvInit(), [3, 2, 1], rng(), act)
    # A linear layer reaches variance 1 in one step; max_iterations 1 is then enough.
    out, report = lsuv(start, X, act, LsuvInit(tolerance=0.01, max_iterations=1))
    assert report.lsuv_iterations == [1, 1]
    # Replica 2 is all zeros: variance 0, never rescaled (no division by zero), while
    # replica 1 goes on alone; the batch is the first 10 columns.
    two = Params.stack([start, Params([w * 0 for w in start.weights], start.biases)])
    out, report = lsuv(two, X, act, LsuvInit(tolerance=0.01, batch_size=10))
    assert not out.weights[0][1].any()
    z = out.weights[0][0] @ X[:, :10]
    assert abs(z.var() - 1.0) < 0.01
    assert report.lsuv_iterations == [10, 10]  # replica 2 stays outside: max_iterations


def test_initialize_runs_lsuv_on_the_batch_and_nothing_else():
    X, act = _data(), Tanh("tanh")
    params, report = initialize(NormalInit(std=0.5), [3, 2, 1], rng(), act)
    np.testing.assert_array_equal(params.weights[0][0], rng().standard_normal((2, 3)) * 0.5)
    assert report.lsuv_iterations == []
    params, report = initialize(LsuvInit(), [3, 2, 1], rng(), act, X)
    assert len(report.lsuv_iterations) == 2
    with pytest.raises(ValueError, match=r"^init=lsuv needs a data batch$"):
        initialize(LsuvInit(), [3, 2, 1], rng(), act)


def test_messages_of_a_missing_activation_and_an_unknown_scheme():
    from dataclasses import dataclass

    from initlab.config import InitConfig

    with pytest.raises(ConfigError) as err:
        resolve_gain_squared("auto", None)
    assert str(err.value) == "init.gain: 'auto' needs the run's activation"

    @dataclass
    class Weird(InitConfig):
        name: str = "weird"

    for call in (lambda: draw_weights(Weird(), 2, 2, rng()),
                 lambda: expected_weight_std(Weird(), 2, 2)):  # fmt: skip
        with pytest.raises(ConfigError) as err:
            call()
        assert str(err.value) == "unknown init scheme 'weird'"


def test_lsuv_on_linear_layers_takes_exactly_one_step_each():
    X, act = _data(), Linear("linear")
    start = init_layers(LsuvInit(), [3, 2, 2, 1], rng(), act)
    out, report = lsuv(start, X, act, LsuvInit(tolerance=0.01))
    assert report.lsuv_iterations == [1, 1, 1]
    assert report.lsuv_variances == pytest.approx([1.0, 1.0, 1.0], rel=1e-12)
    out, report = lsuv(start, X, act, LsuvInit(tolerance=0.01, max_iterations=1))
    z = out.weights[0][0] @ X
    assert z.var() == pytest.approx(1.0, rel=1e-12)


def test_lsuv_of_a_dead_replica_warns_nothing():
    import warnings

    X, act = _data(), Linear("linear")
    start = init_layers(LsuvInit(), [3, 2, 1], rng(), act)
    two = Params.stack([start, Params([w * 0 for w in start.weights], start.biases)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lsuv(two, X, act, LsuvInit(tolerance=0.01))


def test_initialize_passes_the_activation_for_gain_auto():
    params, _ = initialize(VarianceScalingInit(gain="auto"), [3, 2], rng(), Tanh("tanh"))
    np.testing.assert_allclose(
        params.weights[0][0], rng().standard_normal((2, 3)) * (5 / 3) / math.sqrt(3)
    )


def test_lsuv_leaves_a_replica_within_tolerance_alone():
    X, act = _data(), Linear("linear")
    start = init_layers(LsuvInit(), [3, 1], rng(), act)
    var = (start.weights[0][0] @ X).var()
    within = Params([start.weights[0] * math.sqrt(1.05 / var)], start.biases)  # variance 1.05
    outside = Params([start.weights[0] * 2.0 / math.sqrt(var)], start.biases)  # variance 4
    out, report = lsuv(Params.stack([within, outside]), X, act, LsuvInit(tolerance=0.1))
    np.testing.assert_array_equal(out.weights[0][0], within.weights[0][0])
    assert (out.weights[0][1] @ X).var() == pytest.approx(1.0, rel=1e-12)
    assert report.lsuv_iterations == [1]
