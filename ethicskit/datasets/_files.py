"""Bundled data files: where they are, where they came from, and checksum verification.

Every file is recorded in ``data/manifest.json`` with its source, licence and the SHA-256 of the
original (uncompressed) file. :func:`read_verified` checks that checksum on every load, so a corrupted
or edited file is never read silently.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

__all__ = ["DATA_DIR", "DataFileError", "manifest", "read_verified"]


class DataFileError(OSError):
    """A bundled data file is missing or does not match its recorded checksum."""


@lru_cache(maxsize=1)
def manifest() -> dict[str, dict]:
    """Return the manifest: file name -> source, licence, sha256 of the original file."""
    path = DATA_DIR / "manifest.json"
    if not path.exists():
        raise DataFileError(f"the data manifest {path} is missing; reinstall ethicskit")
    return json.loads(path.read_text(encoding="utf-8"))


def read_verified(file_name: str, *, data_dir: Path | None = None) -> bytes:
    """Return the uncompressed bytes of a bundled file after verifying its SHA-256.

    Parameters
    ----------
    file_name : str
        A key of the manifest, e.g. ``"adult.data.gz"``.
    data_dir : Path, optional
        Folder to read from (tests point it at a copy); defaults to the package's data folder.

    Raises
    ------
    DataFileError
        When the file is missing, cannot be decompressed, or its checksum differs from the manifest.
    """
    entry = manifest().get(file_name)
    if entry is None:
        raise DataFileError(f"{file_name} is not a bundled data file; known files: {sorted(manifest())}")
    path = (data_dir or DATA_DIR) / file_name
    if not path.exists():
        raise DataFileError(f"bundled data file {path} is missing; reinstall ethicskit to restore it")
    raw = path.read_bytes()
    if file_name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            message = f"bundled data file {path} is corrupted (cannot decompress: {error})"
            raise DataFileError(message) from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry["sha256"]:
        raise DataFileError(
            f"bundled data file {path} failed its checksum: SHA-256 is {digest}, expected {entry['sha256']}. "
            "The file is corrupted or was edited; reinstall ethicskit to restore it."
        )
    return raw
