"""Mean-field signal propagation at initialization (Poole et al. 2016, Schoenholz et al. 2017).

A deep fully connected net with weights ``W_ij ~ (0, σ_w²/n_in)`` and biases of mean ``μ_b``
and variance ``σ_b²`` has, in the wide limit, Gaussian pre-activations ``z ~ N(μ_b, q)`` in
every layer. Three maps describe how a signal travels through it:

- the **length map** (Poole et al. 2016), the variance of a layer's pre-activations
  from the previous layer's::

      q ↦ F(q) = σ_w² E[φ(z)²] + σ_b²,   z ~ N(μ_b, q);

  its fixed point ``q*`` (:func:`length_fixed_point`) is the variance deep layers settle at;
  its slope ``F'(q*) = χ₁ + σ_w² E[φ''(z)φ(z)]`` sets how fast they settle: ``ξ_q = -1/ln F'(q*)``
  (Schoenholz et al. 2017);
- the **correlation map** (Poole et al. 2016), the correlation of the pre-activations of
  two inputs, once both sit at ``q*``::

      c ↦ C(c) = (σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q*,
      u₁ = μ_b + √q* z₁,   u₂ = μ_b + √q* (c z₁ + √(1-c²) z₂),   z₁, z₂ ~ N(0, 1) independent;

  ``C(1) = 1``: identical inputs stay identical. Its slope there is (Price's theorem)
- ``χ₁ = C'(1) = σ_w² E[φ'(z)²]`` (:func:`chi1`), which is also the mean squared singular value
  of one layer's Jacobian. ``χ₁ < 1`` is the **ordered** phase: ``c = 1`` attracts, every pair
  of inputs ends up perfectly correlated, gradients vanish. ``χ₁ > 1`` is the **chaotic** phase:
  ``c = 1`` repels, correlations converge to a fixed point ``c* < 1``, gradients explode.
  ``χ₁ = 1`` is the order-to-chaos line (the "edge of chaos").
- Near ``c*`` correlations converge geometrically with ratio ``χ_c = C'(c*) = σ_w² E[φ'(u₁)φ'(u₂)]``
  (``χ_c = χ₁`` in the ordered phase, where ``c* = 1``), over the depth scale
  ``ξ_c = -1/ln χ_c`` (Schoenholz et al. 2017), infinite on the critical line. Schoenholz
  et al. find networks trainable roughly when their depth ``L ≲ 6 ξ_c``.

All functions take floats and the activation (an :class:`initlab.activations.Activation`) and
return floats; nothing here depends on a network's width.

**Quadrature.** Gaussian expectations use Gauss–Legendre rules on ``z ∈ [-10, 10]`` (the mass
outside is below 1e-23), cut where the integrand may be non-smooth and crowded there by a sinh
map (z = cut ± w·sinh(t), Gauss–Legendre in t) on the scale w of the feature. Every activation
here is smooth except at ``u = 0`` (ReLU's and leaky ReLU's kink, SELU's jump of φ', ELU's of
φ''), and the saturating ones bend on the scale |u| ~ 1, i.e. |z| ~ 1/√q. So the
one-dimensional rule cuts at ``z = -μ_b/√q`` (64 nodes on each side), and the two-dimensional
one is iterated: an outer rule in ``z₁`` cut where ``u₁ = 0`` and where the inner integral
(g smoothed over √q·s, s = √(1-c²)) bends; for each outer node an inner rule in ``z₂`` cut
where ``u₂ = 0`` (64 nodes per piece). Each piece is smooth on its own scale, so the rules
converge spectrally, kinks, steep saturation and c → 1 included. Measured against adaptive
``scipy.integrate.quad`` (nested for 2-D) and closed forms: relative error ≤ 3e-14 for E[φ²]
and E[φ'²] of every activation at q from 0.01 to 1e4 (ReLU's to q = 1e200), ≤ 1.2e-13 for
E[φ(u₁)φ(u₂)] and E[φ'(u₁)φ'(u₂)] of every activation (q up to 1e3, c up to 0.999), and
≤ 1.1e-13 for ReLU's arc-cosine kernel and its derivative for every c up to 1 - 1e-9. (The
24001-point trapezoid of :mod:`initlab.diagnostics` costs ~0.5 ms per expectation and is
good to ~1e-7 at kinks, so it is not reused.) Timings on one core: a length-map evaluation
~25 µs, a correlation-map evaluation ~0.5 ms, :func:`summary` of one (σ_w, σ_b) point
0.3-25 ms (median ~2 ms), :func:`critical_sigma_w2` 10-130 ms.

References: B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli, "Exponential
expressivity in deep neural networks through transient chaos", NeurIPS 2016. S. Schoenholz,
J. Gilmer, S. Ganguli, J. Sohl-Dickstein, "Deep information propagation", ICLR 2017.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from initlab.activations import Activation

# --- Gaussian quadrature -----------------------------------------------------------------

_CUTOFF = 10.0  # z in [-10, 10]; P(|z| > 10) = 1.5e-23
_NODES_1D = 64  # Gauss–Legendre nodes per piece, one-dimensional expectations
_NODES_2D = 64  # per piece, each axis of the iterated two-dimensional rule
_MIN_WIDTH = 1e-4  # the narrowest feature (in z) the rules crowd their nodes for
_SQRT_2PI = math.sqrt(2.0 * math.pi)

# --- tolerances and limits ---------------------------------------------------------------

RTOL = 1e-12  # q is a fixed point of the length map when |F(q) - q| <= RTOL · q
CRITICAL_TOL = 1e-6  # |χ₁ - 1| <= CRITICAL_TOL reads "critical"
TRAINABLE_DEPTH_FACTOR = 6.0  # Schoenholz et al. 2017: trainable roughly while L <= 6 ξ_c
_PLAIN_STEPS = 50  # plain iterations of the length map before bracketing its fixed point
_Q_MAX = 1e200  # a length map still growing past this diverges: q* = inf
_ZERO_FRACTION = 1e-12  # with q = 0 a fixed point, an iterate below this · q0 is "reached 0"
_SCAN = 4.0  # factor between the first two bracketing probes of q
_SIGMA_W2_RANGE = (1e-3, 1e4)  # where critical_sigma_w2 looks for χ₁ = 1
_REFINE = 16  # probes for an earlier crossing where χ₁ = 1 is met at q* = 0 or inf ...
_ZOOMS = 4  # ... zooming into the last probe interval up to 4 times (to 16^-4 of the bracket)

Function = Callable[[np.ndarray], np.ndarray]


def _brentq(f, lo: float, hi: float, **options) -> float:
    """scipy's root bracketing, imported here: scipy.optimize costs ~0.15 s to import, and
    the quadrature (what every run needs) does not need it."""
    from scipy.optimize import brentq

    return brentq(f, lo, hi, **options)


@functools.cache
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def _density(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / _SQRT_2PI


def _anchored(
    anchor: np.ndarray, end: np.ndarray, width: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (Gaussian density included) on each segment from ``anchor`` to ``end``,
    crowded at the anchor on the scale ``width``: z = anchor ± width · sinh(t), Gauss–Legendre
    in t. Arrays of anchors and ends give one segment each; the rule adds a trailing axis."""
    t, w = _legendre(n)
    step = end - anchor
    t_max = np.arcsinh(np.abs(step) / width)[..., None] / 2  # half the t-range
    tt = t_max * (t + 1.0)
    z = anchor[..., None] + np.sign(step)[..., None] * width * np.sinh(tt)
    return z, t_max * w * width * np.cosh(tt) * _density(z)


