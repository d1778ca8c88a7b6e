"""Runs left RUNNING by a process that is gone (SIGKILL, a power cut, an OOM kill).

A killed process cannot close its runs. Every run initlab opens carries the host, the process
id and that process's start time; a run still RUNNING whose process no longer exists on this
host (or whose pid now belongs to a newer process) was orphaned, and is marked KILLED, saying
so. Every sweep and single run does this for its experiment when it starts, and
``make orphans`` (``python -m initlab.orphans``) does it for a whole store.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

HOST_TAG = "initlab.host"
PID_TAG = "initlab.pid"
PROCESS_START_TAG = "initlab.process_start"  # in clock ticks since boot (/proc/<pid>/stat)
ENDED_TAG = "initlab.ended"  # why initlab, not the run's own process, ended it


def process_start(pid: int) -> str | None:
    """When process ``pid`` started ("" where /proc cannot say); None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else _exists(pid)
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie: ended, not yet reaped by its parent
        return None
    return fields[19]


def _exists(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


@functools.cache
def process_tags() -> dict[str, str]:
    """The tags that let a later process tell whether this one is still alive."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid),
            PROCESS_START_TAG: process_start(pid) or ""}  # fmt: skip


def is_orphan(tags: dict[str, str]) -> bool:
    """Whether the process that opened a run with these tags is gone (this host only)."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return False  # another host's process, or a run initlab did not open: cannot tell
    started = process_start(int(tags[PID_TAG]))
    recorded = tags.get(PROCESS_START_TAG, "")
    return started is None or bool(recorded and started and started != recorded)


def mark_orphans(client: MlflowClient, experiment_ids: Sequence[str]) -> list[str]:
    """Mark KILLED the RUNNING runs of these experiments whose process is gone; say so for
    each; return their ids."""
    from mlflow.entities import ViewType

    if not experiment_ids:
        return []
    running = client.search_runs(
        list(experiment_ids), "attributes.status = 'RUNNING'", run_view_type=ViewType.ALL
    )
    marked = []
    for run in running:
        tags = run.data.tags
        if not is_orphan(tags):
            continue
        why = f"left RUNNING by process {tags[PID_TAG]} on {tags[HOST_TAG]}, which is gone"
        client.set_tag(run.info.run_id, ENDED_TAG, f"marked KILLED: {why}")
        client.set_terminated(run.info.run_id, status="KILLED")
        print(f"initlab: run '{run.info.run_name}' ({run.info.run_id}) was {why}: marked KILLED",
              file=sys.stderr)  # fmt: skip
        marked.append(run.info.run_id)
    return marked


class WorkerLost(RuntimeError):
    """A job's worker process died (a launcher's worker, a Ray worker or its machine)."""


def end_runs_of_lost_jobs(jobs: Mapping[int, str], why: str) -> list[str]:
    """Jobs (number -> name) whose worker died, maybe on another machine where no pid can be
    checked: their runs still RUNNING are ended FAILED, and a job that never opened its run
    gets one, FAILED, so that every job of the sweep is in the store; each says why."""
    import json

    from initlab import tracking
    from initlab.experiment import PARENT_RUN_ENV

    ended = []
    parents = json.loads(os.environ.get(PARENT_RUN_ENV) or "{}")
    names = {str(number) for number in jobs}
    for place, parent in parents.items():
        uri = place.rsplit(" ", 1)[0]
        try:
            client = tracking.client_for(uri)
            experiment_id = client.get_run(parent).info.experiment_id
            children = client.search_runs(
                [experiment_id], f"tags.mlflow.parentRunId = '{parent}'", max_results=50000
            )
            runs = [r for r in children if r.data.tags.get(tracking.JOB_NUM_TAG) in names]
            seen = {int(run.data.tags[tracking.JOB_NUM_TAG]) for run in runs}
            for run in runs:
                if run.info.status == "RUNNING":
                    client.set_tag(run.info.run_id, ENDED_TAG, f"marked FAILED: {why}")
                    tracking.end_run(client, run.info.run_id, "FAILED")
                    ended.append(run.info.run_id)
            if len(parents) == 1:  # (with several stores, which one a job used is unknown)
                for number in sorted(set(jobs) - seen):
                    tags = {tracking.ROLE_TAG: "job", tracking.JOB_NUM_TAG: str(number),
                            tracking.OVERRIDES_TAG: jobs[number],
                            ENDED_TAG: f"recorded FAILED: {why} before the job ran"}  # fmt: skip
                    run_id = tracking.start_run(
                        client, uri, experiment_id, name=jobs[number], tags=tags,
                        parent_run_id=parent,
                    )  # fmt: skip
                    tracking.end_run(client, run_id, "FAILED")
                    ended.append(run_id)
        except Exception as exc:  # the sweep goes on; the next look at the store finds them
            print(f"initlab: could not record the jobs {sorted(jobs)}: {exc}",
                  file=sys.stderr)  # fmt: skip
    if ended:
        print(f"initlab: jobs {', '.join(f'#{n}' for n in sorted(jobs))}: {why}; their "
              f"{len(ended)} run(s) recorded FAILED", file=sys.stderr)  # fmt: skip
    return ended


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m initlab.orphans [URI]``: every experiment of the store (default: the
    project's, or $MLFLOW_TRACKING_URI)."""
    from initlab import tracking

    args = list(sys.argv[1:] if argv is None else argv)
    uri = tracking.resolve_tracking_uri(args[0] if args else None)
    try:
        tracking.check_reachable(uri)
    except tracking.TrackingError as exc:
        print(f"initlab: {exc}", file=sys.stderr)
        return 1
    client = tracking.client_for(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    marked = mark_orphans(client, experiments)
    print(f"{len(marked)} orphaned run(s) marked KILLED in {uri}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
