"""The compiled engine against the NumPy reference, through the trainer's public fit()."""

from __future__ import annotations

import numpy as np
import pytest

from initlab.activations import make_activation
from initlab.config import (
    CirclesDataset,
    ConfigError,
    HeInit,
    LecunInit,
    ReluActivation,
    XavierInit,
    to_settings,
)
from initlab.datasets import load_dataset
from initlab.diagnostics import TrainingMonitor
from initlab.initializers import init_replicas
from initlab.seeding import course_rng
from initlab.trainer import fit, resolve_engine

pytest.importorskip("numba")
ACT = make_activation(ReluActivation())


@pytest.fixture(scope="module")
def data():
    return load_dataset(CirclesDataset())


def _train(data, engine, monitor=None, dtype="float64", iterations=1000, lr=0.05):
    params = init_replicas([HeInit()] * 3, [2, 10, 5, 1], [course_rng(s) for s in (3, 4, 5)])
    return fit(
        params, data.X_train, data.Y_train, ACT, lr=lr, iterations=iterations, log_every=100,
        monitor=monitor, engine=engine, dtype=dtype,
    )  # fmt: skip


def test_auto_picks_numba_for_supported_activations():
    assert resolve_engine("auto", ACT) == "numba"
    assert resolve_engine("numpy", ACT) == "numpy"


def test_numba_agrees_with_numpy(data):
    fast, fast_history = _train(data, "numba")
    ref, ref_history = _train(data, "numpy")
    np.testing.assert_array_equal(fast_history.steps, ref_history.steps)
    np.testing.assert_allclose(fast_history.costs, ref_history.costs, rtol=1e-9)
    np.testing.assert_allclose(fast_history.final_cost, ref_history.final_cost, rtol=1e-9)
    for w_fast, w_ref in zip(fast.weights, ref.weights, strict=True):
        np.testing.assert_allclose(w_fast, w_ref, rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def course_runs(data):
    """The course's setting (lr 0.01, 15000 iterations) from three well-conditioned starts,
    he, xavier and lecun at the course's seed, stacked, on each engine."""
    params = init_replicas(
        [HeInit(), XavierInit(), LecunInit()], [2, 10, 5, 1], [course_rng(3)] * 3
    )
    kwargs = dict(lr=0.01, iterations=15000, log_every=100)
    return {
        engine: fit(params, data.X_train, data.Y_train, ACT, engine=engine, **kwargs)
        for engine in ("numba", "numpy")
    }


def test_engines_agree_as_the_readme_says_on_well_conditioned_course_runs(course_runs):
    """README (Speed): "The two agree to ~1e-14 on well-conditioned runs". Measured here:
    costs ≤ 1.2e-15 relative, weights ≤ 2e-14 relative (≤ 3e-15 absolute); tested at 1e-13
    and 1e-12, room for another CPU's vector width, far below the 1e-9 of the other tests."""
    (fast, fast_history), (ref, ref_history) = course_runs["numba"], course_runs["numpy"]
    np.testing.assert_allclose(fast_history.costs, ref_history.costs, rtol=1e-13, atol=0)
    np.testing.assert_allclose(fast_history.final_cost, ref_history.final_cost, rtol=1e-13)
    for t_fast, t_ref in zip(fast.weights + fast.biases, ref.weights + ref.biases, strict=True):
        np.testing.assert_allclose(t_fast, t_ref, rtol=1e-12, atol=1e-14)


def test_monitoring_chunks_change_nothing(data):
    """With a monitor the compiled loop runs one logging interval per call: same numbers."""
    plain, plain_history = _train(data, "numba", iterations=2500)
    monitor = TrainingMonitor()
    watched, watched_history = _train(data, "numba", monitor=monitor, iterations=2500)
    np.testing.assert_array_equal(plain_history.costs, watched_history.costs)
    np.testing.assert_array_equal(plain_history.final_cost, watched_history.final_cost)
    for a, b in zip(plain.weights, watched.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert monitor.steps == list(range(0, 2500, 100))
    ref_monitor = TrainingMonitor()
    _train(data, "numpy", monitor=ref_monitor, iterations=2500)
    np.testing.assert_allclose(
        np.stack(monitor.grad_norm), np.stack(ref_monitor.grad_norm), rtol=1e-7
    )


def test_float32_is_close_to_float64(data):
    """The course setting (lr 0.01): float32 costs within 2e-4 of float64 (measured ~3e-5)."""
    _, single = _train(data, "numba", dtype="float32", iterations=15000, lr=0.01)
    _, double = _train(data, "numba", iterations=15000, lr=0.01)
    np.testing.assert_allclose(single.costs, double.costs, rtol=2e-4)


def test_float32_needs_the_numba_engine(compose_cfg):
    with pytest.raises(ConfigError, match=r"trainer\.dtype"):
        to_settings(compose_cfg("trainer.engine=numpy", "trainer.dtype=float32"))
    assert to_settings(compose_cfg("trainer.dtype=float32")).trainer.dtype.value == "float32"


def test_auto_hands_wide_nets_to_numpy():
    from initlab.trainer import WIDE_LAYER

    assert resolve_engine("auto", ACT, widest=WIDE_LAYER - 1) == "numba"
    assert resolve_engine("auto", ACT, widest=WIDE_LAYER) == "numpy"
    assert resolve_engine("numba", ACT, widest=10 * WIDE_LAYER) == "numba"  # asked for: given


def test_the_first_run_can_tell_whether_the_kernels_are_compiled(tmp_path, monkeypatch, data):
    """The "compiling the kernels" line is said when numba's cache has no training kernel."""
    import numba

    from initlab import fastpath

    _train(data, "numba", iterations=10)  # compiled (or loaded) by now, in the cache
    assert fastpath.kernels_cached()
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))  # an empty cache
    assert not fastpath.kernels_cached()
