"""Keep the student's code out of the process that decides the verdict.

The recheck process (trusted) loads each snapshot with :class:`SafeUnpickler`, which builds only
*data*: classes and reconstruction helpers of numpy, pandas, scikit-learn, scipy, torch, fairlearn,
ethicskit and a few other libraries, and plain builtins. It can run no code the student wrote. A
variable that needs code (a function, a class or an object defined in the notebook) is loaded
instead in a separate *runner* process (:mod:`ethicskit.course.runner`) and appears in the
recheck as a :class:`Handle` (or, for a class, a proxy class). Calling it, reading its attributes,
indexing it... are requests to the runner; what comes back goes through :class:`SafeUnpickler` again,
so data returns as data and anything else as another handle. The student's code can make its own
answers wrong or right, but cannot touch ethicskit.checks, builtins or the verdict.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

__all__ = [
    "Forbidden",
    "SafeUnpickler",
    "safe_loads",
    "Runner",
    "Handle",
    "StudentCodeError",
    "snapshot_digest",
]

#: libraries whose classes snapshots may hold, and whose exceptions a student's may derive from
LIBRARIES = ("numpy", "pandas", "sklearn", "scipy", "torch", "fairlearn", "ethicskit")
SAFE_PACKAGES = {
    *LIBRARIES,
    "collections",
    "datetime",
    "decimal",
    "fractions",
    "shap",
    "lime",
    "transformers",
    "tokenizers",
    "matplotlib",
    "uuid",
    "enum",
    "pathlib",
    "re",
    "zoneinfo",
    "dateutil",
    "pytz",
    "cryptography",
    "opacus",
    "codecarbon",
    "huggingface_hub",
}
UNSAFE_MODULES = ("ethicskit.course",)
SAFE_BUILTINS = {
    "object",
    "list",
    "dict",
    "set",
    "frozenset",
    "tuple",
    "int",
    "float",
    "complex",
    "str",
    "bytes",
    "bytearray",
    "bool",
    "slice",
    "range",
    "NoneType",
    "Ellipsis",
    "NotImplemented",
}
HELPER_PREFIXES = (
    "_rebuild",
    "_reconstruct",
    "_unpickle",
    "__pyx_unpickle",
    "_new_",
    "_frombuffer",
    "_timedelta_unpickle",
    "_restore",
)
HELPER_NAMES = {"scalar", "new_block", "_get_layout", "dtype", "_reconstructor", "_load_from_bytes", "encode"}


class Forbidden(pickle.UnpicklingError):
    """The pickle needs something that is not plain data (student code, or a function)."""


def _torch_load_from_bytes(blob: bytes):
    import torch

    return torch.load(io.BytesIO(blob), weights_only=True)


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds data only (see the module docstring)."""

    def find_class(self, module: str, name: str):
        if module == "builtins":
            if name in SAFE_BUILTINS:
                return super().find_class(module, name)
            raise Forbidden(f"{module}.{name}")
        if (module, name) == ("copyreg", "_reconstructor") or (module, name) == ("_codecs", "encode"):
            return super().find_class(module, name)
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _torch_load_from_bytes  # torch's own helper loads with weights_only=False
        top = module.split(".")[0]
        if top not in SAFE_PACKAGES or module.startswith(UNSAFE_MODULES):
            raise Forbidden(f"{module}.{name}")
        obj = super().find_class(module, name)
        if isinstance(obj, type):
            origin = getattr(obj, "__module__", "") or ""
            if origin.split(".")[0] in SAFE_PACKAGES or origin == "builtins" or origin.startswith("_"):
                return obj
            raise Forbidden(f"{module}.{name} (defined in {origin})")
        if name in HELPER_NAMES or name.startswith(HELPER_PREFIXES):
            return obj
        if top == "torch" and type(obj).__name__ in ("dtype", "layout", "memory_format", "device"):
            return obj  # torch.float32 and the like are pickled by name
        raise Forbidden(f"{module}.{name}")

    def persistent_load(self, pid):
        raise Forbidden("persistent id")


def safe_loads(blob: bytes):
    """Load ``blob`` as data only; raise :class:`Forbidden` when it needs code."""
    return SafeUnpickler(io.BytesIO(blob)).load()


class StudentCodeError(Exception):
    """The student's code raised an exception (in the runner process)."""


def _send(stream, payload: bytes) -> None:
    stream.write(struct.pack("!Q", len(payload)) + payload)
    stream.flush()


def _receive(stream) -> bytes:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the runner process ended")
    (size,) = struct.unpack("!Q", head)
    return stream.read(size)


