"""The untrusted half of the recheck: holds the student's functions and objects and runs them.

Started by :class:`ethicskit.course.proxy.Runner` (inside the same sandbox). Requests and replies
are length-prefixed pickles on stdin/stdout; replies are built only from str, int, bytes and None,
so the trusted side can read them with its data-only unpickler. The student's prints go nowhere.
"""

from __future__ import annotations

import io
import operator
import os
import pickle
import struct
import sys

__all__ = ["main", "forbid", "ForbiddenHelper"]

OPERATIONS = {
    "call": lambda obj, *a, **k: obj(*a, **k),
    "getattr": getattr,
    "setattr": setattr,
    "getitem": operator.getitem,
    "setitem": operator.setitem,
    "len": len,
    "list": list,
    "contains": operator.contains,
    "bool": bool,
    "eq": operator.eq,
    "hash": hash,
    "float": float,
    "int": int,
    "str": str,
    "repr": repr,
    "kind": lambda obj: "class" if isinstance(obj, type) else "object",
    "name": lambda obj: getattr(obj, "__name__", type(obj).__name__),
    "code": lambda obj: __import__("marshal").dumps(obj.__code__),
}


def _generator_states(args: tuple, kwargs: dict) -> bytes | None:
    """The states of random generators passed to a call, so the caller's generators advance too."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return None
    states = []
    for key, value in list(enumerate(args)) + list(kwargs.items()):
        if isinstance(value, np.random.Generator):
            states.append((key, "generator", value.bit_generator.state))
        elif isinstance(value, np.random.RandomState):
            states.append((key, "randomstate", value.get_state()))
    return pickle.dumps(states, protocol=4) if states else None


class ForbiddenHelper(RuntimeError):
    """Raised when student code uses a helper the part must be solved without."""


def _resolve(name: str):
    import importlib

    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def forbid(names: list[str]) -> None:
    """Replace every reference to each named object, in every loaded module, by a stub that raises."""
    for name in names:
        real = _resolve(name)

        def stub(*args, _name=name, **kwargs):
            raise ForbiddenHelper(f"{_name} may not be used in this part: write it yourself")

        for module in list(sys.modules.values()):
            try:
                items = list(vars(module).items())
            except TypeError:
                continue
            for attr, value in items:
                if value is real:
                    try:
                        setattr(module, attr, stub)
                    except (AttributeError, TypeError):
                        pass


def main() -> int:
    """Serve requests until stdin closes."""
    import warnings

    import cloudpickle

    warnings.simplefilter("ignore")
    _len, _str, _type = len, str, type  # the student's code may replace builtins; the loop keeps its own
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdout = io.StringIO()
    registry: dict[int, object] = {}
    counter = [10**9]

    class Loader(pickle.Unpickler):
        def persistent_load(self, pid):
            return registry[pid]

    def reply(message: tuple) -> None:
        payload = pickle.dumps(message, protocol=4)
        channel_out.write(struct.pack("!Q", _len(payload)) + payload)
        channel_out.flush()

    while True:
        head = channel_in.read(8)
        if _len(head) < 8:
            return 0
        (size,) = struct.unpack("!Q", head)
        request = Loader(io.BytesIO(channel_in.read(size))).load()
        try:
            if request[0] == "forbid":
                forbid(request[1])
                reply(("ok", 0, None))
                continue
            if request[0] == "load":
                _, hid, blob = request
                registry[hid] = cloudpickle.loads(blob)
                reply(("ok", hid, None))
                continue
            _, hid, name, args, kwargs = request
            result = OPERATIONS[name](registry[hid], *args, **kwargs)
            states = _generator_states(args, kwargs) if name == "call" else None
        except BaseException as error:  # noqa: BLE001 - reported to the trusted side as the student's error
            lineage = [(_str(k.__module__), _str(k.__qualname__)) for k in _type(error).__mro__]
            reply(("error", _type(error).__name__, _str(error)[:500], lineage))
            continue
        counter[0] += 1
        registry[counter[0]] = result
        try:
            blob = cloudpickle.dumps(result)
        except Exception:  # noqa: BLE001 - stays here, the trusted side gets a handle
            blob = None
        reply(("value", counter[0], blob, states))


if __name__ == "__main__":
    sys.exit(main())
