"""Results that are dataclasses and still read like the dicts they replaced.

The conventions table (docs/architecture.md) makes every result a dataclass with documented fields.
Where a result used to be a dict (``sft.evaluate``), lessons and learners' notebooks index it by key;
:class:`DictLike` keeps ``result["overall_auc"]``, ``"table" in result`` and ``dict(result)`` working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["DictLike"]


class DictLike(Mapping):
    """Mixin for a dataclass: its fields are also its keys (read-only)."""

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
