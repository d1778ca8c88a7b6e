"""Random number generators: the one place that knows how the course seeds things.

The course calls ``np.random.seed(s)`` and then draws from NumPy's global functions. A
``np.random.RandomState(s)`` object produces exactly the same stream (both are the legacy
MT19937 generator), so we reproduce the course bit for bit while passing an explicit
generator around and never touching global random state.
"""

from __future__ import annotations

import numpy as np


def course_rng(seed: int) -> np.random.RandomState:
    """The stream the course gets from ``np.random.seed(seed)``, as an explicit object."""
    return np.random.RandomState(seed)
