"""Activations, gains and initializers against numbers written out here from their sources.

Every expected value in this file comes from a published constant or formula typed into the
test (math's functions evaluate it), never from initlab's own helpers: a wrong constant, a
swapped fan or a dropped factor in src/ makes a test here fail.

Sources: Klambauer et al. 2017 (SELU's α and λ, to 31 digits as in their paper's code);
Hendrycks & Gimpel 2016 (GELU = x·Φ(x) = 0.5·x·(1 + erf(x/√2))); Clevert et al. 2016 (ELU);
torch.nn.init.calculate_gain's table (gains); Glorot & Bengio 2010, He et al. 2015, LeCun et
al. 1998, Saxe et al. 2014, Mishkin & Matas 2016, TensorFlow/Keras (truncated normals); and
docs/initializers.md for what initlab adds (the gains of elu, gelu, softplus; `standard`,
`sparse`, `identity`, and the defaults of conf/init/*.yaml).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from initlab.activations import make_activation
from initlab.config import (
    GROUP_OPTIONS,
    EluActivation,
    GeluActivation,
    LeakyReluActivation,
    LinearActivation,
    ReluActivation,
    SeluActivation,
    SigmoidActivation,
    SoftplusActivation,
    TanhActivation,
    to_settings,
)
from initlab.gains import GAIN_SQUARED, gain_squared
from initlab.initializers import draw_weights, init_layers

CONF = Path(__file__).resolve().parents[1] / "conf"

# --- activations -----------------------------------------------------------------------------

# Klambauer et al. 2017, "Self-Normalizing Neural Networks", eq. (2) and their code.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
SQRT_2PI = math.sqrt(2.0 * math.pi)

# Negative, zero, positive, and large enough to overflow a naive exp (e^800 = inf).
POINTS = [-800.0, -40.0, -5.0, -1.0, -0.25, 0.0, 0.25, 1.0, 3.0, 40.0, 800.0]
KINK_FREE = [x for x in POINTS if x != 0.0]  # piecewise units' derivative jumps at 0


def _phi_cdf(x: float) -> float:
    """Φ(x) = 0.5·(1 + erf(x/√2)), written as 0.5·erfc(−x/√2): the same number, without the
    cancellation of 1 + erf for x ≪ 0."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _softplus(x: float) -> float:
    """log(1 + e^x) = max(x, 0) + log1p(e^−|x|), which does not overflow."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _elu(alpha: float, scale: float = 1.0):
    def forward(x):
        return scale * (x if x > 0 else alpha * math.expm1(x))

    def derivative(x):
        return scale * (1.0 if x > 0 else alpha * math.exp(x))

    return forward, derivative


def _leaky(slope: float):
    return (lambda x: x if x > 0 else slope * x), (lambda x: 1.0 if x > 0 else slope)


# name: (config, forward φ(x), derivative φ'(x)), each written from its source.
REFERENCES = {
    "relu": (ReluActivation(), lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu(0.01)": (LeakyReluActivation(slope=0.01), *_leaky(0.01)),
    "leaky_relu(0.2)": (LeakyReluActivation(slope=0.2), *_leaky(0.2)),
    "elu(1)": (EluActivation(alpha=1.0), *_elu(1.0)),
    "elu(0.5)": (EluActivation(alpha=0.5), *_elu(0.5)),
    "elu(2)": (EluActivation(alpha=2.0), *_elu(2.0)),
    "selu": (SeluActivation(), *_elu(SELU_ALPHA, SELU_LAMBDA)),
    "gelu": (
        GeluActivation(),
        lambda x: x * _phi_cdf(x),
        lambda x: _phi_cdf(x) + x * math.exp(-0.5 * x * x) / SQRT_2PI,  # Φ(x) + x·φ(x)
    ),
    "softplus": (SoftplusActivation(), _softplus, _sigmoid),
    "sigmoid": (SigmoidActivation(), _sigmoid, lambda x: _sigmoid(x) * _sigmoid(-x)),
    "tanh": (
        TanhActivation(),
        math.tanh,
        lambda x: 1.0 / math.cosh(x) ** 2 if abs(x) < 700 else 0.0,  # sech², 0 past cosh's range
    ),
    "linear": (LinearActivation(), lambda x: x, lambda x: 1.0),
}


def test_every_activation_has_a_reference_here():
    names = {cfg.name for cfg, _, _ in REFERENCES.values()}
    assert (
        names
        == set(GROUP_OPTIONS["activation"])
        == {p.stem for p in (CONF / "activation").glob("*.yaml")}
    )


@pytest.mark.parametrize("case", REFERENCES, ids=str)
def test_forward_values(case):
    cfg, forward, _ = REFERENCES[case]
    act = make_activation(cfg)
    z = np.array(POINTS)
    expected = np.array([forward(x) for x in POINTS])
    # No overflow, NaN or division by zero anywhere (an underflow to 0 is fine).
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = act(z)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)
    # The training loop's in-place form gives the same values.
    out, mask = np.empty_like(z), np.empty(z.shape, dtype=bool)
    act.apply(z, out, mask)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("case", REFERENCES, ids=str)
def test_derivatives_are_the_closed_forms(case):
    """φ'(x) from the formula written above, at every point but the kinks (tested below).
    grad() may use a = φ(z): 1 − a² and a(1 − a) lose absolute precision ~1e-16 where the
    derivative is tiny, hence the atol."""
    cfg, _, derivative = REFERENCES[case]
    act = make_activation(cfg)
    z = np.array(KINK_FREE)
    expected = np.array([derivative(x) for x in KINK_FREE])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = act(z)
        got = np.asarray(act.grad(z, a), dtype=float)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=2e-16)
    # And the training loop's backprop, da · φ'(z), after apply (which may fill the mask).
    out, mask, delta = np.empty_like(z), np.empty(z.shape, dtype=bool), np.empty_like(z)
    act.apply(z, out, mask)
    da = np.linspace(-2.0, 3.0, z.size)
    act.backprop(da, z, out, delta, mask)
    np.testing.assert_allclose(delta, da * expected, rtol=1e-14, atol=1e-15)


def test_published_values_of_the_activations():
    """A few values as printed in references (16-17 significant digits)."""
    at = {name: make_activation(cfg) for name, (cfg, _, _) in REFERENCES.items()}
    one = np.array([1.0])
    assert at["gelu"](one)[0] == pytest.approx(0.8413447460685429, rel=1e-15)  # Φ(1)
    assert at["gelu"](-one)[0] == pytest.approx(-0.15865525393145707, rel=1e-14)
    assert at["softplus"](np.array([0.0]))[0] == pytest.approx(0.6931471805599453, rel=1e-16)
    assert at["sigmoid"](np.array([0.0]))[0] == 0.5
    assert at["tanh"](one)[0] == pytest.approx(0.7615941559557649, rel=1e-16)
    # SELU's limit for z → −∞ is −λα; its slope for z > 0 is λ.
    assert at["selu"](np.array([-800.0]))[0] == pytest.approx(-1.7580993408473766, rel=1e-15)
    assert at["selu"](one)[0] == pytest.approx(1.0507009873554805, rel=1e-16)
    assert at["elu(2)"](np.array([-800.0]))[0] == -2.0
    assert at["elu(0.5)"](-one)[0] == pytest.approx(0.5 * (math.exp(-1) - 1), rel=1e-15)


def test_derivatives_at_the_kinks():
    """At z = 0: ReLU's mask z > 0 gives 0 (the course's choice); leaky ReLU's gives its
    slope; ELU's left limit α·e^0 = α (SELU: λα) since only z > 0 takes the linear branch."""
    zero = np.array([0.0])
    cases = {"relu": 0.0, "leaky_relu(0.2)": 0.2, "elu(0.5)": 0.5, "elu(2)": 2.0,
             "selu": SELU_LAMBDA * SELU_ALPHA, "linear": 1.0}  # fmt: skip
    for name, expected in cases.items():
        act = make_activation(REFERENCES[name][0])
        assert float(act.grad(zero, act(zero))[0]) == pytest.approx(expected, rel=1e-15), name


