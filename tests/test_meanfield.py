"""Mean-field theory against closed forms, adaptive quadrature, Monte Carlo and a simulated net.

The references here are independent of the module's quadrature: ``scipy.integrate.quad``,
closed forms (ReLU's E[φ²] = q/2, the arc-cosine kernel of Cho & Saul 2009), Monte Carlo
draws, finite differences, and a brute-force wide deep tanh network written out by hand.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import integrate

from initlab import meanfield as mf
from initlab.activations import make_activation
from initlab.config import GROUP_OPTIONS

ACT = {name: make_activation(cfg) for name, cfg in GROUP_OPTIONS["activation"].items()}
TANH, RELU, LINEAR = ACT["tanh"], ACT["relu"], ACT["linear"]
NORMAL = 1.0 / math.sqrt(2.0 * math.pi)


def quad_expectation(f, mean: float, variance: float) -> float:
    """E[f(u)], u ~ N(mean, variance), by adaptive quadrature split where u = 0."""
    sd = math.sqrt(variance)
    k = -mean / sd

    def integrand(z: float) -> float:
        return float(f(np.array(mean + sd * z))) * NORMAL * math.exp(-0.5 * z * z)

    pieces = ((-40.0, k), (k, 40.0))
    return sum(
        integrate.quad(integrand, a, b, epsabs=1e-15, epsrel=1e-13, limit=400)[0] for a, b in pieces
    )


def quad_bivariate(f, g, mean: float, q: float, c: float) -> float:
    """E[f(u1) g(u2)] by nested adaptive quadrature (u1, u2 ~ N(mean, q), correlation c)."""
    sd, s = math.sqrt(q), math.sqrt(1.0 - c * c)

    def outer(z1: float) -> float:
        inner_mean = mean + sd * c * z1
        return float(f(np.array(mean + sd * z1))) * quad_expectation(g, inner_mean, q * s * s)

    def integrand(z1: float) -> float:
        return outer(z1) * NORMAL * math.exp(-0.5 * z1 * z1)

    cuts = sorted({-mean / sd, -mean / (sd * c)}) if c else [-mean / sd]
    edges = [-12.0, *[x for x in cuts if -12 < x < 12], 12.0]
    return sum(
        integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
        for a, b in itertools.pairwise(edges)
    )


def phi_sq(act):
    return lambda u: act(u) ** 2


def dphi_sq(act):
    return lambda u: np.asarray(act.grad(u, act(u)), dtype=float) ** 2


def arc_cosine(c: float) -> float:
    """ReLU's correlation map at σ_w² = 2, σ_b = 0 (Cho & Saul 2009, arc-cosine kernel n = 1)."""
    return (math.sqrt(max(0.0, 1 - c * c)) + (math.pi - math.acos(c)) * c) / math.pi


# --- quadrature -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACT))
def test_length_map_and_chi1_match_adaptive_quadrature(name):
    """E[φ²] and E[φ'²] to 1e-10 for every activation, kinks, saturation and bias included."""
    act = ACT[name]
    for mean, variance in [(0.0, 1.0), (0.0, 4.0), (0.3, 2.0), (0.0, 0.01), (1.0, 100.0)]:
        expected = quad_expectation(phi_sq(act), mean, variance)
        got = mf.length_map(act, 1.0, 0.0, variance, mean)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-300)
        expected = quad_expectation(dphi_sq(act), mean, variance)
        assert mf.chi1(act, 1.0, variance, mean) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    "name,mean,q,c",
    [("tanh", 0.0, 3.0, 0.9), ("tanh", 0.2, 1.5, 0.99), ("leaky_relu", 0.5, 2.0, 0.95)],
)
def test_correlation_map_matches_nested_quadrature(name, mean, q, c):
    act = ACT[name]
    phi = act

    def dphi(u):
        return np.asarray(act.grad(u, act(u)), dtype=float)

    expected = quad_bivariate(phi, phi, mean, q, c)
    assert mf.bivariate_expectation(phi, phi, mean, q, c) == pytest.approx(expected, rel=1e-10)
    expected = quad_bivariate(dphi, dphi, mean, q, c)
    assert mf.correlation_slope(act, 1.0, c, q, mean) == pytest.approx(expected, rel=1e-10)


