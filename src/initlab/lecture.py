"""The lecture's published numbers (deeplearning.ai, "Initialization"), for the report's
side-by-side table. The course printed the cost every 1000 iterations and the accuracies once.

The defaults of conf/ are the lecture's setup; :func:`is_course_setup` recognises a run of it
from its logged params.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    cost_0: float  # the cost printed at iteration 0 (inf: the course's log(0))
    cost_14000: float  # the last cost it printed
    train_accuracy: float
    test_accuracy: float


PUBLISHED = {
    "zeros": Published(0.6931471805599453, 0.6931471805599453, 0.5, 0.5),
    "random": Published(float("inf"), 0.38279729866923734, 0.83, 0.86),
    "he": Published(0.8830537463419761, 0.07357895962677365, 0.9933333333333333, 0.96),
}
LAST_PRINTED = 14000  # the iteration of cost_14000

# The params of a run of the lecture's setup (everything but the init, which the grid sweeps).
COURSE_PARAMS = {
    "activation.name": "relu",
    "dataset.name": "circles",
    "dataset.n_train": "300",
    "dataset.n_test": "100",
    "dataset.noise": "0.05",
    "dataset.train_seed": "1",
    "dataset.test_seed": "2",
    "model.hidden": "[10, 5]",
    "trainer.name": "gd",
    "trainer.lr": "0.01",
    "trainer.iterations": "15000",
    "seed": "3",
    "seeds": "1",
    "init.bias": "0.0",
}


def is_course_setup(params: Mapping[str, str]) -> bool:
    """Whether a run's params are the lecture's setup (any init)."""
    return all(params.get(key) == value for key, value in COURSE_PARAMS.items())
