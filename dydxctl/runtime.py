"""The composition root: settings plus the store, node and Indexer clients, made on demand.

Commands ask the Runtime for what they need, so a command that only reads the store never
imports gRPC, and one process opens at most one store and one gRPC channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dydxctl.config import Settings

if TYPE_CHECKING:
    from dydxctl.store import Store


@dataclass
class Runtime:
    settings: Settings
    _cache: dict[str, Any] = field(default_factory=dict)

    def store(self, *, create: bool = True) -> Store:
        if "store" not in self._cache:
            from dydxctl.store import Store

            self._cache["store"] = Store.open(self.settings.db, create=create)
        return self._cache["store"]

    def close(self) -> None:
        for item in self._cache.values():
            close = getattr(item, "close", None)
            if close:
                close()
        self._cache.clear()