def test_relu_correlation_map_is_the_arc_cosine_kernel():
    """At σ_w² = 2, σ_b = 0, for any q: C(c) = (√(1-c²) + (π - arccos c) c)/π and
    C'(c) = 1 - arccos(c)/π, to 1e-8 up to c = 1 - 1e-9 (the kinks sit on piece boundaries)."""
    for c in [-0.9, -0.3, 0.0, 0.4, 0.8, 0.95, 0.999, 0.999999, 1 - 1e-9, 1.0]:
        for q in (0.3, 1.7):
            assert mf.correlation_map(RELU, 2.0, 0.0, c, q) == pytest.approx(arc_cosine(c), 1e-8)
            slope = 1.0 - math.acos(c) / math.pi  # 2 E[θ(u1) θ(u2)]
            assert mf.correlation_slope(RELU, 2.0, c, q) == pytest.approx(slope, rel=1e-7)


# --- closed forms -----------------------------------------------------------------------------


def test_relu_closed_forms():
    """E[relu(z)²] = q/2, χ₁ = σ_w²/2 for every q (E[θ(z)] = 1/2), q* = σ_b² / (1 - σ_w²/2)."""
    for q in (1e-3, 0.7, 50.0):
        assert mf.length_map(RELU, 1.3, 0.2, q) == pytest.approx(1.3 * q / 2 + 0.2, rel=1e-13)
    for q in (0.0, 1e-3, 0.7, 50.0, math.inf):
        assert mf.chi1(RELU, 1.3, q) == pytest.approx(0.65, rel=1e-13)
    for sigma_w2, sigma_b2 in [(1.0, 0.1), (1.9, 0.05), (0.5, 2.0)]:
        fixed = mf.length_fixed_point(RELU, sigma_w2, sigma_b2)
        assert fixed.converged
        assert fixed.q_star == pytest.approx(sigma_b2 / (1 - sigma_w2 / 2), rel=1e-10)
        assert fixed.slope == pytest.approx(sigma_w2 / 2, rel=1e-10)


def test_linear_closed_forms():
    for sigma_w2 in (0.3, 0.8, 1.0, 2.5):
        assert mf.chi1(LINEAR, sigma_w2, 0.7) == pytest.approx(sigma_w2, rel=1e-13)
    fixed = mf.length_fixed_point(LINEAR, 0.8, 0.1)
    assert fixed.q_star == pytest.approx(0.1 / 0.2, rel=1e-10)


def test_critical_lines_of_relu_like_and_linear_units():
    """He's init is the edge of chaos for ReLU at every σ_b (χ₁ = σ_w²/2 whatever q is)."""
    slope = GROUP_OPTIONS["activation"]["leaky_relu"].slope
    for sigma_b2 in (0.0, 0.05, 0.5):
        assert mf.critical_sigma_w2(RELU, sigma_b2) == pytest.approx(2.0, rel=1e-12)
        assert mf.critical_sigma_w2(LINEAR, sigma_b2) == pytest.approx(1.0, rel=1e-12)
        leaky = mf.critical_sigma_w2(ACT["leaky_relu"], sigma_b2)
        assert leaky == pytest.approx(2 / (1 + slope**2), rel=1e-12)


def test_tanh_without_bias():
    """σ_b = 0: q* = 0 and χ₁ = σ_w² φ'(0)² = σ_w² below σ_w² = 1, the exact critical point."""
    for sigma_w2 in (0.3, 0.7, 0.95):
        state = mf.summary(TANH, sigma_w2, 0.0)
        assert state.q_star == 0.0 and state.converged
        assert state.chi1 == pytest.approx(sigma_w2, rel=1e-12)
        assert (state.c_star, state.chi_c, state.phase) == (1.0, state.chi1, "ordered")
        assert state.depth_scale == pytest.approx(-1 / math.log(sigma_w2), rel=1e-12)
    assert mf.summary(TANH, 1.0, 0.0).phase == "critical"  # q decays like 1/(2l) to 0
    # χ₁ - 1 grows only like (σ_w² - 1)²/3 above 1, so the root is pinned to ~1e-6.
    assert mf.critical_sigma_w2(TANH, 0.0) == pytest.approx(1.0, abs=1e-6)
    chaotic = mf.summary(TANH, 1.5, 0.0)
    assert chaotic.phase == "chaotic" and chaotic.q_star > 0
    assert chaotic.c_star == 0.0  # odd φ, no bias: C(0) = 0


