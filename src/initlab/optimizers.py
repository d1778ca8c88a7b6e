"""Update rules and mini-batch order: the NumPy reference of every optimizer.

A training step is: the gradient of the mean cross-entropy on a batch, then
(1) clipping: if ``clip_norm > 0`` and a replica's gradient (all its parameters as one
    vector) is longer than ``clip_norm``, it is scaled to that length (as torch's
    ``clip_grad_norm_``);
(2) L2 weight decay: ``weight_decay · W`` is added to the gradient of every weight
    (biases are not decayed), i.e. the gradient of ``weight_decay / 2 · ||W||²``, after
    clipping, as torch's optimizers add it;
(3) the rule itself, on every parameter:

    gd        θ ← θ - lr·g                                   (plain or mini-batch SGD)
    momentum  v ← β·v + (1-β)·g;  θ ← θ - lr·v              (the course's form; torch's
              SGD(momentum=β) is the same with lr·(1-β) in place of lr)
    adam      m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²;
              θ ← θ - lr·m̂ / (√v̂ + ε),  m̂ = m/(1-β1ᵗ), v̂ = v/(1-β2ᵗ), t = 1, 2, ...

Each rule is a class here (the NumPy engine) and a branch of ``fastpath._update`` (the
compiled engine), with the same number of state arrays; ``RULES`` maps a name to both. The
tests hold the two engines together rule by rule.

Mini-batches follow :class:`BatchOrder`: each epoch visits the training set in a fresh
permutation from the trainer's own generator (``shuffle_seed``), cut into batches of
``batch_size`` (the last one smaller when ``batch_size`` does not divide the set). Every
replica of a stacked computation sees the same batches, so seeds differ only in their init.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from initlab.network import Params


@dataclass(frozen=True)
class UpdateRule:
    """An optimizer's numbers, engine-neutral: which rule, its constants and the remedies."""

    kind: str = "gd"
    lr: float = 0.01
    beta: float = 0.9  # momentum
    beta1: float = 0.9  # adam
    beta2: float = 0.999  # adam
    eps: float = 1e-8  # adam
    weight_decay: float = 0.0
    clip_norm: float = 0.0  # 0: no clipping

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ValueError(f"unknown update rule {self.kind!r}; choose one of {list(RULES)}")

    @property
    def state_arrays(self) -> int:
        """How many arrays of the parameters' shape the rule carries from step to step."""
        return RULES[self.kind].state_arrays

    @staticmethod
    def from_config(trainer) -> UpdateRule:
        """The rule a ``trainer`` config option describes (gd and sgd share ``gd``'s rule)."""
        kind = {"sgd": "gd"}.get(trainer.name, trainer.name)
        extra = {
            k: getattr(trainer, k) for k in ("beta", "beta1", "beta2", "eps") if hasattr(trainer, k)
        }
        return UpdateRule(
            kind, trainer.lr, weight_decay=trainer.weight_decay, clip_norm=trainer.clip_norm,
            **extra,
        )  # fmt: skip


# --- the rules (NumPy) ----------------------------------------------------------------------
# ``step(theta, grad, state, t)`` updates the flat parameter vector in place; ``grad`` may be
# used as scratch; ``state`` is a list of ``state_arrays`` buffers shaped like ``theta``
# (zeros at the start); ``t`` is the 1-based number of this step.


class GradientDescent:
    state_arrays = 0

    def __init__(self, rule: UpdateRule) -> None:
        self.lr = rule.lr

    def step(self, theta: np.ndarray, grad: np.ndarray, state: list, t: int) -> None:
        # θ ← θ - lr·g as the course writes it (W - learning_rate * dW), in place.
        np.multiply(grad, self.lr, out=grad)
        np.subtract(theta, grad, out=theta)


class Momentum:
    state_arrays = 1

    def __init__(self, rule: UpdateRule) -> None:
        self.lr, self.beta = rule.lr, rule.beta

    def step(self, theta: np.ndarray, grad: np.ndarray, state: list, t: int) -> None:
        (v,) = state
        np.multiply(v, self.beta, out=v)
        np.multiply(grad, 1.0 - self.beta, out=grad)
        np.add(v, grad, out=v)
        np.multiply(v, self.lr, out=grad)
        np.subtract(theta, grad, out=theta)


class Adam:
    state_arrays = 2

    def __init__(self, rule: UpdateRule) -> None:
        self.lr, self.beta1, self.beta2, self.eps = rule.lr, rule.beta1, rule.beta2, rule.eps

    def step(self, theta: np.ndarray, grad: np.ndarray, state: list, t: int) -> None:
        m, v = state
        b1, b2 = self.beta1, self.beta2
        np.multiply(m, b1, out=m)
        m += (1.0 - b1) * grad
        np.multiply(grad, grad, out=grad)
        np.multiply(v, b2, out=v)
        v += (1.0 - b2) * grad
        # θ ← θ - lr·m̂/(√v̂ + ε), with m̂ and v̂ the bias-corrected moments.
        np.divide(v, 1.0 - b2**t, out=grad)
        np.sqrt(grad, out=grad)
        grad += self.eps
        np.divide(m, grad, out=grad)
        grad *= self.lr / (1.0 - b1**t)
        np.subtract(theta, grad, out=theta)


