"""The local demo cluster: PostgreSQL, an MLflow tracking server on it, and a Ray head.

``python -m initlab.cluster up|down|status [--dir .cluster]`` (``make cluster-up`` ...).

- ``up`` starts what is not already running, every service on 127.0.0.1 only: PostgreSQL
  (its data in ``<dir>/postgres``, created by initdb the first time, trust authentication
  from 127.0.0.1, a free port chosen then and kept in its postgresql.conf) with a database
  ``mlflow``; ``mlflow server`` on it, artifacts stored in ``<dir>/artifacts`` and served
  through the server (clients get ``mlflow-artifacts:/`` URIs); a Ray head (``ray start
  --head``). It writes ``<dir>/env`` (``MLFLOW_TRACKING_URI`` and ``RAY_ADDRESS``, for
  ``export $(cat <dir>/env)``, with what a Ray client of this head needs: see
  :func:`ray_client_env`) and ``<dir>/services.json`` (ports, process ids, sessions, logs).
  Every wait is bounded; a service that does not come up is reported with the tail of its
  log, and what this call started is stopped again.
- ``down`` stops the three by their own processes or data folder, never by name: MLflow and
  Ray by the session each was started in (SIGTERM, then SIGKILL; Ray's own ``ray stop``
  would end every Ray process of the machine, other users' clusters included), PostgreSQL by
  ``pg_ctl stop -m fast``. Bounded in time, idempotent.
- ``status`` says what is running; exit code 0 when all three are, 3 otherwise.

Errors are one line (a service that fails to start adds its log's last lines) and exit code 1.
Linux only (sessions are read from /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from initlab.orphans import process_start

HOST = "127.0.0.1"
DEFAULT_DIR = ".cluster"
START_TIMEOUT = 120.0  # seconds each service gets to come up (all three: 10-20 s here)
# Seconds between SIGTERM and SIGKILL. Ray 2.60's gcs_server does not end on SIGTERM (it waits
# to flush to agents that are gone): `ray stop` kills it after a grace period too.
MLFLOW_STOP_GRACE, RAY_STOP_GRACE = 10.0, 5.0
NUM_CPUS = 2
PG_USER = "postgres"  # the OS user PostgreSQL runs as under root, and its superuser role
PG_DATABASE = "mlflow"
# Debian's postgresql package keeps initdb and pg_ctl off PATH, in a folder per version.
PG_BIN_GLOBS = ["/usr/lib/postgresql/*/bin"]
# Ray's session folder holds Unix sockets, whose paths must stay under 108 bytes; its names
# add about 65 characters to the folder's.
RAY_TEMP_MAX_CHARS = 40


class ClusterError(RuntimeError):
    """A service cannot be started or stopped; the message says which, why, and what to do."""


# --- the folder: services.json and env -------------------------------------------------------


def services_path(root: Path) -> Path:
    return root / "services.json"


def load_services(root: Path) -> dict:
    try:
        return json.loads(services_path(root).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ClusterError(f"{services_path(root)} cannot be read ({exc}): move it aside") from exc


def save_services(root: Path, services: dict) -> None:
    tmp = services_path(root).with_suffix(".tmp")
    tmp.write_text(json.dumps(services, indent=2) + "\n")
    tmp.replace(services_path(root))


def write_env(root: Path, values: dict[str, str]) -> Path:
    """``<root>/env``: plain NAME=value lines, so that ``export $(cat <root>/env)`` works."""
    path = root / "env"
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


def read_env(root: Path) -> dict[str, str]:
    """The variables of ``<root>/env`` (empty when the cluster is down)."""
    try:
        lines = (root / "env").read_text().splitlines()
    except FileNotFoundError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


def ray_client_env(root: Path) -> dict[str, str]:
    """What every Ray process of this cluster, and every client of it, needs in its environment.

    - ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: Ray rewrites 127.0.0.1 (in ``--node-ip-address``
      and in the address a client connects to) to the machine's outward address, and its
      servers then listen on every interface, unless it is told that this is not a
      multi-machine cluster: this keeps the head, and its clients, on the loopback.
    - Token authentication with the cluster's own token (``<root>/ray_auth_token``): the head
      runs as whoever started it (root here); without a token any local user could run code
      as that user through it. Explicit, because Ray otherwise switches it on or off
      depending on whether ``~/.ray/auth_token`` happens to exist.
    """
    return {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(root / "ray_auth_token"),
    }


def client_env(root: Path, services: dict) -> dict[str, str]:
    """The variables a client of the cluster needs: where MLflow and Ray are, and how to talk
    to Ray."""
    return {
        "MLFLOW_TRACKING_URI": services["mlflow"]["url"],
        "RAY_ADDRESS": services["ray"]["address"],
        **ray_client_env(root),
    }


def ray_temp_dir(root: Path) -> Path:
    """``<root>/ray``, or a short folder in /tmp named after ``root`` when that path is long."""
    inside = root / "ray"
    if len(str(inside)) <= RAY_TEMP_MAX_CHARS:
        return inside
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:10]
    return Path("/tmp") / f"initlab-ray-{digest}"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 now (held together so that none repeats)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return "\n".join(["", f"--- last lines of {path} ---", *tail])


def _port_open(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


# --- processes ---------------------------------------------------------------------------------


def session_members(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``, from /proc.

    A service started in its own session keeps every process it starts there, whatever
    process group they choose (Ray puts each worker in a group of its own), unless one calls
    setsid itself.
    """
    members = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command name: state, ppid, process group, session, ...
        if fields[0] not in ("Z", "X") and int(fields[3]) == sid:
            members.append(int(stat.split("/")[2]))
    return members


