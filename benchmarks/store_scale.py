"""The store at scale: N orders, then lookup, listing, prune — time, memory, file size."""

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
with Store.open(path) as s:
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
            rows.append([rec[c] for c in ORDER_COLUMNS])
            events.append((oid, stamp, None, "OPEN", None, None))
        with s.write():
            s.conn.executemany(f"INSERT INTO orders ({cols}) VALUES ({marks})", rows)
            s.conn.executemany("INSERT INTO order_events (order_id, at, from_status, to_status,"
                               " tx_hash, detail) VALUES (?, ?, ?, ?, ?, ?)", events)
"""

# The prune's memory is read in this fresh interpreter from /proc/self/status VmHWM (the
# peak RSS of this process's own address space, new at exec), reset with clear_refs just
# before the prune. ru_maxrss cannot show it: on Linux a child started by fork/vfork+exec
# inherits its parent's peak (a child of a 300 MB benchmark run reports ~310 MB).
MEASURE = r"""
import json, resource, sys, time, statistics
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
path, n, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {}
with Store.open(path) as s:
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
    reset_peak_rss()
    t = time.perf_counter()
    summary = s.prune(height=height, now_unix=int(time.time()), keep_seconds=7 * 86400)
    out["prune_s"] = time.perf_counter() - t
    out["prune_deleted"] = summary.deleted
    out["prune_kept"] = summary.kept
    out["peak_rss_mb_before_prune"] = rss_before
    out["peak_rss_mb_during_prune"] = peak_rss_mb()
print(json.dumps(out))
"""


def run(n: int = 1_000_000) -> dict[str, Any]:
    height = 10_000_000
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "orders.db"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", GENERATE, str(db), str(n), str(height)], check=True)
        generate_s = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        measuring = subprocess.Popen(  # a fresh interpreter: its own memory figures
            [sys.executable, "-c", MEASURE, str(db), str(n), str(height)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        stdout, stderr = measuring.communicate()
        if measuring.returncode != 0:
            raise RuntimeError(stderr[-2000:])
        figures = json.loads(stdout)
    return {"orders": n, "generate_s": generate_s, "file_mb": size_mb, **figures}


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(run(count), indent=2))
    _ = resource  # imported for the measuring child's sake
