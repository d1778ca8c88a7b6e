"""The compiled fast path against the NumPy reference trainer, and its own reproducibility.

Tolerances: fit_fast sums in a different order (SIMD lanes, fused multiply-adds), so it agrees
with the NumPy trainer to ~1e-14 relative on these runs (measured ≤ 5e-14), not bit for bit;
1e-9 leaves room for other CPUs. Between replicas it is exact: a replica's result does not
depend on the stack it is trained in, nor on the number of threads.
"""

from __future__ import annotations

import numpy as np
import pytest

from initlab.activations import make_activation
from initlab.config import (
    GROUP_OPTIONS,
    CirclesDataset,
    EluActivation,
    HeInit,
    LeakyReluActivation,
    RandomInit,
    ReluActivation,
    XavierInit,
    ZerosInit,
)
from initlab.datasets import load_dataset
from initlab.fastpath import available, fit_fast
from initlab.initializers import init_layers, init_replicas
from initlab.network import Params
from initlab.seeding import course_rng
from initlab.trainer import fit

pytest.importorskip("numba")  # initlab.fastpath imports without it, but cannot run

COURSE_DIMS = [2, 10, 5, 1]
COURSE = dict(lr=0.01, iterations=15000, log_every=1000)
# The course's published He costs (see test_course.py), every 1000th iteration.
PUBLISHED_HE = [
    0.8830537463419761, 0.6879825919728063, 0.6751286264523371, 0.6526117768893807,
    0.6082958970572937, 0.5304944491717495, 0.41386458170717944, 0.31178034648444414,
    0.23696215330322556, 0.18597287209206836, 0.1501555628037181, 0.12325079292273546,
    0.09917746546525932, 0.08457055954024277, 0.07357895962677365,
]  # fmt: skip


@pytest.fixture(scope="module")
def circles():
    return load_dataset(CirclesDataset())


def _assert_same_run(fast, reference, rtol: float) -> None:
    (p_fast, h_fast), (p_ref, h_ref) = fast, reference
    np.testing.assert_array_equal(h_fast.steps, h_ref.steps)
    assert h_fast.costs.shape == h_ref.costs.shape and h_fast.final_cost.shape == (p_ref.replicas,)
    np.testing.assert_allclose(h_fast.costs, h_ref.costs, rtol=rtol, atol=0)
    np.testing.assert_allclose(h_fast.final_cost, h_ref.final_cost, rtol=rtol, atol=0)
    for fast_t, ref_t in zip(
        p_fast.weights + p_fast.biases, p_ref.weights + p_ref.biases, strict=True
    ):
        assert fast_t.shape == ref_t.shape and fast_t.dtype == ref_t.dtype
        np.testing.assert_allclose(fast_t, ref_t, rtol=rtol, atol=1e-15)


def _assert_identical(a: tuple[Params, object], b: tuple[Params, object], k: int) -> None:
    """Replica k of run a is bit for bit replica 0 of run b."""
    (pa, ha), (pb, hb) = a, b
    np.testing.assert_array_equal(ha.costs[k], hb.costs[0])
    np.testing.assert_array_equal(ha.final_cost[k], hb.final_cost[0])
    for ta, tb in zip(pa.weights + pa.biases, pb.weights + pb.biases, strict=True):
        np.testing.assert_array_equal(ta[k], tb[0])


def test_course_he_run_matches_the_numpy_trainer_and_the_published_costs(circles):
    params = init_layers(HeInit(), COURSE_DIMS, course_rng(3))
    X, Y = circles.X_train, circles.Y_train
    fast = fit_fast(params, X, Y, "relu", **COURSE)
    reference = fit(params, X, Y, make_activation(ReluActivation()), **COURSE)
    _assert_same_run(fast, reference, rtol=1e-9)
    np.testing.assert_allclose(fast[1].costs[0], PUBLISHED_HE, rtol=1e-9, atol=0)


def test_course_random_run_matches_over_its_first_iterations(circles):
    """The ×10 "random" run is chaotic: a 1e-15 difference grows to ~1e-7 by iteration 200
    and to 1e-5..1e-1 later (see test_course.py), so implementations summing in different
    orders can only be compared at 1e-9 early on; 50 iterations agree to ~5e-15."""
    params = init_layers(RandomInit(), COURSE_DIMS, course_rng(3))
    X, Y = circles.X_train, circles.Y_train
    kwargs = dict(lr=0.01, iterations=50, log_every=10)
    fast = fit_fast(params, X, Y, "relu", **kwargs)
    reference = fit(params, X, Y, make_activation(ReluActivation()), **kwargs)
    _assert_same_run(fast, reference, rtol=1e-9)


# Every option at its defaults, and ELU's α and leaky ReLU's slope away from them (at α = 1 an
# engine that ignored α would still agree).
ACTIVATIONS = [
    *GROUP_OPTIONS["activation"].values(),
    EluActivation(alpha=0.5),
    EluActivation(alpha=2.0),
    LeakyReluActivation(slope=0.2),
]


