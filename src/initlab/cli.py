"""Process-level helpers for the command-line entry points."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import NoReturn


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, Slurm, a container stop) or SIGHUP (the terminal went
    away): handled exactly as Ctrl-C, so runs end KILLED and the sweep's parent too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


def stop_like_ctrl_c() -> None:
    """From now on SIGTERM and SIGHUP interrupt this process as Ctrl-C does."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_terminated)


@contextlib.contextmanager
def terminate_like_ctrl_c() -> Iterator[None]:
    """While a job runs, in whichever process runs it (a launcher's worker too: joblib's), a
    SIGTERM to the sweep's process group ends its run KILLED as Ctrl-C does; an idle worker
    keeps its own handling (its pool stops it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    stop_like_ctrl_c()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_and_exit(main: Callable[[], object]) -> NoReturn:
    """Run an entry point, then end the process without tearing the interpreter down.

    Once mlflow, SQLAlchemy and matplotlib are loaded, Python's orderly shutdown (freeing
    every module and object) takes ~0.8 s: a quarter of a single run. Everything that must
    happen at exit still does: the atexit handlers (which close any MLflow run left open),
    flushing log handlers and the standard streams. Only the memory teardown is skipped.
    """
    code: int | str | None = 0
    stop_like_ctrl_c()
    try:
        main()
    except SystemExit as exc:  # Hydra reports errors by sys.exit
        code = exc.code
    except Terminated as exc:  # as Ctrl-C; the exit status a shell expects: 128 + signal
        print(f"initlab: stopped by {exc.args[0]}.", file=sys.stderr)
        code = 128 + exc.signum
    except KeyboardInterrupt:  # Ctrl-C: the runs it reached end KILLED (each said so)
        print("initlab: interrupted (Ctrl-C).", file=sys.stderr)
        code = 130
    if code not in (0, None) and not (isinstance(code, int) and code > 128):  # refused:
        # say which option or key was probably meant (not after a signal)
        from initlab.suggestions import suggestions

        for line in suggestions(sys.argv[1:]):
            print(f"initlab: {line}", file=sys.stderr)
    # What Python's own exit does first: run the threading atexit hooks, which stop the
    # process pools (loky's, as joblib's launcher leaves it, and concurrent.futures'), and
    # join the other threads. Without them multiprocessing's atexit handler would wait for
    # pool workers that were never told to stop: the process would never exit.
    threading._shutdown()
    atexit._run_exitfuncs()
    logging.shutdown()
    if isinstance(code, str):  # what Python would print for sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
