"""Full-batch gradient descent over K stacked replicas. Knows nothing of Hydra or MLflow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from initlab.activations import Activation
from initlab.network import Forward, Params, backward, cross_entropy, forward

# Called at every logged iteration with (iteration, cost per replica): progress display.
ProgressHook = Callable[[int, np.ndarray], None]
# Called at every logged iteration, before the step, with what it computed: diagnostics.
MonitorHook = Callable[[int, Params, Forward, Params], None]


@dataclass
class History:
    """The cost per replica at the logged iterations, plus the cost after the last step."""

    steps: np.ndarray  # (n_logged,)
    costs: np.ndarray  # (K, n_logged)
    final_cost: np.ndarray  # (K,)


def fit(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    act: Activation,
    *,
    lr: float,
    iterations: int,
    log_every: int,
    on_log: ProgressHook | None = None,
    monitor: MonitorHook | None = None,
) -> tuple[Params, History]:
    """Train a copy of ``params``; the cost is recorded at iterations 0, log_every, 2·log_every, ...

    As in the course, the cost logged at iteration i is that of the parameters before step i.
    """
    params = params.copy()
    steps, costs = [], []
    for i in range(iterations):
        fwd = forward(params, X, act)
        grads = backward(params, fwd, Y, act)
        if i % log_every == 0:
            cost = cross_entropy(fwd.logits, Y)
            steps.append(i)
            costs.append(cost)
            if monitor is not None:
                monitor(i, params, fwd, grads)
            if on_log is not None:
                on_log(i, cost)
        for w, b, gw, gb in zip(
            params.weights, params.biases, grads.weights, grads.biases, strict=True
        ):
            w -= lr * gw
            b -= lr * gb
    final = cross_entropy(forward(params, X, act).logits, Y)
    history = History(np.asarray(steps), np.stack(costs, axis=1), final)
    return params, history