# --- gains -----------------------------------------------------------------------------------

# torch.nn.init.calculate_gain (PyTorch docs, "torch.nn.init"): linear and conv 1, sigmoid 1,
# tanh 5/3, relu √2, leaky_relu √(2/(1 + negative_slope²)), selu 3/4. torch has none for elu,
# gelu and softplus; docs/initializers.md gives them ReLU's √2.
TORCH_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0),
               "selu": 0.75}  # fmt: skip
DOCS_GAINS = {"elu": math.sqrt(2.0), "gelu": math.sqrt(2.0), "softplus": math.sqrt(2.0)}


def test_every_activation_has_a_reference_gain():
    assert set(GAIN_SQUARED) == set(TORCH_GAINS) | set(DOCS_GAINS) | {"leaky_relu"}


@pytest.mark.parametrize("name", [*TORCH_GAINS, *DOCS_GAINS])
def test_gains_are_torchs_and_the_docs(name):
    gain = {**TORCH_GAINS, **DOCS_GAINS}[name]
    assert math.sqrt(gain_squared(name)) == pytest.approx(gain, rel=1e-15)
    assert gain_squared(name) == pytest.approx(gain * gain, rel=1e-15)
    # The activation object (what `init.gain=auto` uses) says the same.
    cfg = {cfg.name: cfg for cfg, _, _ in REFERENCES.values()}[name]
    assert make_activation(cfg).gain_squared == pytest.approx(gain * gain, rel=1e-15)