def session_is_ours(sid: int, start: str) -> bool:
    """Whether session ``sid`` is still the one whose leader started at ``start``.

    A session's id is its leader's pid. While the leader lives, its start time must match;
    once it is gone (as Ray's ``ray start`` is), Linux does not give that number to a new
    process while any member of the session remains, so the members are the session's own.
    """
    leader = process_start(sid)
    return leader is None or leader == start


def stop_session(sid: int, start: str, grace: float) -> bool:
    """SIGTERM every process of session ``sid`` (if it is still ours), SIGKILL those left
    after ``grace`` seconds; whether the session is gone."""
    if not session_is_ours(sid, start):
        return True  # the number belongs to someone else now: ours ended long ago
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        signalled: set[int] = set()
        deadline = time.monotonic() + wait
        while (members := session_members(sid)) and time.monotonic() < deadline:
            for pid in set(members) - signalled:  # processes started meanwhile too
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                signalled.add(pid)
            time.sleep(0.1)
        if not members:
            return True
    return not session_members(sid)


def _run(cmd: list[str], what: str, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"{what} did not finish within {timeout:.0f} s") from exc


def _bin_tool(name: str, extra: str) -> str:
    """An executable of this environment (the venv's ``mlflow``, ``ray``), else from PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise ClusterError(f"no '{name}' command: install the cluster extra ({extra})")
    return found


# --- PostgreSQL --------------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """``initdb``/``pg_ctl``: from PATH, else from Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        (p for pattern in PG_BIN_GLOBS for p in glob.glob(f"{pattern}/{name}")),
        key=lambda p: [int(part) for part in Path(p).parts[-3].split(".") if part.isdigit()],
    )
    if candidates:
        return candidates[-1]
    raise ClusterError(
        f"PostgreSQL's {name} is not installed: apt-get install postgresql "
        "(Debian; or put the folder holding initdb and pg_ctl on PATH)"
    )


