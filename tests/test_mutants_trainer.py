"""The trainer against gradient descent written out here in plain NumPy (found by mutation
testing: each test fails on some mutant of initlab.trainer that the other tests let by)."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from initlab import fastpath, trainer
from initlab.activations import Relu, Sigmoid, Tanh
from initlab.network import Params
from initlab.optimizers import BatchOrder, UpdateRule
from initlab.trainer import fit, resolve_engine

PHI = {
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(float)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
}
ACT = {"tanh": Tanh("tanh"), "relu": Relu("relu"), "sigmoid": Sigmoid("sigmoid")}


def _data(m: int = 6):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((2, m))
    Y = (X[0:1] * X[1:2] > 0).astype(float)
    return X, Y


def _params(seed: int, dims=(2, 4, 3, 1)) -> Params:
    rng = np.random.default_rng(seed)
    return Params(
        [rng.standard_normal((1, n_out, n_in)) for n_in, n_out in itertools.pairwise(dims)],
        [rng.standard_normal((1, n_out, 1)) * 0.1 for n_out in dims[1:]],
    )


def _passes(ws, bs, X, Y, name):
    """Forward and backward, written out: (cost, dW, db) on (X, Y)."""
    phi, dphi = PHI[name]
    a, zs, acts = X, [], [X]
    for layer, (w, b) in enumerate(zip(ws, bs, strict=True)):
        z = w @ a + b
        a = 1 / (1 + np.exp(-z)) if layer == len(ws) - 1 else phi(z)
        zs.append(z)
        acts.append(a)
    m = X.shape[1]
    p = acts[-1]
    cost = -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    dz = (p - Y) / m
    dW, db = [None] * len(ws), [None] * len(ws)
    for layer in range(len(ws) - 1, -1, -1):
        dW[layer] = dz @ acts[layer].T
        db[layer] = dz.sum(axis=1, keepdims=True)
        if layer:
            dz = (ws[layer].T @ dz) * dphi(zs[layer - 1], acts[layer])
    return cost, dW, db


def _reference(params: Params, X, Y, name, lr, iterations, log_every, batch_size=0, seed=0):
    """Plain gradient descent on one replica: (weights, biases, logged costs, final cost,
    the whole set's gradients at the logged iterations)."""
    ws = [w[0].copy() for w in params.weights]
    bs = [b[0].copy() for b in params.biases]
    order = BatchOrder(X.shape[1], batch_size, seed) if batch_size else None
    costs, grads = [], []
    for i in range(iterations):
        if i % log_every == 0:
            cost, dW, db = _passes(ws, bs, X, Y, name)
            costs.append(cost)
            grads.append(dW)
        if order is not None:
            idx = order.indices(i)
            _, dW, db = _passes(ws, bs, X[:, idx], Y[:, idx], name)
        else:
            _, dW, db = _passes(ws, bs, X, Y, name)
        for layer in range(len(ws)):
            ws[layer] -= lr * dW[layer]
            bs[layer] -= lr * db[layer]
    final, _, _ = _passes(ws, bs, X, Y, name)
    return ws, bs, costs, final, grads


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("batch_size", [0, 4])
def test_numpy_engine_is_gradient_descent_written_out(name, batch_size):
    X, Y = _data()
    start = _params(1)
    seen, logged = [], []

    def monitor(i, params, fwd, grads):
        seen.append((i, [g[0].copy() for g in grads.weights], fwd.probs.shape))
        np.testing.assert_array_equal(fwd.activations[0], X)  # the input, then (K, n, m) each
        assert [z.shape for z in fwd.zs] == [(1, 4, 6), (1, 3, 6), (1, 1, 6)]

    params, history = fit(
        start, X, Y, ACT[name], iterations=7, log_every=3, lr=0.5, batch_size=batch_size,
        shuffle_seed=4, monitor=monitor, on_log=lambda i, c: logged.append((i, c.copy())),
        snapshots=[3],
    )  # fmt: skip
    ws, bs, costs, final, grads = _reference(start, X, Y, name, 0.5, 7, 3, batch_size, 4)
    for got, want in zip(params.weights + params.biases, ws + bs, strict=True):
        np.testing.assert_allclose(got[0], want, rtol=1e-11, atol=1e-14)
    assert history.steps.tolist() == [0, 3, 6]
    np.testing.assert_allclose(history.costs, [costs], rtol=1e-11)
    np.testing.assert_allclose(history.final_cost, [final], rtol=1e-11)
    assert [i for i, _ in logged] == [0, 3, 6]
    np.testing.assert_allclose([c[0] for _, c in logged], costs, rtol=1e-11)
    assert [i for i, _, _ in seen] == [0, 3, 6] and seen[0][2] == (1, 1, 6)
    for (_, got, _), want in zip(seen, grads, strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-14)
    snap_ws, _, _, _, _ = _reference(start, X, Y, name, 0.5, 3, 3, batch_size, 4)
    assert list(history.snapshots) == [3]
    np.testing.assert_allclose(history.snapshots[3].weights[0][0], snap_ws[0], rtol=1e-11)
    np.testing.assert_array_equal(start.weights[0], _params(1).weights[0])  # a copy trains


@pytest.mark.parametrize("batch_size", [0, 4])
def test_stacked_replicas_train_each_as_written_out(batch_size):
    X, Y = _data()
    two = Params.stack([_params(1), _params(2)])
    shapes = []

    def monitor(i, params, fwd, grads):
        shapes.append([a.shape for a in fwd.activations] + [z.shape for z in fwd.zs])

    params, history = fit(
        two, X, Y, ACT["tanh"], iterations=5, log_every=2, lr=0.3, batch_size=batch_size,
        shuffle_seed=9, monitor=monitor,
    )  # fmt: skip
    assert shapes[0] == [(2, 6), (2, 4, 6), (2, 3, 6), (2, 1, 6), (2, 4, 6), (2, 3, 6), (2, 1, 6)]
    for k, seed in enumerate((1, 2)):
        ws, bs, costs, final, _ = _reference(_params(seed), X, Y, "tanh", 0.3, 5, 2, batch_size, 9)
        for got, want in zip(params.weights + params.biases, ws + bs, strict=True):
            np.testing.assert_allclose(got[k], want, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(history.costs[k], costs, rtol=1e-11)
        assert history.final_cost[k] == pytest.approx(final, rel=1e-11)
    assert history.costs.shape == (2, 3)


def test_a_mini_batch_run_without_monitor_logs_the_whole_sets_cost():
    X, Y = _data(7)
    start = _params(3)
    params, history = fit(start, X, Y, ACT["relu"], iterations=6, log_every=2, lr=0.2,
                          batch_size=3, shuffle_seed=1)  # fmt: skip
    ws, _, costs, final, _ = _reference(start, X, Y, "relu", 0.2, 6, 2, 3, 1)
    np.testing.assert_allclose(history.costs[0], costs, rtol=1e-11)
    np.testing.assert_allclose(params.weights[0][0], ws[0], rtol=1e-11, atol=1e-14)
    # batches of 3 from 7: the last of each epoch has 1 sample (its own buffers)
    _, history = fit(start, X, Y, ACT["relu"], iterations=6, log_every=2, lr=0.2,
                     batch_size=3, shuffle_seed=1, rule=None)  # fmt: skip
    assert history.final_cost[0] == pytest.approx(final, rel=1e-11)


def test_an_update_rule_or_a_rate_not_both():
    X, Y = _data()
    message = "fit needs exactly one of lr= (plain gradient descent) and rule="
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit(_params(1), X, Y, ACT["tanh"], iterations=1, log_every=1)
    with pytest.raises(TypeError, match="exactly one of"):
        fit(_params(1), X, Y, ACT["tanh"], iterations=1, log_every=1, lr=0.1,
            rule=UpdateRule("gd", 0.1))  # fmt: skip
    a, _ = fit(_params(1), X, Y, ACT["tanh"], iterations=2, log_every=1, rule=UpdateRule("gd", 0.1))
    b, _ = fit(_params(1), X, Y, ACT["tanh"], iterations=2, log_every=1, lr=0.1)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


def test_snapshots_must_be_logged_iterations_within_the_run():
    X, Y = _data()
    with pytest.raises(ValueError) as err:
        fit(_params(1), X, Y, ACT["tanh"], iterations=10, log_every=3, lr=0.1,
            snapshots=[4, 3, 20, -3])  # fmt: skip
    assert str(err.value) == "snapshots [3, 4] must be multiples of log_every=3"
    _, history = fit(_params(1), X, Y, ACT["tanh"], iterations=6, log_every=3, lr=0.1,
                     snapshots=[0, 6, 3])  # fmt: skip
    assert sorted(history.snapshots) == [0, 3]  # 6 is not before any step of a 6-step run


def test_engine_choice(monkeypatch):
    relu = ACT["relu"]
    assert resolve_engine("numpy", relu) == "numpy"
    assert resolve_engine("numba", relu, 1000) == "numba"
    assert resolve_engine("auto", relu, 63) == "numba"
    assert resolve_engine("auto", relu, 64) == "numpy"
    monkeypatch.setattr(fastpath, "SUPPORTED_ACTIVATIONS", ("tanh",))
    assert resolve_engine("auto", relu) == "numpy"
    with pytest.raises(RuntimeError) as err:
        resolve_engine("numba", relu)
    assert str(err.value) == (
        "trainer.engine=numba cannot run: it has no relu; use trainer.engine=numpy"
    )
    monkeypatch.setattr(fastpath, "available", lambda: False)
    assert resolve_engine("auto", ACT["tanh"]) == "numpy"
    with pytest.raises(RuntimeError) as err:
        resolve_engine("numba", ACT["tanh"])
    assert str(err.value) == (
        "trainer.engine=numba cannot run: numba is not installed; use trainer.engine=numpy"
    )


def test_auto_keeps_narrow_float64_nets_and_any_float32_net_compiled(monkeypatch):
    X, Y = _data()
    used = []

    def compiled(*args):
        used.append(args[-1])
        return args[0], None

    monkeypatch.setattr(trainer, "_fit_compiled", compiled)
    wide = _params(1, dims=(2, 64, 1))
    fit(_params(1), X, Y, ACT["tanh"], iterations=1, log_every=1, lr=0.1, engine="auto")
    fit(wide, X, Y, ACT["tanh"], iterations=1, log_every=1, lr=0.1, engine="auto",
        dtype="float32")  # fmt: skip
    assert used == ["float64", "float32"]
    _, history = fit(wide, X, Y, ACT["tanh"], iterations=1, log_every=1, lr=0.1, engine="auto")
    assert used == ["float64", "float32"] and history.steps.tolist() == [0]


def test_compiled_engine_reports_progress_per_chunk_and_says_it_compiles_once(monkeypatch, caplog):
    X, Y = _data()
    monkeypatch.setattr(trainer, "_compile_said", False)
    monkeypatch.setattr(fastpath, "kernels_cached", lambda: False)
    monkeypatch.setattr(trainer, "PROGRESS_CHUNK", 4)
    calls = []
    with caplog.at_level(logging.INFO, logger="initlab.trainer"):
        params, history = fit(
            _params(1), X, Y, ACT["tanh"], iterations=9, log_every=2, lr=0.3, engine="numba",
            on_log=lambda i, c: calls.append((i, c.copy())), snapshots=[4],
        )  # fmt: skip
        first = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
        fit(_params(1), X, Y, ACT["tanh"], iterations=1, log_every=1, lr=0.3, engine="numba")
    said = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    assert first == said  # said by the first run, not again
    assert said == [
        "Compiling the training kernels (numba): the first run on this machine takes 10-20 s "
        "longer; they are cached for every later run (make clean keeps them)."
    ]
    ws, _, costs, final, _ = _reference(_params(1), X, Y, "tanh", 0.3, 9, 2)
    # chunks of 2 · max(1, 4 // 2) = 4 steps: progress at 0, 4, 8 with each chunk's first cost
    assert [i for i, _ in calls] == [0, 4, 8]
    np.testing.assert_allclose([c[0] for _, c in calls], costs[::2], rtol=1e-10)
    assert history.steps.tolist() == [0, 2, 4, 6, 8]
    np.testing.assert_allclose(history.costs[0], costs, rtol=1e-10)
    assert history.final_cost[0] == pytest.approx(final, rel=1e-10)
    np.testing.assert_allclose(params.weights[0][0], ws[0], rtol=1e-10, atol=1e-13)
    snap, _, _, _, _ = _reference(_params(1), X, Y, "tanh", 0.3, 4, 2)
    np.testing.assert_allclose(history.snapshots[4].weights[0][0], snap[0], rtol=1e-10)


def test_compiled_engine_monitor_sees_every_logged_iteration():
    X, Y = _data()
    seen = []

    def monitor(i, params, fwd, grads):
        seen.append((i, grads.weights[0][0].copy(), fwd.probs.shape))

    fit(_params(1), X, Y, ACT["relu"], iterations=5, log_every=2, lr=0.3, engine="numba",
        monitor=monitor)  # fmt: skip
    _, _, _, _, grads = _reference(_params(1), X, Y, "relu", 0.3, 5, 2)
    assert [i for i, _, _ in seen] == [0, 2, 4] and seen[0][2] == (1, 1, 6)
    for (_, got, _), want in zip(seen, grads, strict=True):
        np.testing.assert_allclose(got, want[0], rtol=1e-10, atol=1e-14)


def test_compiled_leaky_relu_and_elu_use_their_parameters():
    from initlab.activations import make_activation
    from initlab.config import EluActivation, LeakyReluActivation

    X, Y = _data()
    for cfg in (LeakyReluActivation(slope=0.3), EluActivation(alpha=0.4)):
        act = make_activation(cfg)
        a, _ = fit(_params(1), X, Y, act, iterations=3, log_every=1, lr=0.3, engine="numba")
        b, _ = fit(_params(1), X, Y, act, iterations=3, log_every=1, lr=0.3, engine="numpy")
        np.testing.assert_allclose(a.weights[0], b.weights[0], rtol=1e-10)


def test_the_output_sigmoid_saturates_without_overflow_warnings():
    import warnings

    X, Y = _data()
    params = _params(1)
    params.biases[-1][...] = -1000.0  # σ(-1000): exp(1000) overflows to inf, σ is 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, history = fit(params, X, Y, ACT["tanh"], iterations=2, log_every=1, lr=0.1)
    assert np.isfinite(history.costs).all()


def test_messages_and_defaults_of_fit():
    X, Y = _data()
    with pytest.raises(TypeError) as err:
        fit(_params(1), X, Y, ACT["tanh"], iterations=1, log_every=1)
    assert str(err.value) == "fit needs exactly one of lr= (plain gradient descent) and rule="
    # a snapshot at the run's end is no step's: ignored, not checked against log_every
    _, history = fit(_params(1), X, Y, ACT["tanh"], iterations=7, log_every=3, lr=0.1,
                     snapshots=[7])  # fmt: skip
    assert history.snapshots == {}
    # the shuffle seed defaults to 0
    a, _ = fit(_params(1), X, Y, ACT["tanh"], iterations=3, log_every=1, lr=0.1, batch_size=4)
    b, _ = fit(_params(1), X, Y, ACT["tanh"], iterations=3, log_every=1, lr=0.1, batch_size=4,
               shuffle_seed=0)  # fmt: skip
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


@pytest.mark.parametrize("engine", ["auto", "numpy"])
def test_a_net_without_hidden_layers_trains(engine):
    X, Y = _data()
    _, history = fit(_params(1, dims=(2, 1)), X, Y, ACT["tanh"], iterations=2, log_every=1,
                          lr=0.1, engine=engine)  # fmt: skip
    assert history.steps.tolist() == [0, 1]


def test_compiled_progress_chunks_are_whole_logging_intervals(monkeypatch):
    X, Y = _data()
    monkeypatch.setattr(trainer, "PROGRESS_CHUNK", 4)
    calls = []
    fit(_params(1), X, Y, ACT["tanh"], iterations=9, log_every=3, lr=0.3, engine="numba",
        on_log=lambda i, c: calls.append(i))  # fmt: skip
    assert calls == [0, 3, 6]  # 4 // 3 = 1 interval a chunk


def test_compiled_mini_batches_follow_the_epochs_across_chunks():
    X, Y = _data()
    params, history = fit(_params(1), X, Y, ACT["tanh"], iterations=7, log_every=2, lr=0.3,
                          batch_size=4, shuffle_seed=5, engine="numba",
                          monitor=lambda *args: None)  # fmt: skip
    ws, _, costs, _, _ = _reference(_params(1), X, Y, "tanh", 0.3, 7, 2, 4, 5)
    np.testing.assert_allclose(history.costs[0], costs, rtol=1e-10)
    np.testing.assert_allclose(params.weights[0][0], ws[0], rtol=1e-10, atol=1e-13)