def test_gains_squared_are_the_exact_fractions():
    """Stored squared so that He's sqrt(2 / n_in) is the course's, bit for bit."""
    assert gain_squared("relu") == 2.0
    assert gain_squared("tanh") == 25.0 / 9.0
    assert gain_squared("selu") == 9.0 / 16.0  # (3/4)², not 3/4
    assert gain_squared("linear") == gain_squared("sigmoid") == 1.0


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 0.5])
def test_leaky_relu_gain_is_torchs_formula(slope):
    expected = math.sqrt(2.0 / (1.0 + slope**2))  # torch's default negative_slope is 0.01
    assert math.sqrt(gain_squared("leaky_relu", slope)) == pytest.approx(expected, rel=1e-15)
    act = make_activation(LeakyReluActivation(slope=slope))
    assert math.sqrt(act.gain_squared) == pytest.approx(expected, rel=1e-15)


# --- initializers ----------------------------------------------------------------------------

# The std of N(0, 1) cut to [−2, 2]: √(1 − 2·2·φ(2)/(Φ(2) − Φ(−2))), φ the standard normal
# density; Keras' VarianceScaling writes it as 0.87962566103423978.
TRUNCATED_FACTOR = math.sqrt(1.0 - 4.0 * math.exp(-2.0) / SQRT_2PI / math.erf(2.0 / math.sqrt(2.0)))
SHAPES = [
    (1000, 400),
    (250, 901),
]  # (n_in, n_out): fans all differ; odd 901 makes ⌈0.5·n_out⌉ ≠ 0.5·n_out


def test_truncated_factor_is_keras_constant():
    assert math.isclose(TRUNCATED_FACTOR, 0.87962566103423978, rel_tol=1e-15)


def _normal(std):
    return ("normal", std)


def _uniform(bound):
    return ("uniform", bound)


# name -> (kind, value(n_in, n_out)), from docs/initializers.md and each scheme's source, with
# the defaults of conf/init/<name>.yaml.
INITS = {
    "zeros": ("exact", lambda i, o: np.zeros((o, i))),
    "constant": ("exact", lambda i, o: np.full((o, i), 0.1)),
    "identity": ("exact", lambda i, o: np.eye(o, i)),
    "small": _normal(lambda i, o: 0.01),
    "random": _normal(lambda i, o: 10.0),
    "normal": _normal(lambda i, o: 0.05),
    "xavier": _normal(lambda i, o: math.sqrt(2.0 / (i + o))),
    "glorot": _normal(lambda i, o: math.sqrt(2.0 / (i + o))),
    "he": _normal(lambda i, o: math.sqrt(2.0 / i)),
    "kaiming": _normal(lambda i, o: math.sqrt(2.0 / i)),
    "lecun": _normal(lambda i, o: math.sqrt(1.0 / i)),
    "uniform": _uniform(lambda i, o: 0.05),
    "xavier_uniform": _uniform(lambda i, o: math.sqrt(6.0 / (i + o))),
    "glorot_uniform": _uniform(lambda i, o: math.sqrt(6.0 / (i + o))),
    "he_uniform": _uniform(lambda i, o: math.sqrt(6.0 / i)),
    "kaiming_uniform": _uniform(lambda i, o: math.sqrt(6.0 / i)),
    "lecun_uniform": _uniform(lambda i, o: math.sqrt(3.0 / i)),
    "standard": _uniform(lambda i, o: 1.0 / math.sqrt(i)),  # Glorot & Bengio's eq. (1)
    "truncated_normal": ("truncated", lambda i, o: 0.05),  # TF: std before the cut
    "orthogonal": ("orthogonal", lambda i, o: 1.0),  # every singular value = gain
    "lsuv": ("orthogonal", lambda i, o: 1.0),  # its start, before the data rescales it
    "sparse": ("sparse", lambda i, o: (0.01, math.ceil(0.5 * o))),  # (std, zeros a column)
}


