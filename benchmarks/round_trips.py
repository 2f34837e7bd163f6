"""Node + Indexer calls per place and per cancel, from the emulator's call log."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from benchmarks.common import runtime_for, temp_db
from dydxctl import lifecycle
from dydxctl.emulator import Emulator
from dydxctl.orders import OrderRequest

SHORT = OrderRequest("BTC-USD", "buy", Decimal("0.001"), price=Decimal("50000"), good_til_blocks=20)
LONG = OrderRequest("BTC-USD", "buy", Decimal("0.001"), price=Decimal("50000"), good_til="1h")


def _count(emulator: Emulator, action: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    emulator.reset_calls()
    result = action()
    calls = Counter(c["name"] for c in emulator.call_log())
    return result, {"round_trips": sum(calls.values()), "calls": dict(calls)}


def _measure(emulator: Emulator, kind: str, request: OrderRequest, out: dict) -> None:
    cold = runtime_for(emulator, temp_db())
    _, out[f"place {kind}, cold store"] = _count(emulator, lambda: lifecycle.place(cold, request))
    cold.close()
    warm = runtime_for(emulator, temp_db())
    lifecycle.place(warm, SHORT)  # caches the market parameters and the account number
    placed, out[f"place {kind}, warm store"] = _count(
        emulator, lambda: lifecycle.place(warm, request)
    )
    _, out[f"cancel {kind}, warm store"] = _count(
        emulator, lambda: lifecycle.cancel(warm, placed.order["order_id"])
    )
    warm.close()


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Emulator(block_time_s=1.0) as emulator:
        _measure(emulator, "short-term", SHORT, out)
        _measure(emulator, "long-term", LONG, out)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
