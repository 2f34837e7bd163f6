"""Every operation against its physical limit, side by side on one emulator at injected
latency: the floor (a bare broadcast of pre-signed bytes), the official client used
carefully (benchmarks/careful_official.py), dydxctl's library API and a whole dydxctl
process — alternating, medians; each as a multiple of the floor, with round-trip counts
from the emulator's call log. Then sustained short-term place+cancel cycles, and
`cancel --all` of 200 short-term + 20 long-term orders."""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH_MNEMONIC, official_python, runtime_for, temp_db
from benchmarks.emulator_process import EmulatorProcess as Emulator
from dydxctl import lifecycle
from dydxctl.cancel_all import cancel_all as _cancel_all  # imported up front, as a bot does
from dydxctl.orders import OrderRequest, decode_order_id
from dydxctl.runtime import Runtime

CAREFUL = Path(__file__).resolve().parent / "careful_official.py"
KINDS = {"short-term": {"good_til_blocks": 10}, "long-term": {"good_til": "1h"}}


def _request(kind: str, subaccount: int = 0, **extra: Any) -> OrderRequest:
    good_til = extra or KINDS[kind]
    return OrderRequest("BTC-USD", "buy", Decimal("0.001"), price=Decimal("50000"),
                        subaccount=subaccount, **good_til)  # fmt: skip


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _round_trips(emu: Emulator) -> int:
    return sum(1 for c in emu.call_log() if c["kind"] in ("grpc", "rest", "rpc"))


# --- the floor: pre-signed bytes, one BroadcastTx each ----------------------------------------
def _floor(rt: Runtime, emu: Emulator, kind: str) -> dict[str, float]:
    from dydxctl.tx import cancel_order_msg

    dry = lifecycle.place(rt, _request(kind), dry_run=True)  # signed offline (warm caches)
    node = rt.node()
    tx = base64.b64decode(dry.tx_bytes or "")
    started = time.perf_counter()
    node.broadcast(tx, dry.tx_hash)
    place_ms = _ms(started)
    order = dry.order
    gtb = {"good_til_block": order["good_til_block"]} if kind == "short-term" else {
        "good_til_block_time": order["good_til_block_time"]}  # fmt: skip
    message = cancel_order_msg(decode_order_id(order["order_id_proto"]), **gtb)
    signed = lifecycle.sign(rt, [message], sequence=lifecycle._sequence_for(
        order["order_flags"]), number=lifecycle.account_number(rt, rt.wallet().address,
                                                               store=rt.store()))  # fmt: skip
    started = time.perf_counter()
    node.broadcast(signed.tx_bytes, signed.tx_hash)
    return {"place_ms": place_ms, "cancel_ms": _ms(started)}


def _library(rt: Runtime, emu: Emulator, kind: str) -> dict[str, float]:
    emu.reset_calls()
    started = time.perf_counter()
    placed = lifecycle.place(rt, _request(kind))
    place_ms, place_rt = _ms(started), _round_trips(emu)
    emu.reset_calls()
    started = time.perf_counter()
    lifecycle.cancel(rt, placed.order["order_id"])
    return {"place_ms": place_ms, "cancel_ms": _ms(started), "place_rt": place_rt,
            "cancel_rt": _round_trips(emu)}  # fmt: skip


def _careful(python: Path, emu: Emulator, mode: str, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(python), str(CAREFUL), emu.grpc_target, emu.indexer_url, mode, *args],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "DYDX_MNEMONIC": BENCH_MNEMONIC},
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout)


def _careful_cycles(python: Path, emu: Emulator, kind: str, count: int) -> list[dict]:
    emu.reset_calls()
    cycles = _careful(python, emu, "cycles", kind, str(count))["cycles"]
    bad = [c for c in cycles if c["place_code"] or c["cancel_code"]]
    if bad:
        raise RuntimeError(f"careful official cycles failed: {bad[:2]}")
    calls = Counter(c["name"] for c in emu.call_log())
    # Its set-up (Account, perpetualMarkets) is once per process; per cycle: height reads
    # (short-term places) and broadcasts.
    per_cycle = (calls["GetLatestBlock"] + calls["BroadcastTx"]) / count
    for c in cycles:
        c["cycle_rt"] = per_cycle
    return cycles


def _cli(emu: Emulator, db: Path, *args: str) -> tuple[float, dict]:
    command = [sys.executable, "-m", "dydxctl", "--json", "--network", "local", "--grpc",
               emu.grpc_target, "--indexer", emu.indexer_url, "--db", str(db), *args]  # fmt: skip
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True,
                         env={**os.environ, "DYDX_MNEMONIC": BENCH_MNEMONIC})  # fmt: skip
    return _ms(started), json.loads(out.stdout)


def _cli_place_cancel(emu: Emulator, db: Path, kind: str) -> dict[str, float]:
    good_til = ["--good-til-blocks", "10"] if kind == "short-term" else ["--good-til", "1h"]
    place_ms, placed = _cli(emu, db, "place", "--market", "BTC-USD", "--side", "buy", "--size",
                            "0.001", "--price", "50000", *good_til)  # fmt: skip
    cancel_ms, _ = _cli(emu, db, "cancel", placed["order_id"])
    return {"place_ms": place_ms, "cancel_ms": cancel_ms}


def _median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if key in r]
    return round(statistics.median(values), 2) if values else None