def _settings_init(compose_cfg, *overrides):
    """The init config `python src/train.py OVERRIDES` would use (its YAML's defaults)."""
    return to_settings(compose_cfg(*overrides)).init


def _rel_tolerance(n: int) -> float:
    """Five standard errors of a sample std over n draws: the std of s/σ is ≈ √((κ − 1)/4n),
    κ the kurtosis (3 normal, 1.8 uniform, < 3 truncated normal), so at most √(1/2n)."""
    return 5.0 * math.sqrt(1.0 / (2.0 * n))


def test_every_init_option_has_a_reference_here():
    assert (
        set(INITS) == set(GROUP_OPTIONS["init"]) == {p.stem for p in (CONF / "init").glob("*.yaml")}
    )


@pytest.mark.parametrize("n_in,n_out", SHAPES)
@pytest.mark.parametrize("name", INITS)
def test_every_initializer_against_its_formula(compose_cfg, name, n_in, n_out):
    kind, value = INITS[name]
    cfg = _settings_init(compose_cfg, f"init={name}")
    if kind == "orthogonal":  # exact at any size: a fifth of it keeps QR and SVD quick
        n_in, n_out = n_in // 5, n_out // 5
    w = draw_weights(cfg, n_in, n_out, np.random.default_rng(12), make_activation(ReluActivation()))
    assert w.shape == (n_out, n_in)
    n = w.size
    expected = value(n_in, n_out)
    if kind == "exact":
        np.testing.assert_array_equal(w, expected)
    elif kind == "normal":
        assert w.std() == pytest.approx(expected, rel=_rel_tolerance(n))
        assert abs(w.mean()) < 5 * expected / math.sqrt(n)
        assert np.abs(w).max() > 4 * expected  # a normal's tails, not a uniform's box
    elif kind == "uniform":
        bound = expected
        assert np.abs(w).max() <= bound
        # P(no |w| above (1 − ε)·bound) = (1 − ε)^n: for ε = 1e-4 and n ≥ 2e5, below e^-20.
        assert np.abs(w).max() >= bound * (1 - 1e-4)
        assert w.std() == pytest.approx(bound / math.sqrt(3.0), rel=_rel_tolerance(n))
    elif kind == "truncated":
        cut = 2.0 * expected
        assert np.abs(w).max() <= cut
        # P(|x| in the last 0.1% below the cut) ≈ 2·2·0.001·φ(2)/0.954 ≈ 2e-4 per draw.
        assert np.abs(w).max() >= cut * (1 - 1e-3)
        assert w.std() == pytest.approx(expected * TRUNCATED_FACTOR, rel=_rel_tolerance(n))
    elif kind == "orthogonal":
        singular = np.linalg.svd(w, compute_uv=False)
        assert singular.size == min(n_in, n_out)
        np.testing.assert_allclose(singular, expected, rtol=1e-12)
    elif kind == "sparse":
        std, zeros = expected
        np.testing.assert_array_equal((w == 0).sum(axis=0), zeros)
        kept = w[w != 0]
        assert kept.size == n - zeros * n_in
        assert kept.std() == pytest.approx(std, rel=_rel_tolerance(kept.size))
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize(
    "name,std",
    [
        ("he", lambda i, o: math.sqrt(2.0 / i)),
        ("kaiming", lambda i, o: math.sqrt(2.0 / i)),
        ("xavier", lambda i, o: math.sqrt(2.0 / (i + o))),
        ("glorot", lambda i, o: math.sqrt(2.0 / (i + o))),
        ("lecun", lambda i, o: math.sqrt(1.0 / i)),
        ("small", lambda i, o: 0.01),
        ("random", lambda i, o: 10.0),
        ("normal", lambda i, o: 0.05),
    ],
)
def test_normal_schemes_are_the_courses_randn_times_std(compose_cfg, name, std):
    """The contract of initializers.py: W = standard_normal((n_out, n_in)) · std from the
    generator, as the course's np.random.randn(n_out, n_in) · scale; so the std is pinned to
    the last bits, not only statistically. He's std is the course's np.sqrt(2.0 / n_in)."""
    cfg = _settings_init(compose_cfg, f"init={name}")
    for n_in, n_out in [*SHAPES, (2, 10), (10, 5)]:
        w = draw_weights(cfg, n_in, n_out, np.random.RandomState(3))
        expected = np.random.RandomState(3).randn(n_out, n_in) * std(n_in, n_out)
        np.testing.assert_allclose(w, expected, rtol=2.3e-16, atol=0)


