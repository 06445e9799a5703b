"""Hide files from the current process with a user and mount namespace of its own (Linux).

What ``bwrap --unshare-user --ro-bind /dev/null FILE`` does for a new process, done by a process to
itself: it moves into a new user namespace (mapping its own uid and gid, nothing more) and a new mount
namespace, then binds ``/dev/null`` over each file, so the files read as empty from then on, for it and
its children; nothing outside changes. The recheck uses it in the runner it forks after its heavy
imports (:mod:`ethicskit.course.proxy`), where starting a new interpreter under bubblewrap would pay
those imports again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["IsolationError", "hide_files"]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18


class IsolationError(OSError):
    """The kernel refused a namespace or a mount (e.g. unprivileged user namespaces are disabled)."""


def _libc():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise IsolationError(error, f"{what}: {os.strerror(error)}")


def hide_files(paths: Iterable[Path]) -> None:
    """Make every existing file in ``paths`` read as empty (a folder: as an empty folder) from now on.

    For this process and its children; the working directory becomes ``/``.

    Must be called in a single-threaded process (the kernel refuses a new user namespace otherwise),
    e.g. right after ``os.fork()``.

    Raises
    ------
    IsolationError
        When the namespaces or mounts are refused; the caller must then not run untrusted code.
    """
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making mounts private")
    for path in paths:
        if Path(path).is_file():
            _check(libc.mount(b"/dev/null", os.fsencode(path), None, MS_BIND, None), f"hiding {path}")
        elif Path(path).is_dir():
            _check(libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, None), f"hiding {path}")
    os.chdir("/")  # a working directory inside a hidden folder would still reach what lies beneath
