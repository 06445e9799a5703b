"""Runs inside the student's kernel, just before an autograded test cell: pickle the variables it names."""

from __future__ import annotations

__all__ = ["save"]


def save(names: list[str], path: str) -> None:
    """Write ``{name: cloudpickle bytes or None}`` for each of ``names`` in the kernel's namespace."""
    import pickle

    import cloudpickle
    from IPython import get_ipython

    namespace = get_ipython().user_ns
    blobs: dict[str, bytes | None] = {}
    problems: dict[str, str] = {}
    for name in names:
        if name not in namespace:
            continue
        try:
            blobs[name] = cloudpickle.dumps(namespace[name])
        except Exception as error:  # unpicklable: the recheck reports it
            blobs[name] = None
            problems[name] = f"{type(error).__name__}: {error}"[:300]
    with open(path, "wb") as handle:
        pickle.dump({"blobs": blobs, "problems": problems}, handle)
