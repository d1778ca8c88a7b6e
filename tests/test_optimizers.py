"""Optimizers and remedies: the formulas written out here, and both engines held together."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initlab.activations import make_activation
from initlab.config import GROUP_OPTIONS, CirclesDataset, HeInit, ReluActivation, XavierInit
from initlab.datasets import load_dataset
from initlab.diagnostics import TrainingMonitor
from initlab.initializers import init_layers, init_replicas
from initlab.network import Params, backward, cross_entropy, forward
from initlab.optimizers import UpdateRule, batch_indices, batch_order
from initlab.seeding import course_rng
from initlab.trainer import fit

RELU = make_activation(ReluActivation())
DIMS = [2, 10, 5, 1]

# Every rule, with and without the remedies; lr chosen so that each run moves far in a few
# hundred steps without leaving the well-conditioned regime the 1e-9 comparisons need.
RULES = {
    "gd": UpdateRule("gd", 0.05),
    "gd+decay+clip": UpdateRule("gd", 0.05, weight_decay=0.01, clip_norm=0.05),
    "momentum": UpdateRule("momentum", 0.05, beta=0.9),
    "momentum+decay": UpdateRule("momentum", 0.05, beta=0.8, weight_decay=0.003),
    "adam": UpdateRule("adam", 0.005),
    "adam+clip": UpdateRule("adam", 0.005, beta1=0.8, beta2=0.99, eps=1e-6, clip_norm=0.1),
}


@pytest.fixture(scope="module")
def circles():
    return load_dataset(CirclesDataset())


def _tensors(params: Params) -> list[np.ndarray]:
    return [*params.weights, *params.biases]


def _he(seed: int = 3) -> Params:
    return init_layers(HeInit(), DIMS, course_rng(seed))


# --- the formulas, written out independently of initlab.optimizers -------------------------


def _reference_run(params, X, Y, rule: UpdateRule, iterations: int, batch: int, seed: int):
    """The textbook loop: readable forward/backward, then clip, decay and the rule."""
    theta = params.copy()
    order = _reference_order(X.shape[1], batch, iterations, seed) if batch else None
    velocity = [np.zeros_like(a) for a in theta.weights + theta.biases]
    second = [np.zeros_like(a) for a in theta.weights + theta.biases]
    costs = []
    for t in range(1, iterations + 1):
        costs.append(float(cross_entropy(forward(theta, X, RELU).logits, Y)[0]))
        idx = order[t - 1] if order is not None else slice(None)
        xb, yb = X[:, idx], Y[:, idx]
        grads = backward(theta, forward(theta, xb, RELU), yb, RELU)
        g = grads.weights + grads.biases
        norm = math.sqrt(sum(float(np.sum(a * a)) for a in g))
        if rule.clip_norm and norm > rule.clip_norm:
            g = [a * (rule.clip_norm / norm) for a in g]
        n_w = len(theta.weights)
        g = [a + rule.weight_decay * w for a, w in zip(g[:n_w], theta.weights, strict=True)] + g[
            n_w:
        ]
        params_list = theta.weights + theta.biases
        for q, (p, gq) in enumerate(zip(params_list, g, strict=True)):
            if rule.kind == "gd":
                p -= rule.lr * gq
            elif rule.kind == "momentum":
                velocity[q] = rule.beta * velocity[q] + (1 - rule.beta) * gq
                p -= rule.lr * velocity[q]
            else:
                velocity[q] = rule.beta1 * velocity[q] + (1 - rule.beta1) * gq
                second[q] = rule.beta2 * second[q] + (1 - rule.beta2) * gq * gq
                m_hat = velocity[q] / (1 - rule.beta1**t)
                v_hat = second[q] / (1 - rule.beta2**t)
                p -= rule.lr * m_hat / (np.sqrt(v_hat) + rule.eps)
    return theta, np.array(costs)


def _reference_order(m: int, batch: int, iterations: int, seed: int) -> list[np.ndarray]:
    """Epoch after epoch a fresh permutation from default_rng(seed), cut into batches."""
    rng, batches = np.random.default_rng(seed), []
    while len(batches) < iterations:
        perm = rng.permutation(m)
        batches += [perm[i : i + batch] for i in range(0, m, batch)]
    return batches[:iterations]


@pytest.mark.parametrize("batch", [0, 64], ids=["full", "batch64"])
@pytest.mark.parametrize("name", list(RULES))
def test_numpy_engine_follows_the_written_out_formulas(circles, name, batch):
    rule, iterations = RULES[name], 60
    X, Y = circles.X_train, circles.Y_train
    ref_params, ref_costs = _reference_run(_he(), X, Y, rule, iterations, batch, seed=5)
    params, history = fit(
        _he(), X, Y, RELU, rule=rule, iterations=iterations, log_every=1, batch_size=batch,
        shuffle_seed=5, engine="numpy",
    )  # fmt: skip
    np.testing.assert_allclose(history.costs[0], ref_costs, rtol=1e-10)
    for a, b in zip(_tensors(params), _tensors(ref_params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("batch", [0, 64, 7], ids=["full", "batch64", "batch7"])
@pytest.mark.parametrize("name", list(RULES))
def test_compiled_engine_agrees_with_numpy(circles, name, batch):
    pytest.importorskip("numba")
    rule = RULES[name]
    X, Y = circles.X_train, circles.Y_train
    params = init_replicas([HeInit(), XavierInit()], DIMS, [course_rng(3), course_rng(4)])
    kwargs = dict(
        rule=rule, iterations=400, log_every=20, batch_size=batch, shuffle_seed=1
    )  # fmt: skip
    ref_params, ref = fit(params, X, Y, RELU, engine="numpy", **kwargs)
    fast_params, fast = fit(params, X, Y, RELU, engine="numba", **kwargs)
    np.testing.assert_array_equal(fast.steps, ref.steps)
    np.testing.assert_allclose(fast.costs, ref.costs, rtol=1e-9)
    np.testing.assert_allclose(fast.final_cost, ref.final_cost, rtol=1e-9)
    for a, b in zip(fast_params.weights, ref_params.weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("name", ["momentum", "adam+clip"])
def test_stacked_replicas_are_bit_identical_to_runs_alone(circles, engine, name):
    if engine == "numba":
        pytest.importorskip("numba")
    seeds = [3, 4, 11]
    kwargs = dict(
        rule=RULES[name], iterations=200, log_every=50, batch_size=64, shuffle_seed=2,
        engine=engine,
    )  # fmt: skip
    X, Y = circles.X_train, circles.Y_train
    stacked = init_replicas([HeInit()] * 3, DIMS, [course_rng(s) for s in seeds])
    s_params, s_hist = fit(stacked, X, Y, RELU, **kwargs)
    for k, seed in enumerate(seeds):
        a_params, a_hist = fit(_he(seed), X, Y, RELU, **kwargs)
        np.testing.assert_array_equal(s_hist.costs[k], a_hist.costs[0])
        np.testing.assert_array_equal(s_hist.final_cost[k], a_hist.final_cost[0])
        for a, b in zip(_tensors(s_params), _tensors(a_params), strict=True):
            np.testing.assert_array_equal(a[k], b[0])


def test_compiled_chunks_carry_the_rules_state(circles):
    """With a monitor the compiled engine runs one logging interval per call: Adam's moments
    and step count and the batch position must travel from call to call unchanged."""
    pytest.importorskip("numba")
    X, Y = circles.X_train, circles.Y_train
    kwargs = dict(rule=RULES["adam+clip"], iterations=250, log_every=50, batch_size=64)
    plain_params, plain = fit(_he(), X, Y, RELU, engine="numba", **kwargs)
    watched_params, watched = fit(
        _he(), X, Y, RELU, engine="numba", monitor=TrainingMonitor(), **kwargs
    )
    np.testing.assert_array_equal(plain.costs, watched.costs)
    for a, b in zip(plain_params.weights, watched_params.weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_batch_as_large_as_the_set_is_gradient_descent(circles, engine):
    if engine == "numba":
        pytest.importorskip("numba")
    X, Y = circles.X_train, circles.Y_train
    kwargs = dict(iterations=100, log_every=10, engine=engine)
    _, gd = fit(_he(), X, Y, RELU, lr=0.01, **kwargs)
    _, whole = fit(_he(), X, Y, RELU, lr=0.01, batch_size=X.shape[1], **kwargs)
    np.testing.assert_array_equal(gd.costs, whole.costs)


def test_weight_decay_shrinks_the_weights(circles):
    X, Y = circles.X_train, circles.Y_train
    kwargs = dict(iterations=2000, log_every=100, engine="numpy")
    plain, _ = fit(_he(), X, Y, RELU, rule=UpdateRule("gd", 0.05), **kwargs)
    decayed, _ = fit(_he(), X, Y, RELU, rule=UpdateRule("gd", 0.05, weight_decay=0.05), **kwargs)
    norm = lambda p: sum(float(np.sum(w * w)) for w in p.weights)  # noqa: E731
    assert norm(decayed) < 0.8 * norm(plain)


def test_clipping_bounds_every_step(circles):
    """×10 weights give huge gradients: with clip_norm c a gd step moves θ by at most lr·c."""
    X, Y = circles.X_train, circles.Y_train
    start = init_layers(GROUP_OPTIONS["init"]["random"], DIMS, course_rng(3))
    rule = UpdateRule("gd", 0.01, clip_norm=1.0)
    after, _ = fit(start, X, Y, RELU, rule=rule, iterations=1, log_every=1, engine="numpy")
    moved = math.sqrt(
        sum(
            float(np.sum((a - b) ** 2))
            for a, b in zip(_tensors(after), _tensors(start), strict=True)
        )
    )
    assert moved == pytest.approx(0.01 * 1.0, rel=1e-12)  # the raw gradient is far longer


def test_batch_order_visits_every_sample_once_per_epoch():
    order = batch_order(10, 4, iterations=7, seed=0)  # 3 steps per epoch: 4 + 4 + 2
    assert order.shape == (3, 10)
    for epoch in order:
        assert sorted(epoch.tolist()) == list(range(10))
    assert not np.array_equal(order[0], order[1])  # reshuffled each epoch
    np.testing.assert_array_equal(order, batch_order(10, 4, iterations=7, seed=0))
    assert not np.array_equal(order, batch_order(10, 4, iterations=7, seed=1))
    sizes = [len(batch_indices(order, i, 4)) for i in range(6)]
    assert sizes == [4, 4, 2, 4, 4, 2]
    np.testing.assert_array_equal(batch_indices(order, 3, 4), order[1, :4])


def test_every_trainer_option_trains_the_course_problem(compose_cfg):
    """Each trainer's defaults fit the course's circles from He's start: gd in its 15000
    full-batch steps (99.3%), the mini-batch ones in 3000 steps (measured 99.3-99.7%)."""
    from initlab.config import to_settings
    from initlab.experiment import train_and_evaluate

    for option in GROUP_OPTIONS["trainer"]:
        steps = 15000 if option == "gd" else 3000
        settings = to_settings(
            compose_cfg(f"trainer={option}", f"trainer.iterations={steps}", "diagnostics=false")
        )
        result = train_and_evaluate(settings)
        assert result.train_accuracy[0] > 0.98, option


def test_the_batch_order_is_the_same_step_by_step_or_in_chunks():
    """BatchOrder makes epochs as training reaches them and forgets the past: the NumPy
    engine asks step by step, the compiled one chunk by chunk; both see batch_order's."""
    from initlab.optimizers import BatchOrder

    whole = batch_order(50, 7, iterations=300, seed=4)
    stepwise = BatchOrder(50, 7, seed=4)
    for i in range(300):
        np.testing.assert_array_equal(stepwise.indices(i), batch_indices(whole, i, 7))
    chunked = BatchOrder(50, 7, seed=4)
    for start in range(0, 300, 40):
        epochs, first = chunked.chunk(start, min(40, 300 - start))
        np.testing.assert_array_equal(epochs, whole[first : first + len(epochs)])
        assert len(chunked._rows) == len(epochs)  # nothing kept from before the chunk
    with pytest.raises(ValueError, match="forgotten"):
        chunked.indices(0)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_snapshots_are_the_parameters_before_those_iterations(circles, engine):
    """Snapshots (the boundary's evolution figure) change nothing and are exactly what a run
    stopped at that iteration would return, momentum state and batch order included."""
    if engine == "numba":
        pytest.importorskip("numba")
    X, Y = circles.X_train, circles.Y_train
    kwargs = dict(rule=RULES["momentum"], log_every=50, batch_size=64, engine=engine)
    plain_params, plain = fit(_he(), X, Y, RELU, iterations=400, **kwargs)
    params, history = fit(_he(), X, Y, RELU, iterations=400, snapshots=[0, 100, 250], **kwargs)
    np.testing.assert_array_equal(history.costs, plain.costs)
    for a, b in zip(_tensors(params), _tensors(plain_params), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(history.snapshots) == [0, 100, 250]
    for a, b in zip(_tensors(history.snapshots[0]), _tensors(_he()), strict=True):
        np.testing.assert_array_equal(a, b)
    stopped, _ = fit(_he(), X, Y, RELU, iterations=250, **kwargs)
    for a, b in zip(_tensors(history.snapshots[250]), _tensors(stopped), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="multiples of log_every"):
        fit(_he(), X, Y, RELU, iterations=400, snapshots=[30], **kwargs)
