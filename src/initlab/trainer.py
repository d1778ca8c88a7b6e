"""Full-batch gradient descent over K stacked replicas. Knows nothing of Hydra or MLflow.

The loop is lean: every buffer is allocated once, every update is in place, parameters and
gradients live in one flat array each (so the update is two NumPy calls), and the cost is
computed only at logged iterations. The operations are the course's, in the course's order
(``network.forward``/``backward`` are the readable reference; the tests check both agree
bit for bit). With one replica the arrays are 2-D and go through ``np.dot``, which has the
least per-call overhead; with K replicas ``np.matmul`` runs over the leading axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from initlab.activations import Activation
from initlab.network import Forward, Params, cross_entropy

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


def _flat_like(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """One contiguous buffer and a view of it shaped like each array."""
    flat = np.empty(sum(a.size for a in arrays))
    views, start = [], 0
    for a in arrays:
        views.append(flat[start : start + a.size].reshape(a.shape))
        start += a.size
    return flat, views


class Workspace:
    """Parameters, activations and gradients of one training run, allocated once."""

    def __init__(self, params: Params, X: np.ndarray, Y: np.ndarray, act: Activation) -> None:
        K, m = params.replicas, X.shape[1]
        arrays = [*params.weights, *params.biases]
        self.theta, views = _flat_like(arrays)
        self.grad, grad_views = _flat_like(arrays)
        for view, source in zip(views, arrays, strict=True):
            view[...] = source
        n = len(params.weights)
        self.params = Params(views[:n], views[n:])
        self.grads = Params(grad_views[:n], grad_views[n:])
        self.single = K == 1
        # With one replica, 2-D views (np.dot); otherwise the stacked arrays (np.matmul).
        pick = (lambda a: a[0]) if self.single else (lambda a: a)
        self.W = [pick(w) for w in self.params.weights]
        self.b = [pick(b) for b in self.params.biases]
        self.dW = [pick(w) for w in self.grads.weights]
        self.db = [pick(b) for b in self.grads.biases]
        shapes = [(*w.shape[:-1], m) for w in self.W]
        self.Z = [np.empty(s) for s in shapes]
        self.A = [X, *(np.empty(s) for s in shapes)]
        self.dZ = [np.empty(s) for s in shapes]
        self.dA = [np.empty(s) for s in shapes]
        self.mask = [np.empty(s, dtype=bool) for s in shapes]
        self.WT = [np.swapaxes(w, -1, -2) for w in self.W]
        self.AT = [np.swapaxes(a, -1, -2) for a in self.A]
        self.Y, self.act, self.inv_m = Y, act, 1.0 / m
        self.product = np.dot if self.single else np.matmul

    def forward(self) -> None:
        product, last = self.product, len(self.W) - 1
        for layer in range(last + 1):
            z = self.Z[layer]
            product(self.W[layer], self.A[layer], out=z)
            z += self.b[layer]
            if layer < last:
                self.act.apply(z, self.A[layer + 1], self.mask[layer])
        # The output sigmoid as the course computes it: 1 / (1 + exp(-z)).
        a = self.A[-1]
        np.negative(self.Z[last], out=a)
        with np.errstate(over="ignore"):
            np.exp(a, out=a)
        a += 1.0
        np.divide(1.0, a, out=a)

    def backward(self) -> None:
        product, last = self.product, len(self.W) - 1
        dz = self.dZ[last]
        np.subtract(self.A[-1], self.Y, out=dz)
        np.multiply(dz, self.inv_m, out=dz)
        for layer in range(last, -1, -1):
            dz = self.dZ[layer]
            product(dz, self.AT[layer], out=self.dW[layer])
            np.add.reduce(dz, axis=-1, keepdims=True, out=self.db[layer])
            if layer > 0:
                da = self.dA[layer - 1]
                product(self.WT[layer], dz, out=da)
                self.act.backprop(
                    da, self.Z[layer - 1], self.A[layer], self.dZ[layer - 1], self.mask[layer - 1]
                )

    def step(self, lr: float) -> None:
        """θ ← θ - lr·∇θ for every parameter at once (the same operations as W - lr*dW)."""
        np.multiply(self.grad, lr, out=self.grad)
        np.subtract(self.theta, self.grad, out=self.theta)

    def cost(self) -> np.ndarray:
        logits = self.Z[-1] if not self.single else self.Z[-1][np.newaxis]
        return cross_entropy(logits, self.Y)

    def forward_view(self) -> Forward:
        """The current pre-activations and activations, shaped (K, n, m)."""
        lift = (lambda a: a[np.newaxis]) if self.single else (lambda a: a)
        return Forward([lift(z) for z in self.Z], [self.A[0], *(lift(a) for a in self.A[1:])])


def resolve_engine(engine: str, act: Activation) -> str:
    """``auto`` -> ``numba`` when it is installed and knows the activation, else ``numpy``."""
    if engine == "numpy":
        return "numpy"
    from initlab import fastpath

    usable = fastpath.available() and act.name in fastpath.SUPPORTED_ACTIVATIONS
    if engine == "numba" and not usable:
        why = "numba is not installed" if not fastpath.available() else f"it has no {act.name}"
        raise RuntimeError(f"trainer.engine=numba cannot run: {why}; use trainer.engine=numpy")
    return "numba" if usable else "numpy"


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
    engine: str = "numpy",
    dtype: str = "float64",
) -> tuple[Params, History]:
    """Train a copy of ``params``; the cost is recorded at iterations 0, log_every, 2·log_every, ...

    As in the course, the cost logged at iteration i is that of the parameters before step i.
    ``engine`` is ``numpy`` (this module's loop, the reference), ``numba`` (the compiled fast
    path) or ``auto``.
    """
    if resolve_engine(engine, act) == "numba":
        return _fit_compiled(params, X, Y, act, lr, iterations, log_every, on_log, monitor, dtype)
    ws = Workspace(params, X, Y, act)
    steps, costs = [], []
    for i in range(iterations):
        ws.forward()
        ws.backward()
        if i % log_every == 0:
            cost = ws.cost()
            steps.append(i)
            costs.append(cost)
            if monitor is not None:
                monitor(i, ws.params, ws.forward_view(), ws.grads)
            if on_log is not None:
                on_log(i, cost)
        ws.step(lr)
    ws.forward()
    history = History(np.asarray(steps), np.stack(costs, axis=1), ws.cost())
    return ws.params.copy(), history


# Without a monitor the compiled path still returns to Python this often, for progress lines.
PROGRESS_CHUNK = 2000


def _fit_compiled(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    act: Activation,
    lr: float,
    iterations: int,
    log_every: int,
    on_log: ProgressHook | None,
    monitor: MonitorHook | None,
    dtype: str,
) -> tuple[Params, History]:
    """The numba fast path, in chunks of whole logging intervals.

    Gradient descent has no state besides the parameters, so consecutive chunks compute
    exactly what one call would. Between chunks the diagnostics monitor (if any) looks at the
    parameters with the NumPy forward and backward passes.
    """
    from initlab import fastpath
    from initlab.network import backward, forward

    chunk = log_every if monitor is not None else log_every * max(1, PROGRESS_CHUNK // log_every)
    options = {"slope": getattr(act, "slope", 0.01), "alpha": getattr(act, "alpha", 1.0)}
    steps, costs = [], []
    done, final = 0, None
    while done < iterations:
        if monitor is not None:  # (float32 parameters come back held in float64 arrays)
            fwd = forward(params, X, act)
            monitor(done, params, fwd, backward(params, fwd, Y, act))
        n = min(chunk, iterations - done)
        params, part = fastpath.fit_fast(
            params, X, Y, act.name, lr=lr, iterations=n, log_every=log_every,
            dtype=np.dtype(dtype).type, **options,
        )  # fmt: skip
        steps.append(part.steps + done)
        costs.append(part.costs)
        if on_log is not None:
            on_log(done, part.costs[:, 0])
        done += n
        final = part.final_cost
    return params, History(np.concatenate(steps), np.concatenate(costs, axis=1), final)
