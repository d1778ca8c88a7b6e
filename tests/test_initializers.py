"""Every initializer against its formula, on wide layers with a fixed seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hydra.errors import ConfigCompositionException

from initlab.activations import make_activation
from initlab.config import (
    GROUP_OPTIONS,
    TRUNCATED_STD_FACTOR,
    ConfigError,
    FanMode,
    HeInit,
    IdentityInit,
    LsuvInit,
    OrthogonalInit,
    TanhActivation,
    TruncatedNormalInit,
    UniformInit,
    VarianceScalingInit,
    XavierInit,
    to_settings,
)
from initlab.diagnostics import gaussian_moments
from initlab.initializers import (
    draw_weights,
    expected_weight_mean,
    expected_weight_std,
    initialize,
)
from initlab.seeding import course_rng

WIDE = 1000
RELU = make_activation(GROUP_OPTIONS["activation"]["relu"])
DRAWN = [name for name in GROUP_OPTIONS["init"] if name != "lsuv"]


@pytest.mark.parametrize("shape", [(WIDE, WIDE), (WIDE, WIDE // 2)], ids=["square", "wide-in"])
@pytest.mark.parametrize("name", DRAWN)
def test_mean_and_std_match_the_formula(name, shape):
    cfg = GROUP_OPTIONS["init"][name]
    n_in, n_out = shape
    w = draw_weights(cfg, n_in, n_out, np.random.default_rng(0), RELU)
    assert w.shape == (n_out, n_in)
    std, mean = (
        expected_weight_std(cfg, n_in, n_out, RELU),
        expected_weight_mean(cfg, n_in, n_out, RELU),
    )
    if std == 0:
        np.testing.assert_array_equal(w, mean)
        return
    assert w.std() == pytest.approx(std, rel=0.02)
    assert abs(w.mean() - mean) < 0.02 * std


@pytest.mark.parametrize("mode,fan", [("fan_in", 800), ("fan_out", 200), ("fan_avg", 500)])
def test_fan_modes(mode, fan):
    cfg = VarianceScalingInit(mode=FanMode[mode], gain="2")
    w = draw_weights(cfg, 800, 200, np.random.default_rng(1))
    assert w.std() == pytest.approx(2 / math.sqrt(fan), rel=0.02)


def test_the_course_formulas_exactly():
    """He is sqrt(2 / n_in) and Xavier sqrt(2 / (n_in + n_out)), to the last bit."""
    assert expected_weight_std(HeInit(), 10, 5) == math.sqrt(2.0 / 10)
    assert expected_weight_std(XavierInit(), 10, 5) == math.sqrt(2.0 / 15)
    assert expected_weight_std(GROUP_OPTIONS["init"]["lecun"], 10, 5) == math.sqrt(1.0 / 10)


@pytest.mark.parametrize(
    "name", ["uniform", "xavier_uniform", "he_uniform", "lecun_uniform", "glorot_uniform"]
)
def test_uniform_draws_stay_inside_the_bound(name):
    cfg = GROUP_OPTIONS["init"][name]
    w = draw_weights(cfg, WIDE, WIDE, np.random.default_rng(2), RELU)
    bound = (
        cfg.bound
        if isinstance(cfg, UniformInit)
        else math.sqrt(3) * expected_weight_std(cfg, WIDE, WIDE, RELU)
    )
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # and fill it


@pytest.mark.parametrize("corrected", [False, True])
def test_truncated_normal_stays_inside_the_cut(corrected):
    cfg = TruncatedNormalInit(std=0.3, corrected=corrected)
    w = draw_weights(cfg, WIDE, WIDE, np.random.default_rng(3))
    parent_std = 0.3 / TRUNCATED_STD_FACTOR if corrected else 0.3
    assert np.abs(w).max() <= 2 * parent_std
    assert w.std() == pytest.approx(0.3 if corrected else 0.3 * TRUNCATED_STD_FACTOR, rel=0.01)


def test_truncated_std_factor_is_the_std_of_a_truncated_standard_normal():
    x = np.linspace(-2, 2, 400_001)
    density = np.exp(-x * x / 2)
    variance = np.trapezoid(x * x * density, x) / np.trapezoid(density, x)
    assert math.sqrt(variance) == pytest.approx(TRUNCATED_STD_FACTOR, rel=1e-9)


@pytest.mark.parametrize("n_out,n_in", [(300, 500), (500, 300), (400, 400)])
def test_orthogonal_is_orthogonal(n_out, n_in):
    w = draw_weights(OrthogonalInit(), n_in, n_out, np.random.default_rng(4))
    gram = w @ w.T if n_out <= n_in else w.T @ w
    np.testing.assert_allclose(gram, np.eye(min(n_in, n_out)), atol=1e-10)


def test_orthogonal_gain_scales_it():
    w = draw_weights(OrthogonalInit(gain="2.5"), 50, 50, np.random.default_rng(5))
    np.testing.assert_allclose(w @ w.T, 6.25 * np.eye(50), atol=1e-10)


def test_identity_square_and_rectangular():
    np.testing.assert_array_equal(draw_weights(IdentityInit(), 4, 4, None), np.eye(4))
    np.testing.assert_array_equal(draw_weights(IdentityInit(), 2, 3, None), np.eye(3, 2))
    with pytest.raises(ConfigError, match=r"strict.*2 -> 3"):
        draw_weights(IdentityInit(strict=True), 2, 3, None)


def test_sparse_zeroes_the_fraction_of_every_column():
    cfg = GROUP_OPTIONS["init"]["sparse"]
    w = draw_weights(cfg, 300, 200, np.random.default_rng(6))
    zeros_per_column = (w == 0).sum(axis=0)
    np.testing.assert_array_equal(zeros_per_column, math.ceil(cfg.sparsity * 200))


def test_gain_auto_takes_the_activation_gain():
    tanh = make_activation(TanhActivation())
    cfg = VarianceScalingInit(gain="auto")
    assert expected_weight_std(cfg, 100, 100, tanh) == pytest.approx((5 / 3) / 10)
    leaky = make_activation(GROUP_OPTIONS["activation"]["leaky_relu"])
    slope = leaky.slope
    assert expected_weight_std(cfg, 100, 100, leaky) == pytest.approx(
        math.sqrt(2 / (1 + slope**2)) / 10
    )


@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu"])
def test_gains_preserve_the_second_moment_where_theory_says_so(name):
    """gain² · E[φ(z)²] = E[z²] for z ~ N(0, 1): the definition of the recommended gain."""
    act = make_activation(GROUP_OPTIONS["activation"][name])
    _, second_moment = gaussian_moments(act, 0.0, 1.0)
    assert act.gain_squared * second_moment == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("act_name", ["relu", "tanh", "linear"])
def test_lsuv_brings_every_layer_within_tolerance(act_name):
    act = make_activation(GROUP_OPTIONS["activation"][act_name])
    rng = np.random.default_rng(7)
    X = rng.standard_normal((20, 500)) * 3.0
    cfg = LsuvInit(tolerance=0.05, max_iterations=20)
    params, report = initialize(cfg, [20, 64, 64, 64, 1], course_rng(0), act, X)
    assert len(report.lsuv_iterations) == 4
    assert report.lsuv_iterations[0] >= 1  # the data (std 3) needed rescaling
    from initlab.network import forward

    for z in forward(params, X, act).zs:
        assert abs(z.var() - 1.0) < cfg.tolerance


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["init=normal", "init.std=-1"], "init.std"),
        (["init=truncated_normal", "init.std=0"], "init.std"),
        (["init=uniform", "init.bound=-0.1"], "init.bound"),
        (["init=sparse", "init.sparsity=1"], "init.sparsity"),
        (["init=sparse", "init.sparsity=-0.5"], "init.sparsity"),
        (["init=he", "init.gain=banana"], "init.gain"),
        (["init=he", "init.gain=-2"], "init.gain"),
        (["init=lsuv", "init.tolerance=0"], "init.tolerance"),
        (["init=lsuv", "init.max_iterations=0"], "init.max_iterations"),
        (["activation=elu", "activation.alpha=-1"], "activation.alpha"),
        (["activation=leaky_relu", "activation.slope=1.5"], "activation.slope"),
    ],
)
def test_invalid_parameters_are_config_errors(compose_cfg, overrides, key):
    with pytest.raises(ConfigError, match=rf"^{key} must be"):
        to_settings(compose_cfg(*overrides))


def test_unknown_mode_lists_the_modes(compose_cfg):
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg("init=he", "init.mode=fan_sideways")
    message = str(info.value.__cause__)
    assert "init.mode" in message and "fan_in" in message and "fan_out" in message


def test_init_bias_sets_every_bias(compose_cfg):
    s = to_settings(compose_cfg("init=he", "init.bias=0.01"))
    params, _ = initialize(s.init, [2, 10, 5, 1], course_rng(3), RELU)
    for b in params.biases:
        np.testing.assert_array_equal(b, 0.01)


def test_standard_is_glorots_uniform_one_over_sqrt_fan_in():
    """U(±1/√n_in): Glorot & Bengio's eq. (1), torch.nn.Linear's default weight init."""
    from initlab.config import GROUP_OPTIONS
    from initlab.initializers import draw_weights

    w = draw_weights(GROUP_OPTIONS["init"]["standard"], 400, 1000, np.random.default_rng(0))
    bound = 1 / np.sqrt(400)
    assert np.abs(w).max() <= bound * (1 + 1e-12)
    assert np.abs(w).max() > 0.999 * bound
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.01)
