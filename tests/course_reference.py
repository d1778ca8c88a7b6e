"""The course's own script (deeplearning.ai, "Initialization"), kept verbatim in spirit.

It seeds NumPy's global generator exactly as the course does; tests use it as the reference
our trainer must match, and restore the global state afterwards.
"""

from __future__ import annotations

import numpy as np
import sklearn.datasets


def load_dataset():
    np.random.seed(1)
    train_X, train_Y = sklearn.datasets.make_circles(n_samples=300, noise=0.05)
    np.random.seed(2)
    test_X, test_Y = sklearn.datasets.make_circles(n_samples=100, noise=0.05)
    return train_X.T, train_Y.reshape((1, -1)), test_X.T, test_Y.reshape((1, -1))


def initialize_parameters(layers_dims, initialization):
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layers_dims)):  # noqa: E741 (the course's name)
        shape = (layers_dims[l], layers_dims[l - 1])
        if initialization == "zeros":
            parameters["W" + str(l)] = np.zeros(shape)
        elif initialization == "random":
            parameters["W" + str(l)] = np.random.randn(*shape) * 10
        else:  # he
            parameters["W" + str(l)] = np.random.randn(*shape) * np.sqrt(2.0 / layers_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def sigmoid(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def forward_propagation(X, p):
    z1 = np.dot(p["W1"], X) + p["b1"]
    a1 = np.maximum(0, z1)
    z2 = np.dot(p["W2"], a1) + p["b2"]
    a2 = np.maximum(0, z2)
    z3 = np.dot(p["W3"], a2) + p["b3"]
    a3 = sigmoid(z3)
    return a3, (z1, a1, p["W1"], p["b1"], z2, a2, p["W2"], p["b2"], z3, a3, p["W3"], p["b3"])


def compute_loss(a3, Y):
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return 1.0 / m * np.nansum(logprobs)


def backward_propagation(X, Y, cache):
    m = X.shape[1]
    (_z1, a1, _W1, _b1, _z2, a2, W2, _b2, _z3, a3, W3, _b3) = cache
    dz3 = 1.0 / m * (a3 - Y)
    dW3 = np.dot(dz3, a2.T)
    db3 = np.sum(dz3, axis=1, keepdims=True)
    da2 = np.dot(W3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dW2 = np.dot(dz2, a1.T)
    db2 = np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(W2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = np.dot(dz1, X.T)
    db1 = np.sum(dz1, axis=1, keepdims=True)
    return {"dW3": dW3, "db3": db3, "dW2": dW2, "db2": db2, "dW1": dW1, "db1": db1}


def model(X, Y, initialization, learning_rate=0.01, num_iterations=15000):
    """Returns the final parameters and the cost at every 1000th iteration."""
    costs = []
    parameters = initialize_parameters([X.shape[0], 10, 5, 1], initialization)
    for i in range(num_iterations):
        a3, cache = forward_propagation(X, parameters)
        cost = compute_loss(a3, Y)
        grads = backward_propagation(X, Y, cache)
        for k in range(1, 4):
            parameters["W" + str(k)] = (
                parameters["W" + str(k)] - learning_rate * grads["dW" + str(k)]
            )
            parameters["b" + str(k)] = (
                parameters["b" + str(k)] - learning_rate * grads["db" + str(k)]
            )
        if i % 1000 == 0:
            costs.append(cost)
    return parameters, costs


def predict_accuracy(X, Y, parameters):
    a3, _ = forward_propagation(X, parameters)
    return float(np.mean((a3 > 0.5) == Y))
