"""`import grpc` for its synchronous API, without loading asyncio and grpc.aio up front.

grpcio's package imports `grpc.aio` at its end, and its Cython core imports `asyncio` when
it loads: both for the asyncio API, which dydxctl never uses. That was ~35 ms of CPU in a
~330 ms `dydxctl place` process (issue 14). While `import grpc` runs, both names stand in
`sys.modules` as placeholders; the placeholders leave `sys.modules` right after, and one
loads its real module on the first attribute anything reads from it. So `grpc.aio` and
`asyncio` keep working for whoever uses them (the emulator, a library caller) — they are
only loaded when used, not when grpc is.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# What grpcio imports for its asyncio API only; the sync channel never reads them.
DEFERRED = ("asyncio", "grpc.aio")


class _Deferred(types.ModuleType):
    """Stands for a module until an attribute is read from it, then becomes a view of it."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def import_grpc() -> types.ModuleType:
    """The `grpc` module; the first import skips the asyncio machinery (see module doc)."""
    if "grpc" in sys.modules:
        return sys.modules["grpc"]
    placeholders = {name: _Deferred(name) for name in DEFERRED if name not in sys.modules}
    sys.modules.update(placeholders)
    try:
        import grpc
    finally:
        for name, placeholder in placeholders.items():
            if sys.modules.get(name) is placeholder:
                del sys.modules[name]
    return grpc
