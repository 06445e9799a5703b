"""Real servers for the deployment tests (#18), started on 127.0.0.1 and stopped afterwards.

Nothing here is mocked: a throw-away PostgreSQL cluster (Debian's ``postgresql`` binaries, ``initdb`` in a
temporary folder, ``pg_ctl start`` on a free loopback port), a Dask scheduler and workers (``dask
scheduler`` / ``dask worker`` as separate processes on TCP), and helpers for JupyterHub. Each helper says
exactly why when this machine cannot run the server, and the test is skipped with that reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group of ``proc`` (started with start_new_session), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict[str, str], *, log: Path | None = None):
    """A single-user JupyterLab on 127.0.0.1 serving ``root`` (also its working directory, where
    nbgrader finds the course's config); yields ``(base_url, token)`` and stops it afterwards."""
    port, token = free_port(), os.urandom(12).hex()
    flags = ["--allow-root"] if os.geteuid() == 0 else []
    command = [
        str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", *flags, f"--port={port}",
        "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    with open(log or os.devnull, "w") as output:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_port(port, 120, server)
            yield f"http://127.0.0.1:{port}", token
        finally:
            stop(server)


# --------------------------------------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (``/usr/lib/postgresql/<N>/bin``), newest first, or PATH."""
    for folder in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    ):
        if (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def postgres_problem() -> str | None:
    """Why no throw-away PostgreSQL can start here, or None."""
    if postgres_bin() is None:
        return "PostgreSQL server binaries not found (Debian: apt-get install postgresql; .ci/run does)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return (
                "running as root and there is no 'postgres' user to run the server as (initdb refuses root)"
            )
        if not shutil.which("runuser"):
            return "running as root without runuser to drop to the 'postgres' user"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (make env)"
    return None


@contextlib.contextmanager
def postgres_server(database: str = "ethics"):
    """A throw-away PostgreSQL cluster on 127.0.0.1; yields its SQLAlchemy URL for ``database``.

    As root, the server runs as the ``postgres`` system user (``runuser``), in a folder it owns.
    """
    binaries = postgres_bin()
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="ethicskit-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, port = folder / "data", free_port()
    try:
        subprocess.run(
            [
                *as_user,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=100"
        subprocess.run(
            [
                *as_user,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "-l",
                str(folder / "server.log"),
                "start",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *as_user,
                str(binaries.parent / "bin" / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                database,
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run(
            [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------------------------- Dask


class DaskCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (TCP), each in its own session."""

    def __init__(self, workers: int = 2, *, env: dict | None = None):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = dict(env or os.environ)
        self.env.setdefault("DASK_DISTRIBUTED__WORKER__DAEMON", "False")
        self.logs = Path(tempfile.mkdtemp(prefix="ethicskit-dask-logs-"))
        self.scheduler = self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--dashboard-address", ":0"],
        )
        wait_port(self.port, 60, self.scheduler)
        self.workers = [self.add_worker(f"w{i}") for i in range(workers)]
        self.wait_for(workers)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            [str(BIN / "dask"), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    def add_worker(self, name: str) -> subprocess.Popen:
        return self._start(
            name,
            [
                "worker",
                self.address,
                "--name",
                name,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--host",
                "127.0.0.1",
                "--dashboard-address",
                ":0",
                "--memory-limit",
                "0",
                "--death-timeout",
                "60",
            ],
        )

    def wait_for(self, count: int, timeout: float = 120) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=timeout)

    def kill_worker(self, index: int) -> None:
        """SIGKILL a whole ``dask worker`` (nanny and worker process), as when its machine is lost."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait(10)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            stop(proc)
        shutil.rmtree(self.logs, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------------- JupyterHub


def hub_problem() -> str | None:
    """Why the course's JupyterHub cannot start here, or None."""
    if not shutil.which("configurable-http-proxy"):
        return "configurable-http-proxy not found (npm install -g configurable-http-proxy; .ci/run does)"
    if not (BIN / "jupyterhub").exists():
        return "jupyterhub is not installed in the course environment (make env)"
    return None


class Hub:
    """``ethicskit course hub --demo`` for a course folder, on a free loopback port; stopped on close."""

    def __init__(self, course: Path, *, students=("student1", "student2"), instructors=("instructor",)):
        self.course = Path(course)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.exchange = self.course / "exchange"
        command = [
            str(BIN / "ethicskit"),
            "course",
            "hub",
            "--demo",
            "--course",
            str(course),
            "--port",
            str(self.port),
        ]
        command += [a for s in students for a in ("--student", s)]
        command += [a for i in instructors for a in ("--instructor", i)]
        self.log_path = self.course / "hub.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port, 120, self.proc)
        self._wait_ready(120)

    def _wait_ready(self, timeout: float) -> None:
        """The proxy listens before the hub has added its route: wait until the hub's API answers."""
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited: {self.log()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base}/hub/api", timeout=5).status_code == 200:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"the hub did not answer on {self.base}: {self.log()[-3000:]}")

    def login(self, user: str, timeout: float = 180):
        """A requests session logged in as ``user`` whose server is up (``/user/<user>/lab`` answers 200)."""
        import requests

        session = requests.Session()
        session.get(f"{self.base}/hub/login", timeout=30)
        reply = session.post(
            f"{self.base}/hub/login",
            data={"username": user, "password": "demo", "_xsrf": session.cookies.get("_xsrf", path="/hub/")},
            timeout=timeout,
        )
        if reply.status_code >= 400 or "/hub/login" in reply.url:
            raise RuntimeError(f"{user} could not log in ({reply.status_code} {reply.url})")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = session.get(f"{self.base}/user/{user}/lab", timeout=60)
            if reply.status_code == 200 and "/user/" in reply.url:
                return session
            time.sleep(1)
        raise TimeoutError(f"{user}'s server did not start: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def close(self) -> None:
        stop(self.proc, timeout=30)  # JupyterHub stops the users' servers and the proxy on SIGTERM

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
