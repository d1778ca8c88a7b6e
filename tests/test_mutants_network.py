"""The network's passes against numbers worked out here (found by mutation testing: each test
fails on some mutant of initlab.network that the other tests let by)."""

from __future__ import annotations

import numpy as np
import pytest

from initlab.activations import Relu, Tanh
from initlab.network import (
    Forward,
    Params,
    accuracy,
    backward,
    cross_entropy,
    forward,
    predict,
    probabilities,
)

W1 = [[1.0, -2.0], [0.5, 1.0], [-1.0, 0.0]]
B1 = [[0.5], [0.0], [-1.0]]
W2 = [[1.0, -1.0, 2.0]]
B2 = [[0.25]]
X = np.array([[1.0, 0.0, -2.0, 1.0], [1.0, 2.0, 0.5, -1.0]])
Y = np.array([[1.0, 0.0, 1.0, 0.0]])


def _one(scale: float = 1.0) -> Params:
    return Params(
        [scale * np.array(W1)[np.newaxis], scale * np.array(W2)[np.newaxis]],
        [np.array(B1)[np.newaxis], np.array(B2)[np.newaxis]],
    )


def test_shapes_of_stacked_replicas():
    two = Params.stack([_one(), _one(2.0)])
    assert two.replicas == 2 and two.layer_dims == [2, 3, 1]
    assert [w.shape for w in two.weights] == [(2, 3, 2), (2, 1, 3)]
    assert [b.shape for b in two.biases] == [(2, 3, 1), (2, 1, 1)]
    second = two.replica(1)
    assert second.replicas == 1
    np.testing.assert_array_equal(second.weights[0][0], 2.0 * np.array(W1))
    part = two.take(slice(0, 1))
    part.weights[0][...] = 7.0
    part.biases[0][...] = 7.0
    assert two.weights[0][0, 0, 0] == 1.0 and two.biases[0][0, 0, 0] == 0.5  # a copy
    copy = two.copy()
    copy.weights[1][...] = 7.0
    copy.biases[1][...] = 7.0
    assert two.weights[1][1, 0, 0] == 2.0 and two.biases[1][1, 0, 0] == 0.25


def test_forward_by_hand():
    fwd = forward(_one(), X, Relu("relu"))
    z1 = np.array(W1) @ X + B1
    # [[-0.5, -3.5, -2.5, 3.5], [1.5, 2, -0.5, -0.5], [-2, -1, 1, -2]]
    assert z1.tolist() == [[-0.5, -3.5, -2.5, 3.5], [1.5, 2.0, -0.5, -0.5], [-2, -1, 1, -2]]
    a1 = np.maximum(z1, 0)
    z2 = np.array(W2) @ a1 + B2  # [[-1.25, -1.75, 2.25, 3.75]]
    assert fwd.zs[0][0].tolist() == z1.tolist() and fwd.activations[1][0].tolist() == a1.tolist()
    assert fwd.logits[0].tolist() == [[-1.25, -1.75, 2.25, 3.75]] == z2.tolist()
    np.testing.assert_allclose(fwd.probs[0], 1 / (1 + np.exp(-z2)), rtol=1e-15)
    assert fwd.activations[0] is X and len(fwd.zs) == 2 and len(fwd.activations) == 3


def test_cross_entropy_per_replica_by_hand():
    logits = np.array([[[0.0, 2.0, -3.0]], [[0.0, 0.0, 0.0]]])
    Y3 = np.array([[1.0, 0.0, 1.0]])
    # -log σ(0), -log(1 - σ(2)), -log σ(-3); then log 2 three times
    expected = [(0.6931471805599453 + 2.1269280110429727 + 3.048587351573742) / 3,
                0.6931471805599453]  # fmt: skip
    np.testing.assert_allclose(cross_entropy(logits, Y3), expected, rtol=1e-15)


def test_backward_by_hand():
    act = Relu("relu")
    params = _one()
    grads = backward(params, forward(params, X, act), Y, act)
    z1 = np.array(W1) @ X + B1
    a1 = np.maximum(z1, 0)
    p = 1 / (1 + np.exp(-(np.array(W2) @ a1 + B2)))
    dz2 = (p - Y) / 4
    dz1 = (np.array(W2).T @ dz2) * (z1 > 0)
    np.testing.assert_allclose(grads.weights[1][0], dz2 @ a1.T, rtol=1e-14)
    np.testing.assert_allclose(grads.biases[1][0], dz2.sum(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(grads.weights[0][0], dz1 @ X.T, rtol=1e-14)
    np.testing.assert_allclose(grads.biases[0][0], dz1.sum(axis=1, keepdims=True), rtol=1e-14)
    assert grads.biases[0].shape == (1, 3, 1)


def test_backward_of_a_deeper_tanh_net_by_hand():
    act = Tanh("tanh")
    w3 = np.array([[0.5], [-1.0]])  # 1 -> 2 -> 1 after the first layer: three layers
    params = Params(
        [np.array(W1)[np.newaxis] * 0.3, np.array([[1.0, 0.5, -0.5]])[np.newaxis],
         w3.T[np.newaxis][:, :, :1]],
        [np.array(B1)[np.newaxis], np.array([[0.1]])[np.newaxis], np.array([[0.0]])[np.newaxis]],
    )  # fmt: skip
    grads = backward(params, forward(params, X, act), Y, act)
    w1, w2, wo = (w[0] for w in params.weights)
    z1 = w1 @ X + B1
    a1 = np.tanh(z1)
    z2 = w2 @ a1 + 0.1
    a2 = np.tanh(z2)
    p = 1 / (1 + np.exp(-(wo @ a2)))
    d3 = (p - Y) / 4
    d2 = (wo.T @ d3) * (1 - a2 * a2)
    d1 = (w2.T @ d2) * (1 - a1 * a1)
    np.testing.assert_allclose(grads.weights[2][0], d3 @ a2.T, rtol=1e-13)
    np.testing.assert_allclose(grads.weights[1][0], d2 @ a1.T, rtol=1e-13)
    np.testing.assert_allclose(grads.weights[0][0], d1 @ X.T, rtol=1e-13)


def test_probabilities_predictions_and_accuracy_in_chunks():
    act = Relu("relu")
    two = Params.stack([_one(), _one(-1.0)])
    p = probabilities(two, X, act, chunk=3)
    assert p.shape == (2, 1, 4)
    np.testing.assert_array_equal(p, forward(two, X, act).probs)
    np.testing.assert_array_equal(probabilities(two, X, act, chunk=1), p)
    assert predict(two, X, act).tolist() == [[[0, 0, 1, 1]], [[0, 0, 0, 1]]]
    np.testing.assert_array_equal(accuracy(two, X, Y, act), [0.5, 0.25])
    # σ(0) = 0.5 exactly is a 0: the course's a3 > 0.5.
    zero = Params([np.zeros((1, 1, 2))], [np.zeros((1, 1, 1))])
    assert predict(zero, X, act).tolist() == [[[0, 0, 0, 0]]]
    assert accuracy(zero, X, Y, act).tolist() == [0.5]
    assert predict(zero, X, act).dtype == np.int64


def test_forward_view_properties():
    fwd = Forward([np.zeros(1), np.ones(1)], [np.zeros(1), np.ones(1) * 2, np.ones(1) * 3])
    assert fwd.logits.tolist() == [1.0] and fwd.probs.tolist() == [3.0]


@pytest.mark.parametrize("k", [0, 1])
def test_replica_k_is_the_kth(k):
    two = Params.stack([_one(), _one(2.0)])
    np.testing.assert_array_equal(two.replica(k).weights[1], two.weights[1][k : k + 1])