def _width(scale: float) -> float:
    """A feature's width for the rules: its scale in z, at most 1 (the Gaussian's own) and at
    least 1e-4. The floor keeps the sinh map's t-range short, so that the rules stay accurate
    at huge q (1e-13 for ReLU at q = 1e200); it resolves a unit-scale feature of φ up to
    q = 1e8 (tanh, sigmoid: σ_w² ~ 1e8), far beyond any σ_w² in use."""
    return max(_MIN_WIDTH, min(1.0, scale))


def _rule(features: list[tuple[float, float]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for ∫ f(z) ϕ(z) dz over [-10, 10] with f non-smooth or steep at the
    features, given as (position, width): cut at each, each piece crowded at its feature (the
    stretch between two features is split in the middle)."""
    merged: dict[float, float] = {}
    for position, width in features:
        at = min(max(position, -_CUTOFF), _CUTOFF)
        merged[at] = min(width, merged.get(at, math.inf))
    anchors = sorted(merged)
    starts = [anchors[0]]
    ends = [-_CUTOFF]
    for left, right in itertools.pairwise(anchors):
        middle = (left + right) / 2
        starts += [left, right]
        ends += [middle, middle]
    starts.append(anchors[-1])
    ends.append(_CUTOFF)
    nodes, weights = [], []
    for start, end in zip(starts, ends, strict=True):
        z, w = _anchored(np.array(start), np.array(end), merged[start], n)
        nodes.append(z)
        weights.append(w)
    return np.concatenate(nodes), np.concatenate(weights)


def _phi(act: Activation) -> Function:
    return lambda u: np.asarray(act(u), dtype=float)


def _dphi(act: Activation) -> Function:
    return lambda u: np.asarray(act.grad(u, act(u)), dtype=float)


def gaussian_expectation(f: Function, mean: float, variance: float) -> float:
    """E[f(u)] for u ~ N(mean, variance), for f smooth except possibly at u = 0.

    At variance 0 it is the limit variance → 0⁺, (f(mean⁺) + f(mean⁻)) / 2, which differs from
    f(mean) where f jumps at the mean (ReLU's φ' at 0: the limit is 1/2).
    """
    if variance < 0 or not math.isfinite(variance):
        raise ValueError(f"variance must be finite and >= 0, got {variance}")
    if variance == 0:
        sides = np.array([np.nextafter(mean, math.inf), np.nextafter(mean, -math.inf)])
        return float(np.mean(f(sides)))
    sd = math.sqrt(variance)
    x, w = _rule([(-mean / sd, _width(1.0 / sd))], _NODES_1D)
    return float(w @ f(mean + sd * x))


def bivariate_expectation(f: Function, g: Function, mean: float, q: float, c: float) -> float:
    """E[f(u₁) g(u₂)] for u₁, u₂ ~ N(mean, q) with correlation c (q > 0, -1 <= c <= 1).

    u₁ = mean + √q z₁ and u₂ = mean + √q (c z₁ + s z₂) with s = √(1 - c²). Iterated: for each
    outer node z₁ an inner rule in z₂, cut where u₂ = 0 (so a kink or jump of g at 0 sits on a
    piece boundary) and crowded there on g's own scale 1/(√q s). The outer rule is cut where
    u₁ = 0 (crowded on the scale 1/√q) and at z₁ = k/c (k = -mean/√q), where the inner integral,
    g smoothed over a width √q s, has its feature: of width s/|c| for a kink, 1/(√q |c|) for
    g's unit-scale bend.
    """
    if not 0 < q < math.inf:
        raise ValueError(f"q must be finite and > 0, got {q}")
    if not -1 - 1e-12 <= c <= 1 + 1e-12:
        raise ValueError(f"c must be a correlation in [-1, 1], got {c}")
    c = min(max(c, -1.0), 1.0)
    sd, k = math.sqrt(q), -mean / math.sqrt(q)
    s = math.sqrt(max(0.0, 1.0 - c * c))
    features = [(k, _width(1.0 / sd))]
    if s == 0.0:  # u₂ = mean ± √q z₁: one dimension
        x, w = _rule([*features, (k / c, _width(1.0 / sd))], _NODES_1D)
        return float(w @ (f(mean + sd * x) * g(mean + sd * c * x)))
    if c != 0.0:
        features.append((k / c, _width(min(s, 1.0 / sd) / abs(c))))
    x1, w1 = _rule(features, _NODES_2D)
    split = np.clip((k - c * x1) / s, -_CUTOFF, _CUTOFF)  # z₂ where u₂ = 0, per outer node
    width = _width(1.0 / (sd * s))
    pieces = [
        _anchored(split, np.full_like(split, end), width, _NODES_2D) for end in (-_CUTOFF, _CUTOFF)
    ]
    x2 = np.stack([z for z, _ in pieces])  # (2 pieces, outer nodes, inner nodes)
    w2 = np.stack([w for _, w in pieces])
    inner = np.sum(w2 * g(mean + sd * (c * x1[None, :, None] + s * x2)), axis=(0, 2))
    return float(w1 @ (f(mean + sd * x1) * inner))


def _check(sigma_w2: float, sigma_b2: float) -> None:
    for name, value in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2)):
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be finite and >= 0, got {value}")


# --- the length map --------------------------------------------------------------------------


def length_map(
    act: Activation, sigma_w2: float, sigma_b2: float, q: float, bias_mean: float = 0.0
) -> float:
    """F(q) = σ_w² E[φ(z)²] + σ_b², z ~ N(μ_b, q): the next layer's pre-activation variance."""
    return sigma_w2 * gaussian_expectation(lambda u: _phi(act)(u) ** 2, bias_mean, q) + sigma_b2


def length_map_slope(act: Activation, sigma_w2: float, q: float, bias_mean: float = 0.0) -> float:
    """F'(q) = χ₁ + σ_w² E[φ''(z)φ(z)] (Schoenholz et al. 2017's ξ_q), computed without φ''.

    By Stein's lemma, d/dq E[h(μ + √q z)] = E[(z² - 1) h(μ + √q z)] / (2q), here with h = φ²
    (minus the constant φ(μ)², which changes nothing and avoids cancellation at small q). So it
    holds for ReLU's kink as well. At q = 0 it is the limit χ₁(0) (when φ(μ) = 0; F(q) - F(0)
    is then σ_w² E[φ'²] q to first order); at q = inf it is nan.
    """
    if q == 0:
        return chi1(act, sigma_w2, 0.0, bias_mean)
    if not math.isfinite(q):
        return math.nan
    phi = _phi(act)
    at_mean = float(phi(np.array(bias_mean))) ** 2

    def stein(u: np.ndarray) -> np.ndarray:
        z2 = (u - bias_mean) ** 2 / q
        return (z2 - 1.0) * (phi(u) ** 2 - at_mean)

    return sigma_w2 * gaussian_expectation(stein, bias_mean, q) / (2.0 * q)


@dataclass(frozen=True)
class LengthFixedPoint:
    """The variance q* the length map settles at from q0.

    ``converged`` is False only when q* is inf (the map diverges). ``iterations`` counts
    length-map evaluations. ``slope`` is F'(q*): the iteration converges to q* when |slope| < 1,
    as ``|q_l - q*| ~ slope^l``, so ξ_q = -1/ln|slope| (nan when q* = inf).
    """

    q_star: float
    converged: bool
    iterations: int
    slope: float

    @property
    def depth_scale(self) -> float:
        """ξ_q = -1/ln|F'(q*)|: the depth over which the variance forgets q0."""
        return _depth_scale(abs(self.slope))


def length_fixed_point(
    act: Activation,
    sigma_w2: float,
    sigma_b2: float,
    bias_mean: float = 0.0,
    q0: float = 1.0,
) -> LengthFixedPoint:
    """The fixed point q* = F(q*) that iterating the length map from q0 reaches.

    First plain iteration (up to 50 steps) until ``|F(q) - q| <= 1e-12 q``. If that has not
    converged (slow convergence near a marginal map, or divergence), the fixed point is
    bracketed from the last iterate in the direction the map moves, probing q by factors of
    4, 8, 16, ..., and found by Brent's method; for an increasing F (every activation here
    with μ_b = 0) iterates move monotonically, so this is the iteration's limit, unless two
    fixed points lie within one probe step of each other. Edge cases:

    - **q → 0.** When q = 0 is itself a fixed point (σ_b² = 0 and φ(μ_b) = 0) and the iterates
      fall below 1e-12·q0, q* = 0.0 (converged). This is the ordered phase of tanh-like φ with
      σ_w² φ'(0)² < 1 and σ_b = 0 (also at σ_w² = 1, where q decays only like 1/(2l); a fixed
      point below 1e-12·q0 then reads 0), and ReLU with σ_w² < 2, σ_b = 0 (F(q) = σ_w² q / 2).
    - **q → ∞.** When the map still grows past q = 1e200, q* = math.inf (not converged): ReLU
      with σ_w² > 2 (or = 2 with σ_b > 0, where q grows linearly), linear with σ_w² > 1; any
      φ growing linearly whose asymptotic gain σ_w² E[φ(z)²]/q exceeds 1.
    - **Marginal maps.** Where F(q) = q for every q (ReLU with σ_w² = 2, linear with σ_w² = 1,
      both with σ_b = 0) the first step already satisfies the tolerance: q* = F(q0) = q0 up to
      rounding.
    """
    _check(sigma_w2, sigma_b2)
    if not (q0 >= 0 and math.isfinite(q0)):
        raise ValueError(f"q0 must be finite and >= 0, got {q0}")
    evaluations = 0

    def F(q: float) -> float:
        nonlocal evaluations
        evaluations += 1
        value = length_map(act, sigma_w2, sigma_b2, q, bias_mean)
        if math.isnan(value):
            raise ValueError(f"the length map of {act.name} is nan at q = {q}")
        return value

    def done(q: float, converged: bool = True) -> LengthFixedPoint:
        slope = length_map_slope(act, sigma_w2, q, bias_mean)
        return LengthFixedPoint(q, converged, evaluations, slope)

    zero_is_fixed = F(0.0) == 0.0  # σ_b² = 0 and φ(μ_b) = 0
    floor = _ZERO_FRACTION * q0
    if zero_is_fixed and q0 == 0:
        return done(0.0)
    q = q0
    for _ in range(_PLAIN_STEPS):
        q_next = F(q)
        if abs(q_next - q) <= RTOL * q_next:
            return done(q_next)
        if zero_is_fixed and q_next <= floor:
            return done(0.0)
        if q_next > _Q_MAX:
            return done(math.inf, converged=False)
        q = q_next

    def g(p: float) -> float:  # > 0 where the map grows q, < 0 where it shrinks it
        return F(p) - p

    def flat(p: float, gp: float) -> bool:  # p is a fixed point within the tolerance
        return abs(gp) <= RTOL * p

    factor = _SCAN  # the probes' steps widen (4, 8, 16, ...) to reach 1e200 or 0 quickly
    if g(q) > 0:  # growing: probe upward until the map stops growing
        lo, g_lo, hi = q, g(q), q * factor
        while (g_hi := g(hi)) > -RTOL * hi:
            if hi > _Q_MAX:
                return done(math.inf, converged=False)
            factor *= 2.0
            lo, g_lo, hi = hi, g_hi, hi * factor
        if flat(lo, g_lo):
            return done(lo)
    else:  # shrinking: probe downward until the map stops shrinking
        lo, hi, g_hi = q / factor, q, g(q)
        while (g_lo := g(lo)) < RTOL * lo:
            if zero_is_fixed and lo <= floor:
                return done(0.0)
            factor *= 2.0
            lo, hi, g_hi = lo / factor, lo, g_lo
        if flat(hi, g_hi):
            return done(hi)
    # Now g(lo) > 0 > g(hi), beyond the tolerance: a fixed point lies between.
    return done(float(_brentq(g, lo, hi, xtol=1e-300, rtol=1e-14, maxiter=200)))


# --- χ₁ and the correlation map ------------------------------------------------------------


def chi1(act: Activation, sigma_w2: float, q: float, bias_mean: float = 0.0) -> float:
    """χ₁ = σ_w² E[φ'(z)²], z ~ N(μ_b, q): the slope of the correlation map at c = 1.

    Also the factor by which one layer multiplies the mean squared singular value of the
    input-output Jacobian (Pennington et al. 2017). At q = 0 it is the limit q → 0⁺,
    σ_w² (φ'(μ⁺)² + φ'(μ⁻)²)/2 (ReLU, μ = 0: σ_w²/2 for every q); at q = inf the limit
    σ_w² (φ'(+∞)² + φ'(-∞)²)/2 (evaluated at ±1e100), the χ₁ of an exploding ReLU-like net.
    """
    if q < 0 or math.isnan(q):
        raise ValueError(f"q must be >= 0, got {q}")
    dphi = _dphi(act)

    def square(u: np.ndarray) -> np.ndarray:
        return dphi(u) ** 2

    if math.isinf(q):
        return sigma_w2 * float(np.mean(square(np.array([1e100, -1e100]))))
    return sigma_w2 * gaussian_expectation(square, bias_mean, q)


def correlation_map(
    act: Activation,
    sigma_w2: float,
    sigma_b2: float,
    c: float,
    q: float,
    bias_mean: float = 0.0,
) -> float:
    """C(c) = (σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q (Poole et al. 2016).

    ``q`` should be the fixed point q* (then C(1) = 1); 0 < q < inf.
    """
    phi = _phi(act)
    return (sigma_w2 * bivariate_expectation(phi, phi, bias_mean, q, c) + sigma_b2) / q


def correlation_slope(
    act: Activation, sigma_w2: float, c: float, q: float, bias_mean: float = 0.0
) -> float:
    """C'(c) = σ_w² E[φ'(u₁)φ'(u₂)] (Price's theorem); χ_c at c = c*, χ₁ at c = 1."""
    dphi = _dphi(act)
    return sigma_w2 * bivariate_expectation(dphi, dphi, bias_mean, q, c)


def correlation_fixed_point(
    act: Activation,
    sigma_w2: float,
    sigma_b2: float,
    q: float,
    bias_mean: float = 0.0,
) -> float:
    """The stable fixed point c* of the correlation map at variance q (= q*).

    C is increasing and convex on [0, 1] (its derivatives are σ_w² q^(k-1) E[φ⁽ᵏ⁾(u₁)φ⁽ᵏ⁾(u₂)],
    non-negative there) with C(1) = 1 and C(0) >= 0, so: c* = 1 when χ₁ <= 1 + 1e-6 (ordered
    or critical); otherwise c* is the one root of C(c) = c in [0, 1), found by Brent's method
    (c* = 0 exactly when C(0) = 0, e.g. odd φ with σ_b = μ_b = 0). If χ₁ exceeds 1 by so
    little that C(c) < c cannot be resolved above 1 - 1e-10, c* = 1.
    """
    if not 0 < q < math.inf:
        raise ValueError(f"q must be finite and > 0, got {q}")
    if chi1(act, sigma_w2, q, bias_mean) <= 1 + CRITICAL_TOL:
        return 1.0

    def g(c: float) -> float:
        return correlation_map(act, sigma_w2, sigma_b2, c, q, bias_mean) - c

    g0 = g(0.0)
    if g0 <= 0.0:
        return 0.0
    delta = 1e-2
    while g(1.0 - delta) >= 0.0:
        delta /= 10.0
        if delta < 1e-10:
            return 1.0
    return float(_brentq(g, 0.0, 1.0 - delta, xtol=1e-15, rtol=1e-14, maxiter=200))


def _depth_scale(chi: float) -> float:
    """-1/ln χ for 0 <= χ < 1; inf for χ >= 1 (no exponential decay), 0 for χ = 0."""
    if math.isnan(chi):
        return math.nan
    if chi >= 1.0:
        return math.inf
    if chi <= 0.0:
        return 0.0
    return -1.0 / math.log(chi)


def correlation_depth_scale(chi_c: float) -> float:
    """ξ_c = -1/ln χ_c (Schoenholz et al. 2017): inf at χ_c = 1 (criticality)."""
    return _depth_scale(chi_c)


# --- the phase diagram -----------------------------------------------------------------------


def critical_sigma_w2(
    act: Activation, sigma_b2: float, bias_mean: float = 0.0, q0: float = 1.0
) -> float:
    """The σ_w² at which χ₁(σ_w², q*(σ_w², σ_b²)) = 1, the order-to-chaos line at this σ_b².

    Probes σ_w² upward by factors of 2 from 1e-3 and refines the first sign change of χ₁ - 1
    by Brent's method. Where q* = inf, χ₁ is its q → ∞ limit (see :func:`chi1`), so ReLU-like
    units cross where their asymptotic gain reaches 1 (ReLU at 2 for every σ_b, since
    χ₁ = σ_w²/2 for every q). A root where q* is 0 or inf may be a point where χ₁ only touches
    1 after an earlier crossing (GELU with σ_b² = 0.5: χ₁ crosses 1 at σ_w² ≈ 1.961 with
    q* ≈ 22, stays above 1 while q* grows, and meets 1 again at σ_w² = 2 where q* becomes inf),
    so there probes look for an earlier sign change (16 per zoom, zooming 4 times into the
    last interval before the root): the result is the first crossing up to that resolution.
    Returns ``math.nan`` where no crossing exists — a gap in a phase diagram's critical line:

    - no sign change of χ₁ - 1 for σ_w² in [1e-3, 1e4];
    - χ₁ jumps across 1 instead of crossing it (|χ₁ - 1| > 1e-6 at the sign change): where the
      length map is bistable and q* jumps with σ_w² from one basin to another. GELU with
      σ_b² <= 0.05 is the case here: q* jumps from a small value (χ₁ ≈ 0.6-0.7) to inf
      (χ₁ ≈ σ_w²/2 > 1) near σ_w² ≈ 2.2-2.4, where the unstable fixed point passes q0.

    Accuracy: the root is found to ~1e-13 relative where χ₁ - 1 changes sign linearly. At
    tanh with σ_b = 0, χ₁ - 1 grows only like (σ_w² - 1)²/3 above 1 (q* ≈ (1 - 1/σ_w²)/2):
    the result is 1 to ~1e-6.
    """
    _check(1.0, sigma_b2)
    edge: set[float] = set()  # the σ_w² probed where q* is 0 or inf

    def h(sigma_w2: float) -> float:
        q = length_fixed_point(act, sigma_w2, sigma_b2, bias_mean, q0).q_star
        if q == 0.0 or math.isinf(q):
            edge.add(sigma_w2)
        return chi1(act, sigma_w2, q, bias_mean) - 1.0

    def first_root(lo: float, hi: float, h_lo: float, zoom: int = 0) -> float:
        root = float(_brentq(h, lo, hi, xtol=1e-13, rtol=1e-13, maxiter=200))
        h(root)
        # Where q* is 0 or inf at the root, χ₁ may only touch 1 there after crossing it
        # earlier: probe (lo, root) for an earlier sign change, zooming into the last step.
        while root in edge and zoom < _ZOOMS:
            zoom += 1
            for x in np.linspace(lo, root, _REFINE + 1)[1:-1]:
                h_x = h(float(x))
                if (h_lo < 0) != (h_x < 0) or h_x == 0.0:
                    return first_root(lo, float(x), h_lo, _ZOOMS)
                lo, h_lo = float(x), h_x
        return root

    lo, top = _SIGMA_W2_RANGE
    h_lo = h(lo)
    hi = lo
    while h_lo != 0.0 and hi < top:
        lo, hi = hi, min(2.0 * hi, top)
        h_hi = h(hi)
        if h_hi == 0.0:
            return hi
        if (h_lo < 0) != (h_hi < 0):
            root = first_root(lo, hi, h_lo)
            return root if abs(h(root)) <= CRITICAL_TOL else math.nan
        h_lo = h_hi
    return lo if h_lo == 0.0 else math.nan


@dataclass(frozen=True)
class MeanField:
    """The mean-field state of a (σ_w², σ_b², μ_b) point; see :func:`summary`."""

    sigma_w2: float
    sigma_b2: float
    bias_mean: float
    q_star: float  # 0.0 or math.inf at the edges (see length_fixed_point)
    chi1: float
    c_star: float  # nan where q* = inf
    chi_c: float  # nan where q* = inf
    depth_scale: float  # ξ_c = -1/ln χ_c; inf when critical; nan where q* = inf
    xi_q: float  # -1/ln|F'(q*)|: the length map's depth scale; nan where q* = inf
    phase: str  # "ordered" | "critical" | "chaotic", by χ₁
    converged: bool  # the length map reached a finite q*

    @property
    def trainable_depth(self) -> float:
        """6 ξ_c: Schoenholz et al.'s rough bound on the depth that still trains."""
        return TRAINABLE_DEPTH_FACTOR * self.depth_scale

    def as_dict(self) -> dict[str, float | str | bool]:
        return asdict(self)


def phase_of(chi: float) -> str:
    """ "critical" when |χ₁ - 1| <= 1e-6, else "ordered" (χ₁ < 1) or "chaotic" (χ₁ > 1).

    The tolerance is far above the quadrature's error (~1e-12), so exact critical points (ReLU
    with σ_w² = 2, linear with σ_w² = 1, the output of :func:`critical_sigma_w2`) read
    "critical", and far below any difference a finite network could show.
    """
    if abs(chi - 1.0) <= CRITICAL_TOL:
        return "critical"
    return "ordered" if chi < 1.0 else "chaotic"


def summary(
    act: Activation,
    sigma_w2: float,
    sigma_b2: float,
    bias_mean: float = 0.0,
    q0: float = 1.0,
) -> MeanField:
    """q*, χ₁, c*, χ_c, ξ_c, ξ_q and the phase of one (σ_w², σ_b²) point.

    With q* = 0 (ordered, σ_b = 0) the correlation map degenerates (0/0); the ordered-phase
    values are reported: c* = 1, χ_c = χ₁ (its q → 0 limit). With q* = inf (an exploding
    ReLU-like net) there is no fixed point to linearize around: c*, χ_c, ξ_c and ξ_q are nan,
    χ₁ is its q → ∞ limit and the phase follows it.
    """
    fixed = length_fixed_point(act, sigma_w2, sigma_b2, bias_mean, q0)
    q = fixed.q_star
    chi = chi1(act, sigma_w2, q, bias_mean)
    phase = phase_of(chi)
    if math.isinf(q):
        c_star = chi_c = xi_c = math.nan
    elif q == 0.0 or phase != "chaotic":
        c_star, chi_c = 1.0, chi
        xi_c = math.inf if phase == "critical" else correlation_depth_scale(chi_c)
    else:
        c_star = correlation_fixed_point(act, sigma_w2, sigma_b2, q, bias_mean)
        chi_c = chi if c_star == 1.0 else correlation_slope(act, sigma_w2, c_star, q, bias_mean)
        xi_c = correlation_depth_scale(chi_c)
    return MeanField(
        sigma_w2=float(sigma_w2),
        sigma_b2=float(sigma_b2),
        bias_mean=float(bias_mean),
        q_star=q,
        chi1=chi,
        c_star=c_star,
        chi_c=chi_c,
        depth_scale=xi_c,
        xi_q=fixed.depth_scale,
        phase=phase,
        converged=fixed.converged,
    )
