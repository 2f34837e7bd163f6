"""Place + cancel cycles at injected latency: dydxctl's library API vs the official client
following its own documented flow, alternating in one run on one emulator."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

from benchmarks.common import BENCH_MNEMONIC, OFFICIAL_FLOW, official_python, runtime_for, temp_db
from dydxctl import lifecycle
from dydxctl.emulator import Emulator
from dydxctl.orders import OrderRequest


def _dydxctl_cycles(rt: Any, cycles: int) -> list[dict[str, float]]:
    out = []
    for i in range(cycles):
        stateful = i % 2 == 1
        request = OrderRequest(
            "BTC-USD", "buy", Decimal("0.001"), price=Decimal("50000"),
            **({"good_til": "1h"} if stateful else {"good_til_blocks": 10}),
        )  # fmt: skip
        started = time.perf_counter()
        placed = lifecycle.place(rt, request)
        placed_at = time.perf_counter()
        lifecycle.cancel(rt, placed.order["order_id"])
        done = time.perf_counter()
        out.append({
            "kind": "long-term" if stateful else "short-term",
            "place_ms": (placed_at - started) * 1000, "cancel_ms": (done - placed_at) * 1000,
        })  # fmt: skip
    return out


def _official_cycles(python: Any, emulator: Emulator, cycles: int) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(python), str(OFFICIAL_FLOW), emulator.grpc_target, emulator.indexer_url, str(cycles)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "DYDX_MNEMONIC": BENCH_MNEMONIC},
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    cycles_out = json.loads(result.stdout)["cycles"]
    bad = [c for c in cycles_out if c["place_code"] or c["cancel_code"]]
    if bad:
        raise RuntimeError(f"official client cycles failed: {bad[:2]}")
    return cycles_out


def _summary(cycles: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("short-term", "long-term"):
        subset = [c for c in cycles if c["kind"] == kind]
        out[kind] = {
            "place_ms_median": statistics.median(c["place_ms"] for c in subset),
            "cancel_ms_median": statistics.median(c["cancel_ms"] for c in subset),
            "cycle_ms_median": statistics.median(c["place_ms"] + c["cancel_ms"] for c in subset),
        }
    out["cycle_ms_mean"] = statistics.mean(c["place_ms"] + c["cancel_ms"] for c in cycles)
    return out


def _process_wall_ms(emulator: Emulator, db: Any, runs: int) -> float:
    env = {**os.environ, "DYDX_MNEMONIC": BENCH_MNEMONIC}
    command = [
        sys.executable, "-m", "dydxctl", "--json", "--network", "local", "--grpc",
        emulator.grpc_target, "--indexer", emulator.indexer_url, "--db", str(db), "place",
        "--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000",
        "--good-til-blocks", "10",
    ]  # fmt: skip
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(latency_ms: float = 25, rounds: int = 5, cycles_per_round: int = 4) -> dict[str, Any]:
    python = official_python()
    mine: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    with Emulator(block_time_s=1.0, latency_ms=0) as emulator:
        db = temp_db()
        rt = runtime_for(emulator, db)
        lifecycle.place(rt, OrderRequest("BTC-USD", "buy", Decimal("0.001"),
                                         price=Decimal("50000"), good_til_blocks=5))  # fmt: skip
        emulator.latency_ms = latency_ms
        for _ in range(rounds):  # alternate, so drift hits both alike
            mine += _dydxctl_cycles(rt, cycles_per_round)
            if python is not None:
                # The documented flow reads the sequence from the last committed block: let
                # the previous round's stateful txs commit first (a block), or it reuses one.
                height = emulator.state.height
                while emulator.state.height <= height:
                    time.sleep(0.05)
                theirs += _official_cycles(python, emulator, cycles_per_round)
        wall = _process_wall_ms(emulator, db, runs=5)
        rt.close()
    out: dict[str, Any] = {
        "latency_ms": latency_ms,
        "cycles_each": len(mine),
        "dydxctl": _summary(mine),
        "dydxctl_place_process_wall_ms_median": wall,
    }
    if theirs:
        out["official"] = _summary(theirs)
        out["speedup_cycle_mean"] = (
            out["official"]["cycle_ms_mean"] / out["dydxctl"]["cycle_ms_mean"]
        )
    else:
        out["official"] = "not run: dydx-v4-client could not be installed"
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
