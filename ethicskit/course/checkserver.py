"""A warm check process per grading worker: the recheck without paying its imports per submission.

Starting the recheck afresh costs a Python start and the imports of numpy, pandas, scikit-learn (and
torch for some labs) for every submission, more than many labs' checks themselves. Instead, each
grading worker starts one *check server* in a bubblewrap sandbox of its own (the same policy as the
recheck: the course, the submissions and the source checkout hidden, no network, the limits' cgroup)
that imports those once, then, for each submission:

1. forks a child, which forks the runners (student code, in their own user and mount namespace where
   the bundled data, the checks' hidden modules and the whole grading scratch folder are empty) and
   only then reads the job file and runs the checks (:func:`ethicskit.course.recheck.run_jobs`);
2. waits for it, then kills every other process left in its pid namespace and empties ``/tmp``, so
   nothing of one submission survives into the next.

The worker gives each job a time limit; past it, the whole server is killed and a fresh one is
started for the next submission. A server that dies (a memory kill) is restarted the same way.
Protocol: one JSON line per job on stdin (``{"job", "runners", "result"}``), one JSON line per
finished job on stdout (``{"status"}``); the verdicts are written to the ``result`` file.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["CheckServer", "serve"]


def _kill_others() -> None:
    """Kill every process of this pid namespace but this one and its init (bwrap)."""
    me = os.getpid()
    for _ in range(20):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in others:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.01)


def _empty_tmp(keep: list[str]) -> None:
    """Remove what the last job left in this sandbox's private ``/tmp``, except ``keep`` (bound folders)."""
    kept = [Path(k).resolve() for k in keep]
    for item in Path("/tmp").iterdir():
        if os.path.ismount(item) or any(k == item or item in k.parents for k in kept):
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def _write_verdicts(path: Path, verdicts: list[dict]) -> None:
    """Replace ``path`` with ``verdicts`` in one step (a reader never sees half a file)."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(verdicts))
    partial.replace(path)


def _child(request: dict, hide_dirs: list[str]) -> int:
    from ethicskit.course.recheck import run_jobs

    os.setsid()
    result = Path(request["result"])
    # each finished cell is written at once: if a later cell outlasts the job's time limit, the
    # worker still has the verdicts of the cells before it
    verdicts = run_jobs(
        request["job"],
        int(request["runners"]),
        hide_dirs=hide_dirs,
        call_timeout=request.get("call_timeout"),
        on_verdict=lambda so_far: _write_verdicts(result, so_far),
    )
    _write_verdicts(result, verdicts)
    return 0


def serve(argv: list[str] | None = None) -> int:
    """The server's loop: ``python -m ethicskit.course.checkserver SCRATCH_ROOT [PRELOAD,...]``."""
    from ethicskit.course.recheck import _preload

    args = sys.argv[1:] if argv is None else argv
    hide_dirs = [args[0]]
    _preload([m for m in (args[1].split(",") if len(args) > 1 else []) if m])
    out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(request, hide_dirs)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        _kill_others()
        _empty_tmp(hide_dirs)
        out.write(json.dumps({"status": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()
    return 0


class CheckServer:
    """The grading worker's handle on its warm check server (started on first use).

    Parameters
    ----------
    command : list of str
        The full command that starts the server in its sandbox (bwrap, cgroup join, python -m ...).
    key : tuple
        What the server was started for (sandbox policy, scratch folder, limits, preload): a task with
        another key gets a new server.
    """

    #: seconds a server may take to import what it preloads
    START_TIMEOUT = 300

    def __init__(self, command: list[str], key: tuple, env: dict, *, wait: bool = True):
        self.key = key
        self.ready = False
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            text=True,
        )
        if wait and not self.wait_ready():
            raise RuntimeError("the check server did not start")

    def wait_ready(self) -> bool:
        """Wait for the server's imports to finish (it may have been started while a kernel ran)."""
        if not self.ready:
            self.ready = self._read(timeout=self.START_TIMEOUT) is not None
            if not self.ready:
                self.close()
        return self.ready

    def _read(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        return json.loads(line) if line.strip() else None

    def alive(self) -> bool:
        return self.process.poll() is None

    def check(
        self, job: Path, runners: int, result: Path, timeout: float, call_timeout: float | None = None
    ) -> str | None:
        """Run one job; return None when all its verdicts are in ``result``, else what went wrong.

        When something went wrong, ``result`` may still hold the verdicts of the cells that finished.
        ``call_timeout`` bounds each call into the student's code.
        """
        if not self.wait_ready():
            return "the check process did not start"
        request = {"job": str(job), "runners": runners, "result": str(result), "call_timeout": call_timeout}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            return "the check process died"
        reply = self._read(timeout)
        if reply is None:
            died = not self.alive()
            self.close()
            return "the check process died" if died else "the recheck ran out of time"
        if reply.get("status") != 0 or not result.exists():
            return f"the recheck process failed (exit {reply.get('status')})"
        return None

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                self.process.kill()
        self.process.wait()


if __name__ == "__main__":
    sys.exit(serve())
