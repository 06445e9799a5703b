"""One gradebook writer at a time, across instructors and machines.

nbgrader's gradebook is written by ``ethicskit course grade`` in two short serial steps (registering the
lab; saving the grades). With a server gradebook (PostgreSQL, MySQL) two instructors may grade the same
lab at once from their own machines: their executions overlap freely, but two gradebook writers would race
(both creating the schema of a new database, both registering the lab, both creating one student's
submission) and one of them would fail or, worse, half-save. :func:`gradebook_lock` makes each write step
exclusive *on the database server itself*, so it holds across machines:

- PostgreSQL: a session-level advisory lock (``pg_advisory_lock``), released when the step ends or when
  the instructor's process dies (the server drops the session);
- MySQL / MariaDB: ``GET_LOCK`` (a named lock, likewise tied to the session);
- sqlite: an ``flock`` on ``<gradebook>.lock`` beside the file (one machine, as sqlite itself).

Nothing is ever written twice: a student graded by both instructors has one submission, whose grades are
those of the last save.
"""

from __future__ import annotations

import contextlib
import hashlib
import time

__all__ = ["gradebook_lock", "LOCK_NAME"]

LOCK_NAME = "ethicskit-gradebook"
_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def gradebook_lock(db_url: str, *, timeout: float = 3600.0):
    """Hold the gradebook's write lock for the ``with`` block (see the module's description)."""
    if not db_url:
        yield
        return
    backend = db_url.split(":", 1)[0].split("+", 1)[0].lower()
    if backend == "sqlite":
        yield from _sqlite_lock(db_url, timeout)
        return
    if backend not in ("postgresql", "postgres", "mysql", "mariadb"):
        yield  # another server: its own transactions only
        return
    import sqlalchemy as sa

    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if backend.startswith("postgres"):
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _KEY})
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _KEY})
                    connection.commit()
            else:
                got = connection.execute(
                    sa.text("SELECT GET_LOCK(:name, :timeout)"), {"name": LOCK_NAME, "timeout": int(timeout)}
                ).scalar()
                if got != 1:
                    raise TimeoutError(f"the gradebook is locked by another grader for over {timeout:.0f} s")
                try:
                    yield
                finally:
                    connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
    finally:
        engine.dispose()


def _sqlite_lock(db_url: str, timeout: float):
    import fcntl
    from pathlib import Path

    path = db_url.split("///", 1)[-1]
    if not path or path == ":memory:":
        yield
        return
    lock = Path(path + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{lock} is held by another grader for over {timeout:.0f} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