@pytest.mark.parametrize(
    "act_cfg",
    ACTIVATIONS,
    ids=lambda a: (
        a.name + "".join(f"-{k}{getattr(a, k)}" for k in ("slope", "alpha") if hasattr(a, k))
    ),
)
def test_every_activation_matches_the_numpy_trainer(act_cfg):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 40))
    Y = (rng.random((1, 40)) > 0.5).astype(float)
    params = init_layers(XavierInit(), [3, 6, 4, 1], course_rng(7))
    for b in params.biases:  # non-zero biases, so their handling is exercised too
        b += rng.standard_normal(b.shape) * 0.1
    kwargs = dict(lr=0.1, iterations=300, log_every=10)
    extra = {key: getattr(act_cfg, key) for key in ("slope", "alpha") if hasattr(act_cfg, key)}
    fast = fit_fast(params, X, Y, act_cfg.name, **extra, **kwargs)
    reference = fit(params, X, Y, make_activation(act_cfg), **kwargs)
    _assert_same_run(fast, reference, rtol=1e-9)


def test_any_depth_and_width_with_several_replicas(circles):
    dims = [2, 7, 1, 9, 4, 1]  # a 1-unit bottleneck and widths that are not multiples of 4
    params = init_replicas([HeInit(), XavierInit()], dims, [course_rng(1), course_rng(2)])
    kwargs = dict(lr=0.05, iterations=200, log_every=7)
    X, Y = circles.X_train, circles.Y_train
    fast = fit_fast(params, X, Y, "leaky_relu", slope=0.1, **kwargs)
    act = make_activation(LeakyReluActivation(slope=0.1))
    _assert_same_run(fast, fit(params, X, Y, act, **kwargs), rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_a_replica_trains_bit_for_bit_the_same_in_a_stack_and_alone(circles, activation, dtype):
    schemes = [ZerosInit(), RandomInit(), HeInit(), XavierInit(), HeInit()]
    seeds = [3, 3, 3, 3, 11]
    kwargs = dict(lr=0.01, iterations=300, log_every=50, dtype=dtype)
    X, Y = circles.X_train, circles.Y_train
    stacked_params = init_replicas(schemes, COURSE_DIMS, [course_rng(s) for s in seeds])
    stacked = fit_fast(stacked_params, X, Y, activation, threads=2, **kwargs)
    for k, (scheme, seed) in enumerate(zip(schemes, seeds, strict=True)):
        alone_params = init_layers(scheme, COURSE_DIMS, course_rng(seed))
        alone = fit_fast(alone_params, X, Y, activation, threads=1, **kwargs)
        _assert_identical(stacked, alone, k)


@pytest.mark.parametrize("activation", ["leaky_relu", "linear"])
def test_a_diverging_run_overflows_where_the_reference_does(circles, activation):
    """Huge weights and step: costs of 1e9..1e200, then NaN from the same step on. (With relu
    the same start collapses to a chaotic plateau instead, not comparable past a few steps.)"""
    params = init_layers(RandomInit(scale=1e3), COURSE_DIMS, course_rng(3))
    kwargs = dict(lr=50.0, iterations=60, log_every=1)
    X, Y = circles.X_train, circles.Y_train
    _, fast = fit_fast(params, X, Y, activation, **kwargs)
    act_cfg = GROUP_OPTIONS["activation"][activation]
    with np.errstate(all="ignore"):
        _, reference = fit(params, X, Y, make_activation(act_cfg), **kwargs)
    np.testing.assert_array_equal(np.isnan(fast.costs), np.isnan(reference.costs))
    np.testing.assert_allclose(fast.costs, reference.costs, rtol=1e-6, atol=0, equal_nan=True)
    assert np.isnan(fast.costs[0, -1])


def test_float32_stays_close_to_float64(circles):
    """Measured on the course He run: costs within 3e-5 relative, final cost 2.2e-5."""
    params = init_layers(HeInit(), COURSE_DIMS, course_rng(3))
    X, Y = circles.X_train, circles.Y_train
    p64, h64 = fit_fast(params, X, Y, "relu", **COURSE)
    p32, h32 = fit_fast(params, X, Y, "relu", dtype=np.float32, **COURSE)
    np.testing.assert_allclose(h32.costs, h64.costs, rtol=2e-4, atol=0)
    np.testing.assert_allclose(h32.final_cost, h64.final_cost, rtol=2e-4, atol=0)
    assert p32.weights[0].dtype == np.float64  # returned in the input's dtype
    for w32, w64 in zip(p32.weights, p64.weights, strict=True):
        np.testing.assert_allclose(w32, w64, rtol=1e-3, atol=1e-6)


def test_inputs_are_left_alone_and_history_has_the_reference_shape(circles):
    params = init_layers(HeInit(), COURSE_DIMS, course_rng(3))
    saved = params.copy()
    _, history = fit_fast(
        params, circles.X_train, circles.Y_train, "relu", lr=0.01, iterations=250, log_every=100
    )
    for a, b in zip(params.weights + params.biases, saved.weights + saved.biases, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(history.steps, [0, 100, 200])
    assert history.costs.shape == (1, 3) and history.final_cost.shape == (1,)


def test_unsupported_requests_are_refused(circles):
    params = init_layers(HeInit(), COURSE_DIMS, course_rng(3))
    X, Y = circles.X_train, circles.Y_train
    kwargs = dict(lr=0.01, iterations=10, log_every=5)
    with pytest.raises(NotImplementedError):
        fit_fast(params, X, Y, "swish", **kwargs)
    with pytest.raises(ValueError, match="dtype"):
        fit_fast(params, X, Y, "relu", dtype=np.float16, **kwargs)
    with pytest.raises(ValueError, match="fit layer dims"):
        fit_fast(params, X[:1], Y, "relu", **kwargs)
    with pytest.raises(ValueError, match="threads"):
        fit_fast(params, X, Y, "relu", threads=0, **kwargs)
    assert available()