def test_edge_cases_of_the_length_map():
    for act, sigma_w2, sigma_b2 in [
        (RELU, 3.0, 0.0),  # q grows by σ_w²/2 per layer
        (RELU, 2.0, 0.1),  # q grows by σ_b² per layer
        (LINEAR, 1.2, 0.1),
        (ACT["elu"], 2.5, 0.0),
    ]:
        fixed = mf.length_fixed_point(act, sigma_w2, sigma_b2)
        assert fixed.q_star == math.inf and not fixed.converged
        state = mf.summary(act, sigma_w2, sigma_b2)
        assert math.isnan(state.c_star) and math.isnan(state.depth_scale)
    # Marginal maps: every q is a fixed point, q0 comes back.
    for act, sigma_w2 in [(RELU, 2.0), (LINEAR, 1.0)]:
        for q0 in (0.37, 2.5):
            fixed = mf.length_fixed_point(act, sigma_w2, 0.0, q0=q0)
            assert fixed.converged and fixed.q_star == pytest.approx(q0, rel=1e-12)
        assert mf.summary(act, sigma_w2, 0.0).phase == "critical"
    # The ordered collapse to q = 0.
    for act, sigma_w2 in [(RELU, 1.5), (TANH, 0.5), (ACT["selu"], 0.2)]:
        assert mf.length_fixed_point(act, sigma_w2, 0.0).q_star == 0.0
    assert mf.length_fixed_point(TANH, 0.5, 0.0, q0=0.0).q_star == 0.0
    with pytest.raises(ValueError, match="sigma_w2"):
        mf.length_fixed_point(TANH, -1.0, 0.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        mf.summary(TANH, 1.0, math.nan)


def test_gelu_has_no_critical_crossing_without_bias():
    """GELU's length map is bistable at σ_b = 0: q* jumps from 0 to inf, χ₁ jumps across 1."""
    assert math.isnan(mf.critical_sigma_w2(ACT["gelu"], 0.0))
    below, above = mf.summary(ACT["gelu"], 2.3, 0.0), mf.summary(ACT["gelu"], 2.4, 0.0)
    assert below.q_star == 0.0 and below.chi1 < 0.7
    assert above.q_star == math.inf and above.chi1 > 1.1


@pytest.mark.parametrize(
    "name,sigma_b2",
    [("tanh", 0.5), ("selu", 0.05), ("elu", 0.5), ("gelu", 0.5), ("sigmoid", 0.05)],
)
def test_critical_points_check_out_by_adaptive_quadrature(name, sigma_b2):
    """At (σ_w²*, q*): F(q*) = q* and χ₁ = 1, both recomputed with scipy's quad."""
    act = ACT[name]
    sigma_w2 = mf.critical_sigma_w2(act, sigma_b2)
    q = mf.length_fixed_point(act, sigma_w2, sigma_b2).q_star
    assert 0 < q < math.inf
    assert sigma_w2 * quad_expectation(phi_sq(act), 0.0, q) + sigma_b2 == pytest.approx(q, 1e-10)
    assert sigma_w2 * quad_expectation(dphi_sq(act), 0.0, q) == pytest.approx(1.0, abs=1e-9)


def test_the_first_crossing_is_found_where_chi1_touches_one_again_later():
    """GELU, σ_b² = 0.5: χ₁ crosses 1 at σ_w² ≈ 1.961 (q* ≈ 22), stays above 1 while q* grows,
    and meets 1 again at σ_w² = 2, where q* becomes inf and χ₁ = σ_w²/2."""
    gelu = ACT["gelu"]
    sigma_w2 = mf.critical_sigma_w2(gelu, 0.5)
    assert sigma_w2 == pytest.approx(1.9612, abs=1e-4)
    assert mf.summary(gelu, 1.99, 0.5).phase == "chaotic"
    assert mf.summary(gelu, 1.99, 0.5).q_star < math.inf
    assert mf.summary(gelu, 2.0, 0.5).q_star == math.inf


@pytest.mark.parametrize(
    "name,sigma_w2,sigma_b2,bias_mean",
    [("sigmoid", 4.0, 0.1, 3.0), ("tanh", 2.0, 0.1, 0.5), ("relu", 1.5, 0.1, -0.3)],
)
def test_bias_mean_shifts_the_pre_activations(name, sigma_w2, sigma_b2, bias_mean):
    """z ~ N(μ_b, q): q* and χ₁ against quad (sigmoid with μ_b = 3 has a decreasing F)."""
    act = ACT[name]
    fixed = mf.length_fixed_point(act, sigma_w2, sigma_b2, bias_mean)
    q = fixed.q_star
    expected = sigma_w2 * quad_expectation(phi_sq(act), bias_mean, q) + sigma_b2
    assert expected == pytest.approx(q, rel=1e-10)
    expected = sigma_w2 * quad_expectation(dphi_sq(act), bias_mean, q)
    assert mf.chi1(act, sigma_w2, q, bias_mean) == pytest.approx(expected, rel=1e-10)


# --- tanh with σ_b² = 0.05 --------------------------------------------------------------------

SIGMA_B2 = 0.05


def test_tanh_critical_point_against_monte_carlo():
    """The σ_b² = 0.05 critical point: ≈ 1.76 as Poole et al. / Schoenholz et al. plot it.

    At (σ_w², q*) 10⁶ draws of z ~ N(0, q*) give F(q*) = q* and χ₁ = 1 within 4 standard errors
    (the standard error of the χ₁ estimate is 6e-4), and χ₁ is on either side of 1 at ±0.05.
    """
    sigma_w2 = mf.critical_sigma_w2(TANH, SIGMA_B2)
    assert sigma_w2 == pytest.approx(1.76, abs=0.01)
    rng = np.random.default_rng(0)
    draws = rng.standard_normal(10**6)
    for w2, side in [(sigma_w2, 0), (sigma_w2 - 0.05, -1), (sigma_w2 + 0.05, 1)]:
        q = mf.length_fixed_point(TANH, w2, SIGMA_B2).q_star
        t = np.tanh(math.sqrt(q) * draws)
        assert w2 * np.mean(t * t) + SIGMA_B2 == pytest.approx(q, rel=2e-3)
        d = (1 - t * t) ** 2
        chi, error = w2 * d.mean(), w2 * d.std() / math.sqrt(draws.size)
        assert mf.chi1(TANH, w2, q) == pytest.approx(chi, abs=4 * error)
        if side == 0:
            assert chi == pytest.approx(1.0, abs=4 * error)
        else:
            assert (chi - 1) * side > 10 * error


def simulate_tanh_net(points, width=1000, depth=30, nets=4, c0=0.2, seed=0):
    """A brute-force deep tanh net: per layer, q (mean z² over units) and the correlation c of
    two inputs' pre-activations, averaged over ``nets`` independent nets.

    Each net starts from two pre-activation vectors of variance 1 and correlation c0 and applies
    ``depth`` layers z ← W tanh(z) + b with W_ij ~ N(0, σ_w²/width), b_i ~ N(0, σ_b²); the same
    standard normal draws serve every (σ_w², σ_b²) point, scaled.
    """
    rng = np.random.default_rng(seed)
    q = np.zeros((len(points), depth))
    c = np.zeros((len(points), depth))
    for _ in range(nets):
        x = rng.standard_normal((width, 2))
        x[:, 1] = c0 * x[:, 0] + math.sqrt(1 - c0 * c0) * x[:, 1]
        z = [x.copy() for _ in points]
        for layer in range(depth):
            G = rng.standard_normal((width, width))
            g = rng.standard_normal((width, 1))
            for p, (sigma_w2, sigma_b2) in enumerate(points):
                z[p] = math.sqrt(sigma_w2 / width) * (G @ np.tanh(z[p])) + math.sqrt(sigma_b2) * g
                second = np.mean(z[p] * z[p], axis=0)
                q[p, layer] += second.mean() / nets
                c[p, layer] += np.mean(z[p][:, 0] * z[p][:, 1]) / math.sqrt(second.prod()) / nets
    return q, c


def test_a_wide_deep_tanh_net_follows_the_maps():
    """q → q* and c → c* in a width-1000, 30-layer tanh net (4 draws), averaged over the
    last 10 layers: at the critical point (q only: there c → 1 as a power law, not within 30
    layers), in the ordered phase (c → 1) and in the chaotic phase (c → c* < 1).

    Tolerances from 300 repetitions of the experiment: the q average has a relative standard
    deviation of ~1.2%, the chaotic c average a standard deviation of ~0.012.
    """
    critical = mf.critical_sigma_w2(TANH, SIGMA_B2)
    points = [(critical, SIGMA_B2), (3.0, 2.0), (6.0, 1.0)]
    states = [mf.summary(TANH, w2, b2) for w2, b2 in points]
    assert [s.phase for s in states] == ["critical", "ordered", "chaotic"]
    q, c = simulate_tanh_net(points)
    for state, q_layers, c_layers in zip(states, q, c, strict=True):
        assert q_layers[-10:].mean() == pytest.approx(state.q_star, rel=0.05)
        if state.phase != "critical":
            assert c_layers[-10:].mean() == pytest.approx(state.c_star, abs=0.05)
    assert states[2].c_star == pytest.approx(0.671, abs=1e-3)


@pytest.mark.parametrize(
    "name,sigma_w2,sigma_b2",
    [("tanh", 3.0, 0.3), ("tanh", 6.0, 1.0), ("tanh", 2.0, SIGMA_B2), ("selu", 1.0, 0.0)],
)
def test_chi_c_is_the_slope_of_the_correlation_map_at_its_fixed_point(name, sigma_w2, sigma_b2):
    act = ACT[name]
    state = mf.summary(act, sigma_w2, sigma_b2)
    assert state.phase == "chaotic" and 0 <= state.c_star < 1
    q, c = state.q_star, state.c_star
    assert mf.correlation_map(act, sigma_w2, sigma_b2, c, q) == pytest.approx(c, abs=1e-12)
    h = 1e-4
    slope = (
        mf.correlation_map(act, sigma_w2, sigma_b2, c + h, q)
        - mf.correlation_map(act, sigma_w2, sigma_b2, c - h, q)
    ) / (2 * h)
    assert state.chi_c == pytest.approx(slope, rel=1e-6)
    assert state.chi_c < 1 < state.chi1
    assert state.depth_scale == pytest.approx(-1 / math.log(state.chi_c), rel=1e-12)
    # C(1) = 1 at q*, with slope χ₁ there.
    assert mf.correlation_map(act, sigma_w2, sigma_b2, 1.0, q) == pytest.approx(1.0, rel=1e-12)
    h = 1e-6
    one_sided = (1 - mf.correlation_map(act, sigma_w2, sigma_b2, 1 - h, q)) / h
    assert one_sided == pytest.approx(state.chi1, rel=1e-4)


def test_ordered_and_critical_states():
    ordered = mf.summary(TANH, 1.2, SIGMA_B2)
    assert ordered.phase == "ordered" and ordered.c_star == 1.0
    assert ordered.chi_c == ordered.chi1 < 1
    assert ordered.depth_scale == pytest.approx(-1 / math.log(ordered.chi1), rel=1e-12)
    assert ordered.trainable_depth == pytest.approx(6 * ordered.depth_scale)
    critical = mf.summary(TANH, mf.critical_sigma_w2(TANH, SIGMA_B2), SIGMA_B2)
    assert critical.phase == "critical" and critical.depth_scale == math.inf
    assert critical.as_dict()["phase"] == "critical"


def test_length_map_slope_and_its_depth_scale():
    """F'(q*) by Stein's lemma = finite differences = χ₁ + σ_w² E[φ''φ] (Schoenholz 2017)."""

    def tanh_second(u):
        t = np.tanh(u)
        return -2 * t * (1 - t * t)

    for sigma_w2, sigma_b2 in [(1.2, SIGMA_B2), (3.0, 0.3)]:
        fixed = mf.length_fixed_point(TANH, sigma_w2, sigma_b2)
        q = fixed.q_star
        h = 1e-5 * q
        difference = (
            mf.length_map(TANH, sigma_w2, sigma_b2, q + h)
            - mf.length_map(TANH, sigma_w2, sigma_b2, q - h)
        ) / (2 * h)
        schoenholz = mf.chi1(TANH, sigma_w2, q) + sigma_w2 * quad_expectation(
            lambda u: tanh_second(u) * np.tanh(u), 0.0, q
        )
        assert fixed.slope == pytest.approx(difference, rel=1e-7)
        assert fixed.slope == pytest.approx(schoenholz, rel=1e-10)
        assert fixed.depth_scale == pytest.approx(-1 / math.log(fixed.slope), rel=1e-12)


def test_no_warnings_anywhere_on_the_phase_diagram():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("tanh", "relu", "selu", "sigmoid", "softplus"):
            for sigma_w2 in (0.5, 2.0, 8.0):
                for sigma_b2 in (0.0, 0.5):
                    mf.summary(ACT[name], sigma_w2, sigma_b2, bias_mean=0.1)