def _as_pg_user() -> list[str]:
    """The prefix that runs a PostgreSQL command as its own user.

    PostgreSQL refuses to run as root (a server bug must not own the machine), so under root
    initdb and pg_ctl run as the ``postgres`` user, created here when missing (Debian's
    package creates it; PostgreSQL's binaries installed some other way may come without it).
    """
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        _run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
              "/nonexistent", "--shell", "/usr/sbin/nologin", PG_USER],
             f"creating the user {PG_USER}", 30)  # fmt: skip
        try:
            pwd.getpwnam(PG_USER)
        except KeyError as exc:
            raise ClusterError(
                f"PostgreSQL cannot run as root and the user '{PG_USER}' could not be created "
                f"(useradd {PG_USER})"
            ) from exc
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    if not Path(runuser).exists():
        raise ClusterError("PostgreSQL cannot run as root and there is no runuser command")
    return [runuser, "-u", PG_USER, "--"]


def _give_to_pg_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _check_pg_user_reaches(data: Path, as_pg: list[str]) -> None:
    """The PostgreSQL user can enter ``data``; else name the folder on the way that stops it."""
    if not as_pg or _run([*as_pg, "test", "-w", str(data)], "test", 30).returncode == 0:
        return
    for folder in [*reversed(data.parents), data]:
        if _run([*as_pg, "test", "-x", str(folder)], "test", 30).returncode != 0:
            raise ClusterError(
                f"PostgreSQL runs as the user {PG_USER}, who cannot enter {folder}: "
                f"chmod o+x {folder}, or choose a --dir it can reach"
            )
    raise ClusterError(f"the user {PG_USER} cannot write to {data}")


def pg_port(data: Path) -> int | None:
    """The port kept in ``data``'s postgresql.conf (its last ``port =`` line)."""
    port = None
    with contextlib.suppress(OSError):
        for line in (data / "postgresql.conf").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "port" and value.split("#")[0].strip().isdigit():
                port = int(value.split("#")[0].strip())
    return port


