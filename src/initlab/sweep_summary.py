"""A sweep's summary: the table printed when it ends, and what its parent run records.

Both show every key the sweep varies (a column each) and the jobs' final numbers. The parent
run gets the best job (tags ``initlab.best_run``/``initlab.best_job``, by test accuracy), the
counts, and every job's numbers as a table artifact (``jobs.json``, MLflow's ``log_table``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from initlab import tracking
from initlab.experiment import Outcome

BEST_RUN_TAG = "initlab.best_run"
BEST_JOB_TAG = "initlab.best_job"
JOBS_TABLE_ARTIFACT = "jobs.json"
SHARE_NOTE = (
    "train s: the job's own share of the training time (jobs batched into one stacked "
    "computation split its time by their numbers of replicas)."
)


@dataclass(frozen=True)
class SummaryRow:
    """One job of the sweep: its overrides and what it returned (or the error it raised)."""

    number: int
    overrides: tuple[str, ...]
    outcome: Outcome | None
    error: str = ""

    @property
    def values(self) -> dict[str, str]:
        pairs = {}
        for item in self.overrides:
            key, _, value = item.partition("=")
            pairs[key.lstrip("+~")] = value
        return pairs


def swept_keys(rows: Sequence[SummaryRow]) -> list[str]:
    """The keys whose value differs between the jobs, in the order they were typed."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row.values if k not in keys]
    return [k for k in keys if len({row.values.get(k, "(default)") for row in rows}) > 1]


def format_table(rows: Sequence[SummaryRow]) -> str:
    """The sweep's table: a column per swept key, then the numbers (a multi-seed job's means)."""
    keys = ["job", *swept_keys(rows)]
    cells = [[str(row.number) if k == "job" else row.values.get(k, "(default)") for k in keys]
             for row in rows]  # fmt: skip
    widths = [max([len(k), *(len(c[i]) for c in cells)]) for i, k in enumerate(keys)]
    head = "  ".join(f"{k:<{w}}" for k, w in zip(keys, widths, strict=True))
    head += f"  {'final cost':>10}  {'train acc':>9}  {'test acc':>8}  {'train s':>7}"
    lines = [head, "-" * len(head)]
    for row, values in zip(rows, cells, strict=True):
        left = "  ".join(f"{v:<{w}}" for v, w in zip(values, widths, strict=True))
        out = row.outcome
        if out is None:
            lines.append(f"{left}  FAILED: {row.error}")
            continue
        seeds = f"  (mean of {out.seeds} seeds)" if out.seeds > 1 else ""
        diverged = f"  DIVERGED: {out.diverged}" if out.diverged else ""
        lines.append(
            f"{left}  {out.final_cost:>10.6g}  {100 * out.train_accuracy:>8.2f}%  "
            f"{100 * out.test_accuracy:>7.2f}%  {out.seconds:>7.2f}{seeds}{diverged}"
        )
    return "\n".join([*lines, "", SHARE_NOTE])


def best(rows: Sequence[SummaryRow]) -> SummaryRow | None:
    """The job with the highest test accuracy (the lowest final cost breaks ties)."""
    done = [r for r in rows if r.outcome is not None and math.isfinite(r.outcome.test_accuracy)]
    return max(done, key=_rank) if done else None


def _rank(row: SummaryRow) -> tuple[float, float]:
    out = row.outcome
    assert out is not None
    cost = out.final_cost if math.isfinite(out.final_cost) else math.inf
    return (out.test_accuracy, -cost)


def jobs_table(rows: Sequence[SummaryRow]) -> dict[str, list[Any]]:
    keys = swept_keys(rows)
    table: dict[str, list[Any]] = {"job": [r.number for r in rows]}
    for key in keys:
        table[key] = [r.values.get(key, "(default)") for r in rows]
    table |= {
        "status": ["FINISHED" if r.outcome else "FAILED" for r in rows],
        "diverged": [r.outcome.diverged if r.outcome else "" for r in rows],
        "run_id": [r.outcome.run_id if r.outcome else "" for r in rows],
        "final_cost": [r.outcome.final_cost if r.outcome else None for r in rows],
        "train_accuracy": [r.outcome.train_accuracy if r.outcome else None for r in rows],
        "test_accuracy": [r.outcome.test_accuracy if r.outcome else None for r in rows],
        "seeds": [r.outcome.seeds if r.outcome else None for r in rows],
        "train_seconds_share": [r.outcome.seconds if r.outcome else None for r in rows],
    }
    return table


def log_parent_summary(client: Any, parent_id: str, rows: Sequence[SummaryRow]) -> None:
    """On the parent run: counts, the best job and every job's numbers (a table artifact)."""
    top = best(rows)
    finished = sum(r.outcome is not None for r in rows)
    scalars = {
        "jobs_finished": float(finished),
        "jobs_failed": float(len(rows) - finished),
        "jobs_diverged": float(sum(bool(r.outcome and r.outcome.diverged) for r in rows)),
    }
    if top is not None and top.outcome is not None:
        scalars |= {
            "best_test_accuracy": top.outcome.test_accuracy,
            "best_train_accuracy": top.outcome.train_accuracy,
            "best_final_cost": top.outcome.final_cost,
        }
        client.set_tag(parent_id, BEST_JOB_TAG, " ".join(top.overrides) or "defaults")
        if top.outcome.run_id:
            client.set_tag(parent_id, BEST_RUN_TAG, top.outcome.run_id)
    tracking.log_metrics(client, parent_id, scalars)
    tracking.log_table(client, parent_id, jobs_table(rows), JOBS_TABLE_ARTIFACT)
