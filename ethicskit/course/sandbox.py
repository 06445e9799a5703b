"""The grading sandbox: bubblewrap around an ipykernel, plus cgroup limits.

Each submission's kernel runs as::

    sh -c 'join cgroups; exec "$@"' bwrap --unshare-all --uid 65534 --gid 65534 --die-with-parent
        --new-session --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /sys/class/net
        --tmpfs <each hidden path> --ro-bind <python prefix and ethicskit, if hidden> ...
        --bind <runtime dir> --bind <working copy> --chdir <working copy> --unsetenv JPY_PARENT_PID
        python -m ipykernel_launcher -f <connection file>

* no network (a new, empty network namespace; the kernel talks to the grader over ZeroMQ ``ipc``
  sockets in the runtime folder), a private /tmp, uid 65534, the whole filesystem read-only except
  the working copy and the runtime folder; the course root, the submissions and the home folder are
  hidden behind empty tmpfs mounts (the interpreter and ethicskit are bound back read-only);
* a memory limit and a process limit from cgroup v1 (``memory``, ``pids``) or cgroup v2 when the
  grader may create cgroups; otherwise ``prlimit`` (address space and processes: weaker, see
  docs/grading.md);
* interrupts are sent as messages (``interrupt_mode = "message"``) because signals do not cross
  bubblewrap's session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Any as AnyTrait
from traitlets import DottedObjectName, Type

__all__ = [
    "SandboxPolicy",
    "SandboxUnavailable",
    "sandbox_problem",
    "CgroupLimits",
    "SandboxKernelManager",
    "PlainIpcKernelManager",
    "bwrap_command",
]

BWRAP = "/usr/bin/bwrap"
INSTALL_HELP = (
    "The grading sandbox needs bubblewrap and unprivileged user namespaces.\n"
    "  Debian/Ubuntu: sudo apt-get install bubblewrap\n"
    "  Fedora/RHEL:   sudo dnf install bubblewrap\n"
    "  user namespaces: sudo sysctl -w kernel.unprivileged_userns_clone=1 (Debian) or\n"
    "                   sudo sysctl -w user.max_user_namespaces=15000\n"
    "Inside Docker, run the container with --security-opt seccomp=unconfined (or --privileged).\n"
    "To grade without a sandbox anyway (trusted submissions only): add --no-sandbox."
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap or user namespaces are missing."""


@dataclass
class SandboxPolicy:
    """What a sandboxed kernel may see and use.

    Parameters
    ----------
    hidden : list of Path
        Folders replaced by an empty tmpfs (course root, submissions, scratch space, home).
    memory_mb : int
        Memory limit of the whole sandbox (kernel and its children).
    max_processes : int
        Largest number of processes/threads in the sandbox at once.
    """

    hidden: list[Path] = field(default_factory=list)
    memory_mb: int = 4096
    max_processes: int = 256

    def exposed(self) -> list[Path]:
        """Paths under a hidden folder that the kernel still needs (interpreter, ethicskit)."""
        import ethicskit

        needed = {
            Path(sys.prefix).resolve(),
            Path(sys.base_prefix).resolve(),
            Path(sys.executable).resolve().parent.parent,
            Path(ethicskit.__file__).resolve().parent,
        }
        needed.update(Path(p).resolve() for p in sys.path if p and Path(p).is_dir() and "site-packages" in p)
        # /tmp is always replaced by a private tmpfs, so an environment or checkout under /tmp
        # (a CI clone, say) must be bound back just like one under a hidden folder.
        covered = [*self.hidden, Path("/tmp")]
        out: list[Path] = []
        for path in sorted(needed):
            if any(_is_under(path, h) for h in covered) and not any(_is_under(path, o) for o in out):
                out.append(path)
        return out