def test_he_is_the_courses_expression_bit_for_bit(compose_cfg):
    """The course: np.random.seed(3), then per layer randn(n_out, n_in) * np.sqrt(2.0 / n_in)."""
    cfg = _settings_init(compose_cfg, "init=he")
    ours = init_layers(cfg, [2, 10, 5, 1], np.random.RandomState(3))
    state = np.random.get_state()
    try:
        np.random.seed(3)
        for layer, (n_in, n_out) in enumerate([(2, 10), (10, 5), (5, 1)]):
            course_w = np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)
            np.testing.assert_array_equal(ours.weights[layer][0], course_w)
            np.testing.assert_array_equal(ours.biases[layer][0], np.zeros((n_out, 1)))
    finally:
        np.random.set_state(state)


@pytest.mark.parametrize(
    "overrides,std",
    [
        (["init=he", "init.mode=fan_out"], lambda i, o: math.sqrt(2.0 / o)),
        (["init=he", "init.mode=fan_avg"], lambda i, o: math.sqrt(4.0 / (i + o))),
        (["init=xavier", "init.gain=tanh"], lambda i, o: 5.0 / 3.0 * math.sqrt(2.0 / (i + o))),
        (["init=lecun", "init.gain=selu"], lambda i, o: 0.75 / math.sqrt(i)),
        (["init=lecun", "init.gain=2.5"], lambda i, o: 2.5 / math.sqrt(i)),
        (["init=he", "init.gain=auto", "activation=tanh"], lambda i, o: 5.0 / 3.0 / math.sqrt(i)),
        (["init=he", "init.gain=auto", "activation=selu"], lambda i, o: 0.75 / math.sqrt(i)),
        (["init=he", "init.gain=auto", "activation=leaky_relu", "activation.slope=0.2"],
         lambda i, o: math.sqrt(2.0 / (1.0 + 0.04)) / math.sqrt(i)),
        (["init=he", "activation=tanh"], lambda i, o: math.sqrt(2.0 / i)),  # gain stays relu's
    ],
)  # fmt: skip
def test_fan_modes_and_gains_of_variance_scaling(compose_cfg, overrides, std):
    settings = to_settings(compose_cfg(*overrides))
    act = make_activation(settings.activation)
    for n_in, n_out in SHAPES:
        w = draw_weights(settings.init, n_in, n_out, np.random.RandomState(5), act)
        expected = np.random.RandomState(5).randn(n_out, n_in) * std(n_in, n_out)
        np.testing.assert_allclose(w, expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    "overrides,std",
    [
        (["init=he", "init.distribution=truncated_normal"], lambda i, o: math.sqrt(2.0 / i)),
        (["init=xavier", "init.distribution=truncated_normal"],
         lambda i, o: math.sqrt(2.0 / (i + o))),
        (["init=truncated_normal", "init.corrected=true", "init.std=0.3"], lambda i, o: 0.3),
    ],
)  # fmt: skip
def test_corrected_truncated_normals_have_the_formulas_std(compose_cfg, overrides, std):
    """Keras' rule: the parent normal's std is σ/0.8796, so the draws have std σ, and nothing
    lies beyond 2σ/0.8796. The cut pins the factor: on 2e6 draws some |w| lies within 1e-4 of
    it (the density of |x|/parent-std at 2 is 2φ(2)/0.9545 = 0.113, so about 2.3e-5 of the
    draws do: P(none) ≈ e^-45)."""
    cfg = _settings_init(compose_cfg, *overrides)
    for n_in, n_out in [(2000, 1000), (1000, 2000)]:
        w = draw_weights(cfg, n_in, n_out, np.random.default_rng(9))
        sigma = std(n_in, n_out)
        assert w.std() == pytest.approx(sigma, rel=_rel_tolerance(w.size))
        cut = 2.0 * sigma / TRUNCATED_FACTOR
        assert cut * (1 - 1e-4) <= np.abs(w).max() <= cut


