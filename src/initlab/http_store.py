"""A tracking server as the store: retries that end, and a clear word when the server is gone.

MLflow's client retries a failed request 7 times with a backoff factor of 2 and a 120 s
timeout: built for servers that rate-limit, it keeps a sweep whose server died waiting for
many minutes per request, and a sweep makes hundreds of requests. initlab bounds the retries
(unless the user has set them) so that a request to a server that is gone fails in about
:func:`give_up_seconds`, and says so in one line naming the server and the variables to change.
"""

from __future__ import annotations

import os

# MLflow's own variables; a value the user set is never overridden.
RETRIES_ENV = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
BACKOFF_ENV = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
TIMEOUT_ENV = "MLFLOW_HTTP_REQUEST_TIMEOUT"
JITTER_ENV = "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"
BOUNDED_DEFAULTS = {RETRIES_ENV: "4", BACKOFF_ENV: "1", TIMEOUT_ENV: "20"}

# What MLflow's client says when every retry of a request failed, or one timed out.
_LOST_MARKERS = (
    "Max retries exceeded",
    "Connection refused",
    "ConnectionError",
    "Read timed out",
    "RemoteDisconnected",
    "Connection aborted",
)


def is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def bound_retries() -> None:
    """Set initlab's bounded retry defaults for MLflow's HTTP client, where the user has not
    set them (this process and those it starts: a launcher's workers)."""
    for name, value in BOUNDED_DEFAULTS.items():
        os.environ.setdefault(name, value)


def _setting(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def give_up_seconds() -> float:
    """About how long a request to a server that refuses connections is retried: urllib3
    sleeps factor × 2^(n-1) before retry n ≥ 2, plus up to the jitter each time."""
    retries = int(_setting(RETRIES_ENV, 7))
    factor = _setting(BACKOFF_ENV, 2)
    jitter = _setting(JITTER_ENV, 1.0)
    return sum(factor * 2 ** (n - 1) for n in range(2, retries + 1)) + jitter * retries


def is_lost_server(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a request that never reached a server."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = f"{type(exc).__name__}: {exc}"
        if any(marker in text for marker in _LOST_MARKERS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def lost_server_message(uri: str) -> str:
    return (
        f"MLflow tracking server {uri} stopped answering; gave up after "
        f"{os.environ.get(RETRIES_ENV, '7')} retries (about {give_up_seconds():.0f} s, more if "
        f"it hangs: {TIMEOUT_ENV}={os.environ.get(TIMEOUT_ENV, '120')} s a request; "
        f"{RETRIES_ENV}, {BACKOFF_ENV} and {TIMEOUT_ENV} change this). Runs it could not be "
        "told about stay RUNNING there until the next sweep or `make orphans` marks them KILLED."
    )
