"""PostgreSQL vs SQLite: per-operation store cost (loopback), place overhead, and 1M rows.

`python -m benchmarks.store_pg [--rows N] [--ops N]` against the local server
(DYDXCTL_BENCH_PG, default postgresql://postgres@127.0.0.1:5432/test); each run works in a
schema of its own, dropped afterwards. Not in CI: the 1M-row run takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.common import runtime_for
from dydxctl import lifecycle
from dydxctl.chain import indexer_order_uuid
from dydxctl.orders import OrderRequest
from dydxctl.store import now_iso
from dydxctl.store_open import open_store

SERVER = os.environ.get("DYDXCTL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
ADDRESS = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
CHAIN = "bench"
SHORT = OrderRequest("BTC-USD", "buy", Decimal("0.001"), price=Decimal("50000"), good_til_blocks=20)


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema on the server; its URL (search_path set) while the block runs."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def targets() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp, pg_schema() as url:
        yield {"sqlite": str(Path(tmp) / "orders.db"), "postgresql": url}


def _row(i: int, good_til_block: int, status: str = "PENDING") -> dict[str, Any]:
    return {
        "order_id": indexer_order_uuid(ADDRESS, 0, i, 0, 0), "chain_id": CHAIN,
        "address": ADDRESS, "subaccount_number": 0, "client_id": i, "clob_pair_id": 0,
        "order_flags": 0, "order_id_proto": "AA==", "market": "BTC-USD", "side": "BUY",
        "type": "LIMIT", "time_in_force": "GTT", "reduce_only": 0, "quantums": 1_000_000,
        "subticks": 5_000_000_000, "size": "0.0001", "price": "50000",
        "good_til_block": good_til_block, "client_metadata": 0, "status": status,
        "source": "place",
    }  # fmt: skip


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 3),
    }


def per_operation(ops: int) -> dict[str, Any]:
    """insert (durable, as place writes it), get, transition: per backend, on loopback."""
    out: dict[str, Any] = {}
    with targets() as where:
        for backend, target in where.items():
            with open_store(target, chain_id=CHAIN) as store:
                rows = [_row(i, 100) for i in range(ops)]
                inserts = [_timed(lambda r=r: store.insert_order(r, durable=True)) for r in rows]
                gets = [_timed(lambda r=r: store.get(r["order_id"])) for r in rows]
                moves = [_timed(lambda r=r: store.transition(r["order_id"], "OPEN")) for r in rows]
            out[backend] = {
                "insert_durable": _summary(inserts),
                "get": _summary(gets),
                "transition": _summary(moves),
            }
    return out


def place_overhead(places: int) -> dict[str, Any]:
    """Whole `place` calls through the library against the emulator, per backend."""
    from dydxctl.emulator import Emulator

    out: dict[str, Any] = {}
    with Emulator(block_time_s=0) as emulator, targets() as where:
        for backend, target in where.items():
            rt = runtime_for(emulator, target)  # type: ignore[arg-type]
            lifecycle.place(rt, SHORT)  # warm: market and account number cached
            out[backend] = _summary([_timed(lambda rt=rt: lifecycle.place(rt, SHORT))
                                     for _ in range(places)])  # fmt: skip
            rt.close()
    return out


GENERATE = """
INSERT INTO orders (order_id, chain_id, address, subaccount_number, client_id, clob_pair_id,
    order_flags, order_id_proto, market, side, type, time_in_force, reduce_only, quantums,
    subticks, size, price, good_til_block, client_metadata, status, source, created_at,
    updated_at)
SELECT md5(i::text)::uuid::text, %(chain)s, %(address)s, 0, i, 0, 0, 'AA==', 'BTC-USD', 'BUY',
    'LIMIT', 'GTT', 0, 1000000, 5000000000, '0.0001', '50000',
    -- 1 %% live; the rest expired over the last 200,000 blocks, 5 orders a block
    CASE WHEN i %% 100 = 0 THEN %(height)s + 10 ELSE %(height)s - 1000 - i / 5 %% 200000 END,
    0, 'OPEN', 'place', %(stamp)s, %(stamp)s
FROM generate_series(0, %(rows)s - 1) AS i
"""


def at_scale(rows: int) -> dict[str, Any]:
    """`rows` orders (99 % long expired, one event each) in PostgreSQL: lookups, listing,
    then prune. Rows are generated by the server (a Python COPY of 1M rows takes minutes)."""
    import psycopg

    height = 10_000_000
    out: dict[str, Any] = {"orders": rows}
    with pg_schema() as url:
        open_store(url, chain_id=CHAIN).close()  # creates the schema
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            params = {"chain": CHAIN, "address": ADDRESS, "height": height, "rows": rows,
                      "stamp": now_iso()}  # fmt: skip
            conn.execute(GENERATE, params)
            conn.execute(
                "INSERT INTO order_events (chain_id, order_id, order_seq, at, to_status)"
                " SELECT chain_id, order_id, seq, created_at, status FROM orders"
            )
            conn.execute("VACUUM ANALYZE orders")
            conn.execute("VACUUM ANALYZE order_events")
            step = max(1, rows // 200)
            ids = [r[0] for r in conn.execute(
                "SELECT order_id FROM orders WHERE client_id %% %s = 0", (step,))]  # fmt: skip
        out["generate_s"] = round(time.perf_counter() - started, 1)
        with open_store(url, chain_id=CHAIN) as store:
            lookups = [_timed(lambda oid=oid: store.get(oid)) for oid in ids]
            out["lookup"] = {**_summary(lookups), "max_ms": round(max(lookups), 3)}
            out["lookup_by_client_id_ms"] = round(_timed(lambda: store.resolve(str(rows // 2))), 3)
            out["orders_status_open_limit_50_ms"] = round(
                _timed(lambda: store.list_orders(status="OPEN", limit=50)), 3
            )
            started = time.perf_counter()
            summary = store.prune(height=height, now_unix=int(time.time()), keep_seconds=7 * 86400)
            out["prune_s"] = round(time.perf_counter() - started, 2)
            out["prune_deleted"], out["prune_kept"] = summary.deleted, summary.kept
    out["load_average_1m"] = os.getloadavg()[0]
    return out


def run(rows: int = 1_000_000, ops: int = 500, places: int = 100) -> dict[str, Any]:
    return {
        "per_operation": per_operation(ops),
        "place": place_overhead(places),
        "scale": at_scale(rows),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store_pg")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--places", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(run(args.rows, args.ops, args.places), indent=2))