RULES: dict[str, type] = {"gd": GradientDescent, "momentum": Momentum, "adam": Adam}


# --- what every rule shares: clipping and weight decay ---------------------------------------


def clip_gradients(grads: Params, clip_norm: float) -> None:
    """Scale each replica's gradient to length ``clip_norm`` where it is longer (in place)."""
    arrays = [*grads.weights, *grads.biases]
    squares = sum(np.einsum("kij,kij->k", g, g) for g in arrays)
    norms = np.sqrt(squares)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(norms > clip_norm, clip_norm / norms, 1.0)
    if np.any(factor != 1.0):
        for g in arrays:
            g *= factor[:, np.newaxis, np.newaxis]


def add_weight_decay(grads: Params, params: Params, weight_decay: float) -> None:
    """g_W ← g_W + weight_decay·W for every weight matrix (in place); biases are not decayed."""
    for g, w in zip(grads.weights, params.weights, strict=True):
        g += weight_decay * w


class Optimizer:
    """A rule with its state, stepping a flat parameter vector and its gradient."""

    def __init__(self, rule: UpdateRule, theta: np.ndarray) -> None:
        self.rule = rule
        self.impl = RULES[rule.kind](rule)
        self.state = [np.zeros_like(theta) for _ in range(self.impl.state_arrays)]
        self.t = 0

    def step(self, theta: np.ndarray, grad: np.ndarray, params: Params, grads: Params) -> None:
        """One update; ``params``/``grads`` are views of ``theta``/``grad`` per layer."""
        self.t += 1
        if self.rule.clip_norm > 0:
            clip_gradients(grads, self.rule.clip_norm)
        if self.rule.weight_decay > 0:
            add_weight_decay(grads, params, self.rule.weight_decay)
        self.impl.step(theta, grad, self.state, self.t)


# --- mini-batches -------------------------------------------------------------------------


def steps_per_epoch(m: int, batch_size: int) -> int:
    return 1 if full_batch(m, batch_size) else math.ceil(m / batch_size)


def full_batch(m: int, batch_size: int) -> bool:
    return batch_size <= 0 or batch_size >= m


class BatchOrder:
    """The sample order of every epoch, made as training reaches it: epoch after epoch a
    fresh permutation of the m samples from ``default_rng(seed)``, cut into batches.

    Only the epochs still ahead are kept (a run of 15000 steps on batches of 4096 from
    5000 samples would otherwise hold 300 MB of indices), and the order is the same however
    the run asks for it: step by step (the NumPy engine) or chunk by chunk (the compiled one).
    """

    def __init__(self, m: int, batch_size: int, seed: int) -> None:
        self.m, self.batch_size = m, batch_size
        self.per_epoch = steps_per_epoch(m, batch_size)
        self._rng = np.random.default_rng(seed)
        self._first = 0  # the epoch number of self._rows[0]
        self._rows: list[np.ndarray] = []

    def epochs(self, first: int, last: int) -> list[np.ndarray]:
        """Epochs first..last (inclusive); forgets those before ``first``."""
        if first < self._first:
            raise ValueError(f"epoch {first} was already forgotten (the order only moves on)")
        while self._first + len(self._rows) <= last:
            self._rows.append(self._rng.permutation(self.m).astype(np.int64))
        del self._rows[: first - self._first]
        self._first = first
        return self._rows[: last - first + 1]

    def indices(self, i: int) -> np.ndarray:
        """The samples step ``i`` trains on."""
        epoch, j = divmod(i, self.per_epoch)
        (row,) = self.epochs(epoch, epoch)
        return row[j * self.batch_size : min((j + 1) * self.batch_size, self.m)]

    def chunk(self, start: int, iterations: int) -> tuple[np.ndarray, int]:
        """(the epochs steps start .. start + iterations - 1 use, shape (epochs, m); the first
        one's number)."""
        first, last = start // self.per_epoch, (start + iterations - 1) // self.per_epoch
        return np.stack(self.epochs(first, last)), first


def batch_order(m: int, batch_size: int, iterations: int, seed: int) -> np.ndarray:
    """The sample order of every epoch a run of ``iterations`` steps needs, shape (epochs, m):
    :class:`BatchOrder` all at once (step i uses ``order[e, j·b : (j+1)·b]``,
    ``e, j = divmod(i, steps_per_epoch)``)."""
    return BatchOrder(m, batch_size, seed).chunk(0, iterations)[0]


def batch_indices(order: np.ndarray, i: int, batch_size: int) -> np.ndarray:
    """The samples step ``i`` trains on, from a :func:`batch_order` array."""
    m = order.shape[1]
    epoch, j = divmod(i, steps_per_epoch(m, batch_size))
    return order[epoch, j * batch_size : min((j + 1) * batch_size, m)]
