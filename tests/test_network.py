"""Forward/backward: gradients against finite differences, the replica axis, stable loss."""

from __future__ import annotations

import numpy as np
import pytest

from initlab.activations import make_activation
from initlab.config import (
    GROUP_OPTIONS,
    CirclesDataset,
    HeInit,
    LeakyReluActivation,
    RandomInit,
    ReluActivation,
    XavierInit,
    ZerosInit,
)
from initlab.datasets import load_dataset
from initlab.initializers import init_layers, init_replicas
from initlab.network import Params, backward, cross_entropy, forward
from initlab.seeding import course_rng
from initlab.trainer import fit

ACTIVATIONS = [cfg for cfg in GROUP_OPTIONS["activation"].values()]


def _cost(params: Params, X, Y, act) -> float:
    return float(cross_entropy(forward(params, X, act).logits, Y)[0])


def _relative_error(numeric: np.ndarray, analytic: np.ndarray) -> float:
    """The course's gradient-check measure: ||a - b|| / (||a|| + ||b||)."""
    return float(
        np.linalg.norm(numeric - analytic) / (np.linalg.norm(numeric) + np.linalg.norm(analytic))
    )


@pytest.mark.parametrize("act_cfg", ACTIVATIONS, ids=lambda a: a.name)
@pytest.mark.parametrize("hidden", [[10, 5], [6], [5, 4, 3, 3]], ids=str)
def test_gradients_match_finite_differences(act_cfg, hidden):
    act = make_activation(act_cfg)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 40))
    Y = (rng.random((1, 40)) > 0.5).astype(float)
    params = init_layers(XavierInit(), [3, *hidden, 1], course_rng(7))
    for b in params.biases:  # non-zero biases so their gradients are exercised too
        b += rng.standard_normal(b.shape) * 0.1
    grads = backward(params, forward(params, X, act), Y, act)
    eps = 1e-6
    numeric, analytic = [], []
    for tensors, grad_tensors in ((params.weights, grads.weights), (params.biases, grads.biases)):
        for tensor, grad in zip(tensors, grad_tensors, strict=True):
            for idx in np.ndindex(tensor.shape):
                saved = tensor[idx]
                tensor[idx] = saved + eps
                plus = _cost(params, X, Y, act)
                tensor[idx] = saved - eps
                minus = _cost(params, X, Y, act)
                tensor[idx] = saved
                numeric.append((plus - minus) / (2 * eps))
                analytic.append(grad[idx])
    assert _relative_error(np.array(numeric), np.array(analytic)) < 1e-6


def test_cross_entropy_is_finite_where_the_naive_formula_is_not():
    logits = np.array([[[800.0, -800.0, 0.0]]])
    Y = np.array([[0.0, 1.0, 1.0]])
    expected = (800.0 + 800.0 + np.log(2.0)) / 3
    assert cross_entropy(logits, Y)[0] == pytest.approx(expected, rel=1e-15)


def test_sigmoid_output_has_no_overflow_warnings():
    act = make_activation(ReluActivation())
    params = init_layers(RandomInit(scale=1000.0), [2, 4, 1], course_rng(0))
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        fwd = forward(params, np.array([[50.0, -50.0], [10.0, 3.0]]), act)
    assert np.all((fwd.probs >= 0) & (fwd.probs <= 1))


@pytest.fixture(scope="module")
def circles():
    return load_dataset(CirclesDataset())


@pytest.mark.parametrize("act_cfg", [ReluActivation(), LeakyReluActivation()], ids=lambda a: a.name)
def test_stacked_replicas_train_exactly_like_single_runs(circles, act_cfg):
    act = make_activation(act_cfg)
    schemes = [ZerosInit(), RandomInit(), HeInit(), XavierInit(), HeInit()]
    rngs = [course_rng(3), course_rng(3), course_rng(3), course_rng(3), course_rng(11)]
    dims = [2, 10, 5, 1]
    kwargs = dict(lr=0.01, iterations=300, log_every=50)
    stacked, stacked_history = fit(
        init_replicas(schemes, dims, rngs), circles.X_train, circles.Y_train, act, **kwargs
    )
    assert stacked.replicas == 5
    for k, (scheme, seed) in enumerate(zip(schemes, [3, 3, 3, 3, 11], strict=True)):
        alone, history = fit(
            init_layers(scheme, dims, course_rng(seed)),
            circles.X_train,
            circles.Y_train,
            act,
            **kwargs,
        )
        # Exactly, as the README promises: a replica's numbers do not depend on its stack.
        np.testing.assert_array_equal(stacked_history.costs[k], history.costs[0])
        np.testing.assert_array_equal(stacked_history.final_cost[k], history.final_cost[0])
        for t_stacked, t_alone in zip(
            stacked.weights + stacked.biases, alone.weights + alone.biases, strict=True
        ):
            np.testing.assert_array_equal(t_stacked[k], t_alone[0])


def test_zeros_init_never_breaks_symmetry(circles):
    act = make_activation(ReluActivation())
    params, history = fit(
        init_layers(ZerosInit(), [2, 10, 5, 1], course_rng(3)),
        circles.X_train,
        circles.Y_train,
        act,
        lr=0.01,
        iterations=200,
        log_every=100,
    )
    for w in params.weights:
        assert np.all(w == 0)  # every unit is the same, and none ever moves
    np.testing.assert_array_equal(history.costs[0], np.log(2.0))


def test_history_records_log_points_and_the_final_cost(circles):
    act = make_activation(ReluActivation())
    params, history = fit(
        init_layers(HeInit(), [2, 10, 5, 1], course_rng(3)),
        circles.X_train,
        circles.Y_train,
        act,
        lr=0.01,
        iterations=250,
        log_every=100,
    )
    np.testing.assert_array_equal(history.steps, [0, 100, 200])
    assert history.costs.shape == (1, 3)
    assert history.final_cost[0] == pytest.approx(
        float(cross_entropy(forward(params, circles.X_train, act).logits, circles.Y_train)[0]),
        rel=1e-15,
    )
    assert history.final_cost[0] < history.costs[0, 0]


def test_probabilities_in_chunks_are_the_forward_pass():
    """The boundary grid's chunked evaluation keeps one layer at a time: same numbers as
    forward's output, whatever the chunk."""
    from initlab.network import probabilities

    act = make_activation(ReluActivation())
    params = init_layers(HeInit(), [2, 16, 16, 16, 1], course_rng(5))
    X = np.random.default_rng(0).standard_normal((2, 1000))
    expected = forward(params, X, act).probs
    for chunk in (1, 7, 256, 4096):
        np.testing.assert_allclose(probabilities(params, X, act, chunk=chunk), expected, rtol=1e-12)
