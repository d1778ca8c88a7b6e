"""The baseline: the course's training loop as a bare script (deeplearning.ai, "Initialization").

Global ``np.random.seed``, parameters and gradients in dictionaries rebuilt every iteration,
``np.dot``, the cost computed at every iteration: the course's code, as in
``tests/course_reference.py``. ``xavier`` is added as Glorot's rule,
``randn * sqrt(2 / (n_in + n_out))``, to train initlab's signature grid.

    python bench/naive.py    # trains zeros, random, he, xavier for 15000 iterations each

The benchmark times this whole script (imports included) against
``python src/train.py -m init=zeros,random,he,xavier``, and :func:`seconds_per_iteration`
times its loop in-process.

The one departure from the course: the training loop runs inside a single ``np.errstate`` so
that the ×10 start's ``log(0)`` and ``exp`` overflows do not print warnings (the reference
wraps every call instead, which costs more per iteration than the course's code does).
"""

from __future__ import annotations

import time

import matplotlib.pyplot as plt  # noqa: F401 (the course's script imports it)
import numpy as np
import sklearn.datasets

INITS = ("zeros", "random", "he", "xavier")


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
        n_in, n_out = layers_dims[l - 1], layers_dims[l]
        if initialization == "zeros":
            parameters["W" + str(l)] = np.zeros((n_out, n_in))
        elif initialization == "random":
            parameters["W" + str(l)] = np.random.randn(n_out, n_in) * 10
        elif initialization == "he":
            parameters["W" + str(l)] = np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)
        elif initialization == "xavier":
            parameters["W" + str(l)] = np.random.randn(n_out, n_in) * np.sqrt(2.0 / (n_in + n_out))
        else:
            raise ValueError(f"unknown initialization {initialization!r}")
        parameters["b" + str(l)] = np.zeros((n_out, 1))
    return parameters


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def relu(x):
    return np.maximum(0, x)


def forward_propagation(X, parameters):
    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    W3 = parameters["W3"]
    b3 = parameters["b3"]

    z1 = np.dot(W1, X) + b1
    a1 = relu(z1)
    z2 = np.dot(W2, a1) + b2
    a2 = relu(z2)
    z3 = np.dot(W3, a2) + b3
    a3 = sigmoid(z3)

    cache = (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)
    return a3, cache


def compute_loss(a3, Y):
    m = Y.shape[1]
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

    gradients = {
        "dz3": dz3, "dW3": dW3, "db3": db3,
        "da2": da2, "dz2": dz2, "dW2": dW2, "db2": db2,
        "da1": da1, "dz1": dz1, "dW1": dW1, "db1": db1,
    }  # fmt: skip
    return gradients


def update_parameters(parameters, grads, learning_rate):
    L = len(parameters) // 2
    for k in range(L):
        W, b = "W" + str(k + 1), "b" + str(k + 1)
        parameters[W] = parameters[W] - learning_rate * grads["d" + W]
        parameters[b] = parameters[b] - learning_rate * grads["d" + b]
    return parameters


def model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True, initialization="he"):
    costs = []
    layers_dims = [X.shape[0], 10, 5, 1]
    parameters = initialize_parameters(layers_dims, initialization)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for i in range(num_iterations):
            a3, cache = forward_propagation(X, parameters)
            cost = compute_loss(a3, Y)
            grads = backward_propagation(X, Y, cache)
            parameters = update_parameters(parameters, grads, learning_rate)
            if i % 1000 == 0:
                costs.append(cost)
                if print_cost:
                    print(f"Cost after iteration {i}: {cost}")
    return parameters, costs


def predict(X, y, parameters):
    a3, _ = forward_propagation(X, parameters)
    p = (a3 > 0.5).astype(int)
    return float(np.mean(p[0, :] == y[0, :]))


def seconds_per_iteration(iterations: int, initialization: str = "he") -> float:
    """Wall time of the course's loop per iteration, on the course's data (one measurement)."""
    train_X, train_Y, _, _ = load_dataset()
    started = time.perf_counter()
    model(
        train_X, train_Y, num_iterations=iterations, print_cost=False, initialization=initialization
    )
    return (time.perf_counter() - started) / iterations


def main() -> None:
    train_X, train_Y, test_X, test_Y = load_dataset()
    for initialization in INITS:
        print(f"--- {initialization} ---")
        parameters, _ = model(train_X, train_Y, initialization=initialization)
        train_acc = predict(train_X, train_Y, parameters)
        test_acc = predict(test_X, test_Y, parameters)
        print(f"{initialization}: train accuracy {train_acc:.4f}, test accuracy {test_acc:.4f}")


if __name__ == "__main__":
    main()
