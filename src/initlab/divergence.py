"""Did training blow up? Said on the run, not left for the reader to spot in a ``nan``.

A replica *diverged* when its cost stopped being a number at a logged step (or at the end),
or when it ended higher than it started: training that made the net worse than its own
initialization (``trainer.lr=100`` with ReLU ends at cost 15 from 0.9). A net that never
moves (a zeros start, stuck at ln 2) has not diverged; it is stuck, and its figures say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIVERGED_TAG = "initlab.diverged"  # on a run that diverged: why (or how many of its seeds)
# "Ended higher than it started": by more than this factor, so that a cost that only wobbles
# around where it started (mini-batch noise on a stuck net) does not count.
RISE_FACTOR = 1.01


@dataclass(frozen=True)
class Divergence:
    """Per replica: whether it diverged and, if so, why (``""`` when it did not)."""

    reasons: tuple[str, ...]

    @property
    def flags(self) -> np.ndarray:
        return np.array([bool(r) for r in self.reasons])

    @property
    def count(self) -> int:
        return int(self.flags.sum())

    def summary(self) -> str:
        """What a job's tag says: the reason (one seed), or how many seeds and the first."""
        if self.count == 0:
            return ""
        if len(self.reasons) == 1:
            return self.reasons[0]
        first = next(r for r in self.reasons if r)
        return f"{self.count} of {len(self.reasons)} seeds (first: {first})"


def divergence(steps: np.ndarray, costs: np.ndarray, final: np.ndarray, end: int) -> Divergence:
    """``steps`` (n,) the logged iterations, ``costs`` (K, n) the cost there, ``final`` (K,)
    the cost after the last iteration ``end``."""
    full = np.column_stack([np.asarray(costs, dtype=float), np.asarray(final, dtype=float)])
    at = [*np.asarray(steps).tolist(), end]
    reasons = []
    for row in full:
        bad = ~np.isfinite(row)
        if bad.any():
            reasons.append(f"cost not finite from iteration {at[int(np.argmax(bad))]}")
        elif row[-1] > RISE_FACTOR * row[0]:
            reasons.append(f"cost rose from {row[0]:.4g} to {row[-1]:.4g}")
        else:
            reasons.append("")
    return Divergence(tuple(reasons))
