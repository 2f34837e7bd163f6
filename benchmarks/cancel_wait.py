"""`cancel --wait` of a short-term order on the emulator (1 s blocks): the websocket path
vs the polling path (finality rules by REST / height), alternating in one run.

Figures: seconds from the cancel call to its CANCELED answer, the blocks that passed, and
the evidence each path gave.
"""

from __future__ import annotations

import json
import statistics
import time
from decimal import Decimal
from typing import Any

from benchmarks.common import runtime_for, temp_db
from dydxctl.emulator import Emulator

UNREACHABLE_WS = "ws://127.0.0.1:1/v4/ws"  # nothing listens: --wait falls back to polling


def _one(emulator: Emulator, websocket: str) -> dict[str, Any]:
    from dydxctl import lifecycle
    from dydxctl.orders import OrderRequest

    rt = runtime_for(emulator, temp_db(), websocket=websocket)
    try:
        request = OrderRequest(
            market="BTC-USD", side="buy", size=Decimal("0.001"),
            type="limit", price=Decimal("50000"), good_til_blocks=20,
        )  # fmt: skip
        order = lifecycle.place(rt, request).order
        height = emulator.state.height
        started = time.perf_counter()
        result = lifecycle.cancel(rt, order["order_id"], wait=True, wait_timeout_s=30)
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "blocks": emulator.state.height - height,
            "outcome": result.outcome,
            "evidence": result.extra.get("evidence", ""),
        }
    finally:
        rt.close()


def run(rounds: int = 5, block_time_s: float = 1.0, latency_ms: float = 0.0) -> dict[str, Any]:
    with Emulator(block_time_s=block_time_s, latency_ms=latency_ms) as emulator:
        samples: dict[str, list[dict[str, Any]]] = {"websocket": [], "polling": []}
        for _ in range(rounds):
            samples["websocket"].append(_one(emulator, emulator.ws_url))
            samples["polling"].append(_one(emulator, UNREACHABLE_WS))
    figures: dict[str, Any] = {"block_time_s": block_time_s, "latency_ms": latency_ms}
    for path, runs in samples.items():
        seconds = [r["seconds"] for r in runs]
        figures[path] = {
            "median_s": statistics.median(seconds),
            "max_s": max(seconds),
            "max_blocks": max(r["blocks"] for r in runs),
            "outcomes": sorted({r["outcome"] for r in runs}),
            "evidence": runs[-1]["evidence"],
        }
    return figures


if __name__ == "__main__":
    print(json.dumps({"0ms": run(), "25ms": run(latency_ms=25.0)}, indent=2))
