"""The sandbox itself: bubblewrap command line, what the kernel can see, cgroup limits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ethicskit.course.sandbox import CgroupLimits, SandboxPolicy, bwrap_command, sandbox_problem

PROBLEM = sandbox_problem()
needs_sandbox = pytest.mark.skipif(PROBLEM is not None, reason=f"no sandbox here: {PROBLEM}")


def test_bwrap_command_hides_and_exposes(tmp_path):
    secret = tmp_path / "course"
    command = bwrap_command(
        ["python"], policy=SandboxPolicy(hidden=[secret]), writable=[tmp_path / "w"], cwd=tmp_path / "w"
    )
    assert command[:2] == [command[0], "--unshare-all"] and "--die-with-parent" in command
    assert ["--uid", "65534"] == command[command.index("--uid") : command.index("--uid") + 2]
    assert "JPY_PARENT_PID" in command and command[-1] == "python"


@needs_sandbox
def test_sandboxed_python_sees_no_network_no_secrets_and_cannot_write(tmp_path):
    secret = tmp_path / "course"
    secret.mkdir()
    (secret / "gradebook.db").write_text("grades")
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)
    probe = (
        "import os, socket, pathlib\n"
        "print('uid', os.getuid())\n"
        f"print('secret', pathlib.Path({str(secret / 'gradebook.db')!r}).exists())\n"
        "print('net', os.listdir('/sys/class/net'))\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); print('connected')\n"
        "except OSError:\n    print('no network')\n"
        "try:\n    open('/etc/ethicskit-probe', 'w'); print('wrote /etc')\n"
        "except OSError:\n    print('read-only')\n"
        "open('ok.txt', 'w').write('1'); print('work ok')\n"
    )
    command = bwrap_command(
        [sys.executable, "-c", probe], policy=SandboxPolicy(hidden=[secret]), writable=[work], cwd=work
    )
    out = subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
    assert "uid 65534" in out and "secret False" in out and "net []" in out
    assert "no network" in out and "read-only" in out and "work ok" in out
    assert (work / "ok.txt").exists() and not Path("/etc/ethicskit-probe").exists()


@needs_sandbox
def test_cgroup_limits_stop_a_fork_bomb_and_a_memory_hog():
    limits = CgroupLimits(memory_mb=200, max_processes=16).create()
    if not limits.mode.startswith("cgroup"):
        pytest.skip("cgroups cannot be created here; prlimit fallback only")
    try:
        fork = (
            "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            os.close(1); os.close(2); import time; time.sleep(30)\n"
            "        n += 1\nexcept OSError:\n    print('refused after', n)\n"
        )
        out = subprocess.run(
            limits.wrap([sys.executable, "-c", fork]), capture_output=True, text=True, timeout=60
        )
        assert "refused after" in out.stdout
        assert int(out.stdout.split()[-1]) < 16
        assert limits.hit_process_limit()
        limits.kill_all()
        hog = "x = []\nwhile True:\n    x.append(b'x' * 2**24)\n"
        done = subprocess.run(limits.wrap([sys.executable, "-c", hog]), capture_output=True, timeout=60)
        assert done.returncode != 0 and limits.killed_by_memory()
    finally:
        limits.remove()
    assert not any(p.exists() for p in limits.paths)
