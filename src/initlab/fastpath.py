"""A compiled fast path for ``initlab.trainer.fit``: each replica's whole training loop runs in one
Numba call (no Python per iteration), and the replicas run on a pool of threads.

The NumPy trainer stays the reference. This path computes the same quantities with a different
floating-point schedule (fused multiply-adds, sums reassociated into SIMD lanes), so it agrees
with the reference to ~1e-14 relative on well-conditioned runs, not bit for bit. What it does
guarantee bit for bit: a replica's result depends neither on the other replicas, nor on K, nor
on the number of threads, because every replica runs the same compiled code on its own buffers.

Layout: a replica's parameters are one flat vector (W1, b1, W2, b2, ...; W row-major), and the
activations of all layers one (rows, m) buffer with the m samples contiguous, so every inner
loop is a unit-stride loop over samples that LLVM vectorizes.

``dtype=np.float32`` trains in single precision (twice the SIMD width); costs are still
evaluated in float64 from the float32 logits, and parameters come back in the input's dtype.
Kernels are cached on disk (``cache=True``): the first call ever compiles them (seconds), later
processes load them.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from initlab.activations import SELU_ALPHA, SELU_SCALE
from initlab.network import Params
from initlab.optimizers import UpdateRule, full_batch, steps_per_epoch
from initlab.trainer import History

try:
    import numba
    from numba import njit
except ImportError:  # the NumPy trainer needs no numba; fit_fast then refuses to run
    numba = None

    def njit(*args, **kwargs):
        return lambda function: function


# reassoc lets LLVM vectorize the sums over samples; contract allows FMAs. No nnan/ninf: huge
# logits overflow exp to inf on purpose (σ → 0), as in the reference.
_FASTMATH = {"reassoc", "contract"}

# Hidden activations, by code. SELU is ELU with SELU's alpha and scale.
_LINEAR, _RELU, _LEAKY, _ELU, _TANH, _SIGMOID, _SOFTPLUS, _GELU = range(8)
_CODES = {
    "linear": _LINEAR, "relu": _RELU, "leaky_relu": _LEAKY, "elu": _ELU, "selu": _ELU,
    "tanh": _TANH, "sigmoid": _SIGMOID, "softplus": _SOFTPLUS, "gelu": _GELU,
}  # fmt: skip
SUPPORTED_ACTIVATIONS = tuple(_CODES)

# Slots of the constants vector, which has the working dtype: float literals in a kernel are
# float64 and would silently promote float32 arithmetic.
(
    _ZERO, _ONE, _HALF, _SLOPE, _ALPHA, _SCALE, _LR, _SQRT_2PI, _LN2, _SQRT1_2,
    _BETA, _BETA1, _BETA2, _EPS, _DECAY, _CLIP, _INV_M, _INV_BATCH, _INV_LAST,
) = range(19)  # fmt: skip
_N_CONSTANTS = 19

# Update rules, by code (initlab.optimizers documents them; RULES there is the reference).
_GD, _MOMENTUM, _ADAM = range(3)
_RULE_CODES = {"gd": _GD, "momentum": _MOMENTUM, "adam": _ADAM}


# The innermost loops are inlined at Numba's level (measured: faster, and quicker to compile);
# inlining the bigger helpers too made LLVM vectorize the layer loops worse.
_leaf = njit(cache=True, fastmath=_FASTMATH, inline="always")


def available() -> bool:
    """Whether numba is importable, so that ``fit_fast`` can run."""
    return numba is not None


def kernels_cached() -> bool:
    """Whether numba's on-disk cache already holds the training kernel (else the first call
    compiles every kernel: ~10-20 s). Where numba keeps it: NUMBA_CACHE_DIR, else the
    ``__pycache__`` beside this file."""
    from pathlib import Path

    root = Path(numba.config.CACHE_DIR) if numba and numba.config.CACHE_DIR else None
    folder = root if root is not None else Path(__file__).parent / "__pycache__"
    pattern = "fastpath._train_one*.nbi"
    return any(folder.rglob(pattern) if root is not None else folder.glob(pattern))


# Arrays are indexed [row, sample] rather than through row views, which cost reference-count
# updates in the inner code. Each layer is computed as z = W·a_prev + b row by row (four terms
# per pass over the row), then activated as a whole with one dispatch on the activation.

# --- activations, layer-wide: the branch on the activation is outside the vectorized loops ---


@njit(cache=True, fastmath=_FASTMATH)
def _act_piecewise_linear(code, A, G, r0, n, theta, bo, p):
    """relu, leaky_relu, linear (slope 1): one loop each, branch-free."""
    zero, one = p[_ZERO], p[_ONE]
    slope = one if code == _LINEAR else p[_SLOPE]
    for r in range(r0, r0 + n):
        bias = theta[bo + r - r0]
        if code == _RELU:
            for t in range(A.shape[1]):
                z = A[r, t] + bias
                A[r, t] = z if not z <= zero else zero  # max(0, z): NaN stays NaN, -inf gives 0
                G[r, t] = one if z > zero else zero  # the reference's mask z > 0
        else:
            for t in range(A.shape[1]):
                z = A[r, t] + bias
                A[r, t] = z if z > zero else slope * z
                G[r, t] = one if z > zero else slope


@njit(cache=True, fastmath=_FASTMATH)
def _act_elu(A, G, r0, n, theta, bo, p):
    zero, one, alpha, scale = p[_ZERO], p[_ONE], p[_ALPHA], p[_SCALE]
    for r in range(r0, r0 + n):
        bias = theta[bo + r - r0]
        for t in range(A.shape[1]):
            z = A[r, t] + bias
            if z > zero:
                A[r, t] = scale * z
                G[r, t] = scale * one
            else:
                A[r, t] = scale * (alpha * math.expm1(z))
                G[r, t] = scale * (alpha * math.exp(z))


@njit(cache=True, fastmath=_FASTMATH)
def _smooth(code, z, p):
    """(φ(z), φ'(z)) for tanh, sigmoid and softplus, as the reference computes them."""
    zero, one = p[_ZERO], p[_ONE]
    if code == _TANH:
        y = math.tanh(z)
        return y, one - y * y
    sig = one / (one + math.exp(-z))
    if code == _SIGMOID:
        return sig, sig * (one - sig)
    # softplus: np.logaddexp(0, z), branch for branch
    if z == zero:
        return p[_LN2], sig
    if z < zero:
        return math.log1p(math.exp(z)), sig
    return z + math.log1p(math.exp(-z)), sig


@njit(cache=True, fastmath=_FASTMATH)
def _act_smooth(code, A, G, r0, n, theta, bo, p):
    """tanh, sigmoid and softplus: libm calls, so not vectorized anyway."""
    for r in range(r0, r0 + n):
        bias = theta[bo + r - r0]
        for t in range(A.shape[1]):
            A[r, t], G[r, t] = _smooth(code, A[r, t] + bias, p)


@njit(cache=True, fastmath=_FASTMATH)
def _ndtr(x, p):
    """Φ(x), the standard normal CDF, by the branches scipy.special.ndtr uses."""
    half, sqrt1_2 = p[_HALF], p[_SQRT1_2]
    u = x * sqrt1_2
    if abs(u) < sqrt1_2:
        return half + half * math.erf(u)
    y = half * math.erfc(abs(u))
    return p[_ONE] - y if u > p[_ZERO] else y


@njit(cache=True, fastmath=_FASTMATH)
def _act_gelu(A, G, r0, n, theta, bo, p):
    half, sqrt_2pi = p[_HALF], p[_SQRT_2PI]
    for r in range(r0, r0 + n):
        bias = theta[bo + r - r0]
        for t in range(A.shape[1]):
            z = A[r, t] + bias
            cdf = _ndtr(z, p)
            A[r, t] = z * cdf
            G[r, t] = cdf + z * math.exp(-half * z * z) / sqrt_2pi


@njit(cache=True, fastmath=_FASTMATH)
def _activate(code, A, G, r0, n, theta, bo, p):
    """Rows r0..r0+n of A hold W·a_prev; add the biases, then A ← φ(z) and G ← φ'(z)."""
    if code <= _LEAKY:
        _act_piecewise_linear(code, A, G, r0, n, theta, bo, p)
    elif code == _ELU:
        _act_elu(A, G, r0, n, theta, bo, p)
    elif code == _GELU:
        _act_gelu(A, G, r0, n, theta, bo, p)
    else:
        _act_smooth(code, A, G, r0, n, theta, bo, p)


@njit(cache=True, fastmath=_FASTMATH)
def _output_layer(A, r0, n, theta, bo, logits, p):
    """The sigmoid output: keep the logits (the cost needs them) and the probabilities."""
    one = p[_ONE]
    for j in range(n):
        bias = theta[bo + j]
        for t in range(A.shape[1]):
            z = A[r0 + j, t] + bias
            logits[j, t] = z
            A[r0 + j, t] = one / (one + math.exp(-z))


# --- linear algebra on rows of m samples ---------------------------------------------------


@_leaf
def _add_terms(out, o, fresh, rows, r, theta, c, cs, k, zero):
    """out[o] ← (0 if fresh else out[o]) + Σ_{q<k} theta[c + q·cs]·rows[r + q], k ≤ 4, in one
    pass: up to four terms per load and store of out[o], added in order."""
    w0, w1 = theta[c], theta[c + min(1, k - 1) * cs]
    w2, w3 = theta[c + min(2, k - 1) * cs], theta[c + (k - 1) * cs]
    for t in range(out.shape[1]):
        s = zero if fresh else out[o, t]
        s += w0 * rows[r, t]
        if k > 1:
            s += w1 * rows[r + 1, t]
        if k > 2:
            s += w2 * rows[r + 2, t]
        if k > 3:
            s += w3 * rows[r + 3, t]
        out[o, t] = s


@njit(cache=True, fastmath=_FASTMATH)
def _combine(out, o, rows, r0, n, theta, c0, cs, zero):
    """out[o] = Σ_{q < n} theta[c0 + q·cs] · rows[r0 + q], n ≥ 1."""
    for q in range(0, n, 4):
        _add_terms(out, o, q == 0, rows, r0 + q, theta, c0 + q * cs, cs, min(4, n - q), zero)


@_leaf
def _dots(D, j, A, r, k, grad, g0, zero):
    """grad[g0 + q] = D[j] · A[r + q] for q < k ≤ 4, in one pass over D[j]."""
    s0, s1, s2, s3 = zero, zero, zero, zero
    for t in range(D.shape[1]):
        d = D[j, t]
        s0 += d * A[r, t]
        if k > 1:
            s1 += d * A[r + 1, t]
        if k > 2:
            s2 += d * A[r + 2, t]
        if k > 3:
            s3 += d * A[r + 3, t]
    for q, s in enumerate((s0, s1, s2, s3)):
        if q < k:
            grad[g0 + q] = s


@_leaf
def _row_sum(D, j, zero):
    s = zero
    for t in range(D.shape[1]):
        s += D[j, t]
    return s


# --- one replica's training --------------------------------------------------------------


@njit(cache=True, fastmath=_FASTMATH)
def _forward(theta, dims, woff, boff, roff, A, G, logits, code, p):
    n_layers = dims.size - 1
    for layer in range(1, n_layers + 1):
        n_in, n_out, wo, bo = dims[layer - 1], dims[layer], woff[layer - 1], boff[layer - 1]
        r_in, r_out = roff[layer - 1], roff[layer]
        for j in range(n_out):
            _combine(A, r_out + j, A, r_in, n_in, theta, wo + j * n_in, 1, p[_ZERO])
        if layer == n_layers:
            _output_layer(A, r_out, n_out, theta, bo, logits, p)
        else:
            _activate(code, A, G, r_out, n_out, theta, bo, p)


@njit(cache=True, fastmath=_FASTMATH)
def _cost(logits, Y):
    """Mean cross-entropy from the logits, in float64 whatever the working dtype."""
    s = 0.0
    for r in range(logits.shape[0]):
        for t in range(logits.shape[1]):
            z, y = float(logits[r, t]), float(Y[r, t])
            s += (max(z, 0.0) - z * y) + math.log1p(math.exp(-abs(z)))
    return 1.0 / logits.shape[1] * s


@njit(cache=True, fastmath=_FASTMATH)
def _layer_grads(D, A, r_in, n_out, n_in, grad, wo, bo, zero):
    for j in range(n_out):
        for i in range(0, n_in, 4):
            _dots(D, j, A, r_in + i, min(4, n_in - i), grad, wo + j * n_in + i, zero)
        grad[bo + j] = _row_sum(D, j, zero)


@njit(cache=True, fastmath=_FASTMATH)
def _backprop(D, D_prev, theta, wo, n_out, n_in, G, r_in, zero):
    """D_prev[i] = (Σ_j W[j, i] · D[j]) · φ'(z_prev[i]): Wᵀ·D, then the derivative, with the
    sum's last term and the product in one pass."""
    last = n_out - 1
    for i in range(n_in):
        if last > 0:
            _combine(D_prev, i, D, 0, last, theta, wo + i, n_in, zero)
        else:
            D_prev[i] = zero
        w_last = theta[wo + last * n_in + i]
        for t in range(D.shape[1]):
            D_prev[i, t] = (D_prev[i, t] + w_last * D[last, t]) * G[r_in + i, t]


@njit(cache=True, fastmath=_FASTMATH)
def _backward(theta, dims, woff, boff, roff, A, G, Y, grad, D, D_prev, p, inv_m):
    """The gradient into ``grad``; D and D_prev are work rows for the deltas dL/dz."""
    n_layers, zero = dims.size - 1, p[_ZERO]
    r_out = roff[n_layers]
    for j in range(dims[n_layers]):
        for t in range(A.shape[1]):
            D[j, t] = inv_m * (A[r_out + j, t] - Y[j, t])
    for layer in range(n_layers, 0, -1):
        n_out, n_in, wo, r_in = dims[layer], dims[layer - 1], woff[layer - 1], roff[layer - 1]
        _layer_grads(D, A, r_in, n_out, n_in, grad, wo, boff[layer - 1], zero)
        if layer > 1:
            _backprop(D, D_prev, theta, wo, n_out, n_in, G, r_in, zero)
            D, D_prev = D_prev, D


@njit(cache=True, fastmath=_FASTMATH)
def _update(rule, theta, grad, state, t, dims, woff, p):
    """One step of the update rule on one replica (initlab.optimizers has the reference):
    clip the gradient's norm, add the weights' decay, then the rule with its state rows."""
    zero, one, lr = p[_ZERO], p[_ONE], p[_LR]
    if p[_CLIP] > zero:
        squares = zero
        for q in range(grad.size):
            squares += grad[q] * grad[q]
        norm = math.sqrt(squares)
        if norm > p[_CLIP]:
            factor = p[_CLIP] / norm
            for q in range(grad.size):
                grad[q] *= factor
    if p[_DECAY] > zero:
        for layer in range(dims.size - 1):
            for q in range(woff[layer], woff[layer] + dims[layer] * dims[layer + 1]):
                grad[q] += p[_DECAY] * theta[q]
    if rule == _GD:
        for q in range(theta.size):
            theta[q] -= lr * grad[q]
    elif rule == _MOMENTUM:
        beta, v = p[_BETA], state[0]
        for q in range(theta.size):
            v[q] = beta * v[q] + (one - beta) * grad[q]
            theta[q] -= lr * v[q]
    else:  # adam
        b1, b2, m, v = p[_BETA1], p[_BETA2], state[0], state[1]
        correction1, correction2 = one - b1**t, one - b2**t
        step = lr / correction1
        for q in range(theta.size):
            g = grad[q]
            m[q] = b1 * m[q] + (one - b1) * g
            v[q] = b2 * v[q] + (one - b2) * (g * g)
            theta[q] -= m[q] / (math.sqrt(v[q] / correction2) + p[_EPS]) * step


@njit(cache=True, fastmath=_FASTMATH)
def _buffers(dims, roff, m, like):
    """Work arrays for one batch width: activations of every layer (the input first), φ'(z)
    of the hidden layers, the logits, and two rows of deltas."""
    widest = dims[1:].max()
    A = np.empty((roff[-1], m), like.dtype)
    G = np.empty_like(A)
    logits = np.empty((dims[dims.size - 1], m), like.dtype)
    D, D_prev = np.empty((widest, m), like.dtype), np.empty((widest, m), like.dtype)
    Yb = np.empty((dims[dims.size - 1], m), like.dtype)
    return A, G, logits, D, D_prev, Yb


@njit(cache=True, fastmath=_FASTMATH)
def _load_batch(X, Y, order, epoch, first, size, A, Yb):
    """The samples order[epoch, first : first + size] into the batch's input rows."""
    for t in range(size):
        sample = order[epoch, first + t]
        for r in range(X.shape[0]):
            A[r, t] = X[r, sample]
        for r in range(Y.shape[0]):
            Yb[r, t] = Y[r, sample]


@njit(cache=True, fastmath=_FASTMATH, nogil=True)
def _train_one(
    theta, dims, woff, boff, roff, X, Y, code, p, iterations, log_every, costs,
    rule, state, start, order, first_epoch, batch_size,
):  # fmt: skip
    """Train one replica in place on ``theta`` (and its rule's ``state`` rows) for steps
    start .. start + iterations - 1; returns the whole set's cost after the last step.

    ``batch_size`` 0 trains on the whole set; otherwise step i trains on the samples
    ``order[e - first_epoch, j·b : (j+1)·b]``, (e, j) = divmod(i, steps per epoch).
    """
    m = X.shape[1]
    A, G, logits, D, D_prev, _ = _buffers(dims, roff, m, X)
    A[: dims[0]] = X
    grad = np.empty_like(theta)
    if batch_size > 0:
        per_epoch = (m + batch_size - 1) // batch_size
        last = m - (per_epoch - 1) * batch_size
        Ab, Gb, logits_b, Db, Db_prev, Yb = _buffers(dims, roff, batch_size, X)
        Ar, Gr, logits_r, Dr, Dr_prev, Yr = _buffers(dims, roff, last, X)
    for i in range(start, start + iterations):
        logged = i % log_every == 0
        if batch_size == 0:
            _forward(theta, dims, woff, boff, roff, A, G, logits, code, p)
            if logged:
                costs[(i - start) // log_every] = _cost(logits, Y)
            _backward(theta, dims, woff, boff, roff, A, G, Y, grad, D, D_prev, p, p[_INV_M])
        else:
            if logged:
                _forward(theta, dims, woff, boff, roff, A, G, logits, code, p)
                costs[(i - start) // log_every] = _cost(logits, Y)
            epoch, j = i // per_epoch - first_epoch, i % per_epoch
            if j < per_epoch - 1:
                _load_batch(X, Y, order, epoch, j * batch_size, batch_size, Ab, Yb)
                _forward(theta, dims, woff, boff, roff, Ab, Gb, logits_b, code, p)
                _backward(
                    theta, dims, woff, boff, roff, Ab, Gb, Yb, grad, Db, Db_prev, p,
                    p[_INV_BATCH],
                )  # fmt: skip
            else:
                _load_batch(X, Y, order, epoch, j * batch_size, last, Ar, Yr)
                _forward(theta, dims, woff, boff, roff, Ar, Gr, logits_r, code, p)
                _backward(
                    theta, dims, woff, boff, roff, Ar, Gr, Yr, grad, Dr, Dr_prev, p, p[_INV_LAST]
                )
        _update(rule, theta, grad, state, i + 1, dims, woff, p)
    _forward(theta, dims, woff, boff, roff, A, G, logits, code, p)
    return _cost(logits, Y)


# --- the Python side: packing, constants, threads ------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Where each layer lives: weights/biases in the flat vector, rows in the activations."""

    dims: np.ndarray
    woff: np.ndarray
    boff: np.ndarray
    roff: np.ndarray

    @staticmethod
    def of(layer_dims: list[int]) -> _Layout:
        shapes = list(zip(layer_dims[1:], layer_dims[:-1], strict=True))  # (n_out, n_in)
        sizes = [size for n_out, n_in in shapes for size in (n_out * n_in, n_out)]
        starts = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
        roff = np.cumsum([0, *layer_dims], dtype=np.int64)
        return _Layout(np.asarray(layer_dims, np.int64), starts[0::2], starts[1::2], roff)


def _pack(params: Params, dtype: np.dtype) -> np.ndarray:
    K = params.replicas
    layers = zip(params.weights, params.biases, strict=True)
    parts = [x.reshape(K, -1) for w, b in layers for x in (w, b)]
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype)


def _unpack(theta: np.ndarray, like: Params) -> Params:
    weights, biases, start = [], [], 0
    for w, b in zip(like.weights, like.biases, strict=True):
        for src, dst in ((w, weights), (b, biases)):
            size = src[0].size
            dst.append(theta[:, start : start + size].reshape(src.shape).astype(src.dtype))
            start += size
    return Params(weights, biases)


def _constants(activation_name: str, slope, alpha, rule: UpdateRule, m, batch_size, dtype):
    p = np.zeros(_N_CONSTANTS, np.float64)
    p[[_ONE, _HALF, _INV_M]] = 1.0, 0.5, 1.0 / m
    p[[_SLOPE, _ALPHA, _SCALE]] = slope, alpha, 1.0
    if activation_name == "selu":
        p[[_ALPHA, _SCALE]] = SELU_ALPHA, SELU_SCALE
    p[[_SQRT_2PI, _LN2, _SQRT1_2]] = math.sqrt(2 * math.pi), math.log(2.0), math.sqrt(0.5)
    p[[_LR, _BETA, _BETA1, _BETA2, _EPS]] = rule.lr, rule.beta, rule.beta1, rule.beta2, rule.eps
    p[[_DECAY, _CLIP]] = rule.weight_decay, rule.clip_norm
    if batch_size > 0:  # 1/m of a whole batch and of the epoch's last (smaller) batch
        last = m - (steps_per_epoch(m, batch_size) - 1) * batch_size
        p[[_INV_BATCH, _INV_LAST]] = 1.0 / batch_size, 1.0 / last
    return p.astype(dtype)


def _default_threads() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _for_each_replica(K: int, threads: int | None, train) -> None:
    """train(k) for every replica, on up to ``threads`` threads (the kernel releases the GIL).

    Replicas are independent tasks with their own work buffers, so which thread runs which
    replica, and in which order, cannot change any result.
    """
    threads = _default_threads() if threads is None else threads
    if threads < 1:
        raise ValueError(f"threads must be ≥ 1, got {threads}")
    if threads == 1 or K == 1:
        for k in range(K):
            train(k)
        return
    with ThreadPoolExecutor(max_workers=min(threads, K)) as pool:
        for _ in pool.map(train, range(K)):  # re-raises a task's exception
            pass


def _check(params: Params, X, Y, activation_name, rule, iterations, log_every, start, dtype):
    if numba is None:
        raise RuntimeError("fit_fast needs numba (pip install numba); use initlab.trainer.fit")
    if activation_name not in _CODES:
        raise NotImplementedError(f"no fast path for activation {activation_name!r}")
    if rule.kind not in _RULE_CODES:
        raise NotImplementedError(f"no fast path for update rule {rule.kind!r}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    dims = params.layer_dims
    if X.shape[0] != dims[0] or Y.shape != (dims[-1], X.shape[1]):
        raise ValueError(f"X {X.shape} and Y {Y.shape} do not fit layer dims {dims}")
    if iterations < 1 or log_every < 1:
        raise ValueError("iterations and log_every must be ≥ 1")
    if start < 0 or start % log_every:
        raise ValueError(f"start must be a multiple of log_every, got {start}")


def new_state(params: Params, rule: UpdateRule, dtype: type = np.float64) -> np.ndarray:
    """The rule's state at the start (zeros), shaped (K, arrays, parameters) in the packed
    layout: hand the same array to consecutive ``fit_fast`` calls that continue a run."""
    size = sum(w[0].size + b[0].size for w, b in zip(params.weights, params.biases, strict=True))
    return np.zeros((params.replicas, rule.state_arrays, size), np.dtype(dtype))


def fit_fast(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    activation_name: str,
    *,
    iterations: int,
    log_every: int,
    lr: float | None = None,
    rule: UpdateRule | None = None,
    slope: float = 0.01,
    alpha: float = 1.0,
    dtype: type = np.float64,
    threads: int | None = None,
    order: np.ndarray | None = None,
    first_epoch: int = 0,
    batch_size: int = 0,
    start: int = 0,
    state: np.ndarray | None = None,
) -> tuple[Params, History]:
    """``initlab.trainer.fit`` compiled: same arguments (the activation by name, with its
    ``slope``/``alpha``), same History, no hooks. Raises NotImplementedError for an activation
    or rule it does not know, so the caller can fall back to the NumPy trainer.

    Mini-batches (``batch_size`` > 0 and below the set's size) follow ``order``, the epochs
    from ``first_epoch`` on (:class:`initlab.optimizers.BatchOrder`). A run can be continued:
    ``start`` is the number of steps already taken (it sets the batches and Adam's step
    count) and ``state`` (from :func:`new_state`) carries the rule's state from one call to
    the next, updated in place.
    """
    if (lr is None) == (rule is None):
        raise TypeError("fit_fast needs exactly one of lr= (plain gradient descent) and rule=")
    rule = rule if rule is not None else UpdateRule("gd", lr)
    _check(params, X, Y, activation_name, rule, iterations, log_every, start, dtype)
    layout, dtype = _Layout.of(params.layer_dims), np.dtype(dtype)
    theta = _pack(params, dtype)
    X, Y = np.ascontiguousarray(X, dtype), np.ascontiguousarray(Y, dtype)
    m = X.shape[1]
    if full_batch(m, batch_size):
        batch_size, order = 0, np.zeros((0, 0), np.int64)
    elif order is None:
        raise ValueError("mini-batches need their order (initlab.optimizers.batch_order)")
    if state is None:
        state = new_state(params, rule, dtype)
    elif state.shape != (params.replicas, rule.state_arrays, theta.shape[1]) or (
        state.dtype != dtype
    ):
        raise ValueError(f"state {state.shape} {state.dtype} does not fit this run")
    p = _constants(activation_name, slope, alpha, rule, m, batch_size, dtype)
    K, n_logged = params.replicas, -(-iterations // log_every)
    costs, final = np.empty((K, n_logged)), np.empty(K)
    code, lay, rule_code = _CODES[activation_name], layout, _RULE_CODES[rule.kind]
    order = np.ascontiguousarray(order, np.int64)

    def train(k: int) -> None:
        final[k] = _train_one(
            theta[k], lay.dims, lay.woff, lay.boff, lay.roff, X, Y, code, p, iterations,
            log_every, costs[k], rule_code, state[k], start, order, first_epoch, batch_size,
        )  # fmt: skip

    _for_each_replica(K, threads, train)
    history = History(np.arange(start, start + iterations, log_every), costs, final)
    return _unpack(theta, params), history
