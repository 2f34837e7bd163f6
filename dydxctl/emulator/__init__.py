"""A local dYdX v4 chain and Indexer for trying dydxctl and testing it with no network."""

from dydxctl.emulator.server import Emulator

__all__ = ["Emulator"]
