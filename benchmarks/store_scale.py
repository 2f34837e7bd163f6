"""The store at scale: N orders, then lookup, listing, prune — time, memory, file size, and
how long a concurrent writer (a place or cancel in another process) waits for the write
lock while the prune runs."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GENERATE = r"""
import sys, time
from dydxctl.store import Store, ORDER_COLUMNS, now_iso
from dydxctl.chain import indexer_order_uuid
path, n, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
addr = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
with Store.open(path, chain_id="bench") as s:
    stamp = now_iso()
    cols = ", ".join(ORDER_COLUMNS)
    marks = ", ".join("?" for _ in ORDER_COLUMNS)
    batch = 50_000
    for start in range(0, n, batch):
        rows, events = [], []
        for i in range(start, min(n, start + batch)):
            oid = indexer_order_uuid(addr, 0, i, 0, 0)
            live = i % 100 == 0  # 1 % still live (GTB ahead), the rest long expired
            rec = {c: None for c in ORDER_COLUMNS}
            rec.update(order_id=oid, chain_id="bench", address=addr, subaccount_number=0,
                       client_id=i, clob_pair_id=0, order_flags=0, order_id_proto="AA==",
                       market="BTC-USD", side="BUY", type="LIMIT", time_in_force="GTT",
                       reduce_only=0, quantums=1000000, subticks=5000000000, size="0.0001",
                       price="50000", good_til_block=height + 10 if live else height - 1000,
                       client_metadata=0, status="OPEN", source="place", created_at=stamp,
                       updated_at=stamp)
            rows.append([*(rec[c] for c in ORDER_COLUMNS), i + 1])  # seq, as insert_order
            events.append((oid, "bench", i + 1, stamp, None, "OPEN", None, None))
        with s.write():
            s.conn.executemany(f"INSERT INTO orders ({cols}, seq) VALUES ({marks}, ?)", rows)
            s.conn.executemany("INSERT INTO order_events (order_id, chain_id, order_seq, at,"
                               " from_status, to_status, tx_hash, detail)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", events)
"""

# A cancel's write in another process, every 20 ms while the prune runs: how long each
# waited for the write lock (the time to take it, write one row and commit durably).
WRITER = r"""
import json, os, sys, time
from dydxctl.store import Store
path, stop = sys.argv[1], sys.argv[2]
waits = []
with Store.open(path, chain_id="bench") as s:
    oid = s.list_orders(limit=1)[0]["order_id"]
    print("ready", flush=True)
    while not os.path.exists(stop):
        t = time.perf_counter()
        s.update_fields(oid, last_error="concurrent write", durable=True)
        waits.append((time.perf_counter() - t) * 1000)
        time.sleep(0.02)
waits.sort()
print(json.dumps({"writes": len(waits), "max_ms": waits[-1] if waits else None,
                  "p99_ms": waits[int(len(waits) * 0.99)] if waits else None}))
"""

# The prune's memory is read in this fresh interpreter from /proc/self/status VmHWM (the
# peak RSS of this process's own address space, new at exec), reset with clear_refs just
# before the prune. ru_maxrss cannot show it: on Linux a child started by fork/vfork+exec
# inherits its parent's peak (a child of a 300 MB benchmark run reports ~310 MB).
MEASURE = r"""
import json, os, resource, subprocess, sys, time, statistics
from dydxctl.store import Store

def peak_rss_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # 5: reset the peak RSS (VmHWM) to the current RSS
    except OSError:
        pass
path, n, height, writer_code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = {}
with Store.open(path, chain_id="bench") as s:
    step = max(1, n // 200)
    ids = [r[0] for r in s.conn.execute("SELECT order_id FROM orders WHERE rowid % ? = 0", (step,))]
    times = []
    for oid in ids[:200]:
        t = time.perf_counter(); s.get(oid); times.append((time.perf_counter() - t) * 1000)
    out["lookup_ms_median"] = statistics.median(times)
    out["lookup_ms_max"] = max(times)
    t = time.perf_counter(); s.resolve(str(n // 2))
    out["lookup_by_client_id_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter(); rows = s.list_orders(status="OPEN", limit=50)
    out["orders_status_open_limit_50_ms"] = (time.perf_counter() - t) * 1000
    rss_before = peak_rss_mb()
    stop = path + ".stop"
    writer = subprocess.Popen([sys.executable, "-c", writer_code, path, stop],
                              stdout=subprocess.PIPE, text=True)
    writer.stdout.readline()
    reset_peak_rss()
    t = time.perf_counter()
    summary = s.prune(height=height, now_unix=int(time.time()), keep_seconds=7 * 86400)
    out["prune_s"] = time.perf_counter() - t
    open(stop, "w").close()
    waits = json.loads(writer.stdout.read())
    writer.wait()
    out["concurrent_writes_during_prune"] = waits["writes"]
    out["concurrent_write_max_wait_ms"] = waits["max_ms"]
    out["concurrent_write_p99_wait_ms"] = waits["p99_ms"]
    out["prune_deleted"] = summary.deleted
    out["prune_kept"] = summary.kept
    out["peak_rss_mb_before_prune"] = rss_before
    out["peak_rss_mb_during_prune"] = peak_rss_mb()
print(json.dumps(out))
"""


def durable_commit_cost(samples: int = 200) -> dict[str, float]:
    """What fsync'ing the write-ahead row costs each place: the median insert_order with
    synchronous=FULL (durable) against NORMAL, on this machine's disk."""
    import statistics

    from dydxctl.store import Store
    from tests.conftest import order_row

    medians: dict[bool, list[float]] = {False: [], True: []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(Path(tmp) / "orders.db", chain_id="localdydxprotocol") as store,
    ):
        for durable in (False, True, False, True):  # interleaved: noise hits both
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                store.insert_order(order_row(), durable=durable)
                times.append((time.perf_counter() - started) * 1000)
            medians[durable].append(statistics.median(times))
    normal, full = min(medians[False]), min(medians[True])
    return {"insert_ms_normal": normal, "insert_ms_durable": full, "fsync_cost_ms": full - normal}


def run(n: int = 1_000_000) -> dict[str, Any]:
    height = 10_000_000
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "orders.db"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", GENERATE, str(db), str(n), str(height)], check=True)
        generate_s = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        measuring = subprocess.Popen(  # a fresh interpreter: its own memory figures
            [sys.executable, "-c", MEASURE, str(db), str(n), str(height), WRITER],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        stdout, stderr = measuring.communicate()
        if measuring.returncode != 0:
            raise RuntimeError(stderr[-2000:])
        figures = json.loads(stdout)
    durable = durable_commit_cost(20 if n < 100_000 else 200)
    return {"orders": n, "generate_s": generate_s, "file_mb": size_mb, **figures, **durable}


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(run(count), indent=2))
    _ = resource  # imported for the measuring child's sake