class Runner:
    """The untrusted process that holds and runs the student's code for one recheck."""

    def __init__(self, timeout: float = 60):
        self.timeout = timeout
        self.process = None
        self.next_id = 0
        self.dead: str | None = None

    @classmethod
    def forked(cls, *, timeout: float = 60, hide: list[Path] | None = None) -> Runner:
        """A runner forked from this (already warm) process instead of a new interpreter.

        The child inherits what this process imported (numpy, pandas, scikit-learn, ...), so it starts
        at once. Call it before this process reads anything secret (test sources, hidden inputs): the
        child gets a copy of this process's memory. With ``hide``, the child first makes those files
        read as empty (:func:`ethicskit.course.isolate.hide_files`); if the kernel refuses, the child
        exits and every request fails, so the student's code never runs unisolated.
        """
        runner = cls(timeout=timeout)
        runner.process = _ForkedProcess(hide)
        return runner

    def _start(self):
        """A runner in a new interpreter (the recheck forks warm ones instead: :meth:`forked`)."""
        # a plain environment: nothing in it tells the student's code that it runs for grading
        env = {k: os.environ[k] for k in _ForkedProcess.KEEP_ENV if k in os.environ}
        env["PYTHONWARNINGS"] = "ignore"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ethicskit.course.runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def request(self, message: tuple):
        """Send one request; return the runner's reply tuple (loaded as data only)."""
        import select

        if self.dead:
            raise StudentCodeError(f"the student's code is no longer running ({self.dead})")
        if self.process is None:
            self._start()
        import cloudpickle

        buffer = io.BytesIO()
        pickler = cloudpickle.Pickler(buffer)
        pickler.persistent_id = lambda obj: (
            obj._hid
            if isinstance(obj, Handle)
            else (
                obj._hid
                if isinstance(obj, type) and issubclass(obj, Handle) and "_hid" in vars(obj)
                else None
            )
        )
        try:
            pickler.dump(message)
            _send(self.process.stdin, buffer.getvalue())
            ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
            if not ready:
                raise TimeoutError
            reply = safe_loads(_receive(self.process.stdout))
        except TimeoutError:
            self.close("it ran past the time limit")
            raise StudentCodeError("the student's code ran past the time limit") from None
        except (EOFError, BrokenPipeError, OSError, pickle.UnpicklingError):
            self.close("it crashed")
            raise StudentCodeError("the student's code crashed") from None
        return reply

    def forbid(self, names: list[str]) -> None:
        """Make each dotted name (e.g. ``ethicskit.fairness.reweighing_weights``) raise when used.

        Must come before any :meth:`load`: the student's objects find their helpers when they are
        loaded, and then find the forbidden stub, under whatever alias they gave it.
        """
        reply = self.request(("forbid", list(names)))
        if reply[0] == "error":
            raise ValueError(f"cannot forbid {names}: {reply[2]}")

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def load(self, blob: bytes):
        """Load a snapshot blob: data comes back as data, anything else as a handle or proxy class."""
        try:
            return safe_loads(blob)
        except Forbidden:
            pass
        hid = self.new_id()
        self.request(("load", hid, blob))
        loaded = self.wrap(hid)
        if isinstance(loaded, Handle):  # what it was loaded from, for checks that cache by content
            object.__setattr__(loaded, "_digest", hashlib.blake2b(blob, digest_size=16).hexdigest())
        return loaded

    def wrap(self, hid: int):
        kind = self.request(("op", hid, "kind", (), {}))
        value = self._value(kind)
        if value == "class":
            name = self._value(self.request(("op", hid, "name", (), {})))
            return _RemoteType(str(name), (Handle,), {"_hid": hid, "_runner": self})
        return Handle(hid, self)

    def _value(self, reply):
        status = reply[0]
        if status == "error":
            raise _exception(*reply[1:])
        hid, blob = reply[1], reply[2]
        if blob is not None:
            try:
                return safe_loads(blob)
            except Exception:  # noqa: BLE001 - not plain data: keep it in the runner
                pass
        return self.wrap(hid) if status == "value" else Handle(hid, self)

    def op(self, hid: int, name: str, *args, **kwargs):
        """Apply the runner-side operation ``name`` to object ``hid``; return data or a handle."""
        reply = self.request(("op", hid, name, args, kwargs))
        if reply[0] == "value" and len(reply) > 3 and reply[3] is not None:
            _sync_generators(safe_loads(reply[3]), args, kwargs)
        return self._value(reply)

    def close(self, reason: str = "closed") -> None:
        self.dead = self.dead or reason
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class _ForkedProcess:
    """A child that runs :func:`ethicskit.course.runner.main` on two pipes (a Popen look-alike)."""

    KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")

    def __init__(self, hide: list[Path] | None):
        to_child, from_parent = os.pipe()
        from_child, to_parent = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(from_parent)
                os.close(from_child)
                os.dup2(to_child, 0)
                os.dup2(to_parent, 1)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.setsid()
                kept = {k: os.environ[k] for k in self.KEEP_ENV if k in os.environ}
                os.environ.clear()
                os.environ.update(kept, PYTHONWARNINGS="ignore")
                if hide is not None:
                    from ethicskit.course.isolate import hide_files

                    hide_files(hide)
                from ethicskit.course.runner import main

                code = main()
            finally:
                os._exit(code or 0)
        os.close(to_child)
        os.close(to_parent)
        self.stdin = os.fdopen(from_parent, "wb")
        self.stdout = os.fdopen(from_child, "rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.pid, 9)
        except OSError:
            pass

    def wait(self) -> int | None:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _sync_generators(states: list, args: tuple, kwargs: dict) -> None:
    """Advance the caller's random generators as the student's code advanced its copies (by value)."""
    for key, kind, state in states:
        target = args[key] if isinstance(key, int) else kwargs.get(key)
        if kind == "generator":
            target.bit_generator.state = state
        else:
            target.set_state(state)


#: packages whose exception classes a student's exception may derive from and still be caught as
TRUSTED_EXCEPTION_ROOTS = {"builtins", *LIBRARIES}


def _base_exception(module: str, qualname: str) -> type | None:
    """The trusted exception class ``module.qualname``, if it is one (AssertionError never is)."""
    import importlib

    if module.split(".")[0] not in TRUSTED_EXCEPTION_ROOTS or module.startswith("ethicskit.course"):
        return None
    try:
        kind = importlib.import_module(module)
        for part in qualname.split("."):
            kind = getattr(kind, part)
    except Exception:  # noqa: BLE001 - not importable here: try the next base
        return None
    if isinstance(kind, type) and issubclass(kind, Exception) and not issubclass(kind, AssertionError):
        return kind
    return None


def _exception(name: str, message: str, lineage: list | tuple = ()) -> Exception:
    """The student's exception, rebuilt with its class hierarchy as far as trusted classes go.

    A ``BudgetExceededError(ValueError)`` defined in the notebook comes back as a class of that name
    deriving from ``ValueError``, so a check's ``except ValueError`` catches it as in the notebook.
    Assertion errors never pass (a student's code must not look like a failed check).
    """
    for module, qualname in list(lineage) or [("builtins", name)]:
        base = _base_exception(str(module), str(qualname))
        if base is None:
            continue
        try:
            if base.__module__ == "builtins" and base.__name__ == name:
                return base(message)
            return type(str(name), (base,), {"__module__": "student"})(message)
        except Exception:  # noqa: BLE001 - a base that needs other arguments: try the next one
            continue
    return StudentCodeError(f"{name}: {message}" if message else name)


DATA_DUNDERS = {"__name__", "__qualname__", "__doc__", "__module__", "__defaults__", "__kwdefaults__"}


class _RemoteType(type):
    """Metaclass of proxy classes: class attributes and instantiation go to the runner."""

    def __call__(cls, *args, **kwargs):
        return cls._runner.op(cls._hid, "call", *args, **kwargs)

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return cls._runner.op(cls._hid, "getattr", name)


def snapshot_digest(obj) -> str | None:
    """The digest of the snapshot bytes a handle was loaded from (None for anything else).

    Two test cells whose snapshots hold the same bytes for a variable hold the same object, in the
    same state: a check may reuse what it computed from one for the other.
    """
    if not isinstance(obj, Handle):
        return None
    try:
        return object.__getattribute__(obj, "_digest")
    except AttributeError:  # a handle returned by a call, not loaded from a snapshot
        return None


class Handle:
    """An object living in the runner process (the student's function, object...)."""

    def __init__(self, hid: int, runner: Runner):
        object.__setattr__(self, "_hid", hid)
        object.__setattr__(self, "_runner", runner)

    def __getattr__(self, name):
        if name == "__code__":  # checks may inspect the code (names used): a code object is data, never run
            import marshal

            return marshal.loads(self._runner.op(self._hid, "code"))
        if name.startswith("__") and name not in DATA_DUNDERS:
            raise AttributeError(name)
        return self._runner.op(self._hid, "getattr", name)

    def __setattr__(self, name, value):
        self._runner.op(self._hid, "setattr", name, value)

    def __call__(self, *args, **kwargs):
        return self._runner.op(self._hid, "call", *args, **kwargs)

    def __getitem__(self, key):
        return self._runner.op(self._hid, "getitem", key)

    def __setitem__(self, key, value):
        self._runner.op(self._hid, "setitem", key, value)

    def __len__(self):
        return int(self._runner.op(self._hid, "len"))

    def __iter__(self):
        return iter(self._runner.op(self._hid, "list"))

    def __contains__(self, item):
        return bool(self._runner.op(self._hid, "contains", item))

    def __bool__(self):
        return bool(self._runner.op(self._hid, "bool"))

    def __eq__(self, other):
        return self._runner.op(self._hid, "eq", other)

    def __hash__(self):
        return int(self._runner.op(self._hid, "hash"))

    def __float__(self):
        return float(self._runner.op(self._hid, "float"))

    def __int__(self):
        return int(self._runner.op(self._hid, "int"))

    def __str__(self):
        return str(self._runner.op(self._hid, "str"))

    def __repr__(self):
        return str(self._runner.op(self._hid, "repr"))