@pytest.mark.parametrize("gain,expected", [("2.5", 2.5), ("tanh", 5.0 / 3.0), ("selu", 0.75)])
def test_orthogonal_singular_values_are_the_gain(compose_cfg, gain, expected):
    cfg = _settings_init(compose_cfg, "init=orthogonal", f"init.gain={gain}")
    for n_in, n_out in [(200, 80), (80, 200), (120, 120)]:
        w = draw_weights(cfg, n_in, n_out, np.random.default_rng(4))
        np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False), expected, rtol=1e-12)


def test_identity_gain_and_bias_options(compose_cfg):
    cfg = _settings_init(compose_cfg, "init=identity", "init.gain=relu", "init.bias=0.01")
    params = init_layers(cfg, [3, 3, 4, 1], np.random.default_rng(0))
    np.testing.assert_allclose(params.weights[0][0], math.sqrt(2.0) * np.eye(3), rtol=1e-15)
    np.testing.assert_allclose(params.weights[1][0], math.sqrt(2.0) * np.eye(4, 3), rtol=1e-15)
    for b in params.biases:
        np.testing.assert_array_equal(b, 0.01)


def test_bias_std_draws_normal_biases(compose_cfg):
    cfg = _settings_init(compose_cfg, "init=he", "init.bias=0.5", "init.bias_std=0.2")
    params = init_layers(cfg, [2, 200_000, 1], np.random.default_rng(1))
    b = params.biases[0].ravel()
    assert b.mean() == pytest.approx(0.5, abs=5 * 0.2 / math.sqrt(b.size))
    assert b.std() == pytest.approx(0.2, rel=_rel_tolerance(b.size))


# --- what the gains do: docs/initializers.md's table, and SELU's fixed point ------------------


def _gaussian_expectation(f) -> float:
    """E[f(z)] for z ~ N(0, 1), by adaptive quadrature on each side of the kink at 0."""
    from scipy.integrate import quad

    def integrand(x):
        return f(x) * math.exp(-0.5 * x * x) / SQRT_2PI

    left, _ = quad(integrand, -40.0, 0.0, epsabs=1e-13, epsrel=1e-13, limit=200)
    right, _ = quad(integrand, 0.0, 40.0, epsabs=1e-13, epsrel=1e-13, limit=200)
    return left + right


# docs/initializers.md, "Activations": Var(z) one layer after Var(z) = 1, gain² · E[φ(z)²],
# as printed there (zero biases, weights N(0, g²/n)).
DOCS_ONE_LAYER = {"linear": "1", "relu": "1", "leaky_relu": "1", "tanh": "1.095",
                  "sigmoid": "0.29", "selu": "0.56", "elu": "1.29", "gelu": "0.85",
                  "softplus": "1.84"}  # fmt: skip


@pytest.mark.parametrize("name", DOCS_ONE_LAYER)
def test_the_docs_one_layer_variances(name):
    act = make_activation(GROUP_OPTIONS["activation"][name])
    second_moment = _gaussian_expectation(lambda x: float(act(np.array([x]))[0]) ** 2)
    printed = DOCS_ONE_LAYER[name]
    decimals = len(printed.split(".")[1]) if "." in printed else 6  # "1": exactly 1
    assert act.gain_squared * second_moment == pytest.approx(
        float(printed), abs=0.5 * 10.0**-decimals
    )


def test_selu_maps_a_standard_normal_to_mean_0_variance_1():
    """Klambauer et al. 2017 chose α and λ so that z ~ N(0, 1) gives E[selu(z)] = 0 and
    E[selu(z)²] = 1 (their fixed point of the mean and variance map)."""
    act = make_activation(SeluActivation())
    mean = _gaussian_expectation(lambda x: float(act(np.array([x]))[0]))
    second = _gaussian_expectation(lambda x: float(act(np.array([x]))[0]) ** 2)
    assert abs(mean) < 1e-10
    assert second == pytest.approx(1.0, abs=1e-10)
