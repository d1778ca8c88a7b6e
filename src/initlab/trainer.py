"""Training K stacked replicas, on the whole set or on mini-batches, with any update rule of
:mod:`initlab.optimizers`. Knows nothing of Hydra or MLflow.

The loop is lean: every buffer is allocated once, every update is in place, parameters and
gradients live in one flat array each (so the update is two NumPy calls), and the cost is
computed only at logged iterations. The operations are the course's, in the course's order
(``network.forward``/``backward`` are the readable reference; the tests check both agree
bit for bit). With one replica the arrays are 2-D and go through ``np.dot``, which has the
least per-call overhead; with K replicas ``np.matmul`` runs over the leading axis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from initlab.activations import Activation
from initlab.network import Forward, Params, cross_entropy
from initlab.optimizers import BatchOrder, Optimizer, UpdateRule, full_batch

# Called at every logged iteration with (iteration, cost per replica): progress display.
ProgressHook = Callable[[int, np.ndarray], None]
# Called at every logged iteration, before the step, with what it computed: diagnostics.
MonitorHook = Callable[[int, Params, Forward, Params], None]


@dataclass
class History:
    """The cost per replica at the logged iterations, plus the cost after the last step, and
    the parameters as they were at the iterations asked for (``snapshots``)."""

    steps: np.ndarray  # (n_logged,)
    costs: np.ndarray  # (K, n_logged)
    final_cost: np.ndarray  # (K,)
    snapshots: dict[int, Params] = field(default_factory=dict)  # iteration -> params before it


def _flat_like(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """One contiguous buffer and a view of it shaped like each array."""
    flat = np.empty(sum(a.size for a in arrays))
    views, start = [], 0
    for a in arrays:
        views.append(flat[start : start + a.size].reshape(a.shape))
        start += a.size
    return flat, views


class Batch:
    """Activations and deltas of the network on one batch of ``m`` samples, allocated once.

    ``X`` is the batch's input: the training set itself for full-batch training, else a
    buffer that :meth:`Workspace.batch` fills.
    """

    def __init__(self, ws: Workspace, X: np.ndarray, Y: np.ndarray) -> None:
        m = X.shape[1]
        shapes = [(*w.shape[:-1], m) for w in ws.W]
        self.Z = [np.empty(s) for s in shapes]
        self.A = [X, *(np.empty(s) for s in shapes)]
        self.dZ = [np.empty(s) for s in shapes]
        self.dA = [np.empty(s) for s in shapes]
        self.mask = [np.empty(s, dtype=bool) for s in shapes]
        self.AT = [np.swapaxes(a, -1, -2) for a in self.A]
        self.Y, self.inv_m = Y, 1.0 / m


class Workspace:
    """Parameters, gradients and per-batch activations of one training run, allocated once."""

    def __init__(self, params: Params, X: np.ndarray, Y: np.ndarray, act: Activation) -> None:
        K = params.replicas
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
        self.WT = [np.swapaxes(w, -1, -2) for w in self.W]
        self.X, self.Y, self.act = X, Y, act
        self.product = np.dot if self.single else np.matmul
        self.full = Batch(self, X, Y)
        self._batches: dict[int, Batch] = {}

    def batch(self, indices: np.ndarray) -> Batch:
        """The buffers of a mini-batch, loaded with the samples ``indices``."""
        size = len(indices)
        if size not in self._batches:
            inputs = np.empty((self.X.shape[0], size), self.X.dtype)
            labels = np.empty((self.Y.shape[0], size), self.Y.dtype)
            self._batches[size] = Batch(self, inputs, labels)
        batch = self._batches[size]
        np.take(self.X, indices, axis=1, out=batch.A[0])
        np.take(self.Y, indices, axis=1, out=batch.Y)
        return batch

    def forward(self, batch: Batch) -> None:
        product, last = self.product, len(self.W) - 1
        for layer in range(last + 1):
            z = batch.Z[layer]
            product(self.W[layer], batch.A[layer], out=z)
            z += self.b[layer]
            if layer < last:
                self.act.apply(z, batch.A[layer + 1], batch.mask[layer])
        # The output sigmoid as the course computes it: 1 / (1 + exp(-z)).
        a = batch.A[-1]
        np.negative(batch.Z[last], out=a)
        with np.errstate(over="ignore"):
            np.exp(a, out=a)
        a += 1.0
        np.divide(1.0, a, out=a)

    def backward(self, batch: Batch) -> None:
        product, last = self.product, len(self.W) - 1
        dz = batch.dZ[last]
        np.subtract(batch.A[-1], batch.Y, out=dz)
        np.multiply(dz, batch.inv_m, out=dz)
        for layer in range(last, -1, -1):
            dz = batch.dZ[layer]
            product(dz, batch.AT[layer], out=self.dW[layer])
            np.add.reduce(dz, axis=-1, keepdims=True, out=self.db[layer])
            if layer > 0:
                da = batch.dA[layer - 1]
                product(self.WT[layer], dz, out=da)
                self.act.backprop(
                    da, batch.Z[layer - 1], batch.A[layer], batch.dZ[layer - 1],
                    batch.mask[layer - 1],
                )  # fmt: skip

    def cost(self) -> np.ndarray:
        """The cost of the last full-batch forward pass, per replica."""
        logits = self.full.Z[-1] if not self.single else self.full.Z[-1][np.newaxis]
        return cross_entropy(logits, self.Y)

    def forward_view(self) -> Forward:
        """The last full-batch pre-activations and activations, shaped (K, n, m)."""
        lift = (lambda a: a[np.newaxis]) if self.single else (lambda a: a)
        full = self.full
        return Forward([lift(z) for z in full.Z], [full.A[0], *(lift(a) for a in full.A[1:])])


# ``auto`` hands nets with a hidden layer at least this wide to NumPy: the compiled kernel's
# row-by-row products beat NumPy's per-call overhead on small layers, but BLAS's blocked
# matrix products win from about 64 units (bench/README.md has the measurements).
WIDE_LAYER = 64


def resolve_engine(engine: str, act: Activation, widest: int = 0) -> str:
    """``auto`` -> ``numba`` when it is installed, knows the activation and the hidden layers
    are narrower than WIDE_LAYER; else ``numpy``."""
    if engine == "numpy":
        return "numpy"
    from initlab import fastpath

    usable = fastpath.available() and act.name in fastpath.SUPPORTED_ACTIVATIONS
    if engine == "numba" and not usable:
        why = "numba is not installed" if not fastpath.available() else f"it has no {act.name}"
        raise RuntimeError(f"trainer.engine=numba cannot run: {why}; use trainer.engine=numpy")
    if engine == "auto" and widest >= WIDE_LAYER:
        return "numpy"
    return "numba" if usable else "numpy"


def fit(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    act: Activation,
    *,
    iterations: int,
    log_every: int,
    lr: float | None = None,
    rule: UpdateRule | None = None,
    batch_size: int = 0,
    shuffle_seed: int = 0,
    on_log: ProgressHook | None = None,
    monitor: MonitorHook | None = None,
    snapshots: Sequence[int] = (),
    engine: str = "numpy",
    dtype: str = "float64",
) -> tuple[Params, History]:
    """Train a copy of ``params``; the cost is recorded at iterations 0, log_every, 2·log_every, ...

    The update is ``rule`` (an :class:`~initlab.optimizers.UpdateRule`; ``lr=`` alone means
    plain gradient descent at that rate). ``batch_size`` 0 (or ≥ the set) trains on the whole
    set every step, as the course does; otherwise on mini-batches in the order
    :class:`~initlab.optimizers.BatchOrder` gives for ``shuffle_seed``. Either way the cost
    logged at iteration i is that of the whole training set before step i, and the monitor
    sees the whole set's forward pass and gradient.
    ``snapshots``: iterations (multiples of ``log_every``) at which to keep a copy of the
    parameters, before that iteration's step (``History.snapshots``).
    ``engine`` is ``numpy`` (this module's loop, the reference), ``numba`` (the compiled fast
    path) or ``auto``.
    """
    rule = _the_rule(lr, rule)
    wanted = sorted({int(i) for i in snapshots if 0 <= i < iterations})
    if any(i % log_every for i in wanted):
        raise ValueError(f"snapshots {wanted} must be multiples of log_every={log_every}")
    batching = not full_batch(X.shape[1], batch_size)
    order = BatchOrder(X.shape[1], batch_size, shuffle_seed) if batching else None
    # float32 exists only in the compiled engine: then auto keeps it whatever the width.
    widest = max(params.layer_dims[1:-1], default=0) if dtype == "float64" else 0
    if resolve_engine(engine, act, widest) == "numba":
        return _fit_compiled(
            params, X, Y, act, rule, iterations, log_every, order, batch_size, on_log, monitor,
            wanted, dtype,
        )  # fmt: skip
    ws = Workspace(params, X, Y, act)
    optimizer = Optimizer(rule, ws.theta)
    steps, costs, kept = [], [], {}

    def log(i: int) -> None:  # after a full-batch forward (and backward) pass
        cost = ws.cost()
        steps.append(i)
        costs.append(cost)
        if monitor is not None:
            monitor(i, ws.params, ws.forward_view(), ws.grads)
        if on_log is not None:
            on_log(i, cost)

    for i in range(iterations):
        logged = i % log_every == 0
        if i in wanted:
            kept[i] = ws.params.copy()
        if not batching:
            ws.forward(ws.full)
            ws.backward(ws.full)
            if logged:
                log(i)
        else:
            if logged:  # the cost and the monitor are about the whole set
                ws.forward(ws.full)
                if monitor is not None:
                    ws.backward(ws.full)
                log(i)
            batch = ws.batch(order.indices(i))
            ws.forward(batch)
            ws.backward(batch)
        optimizer.step(ws.theta, ws.grad, ws.params, ws.grads)
    ws.forward(ws.full)
    history = History(np.asarray(steps), np.stack(costs, axis=1), ws.cost(), kept)
    return ws.params.copy(), history


def _the_rule(lr: float | None, rule: UpdateRule | None) -> UpdateRule:
    if (lr is None) == (rule is None):
        raise TypeError("fit needs exactly one of lr= (plain gradient descent) and rule=")
    return rule if rule is not None else UpdateRule("gd", lr)


log = logging.getLogger(__name__)
_compile_said = False  # the "compiling" line is said once a process

# Without a monitor the compiled path still returns to Python this often, for progress lines.
PROGRESS_CHUNK = 2000


def _fit_compiled(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    act: Activation,
    rule: UpdateRule,
    iterations: int,
    log_every: int,
    order: BatchOrder | None,
    batch_size: int,
    on_log: ProgressHook | None,
    monitor: MonitorHook | None,
    snapshots: list[int],
    dtype: str,
) -> tuple[Params, History]:
    """The numba fast path, in chunks of whole logging intervals.

    Consecutive chunks compute exactly what one call would: the rule's state and the step
    count travel from one to the next. Between chunks the diagnostics monitor (if any) looks
    at the parameters with the NumPy forward and backward passes on the whole set.
    """
    from initlab import fastpath
    from initlab.network import backward, forward

    global _compile_said
    if not _compile_said and not fastpath.kernels_cached():
        log.info(
            "Compiling the training kernels (numba): the first run on this machine takes "
            "10-20 s longer; they are cached for every later run (make clean keeps them)."
        )
    _compile_said = True
    chunk = log_every if monitor is not None else log_every * max(1, PROGRESS_CHUNK // log_every)
    options = {"slope": getattr(act, "slope", 0.01), "alpha": getattr(act, "alpha", 1.0)}
    state = fastpath.new_state(params, rule, np.dtype(dtype).type)
    steps, costs, kept = [], [], {}
    done, final = 0, None
    while done < iterations:
        if monitor is not None:  # (float32 parameters come back held in float64 arrays)
            fwd = forward(params, X, act)
            monitor(done, params, fwd, backward(params, fwd, Y, act))
        if done in snapshots:
            kept[done] = params.copy()
        # A chunk ends at the next snapshot, so that its parameters can be kept.
        n = min([chunk, iterations - done, *(i - done for i in snapshots if i > done)])
        epochs, first_epoch = order.chunk(done, n) if order is not None else (None, 0)
        params, part = fastpath.fit_fast(
            params, X, Y, act.name, rule=rule, iterations=n, log_every=log_every,
            dtype=np.dtype(dtype).type, order=epochs, first_epoch=first_epoch,
            batch_size=batch_size, start=done, state=state, **options,
        )  # fmt: skip
        steps.append(part.steps)
        costs.append(part.costs)
        if on_log is not None:
            on_log(done, part.costs[:, 0])
        done += n
        final = part.final_cost
    return params, History(np.concatenate(steps), np.concatenate(costs, axis=1), final, kept)
