"""Will this job fit in memory? Estimated from shapes before anything is created.

``model.hidden=[100000,100000]`` asks for 10¹⁰ weights: 80 GB for one copy in float64. NumPy
would fail somewhere inside training with a traceback, after the run was created. The
estimate counts only what any engine certainly holds at once:

- per replica (seed), parameter-sized arrays: the parameters, their gradients, the initial
  parameters kept for the diagnostics, and the optimizer's state (momentum 1, Adam 2);
- once, the activations of one replica for the examples of one step (the whole set, or a
  batch): the compiled engine works replica by replica, NumPy holds all of them and more.

It is a floor, not a forecast (copies, Python, the libraries and the figures come on top),
so a job it refuses could never have run; the message names the numbers and what to change.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

from initlab.config import Config, ConfigError, Precision

# Parameter-sized arrays per replica besides the optimizer's state: parameters, gradients,
# the initial copy.
PARAMETER_COPIES = 3


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int  # weights and biases of one replica
    replicas: int
    bytes: int

    def describe(self) -> str:
        return (
            f"about {_size(self.bytes)} ({self.parameters:.3g} weights and biases × "
            f"{self.replicas} replica{'s' if self.replicas != 1 else ''}, and the activations "
            "of a training step)"
        )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _shape(hidden: list[int]) -> str:
    if len(hidden) > 4 and len(set(hidden)) == 1:
        return f"of {len(hidden)} hidden layers × {hidden[0]} units"
    return f"model.hidden={hidden}"


def estimate(settings: Config, n_features: int, n_train: int) -> MemoryEstimate:
    from initlab.optimizers import UpdateRule

    dims = [n_features, *settings.model.hidden_sizes, 1]
    parameters = sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(dims))
    trainer = settings.trainer
    itemsize = 4 if trainer.dtype == Precision.float32 else 8
    copies = PARAMETER_COPIES + UpdateRule.from_config(trainer).state_arrays
    examples = min(trainer.batch_size or n_train, n_train)
    needed = itemsize * (settings.seeds * copies * parameters + examples * sum(dims[1:]))
    return MemoryEstimate(parameters, settings.seeds, needed)


def available_bytes() -> int | None:
    """What the machine can still give (MemAvailable on Linux; the physical memory where
    that is unknown; None if neither can be read)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(settings: Config, n_features: int, n_train: int) -> None:
    """Refuse a job whose arrays alone exceed the memory available now (ConfigError)."""
    needed = estimate(settings, n_features, n_train)
    have = available_bytes()
    if have is not None and needed.bytes > have:
        raise ConfigError(
            f"the net {_shape(settings.model.hidden_sizes)} needs {needed.describe()}; this "
            f"machine has {_size(have)} available. Use a smaller net, fewer seeds, a smaller "
            "trainer.batch_size, or trainer.dtype=float32"
        )