def _is_under(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


# What every sandbox (and the probe that tests whether one can start) shares: fresh namespaces,
# the unprivileged uid/gid 65534, a read-only view of the filesystem, private /dev and /proc.
_ISOLATION = [
    "--unshare-all", "--uid", "65534", "--gid", "65534",
    "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
]


def sandbox_problem() -> str | None:
    """Return why the sandbox cannot run here, or None when it can (runs a tiny bwrap probe)."""
    if not Path(BWRAP).exists() and not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed.\n" + INSTALL_HELP
    try:
        probe = subprocess.run(
            [_bwrap(), *_ISOLATION, "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start: {error}\n" + INSTALL_HELP
    if probe.returncode != 0:
        return f"bubblewrap failed: {probe.stderr.strip()}\n" + INSTALL_HELP
    return None


def _bwrap() -> str:
    return BWRAP if Path(BWRAP).exists() else (shutil.which("bwrap") or "bwrap")


def bwrap_command(command: list[str], *, policy: SandboxPolicy, writable: list[Path], cwd: Path) -> list[str]:
    """Wrap ``command`` in bubblewrap following ``policy``; ``writable`` folders stay writable."""
    args = [_bwrap(), *_ISOLATION, "--die-with-parent", "--new-session", "--tmpfs", "/tmp"]
    if Path("/sys/class/net").exists():
        args += ["--tmpfs", "/sys/class/net"]
    for hidden in policy.hidden:
        if Path(hidden).exists():
            args += ["--tmpfs", str(hidden)]
    for path in policy.exposed():
        args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    args += [
        "--chdir",
        str(cwd),
        "--unsetenv",
        "JPY_PARENT_PID",
        "--setenv",
        "HOME",
        str(cwd),
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--setenv",
        "MPLCONFIGDIR",
        "/tmp",
        "--setenv",
        "HF_HUB_OFFLINE",
        "1",
        "--setenv",
        "TRANSFORMERS_OFFLINE",
        "1",
        "--setenv",
        "TQDM_DISABLE",
        "1",
        "--",
    ]
    return args + list(command)


#: set (to "1") in the recheck's environment when it runs sandboxed: its runner is then isolated too
RUNNER_ISOLATION_ENV = "ETHICSKIT_ISOLATE_RUNNER"


def runner_hidden_files() -> list[Path]:
    """What student code must not read while it runs for a hidden check.

    The bundled data sets (so held-out rows cannot be looked up) and the checks' hidden modules
    (``ethicskit/checks/_hidden*.py``: reference implementations and hidden inputs).
    """
    import ethicskit

    package = Path(ethicskit.__file__).resolve().parent
    files = [p for p in (package / "datasets" / "data").glob("*") if p.is_file()]
    return files + sorted((package / "checks").glob("_hidden*.py"))


class CgroupLimits:
    """A pair of cgroups (memory, pids) for one sandbox; a no-op where cgroups cannot be created."""

    V1 = Path("/sys/fs/cgroup")

    def __init__(self, *, memory_mb: int, max_processes: int):
        self.memory_mb = int(memory_mb)
        self.max_processes = int(max_processes)
        self.name = f"ethicskit-{uuid.uuid4().hex[:12]}"
        self.paths: list[Path] = []
        self.mode = "none"

    def create(self) -> CgroupLimits:
        """Create the cgroups; sets ``mode`` to 'cgroup-v1', 'cgroup-v2' or 'prlimit'."""
        memory, pids = self.V1 / "memory", self.V1 / "pids"
        try:
            if memory.is_dir() and pids.is_dir() and (memory / "cgroup.procs").exists():
                mem = memory / self.name
                pid = pids / self.name
                mem.mkdir()
                self.paths.append(mem)
                pid.mkdir()
                self.paths.append(pid)
                (mem / "memory.limit_in_bytes").write_text(str(self.memory_mb * 1024 * 1024))
                swap = mem / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    try:
                        swap.write_text(str(self.memory_mb * 1024 * 1024))
                    except OSError:
                        pass
                (pid / "pids.max").write_text(str(self.max_processes))
                self.mode = "cgroup-v1"
                return self
            if (self.V1 / "cgroup.controllers").exists():
                group = self.V1 / self.name
                group.mkdir()
                self.paths.append(group)
                (group / "memory.max").write_text(str(self.memory_mb * 1024 * 1024))
                (group / "memory.swap.max").write_text("0")
                (group / "pids.max").write_text(str(self.max_processes))
                self.mode = "cgroup-v2"
                return self
        except OSError:
            self.remove()
        self.mode = "prlimit"
        return self

    def wrap(self, command: list[str]) -> list[str]:
        """Prefix ``command`` so that it starts inside the cgroups (or under prlimit)."""
        if self.mode.startswith("cgroup"):
            joins = "; ".join(f'echo $$ > "{p}/cgroup.procs"' for p in self.paths)
            return ["/bin/sh", "-c", f'{joins} && exec "$@"', "ethicskit-sandbox", *command]
        if self.mode == "prlimit" and shutil.which("prlimit"):
            # RLIMIT_AS counts virtual memory (generous factor); RLIMIT_NPROC counts per uid (weak).
            return [
                "prlimit",
                f"--as={self.memory_mb * 4 * 1024 * 1024}",
                f"--nproc={self.max_processes}",
                *command,
            ]
        return list(command)

    def killed_by_memory(self) -> bool:
        """Whether the memory limit was hit (the OOM killer acted) in this sandbox."""
        for path in self.paths:
            for name in ("memory.oom_control", "memory.events"):
                file = path / name
                if file.exists():
                    text = file.read_text()
                    for line in text.splitlines():
                        key, _, value = line.partition(" ")
                        if key in ("oom_kill", "oom") and value.strip() not in ("", "0"):
                            return True
            fail = path / "memory.failcnt"
            if fail.exists() and fail.read_text().strip() not in ("", "0"):
                return True
        return False

    def hit_process_limit(self) -> bool:
        """Whether a fork was refused because of the process limit."""
        for path in self.paths:
            for name in ("pids.events",):
                file = path / name
                if file.exists() and any(
                    line.startswith("max ") and line.split()[1] != "0"
                    for line in file.read_text().splitlines()
                ):
                    return True
        return False

    def kill_all(self) -> None:
        """SIGKILL every process left in the cgroups."""
        import signal

        for path in self.paths:
            procs = path / "cgroup.procs"
            for _ in range(200):
                try:
                    pids = [int(x) for x in procs.read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass

    def remove(self) -> None:
        """Kill what is left and delete the cgroups."""
        import time

        self.kill_all()
        for path in reversed(self.paths):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)
        self.paths = []


class QuickReadyKernelClient(AsyncKernelClient):
    """jupyter_client's async client, minus the idle wait at the end of every kernel start.

    ``wait_for_ready`` in jupyter_client ends by draining IOPub until it has been silent for 0.2 s. For
    a grader that starts one kernel per submission, on two cores, those idle fractions of a second
    add up to a quarter of the machine. nbclient ignores IOPub messages that do not answer one of its
    own requests, so draining what is already queued is enough.
    """

    async def _ready_once(self) -> bool:
        import queue

        self.kernel_info()
        try:
            reply = await self.shell_channel.get_msg(timeout=1)
        except queue.Empty:
            return False
        if reply["msg_type"] != "kernel_info_reply":
            return False
        try:  # IOPub is connected once the kernel's status for this request arrives
            await self.iopub_channel.get_msg(timeout=0.2)
        except queue.Empty:
            return False
        self._handle_kernel_info_reply(reply)
        return True

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        import queue
        import time

        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while not await self._ready_once():
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0.01)
            except queue.Empty:
                return


class PlainIpcKernelManager(AsyncKernelManager):
    """A kernel manager talking over ZeroMQ ``ipc`` sockets in a private runtime folder."""

    client_class = DottedObjectName("ethicskit.course.sandbox.QuickReadyKernelClient")
    client_factory = Type(klass=QuickReadyKernelClient)
    runtime = AnyTrait(None, allow_none=True, help="folder for the connection file and ipc sockets")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        folder = Path(self.runtime or os.environ.get("ETHICSKIT_RUNTIME_DIR") or "/tmp")
        key = uuid.uuid4().hex[:10]
        self.ip = str(folder / f"k{key}")
        self.connection_file = str(folder / f"kernel-{key}.json")

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        # the kernel's own console chatter (and anything a student writes to fd 1/2) stays out of the log
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        await super()._async_launch_kernel(kernel_cmd, **kw)

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec


class SandboxKernelManager(PlainIpcKernelManager):
    """An ipc kernel manager that starts the kernel inside bubblewrap with cgroup limits.

    Configure through class attributes set by the grader before the kernel starts
    (``policy``, ``writable``, ``cwd``, ``limits``).
    """

    policy = AnyTrait(None, allow_none=True)
    writable = AnyTrait(None, allow_none=True)
    workdir = AnyTrait(None, allow_none=True)
    limits = AnyTrait(None, allow_none=True)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        command[0] = sys.executable if Path(command[0]).name.startswith("python") else command[0]
        wrapped = bwrap_command(
            command, policy=self.policy, writable=list(self.writable), cwd=Path(self.workdir)
        )
        return self.limits.wrap(wrapped) if self.limits is not None else wrapped