# --- sustained cycles and cancel --all --------------------------------------------------------
def _sustained_library(rt: Runtime, seconds: float) -> dict[str, Any]:
    deadline = time.perf_counter() + seconds
    count, started = 0, time.perf_counter()
    while time.perf_counter() < deadline:
        placed = lifecycle.place(rt, _request("short-term"))
        lifecycle.cancel(rt, placed.order["order_id"])
        count += 1
    elapsed = time.perf_counter() - started
    return {"cycles": count, "seconds": elapsed, "cycles_per_s": count / elapsed}


def _seed_orders(rt: Runtime, subaccount: int, short: int, long: int) -> None:
    """Orders on a subaccount of their own, in a block (so the Indexer lists them too)."""
    for _ in range(long):
        lifecycle.place(rt, _request("long-term", subaccount))
    for _ in range(short):
        lifecycle.place(rt, _request("short-term", subaccount, good_til_blocks=40))
    time.sleep(1.5)  # one block (block_time_s=1.0): the stateful placements are indexed


def _cancel_all_round(
    rt: Runtime, emu: Emulator, db: Path, python: Path | None, latency: float, sizes: tuple,
    number: int,
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    library, careful, cli = (10 + 3 * number + i for i in range(3))  # fresh subaccounts
    emu.latency_ms = 0
    _seed_orders(rt, library, *sizes)
    emu.latency_ms = latency
    emu.reset_calls()
    started = time.perf_counter()
    result = lifecycle_cancel_all(rt, library)
    out["library_ms"] = _ms(started)
    out["library_txs"] = sum(1 for c in emu.call_log() if c["name"] == "BroadcastTx")
    out["library_failed"] = result["failed"]
    if python is not None:
        emu.latency_ms = 0
        _seed_orders(rt, careful, *sizes)
        emu.latency_ms = latency
        theirs = _careful(python, emu, "cancel_all", str(careful))
        out["careful_ms"], out["careful_txs"] = theirs["ms"], theirs["txs"]
        out["careful_failed"] = theirs["failed"]
    emu.latency_ms = 0
    _seed_orders(rt, cli, *sizes)
    emu.latency_ms = latency
    out["cli_ms"], cli_result = _cli(emu, db, "cancel", "--all", "--subaccount", str(cli))
    out["cli_failed"] = cli_result.get("failed")
    return out


def lifecycle_cancel_all(rt: Runtime, subaccount: int) -> dict[str, Any]:
    return _cancel_all(rt, market=None, subaccount=subaccount)


def run(
    latency_ms: float = 25, rounds: int = 10, sustain_s: float = 60, cancel_all_rounds: int = 2,
    cancel_all_sizes: tuple[int, int] = (200, 20),
) -> dict[str, Any]:  # fmt: skip
    python = official_python()
    rows: dict[str, dict[str, list[dict]]] = {k: {} for k in KINDS}
    # A process of its own, as a real node is (benchmarks/emulator_process.py): the code
    # under test must not share a GIL with the emulator's servers and signature checks.
    with Emulator(block_time_s=1.0) as emu:
        db = temp_db()
        rt = runtime_for(emu, db)
        lifecycle.place(rt, _request("short-term"))  # warm: market, account number, a block
        emu.latency_ms = latency_ms
        for _ in range(rounds):  # alternate, so drift hits every column alike
            for kind in KINDS:
                rows[kind].setdefault("floor", []).append(_floor(rt, emu, kind))
                if python is not None:
                    rows[kind].setdefault("careful", []).extend(
                        _careful_cycles(python, emu, kind, 2)
                    )
                rows[kind].setdefault("library", []).append(_library(rt, emu, kind))
        for _ in range(max(1, rounds // 4)):
            for kind in KINDS:
                rows[kind].setdefault("cli", []).append(_cli_place_cancel(emu, db, kind))
        table = _table(rows)
        sustained = {"library": _sustained_library(rt, sustain_s)}
        if python is not None:
            theirs = _careful(python, emu, "sustained", str(sustain_s))
            theirs["cycles_per_s"] = theirs["cycles"] / theirs["seconds"]
            sustained["careful"] = theirs
            sustained["library_over_careful"] = (
                sustained["library"]["cycles_per_s"] / theirs["cycles_per_s"])  # fmt: skip
        cancel_all = [_cancel_all_round(rt, emu, db, python, latency_ms, cancel_all_sizes, i)
                      for i in range(cancel_all_rounds)]  # fmt: skip
        rt.close()
    summary = {key: _median(cancel_all, key) for key in cancel_all[0]}
    if summary.get("careful_ms"):
        summary["careful_over_library"] = summary["careful_ms"] / summary["library_ms"]
    return {
        "latency_ms": latency_ms,
        "rounds": rounds,
        "operations": table,
        "sustained_short_term_cycles": sustained,
        "cancel_all": {"orders": cancel_all_sizes, "rounds": cancel_all, "median": summary},
    }


def _table(rows: dict[str, dict[str, list[dict]]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for kind, columns in rows.items():
        for op in ("place", "cancel"):
            floor = _median(columns["floor"], f"{op}_ms")
            entry: dict[str, Any] = {"floor_ms": floor}
            for name in ("careful", "library", "cli"):
                if name in columns:
                    value = _median(columns[name], f"{op}_ms")
                    entry[f"{name}_ms"] = value
                    entry[f"{name}_x_floor"] = round(value / floor, 2) if floor else None
            entry["library_round_trips"] = _median(columns["library"], f"{op}_rt")
            if "careful" in columns:
                entry["careful_round_trips_per_cycle"] = _median(columns["careful"], "cycle_rt")
            table[f"{kind} {op}"] = entry
    return table


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