def postmaster(data: Path) -> tuple[int, str] | None:
    """The running postmaster of ``data``: (pid, start), or None."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    start = process_start(pid)
    if start is None or str(data).encode() not in cmdline:
        return None  # a stale pid file: that pid is gone or is another program now
    return pid, start


def _init_postgres(data: Path, initdb: str, as_pg: list[str]) -> int:
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    _give_to_pg_user(data)
    _check_pg_user_reaches(data, as_pg)
    result = _run([*as_pg, initdb, "-D", str(data), "-U", PG_USER, "-E", "UTF8", "--locale=C",
                   "--auth=trust", "--no-instructions"],
                  "initdb", 120, cwd=data)  # fmt: skip
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise ClusterError(f"initdb {data} failed: {' '.join(last)}")
    (port,) = free_ports(1)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            "\n# initlab's demo cluster (python -m initlab.cluster): this machine only, on a port\n"
            "# chosen when it was created\n"
            f"listen_addresses = '{HOST}'\nport = {port}\nunix_socket_directories = ''\n"
        )
    (data / "pg_hba.conf").write_text(
        "# initlab's demo cluster: any role, without a password, from this machine's loopback\n"
        f"host all all {HOST}/32 trust\n"
    )
    return port


def start_postgres(root: Path, timeout: float) -> dict:
    initdb, pg_ctl = pg_tool("initdb"), pg_tool("pg_ctl")
    as_pg = _as_pg_user()
    data, log = root / "postgres", root / "postgres.log"
    port = pg_port(data) if (data / "PG_VERSION").exists() else _init_postgres(data, initdb, as_pg)
    if port is None:
        raise ClusterError(f"{data}/postgresql.conf sets no port: move {data} aside to start anew")
    _check_pg_user_reaches(data, as_pg)
    log.touch()
    _give_to_pg_user(log)
    result = _run([*as_pg, pg_ctl, "start", "-D", str(data), "-l", str(log), "-w",
                   "-t", str(int(timeout))],
                  "pg_ctl start", timeout + 30, cwd=data)  # fmt: skip
    running = postmaster(data)
    if result.returncode != 0 or running is None:
        raise ClusterError(f"PostgreSQL did not start on {HOST}:{port}" + _log_tail(log))
    _create_database(port, timeout)
    return {"port": port, "pid": running[0], "start": running[1], "data": str(data),
            "log": str(log)}  # fmt: skip


def _create_database(port: int, timeout: float) -> None:
    try:
        import psycopg
    except ImportError as exc:
        raise ClusterError("psycopg is not installed: pip install -e '.[cluster]'") from exc
    try:
        with psycopg.connect(host=HOST, port=port, user=PG_USER, dbname="postgres",
                             autocommit=True, connect_timeout=int(timeout)) as conn:  # fmt: skip
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE])
            if found.fetchone() is None:
                conn.execute(f"CREATE DATABASE {PG_DATABASE}")
    except psycopg.Error as exc:
        raise ClusterError(f"PostgreSQL on {HOST}:{port}: {exc}".splitlines()[0]) from exc


def stop_postgres(root: Path) -> bool:
    """``pg_ctl stop -m fast`` (then ``-m immediate``); whether it was running."""
    data = root / "postgres"
    if postmaster(data) is None:
        return False
    pg_ctl, as_pg = pg_tool("pg_ctl"), _as_pg_user()
    for mode in ("fast", "immediate"):
        _run([*as_pg, pg_ctl, "stop", "-D", str(data), "-m", mode, "-w", "-t", "30"],
             "pg_ctl stop", 60, cwd=data)  # fmt: skip
        if postmaster(data) is None:
            return True
    raise ClusterError(f"PostgreSQL of {data} did not stop: see {root / 'postgres.log'}")


# --- MLflow ------------------------------------------------------------------------------------


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_mlflow(root: Path, pg: int, timeout: float) -> dict:
    mlflow = _bin_tool("mlflow", "pip install -e '.[cluster]'")
    (port,) = free_ports(1)
    url, log, artifacts = f"http://{HOST}:{port}", root / "mlflow.log", root / "artifacts"
    artifacts.mkdir(exist_ok=True)
    backend = f"postgresql+psycopg://{PG_USER}@{HOST}:{pg}/{PG_DATABASE}"
    # The server's job runner (GenAI evaluation jobs, 8 processes) is of no use to initlab.
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}
    with open(log, "a") as out:
        server = subprocess.Popen(
            [mlflow, "server", "--host", HOST, "--port", str(port), "--workers", "2",
             "--backend-store-uri", backend, "--serve-artifacts",
             "--artifacts-destination", str(artifacts)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=root, env=env,
            start_new_session=True,
        )  # fmt: skip
    state = {"port": port, "url": url, "pid": server.pid, "pgid": server.pid,
             "session": server.pid,
             "start": process_start(server.pid) or "", "log": str(log),
             "artifacts": str(artifacts)}  # fmt: skip
    deadline = time.monotonic() + timeout
    while not _health(url):
        if server.poll() is not None or time.monotonic() > deadline:
            why = "exited" if server.poll() is not None else f"not healthy within {timeout:.0f} s"
            stop_session(server.pid, state["start"], MLFLOW_STOP_GRACE)
            raise ClusterError(f"the MLflow server on {url} {why}" + _log_tail(log))
        time.sleep(0.5)
    return state


def mlflow_running(state: dict) -> bool:
    return bool(state) and process_start(state["pid"]) == state["start"]


# --- Ray ---------------------------------------------------------------------------------------


def start_ray(root: Path, num_cpus: int, timeout: float) -> dict:
    ray = _bin_tool("ray", "pip install -e '.[cluster]'")
    port, client_port, agent_port, dashboard_port = free_ports(4)
    log, temp_dir = root / "ray.log", ray_temp_dir(root)
    token = root / "ray_auth_token"
    if not token.exists():
        token.touch(mode=0o600)
        token.write_text(secrets.token_hex(32))  # as `ray get-auth-token --generate` makes one
    env = {**os.environ, **ray_client_env(root)}
    for name in ("RAY_ADDRESS", "RAY_AUTH_TOKEN"):  # the head's own, not a client's settings
        env.pop(name, None)
    with open(log, "a") as out:
        head = subprocess.Popen(
            [ray, "start", "--head", "--node-ip-address", HOST, "--port", str(port),
             "--num-cpus", str(num_cpus), "--disable-usage-stats", "--include-dashboard=false",
             "--dashboard-port", str(dashboard_port), "--ray-client-server-port",
             str(client_port), "--dashboard-agent-listen-port", str(agent_port),
             "--temp-dir", str(temp_dir)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=root, env=env,
            start_new_session=True,
        )  # fmt: skip
    state = {"port": port, "address": f"{HOST}:{port}", "pid": head.pid, "pgid": head.pid,
             "session": head.pid,
             "start": process_start(head.pid) or "", "num_cpus": num_cpus,
             "temp_dir": str(temp_dir), "log": str(log)}  # fmt: skip
    try:
        code = head.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    deadline = time.monotonic() + 30
    while code == 0 and not _port_open(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    if code != 0 or not _port_open(port):
        stop_session(head.pid, state["start"], RAY_STOP_GRACE)
        why = f"not up within {timeout:.0f} s" if code is None else "failed"
        raise ClusterError(f"ray start --head on {HOST}:{port} {why}" + _log_tail(log))
    return state


def ray_running(state: dict) -> bool:
    return (
        bool(state)
        and session_is_ours(state["session"], state["start"])
        and bool(session_members(state["session"]))
        and _port_open(state["port"])
    )


# --- the commands ------------------------------------------------------------------------------


def running(root: Path, services: dict) -> dict[str, bool]:
    return {
        "postgres": postmaster(root / "postgres") is not None,
        "mlflow": mlflow_running(services.get("mlflow", {})),
        "ray": ray_running(services.get("ray", {})),
    }


def up(root: Path, num_cpus: int = NUM_CPUS, timeout: float = START_TIMEOUT) -> dict:
    """Start what is not running; on a failure stop what this call started, and raise."""
    root.mkdir(parents=True, exist_ok=True)
    services = load_services(root)
    alive = running(root, services)
    starters = {
        "postgres": lambda: start_postgres(root, timeout),
        "mlflow": lambda: start_mlflow(root, pg_port(root / "postgres"), timeout),
        "ray": lambda: start_ray(root, num_cpus, timeout),
    }
    started: list[str] = []
    try:
        for name, start in starters.items():
            if alive[name]:
                continue
            _stop(root, services, [name])  # what a crashed instance left behind
            services[name] = start()
            started.append(name)
            save_services(root, services)
    except BaseException:
        with contextlib.suppress(ClusterError):  # the first failure is the one to report
            _stop(root, services, started)
            for name in started:
                services.pop(name)
            if services:
                save_services(root, services)
            else:
                services_path(root).unlink(missing_ok=True)
        raise
    write_env(root, client_env(root, services))
    return services


def _stop(root: Path, services: dict, which: Sequence[str]) -> list[str]:
    stopped = []
    if "ray" in which and services.get("ray"):
        if ray_running(services["ray"]):
            stopped.append("ray")
        ray = services["ray"]
        if not stop_session(ray["session"], ray["start"], RAY_STOP_GRACE):
            raise ClusterError(f"Ray's processes (session {ray['session']}) did not end")
    if "mlflow" in which and services.get("mlflow"):
        if mlflow_running(services["mlflow"]):
            stopped.append("mlflow")
        ml = services["mlflow"]
        if not stop_session(ml["session"], ml["start"], MLFLOW_STOP_GRACE):
            raise ClusterError(f"the MLflow server's processes (session {ml['session']}) live on")
    if "postgres" in which and stop_postgres(root):
        stopped.append("postgres")
    return stopped


def down(root: Path) -> list[str]:
    """Stop the three (Ray, MLflow, then PostgreSQL); the names of those that were running."""
    services = load_services(root)
    stopped = _stop(root, services, ["ray", "mlflow", "postgres"])
    for path in (root / "env", services_path(root)):
        path.unlink(missing_ok=True)
    return stopped


def describe(root: Path, services: dict) -> list[str]:
    alive = running(root, services)
    ml, ray = (services.get(name, {}) for name in ("mlflow", "ray"))
    lines = []
    if alive["postgres"]:
        pid = postmaster(root / "postgres")[0]
        lines.append(f"  PostgreSQL  {HOST}:{pg_port(root / 'postgres')}  database "
                     f"{PG_DATABASE}, data {root / 'postgres'}  (pid {pid})")  # fmt: skip
    else:
        lines.append("  PostgreSQL  not running")
    if alive["mlflow"]:
        state = "healthy" if _health(ml["url"]) else "not answering /health"
        lines.append(f"  MLflow      {ml['url']}  {state}, artifacts {ml['artifacts']}  "
                     f"(session {ml['session']})")  # fmt: skip
    else:
        lines.append("  MLflow      not running")
    if alive["ray"]:
        state = "answering" if _port_open(ray["port"]) else "not answering"
        lines.append(
            f"  Ray head    {ray['address']}  {state}, {ray['num_cpus']} CPUs  "
            f"({len(session_members(ray['session']))} processes in session {ray['session']})"
        )
    else:
        lines.append("  Ray head    not running")
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m initlab.cluster",
        description="The local demo cluster on 127.0.0.1: PostgreSQL, an MLflow tracking "
        "server on it (artifacts served through it) and a Ray head.",
        epilog="status exits 0 when all three run, 3 otherwise.",
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=Path(DEFAULT_DIR),
                        help="the cluster's folder: data, logs, env, services.json "
                             f"(default: {DEFAULT_DIR})")  # fmt: skip
    parser.add_argument("--num-cpus", type=int, default=NUM_CPUS,
                        help=f"CPUs the Ray head offers (default: {NUM_CPUS})")  # fmt: skip
    parser.add_argument(
        "--timeout",
        type=float,
        default=START_TIMEOUT,
        help="seconds each service gets to start (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    args.dir = args.dir.expanduser().absolute()
    if any(char.isspace() for char in str(args.dir)):
        parser.error(f"--dir {args.dir}: a folder without spaces (its env file is for $(cat ...))")
    if args.num_cpus < 1 or args.timeout <= 0:
        parser.error("--num-cpus and --timeout must be positive")
    return args


def _usage(root: Path) -> list[str]:
    shown = os.path.relpath(root) if root.is_relative_to(Path.cwd()) else str(root)
    return [
        "Use it:",
        f"  export $(cat {shown}/env)     # MLFLOW_TRACKING_URI, RAY_ADDRESS, Ray's settings",
        "  python src/train.py -m init=zeros,he",
        f"Stop it: python -m initlab.cluster down --dir {shown}   (make cluster-down)",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root: Path = args.dir
    try:
        if args.command == "up":
            began = time.monotonic()
            already = all(running(root, load_services(root)).values())
            services = up(root, args.num_cpus, args.timeout)
            took = "already running" if already else f"up in {time.monotonic() - began:.1f} s"
            print(f"initlab cluster in {root} ({took}):")
            print("\n".join(describe(root, services)))
            print(f"  logs: {root}/{{postgres,mlflow,ray}}.log")
            print(f"MLflow UI: {services['mlflow']['url']}")
            print("\n".join(_usage(root)))
        elif args.command == "down":
            began = time.monotonic()
            stopped = down(root)
            print(f"initlab cluster in {root}: "
                  + (f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
                  + f" ({time.monotonic() - began:.1f} s)")  # fmt: skip
        else:
            services = load_services(root)
            print(f"initlab cluster in {root}:")
            print("\n".join(describe(root, services)))
            return 0 if all(running(root, services).values()) else 3
    except ClusterError as exc:
        print(f"initlab.cluster: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("initlab.cluster: interrupted; what this command started was stopped",
              file=sys.stderr)  # fmt: skip
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
