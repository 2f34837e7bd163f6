"""Many dydxctl processes on one store: no lost rows, no duplicate client ids, no locks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dydxctl.emulator import Emulator
from dydxctl.store import Store
from tests.conftest import TEST_MNEMONIC, clean_env, dydxctl_argv

PLACER = """
import sys
from decimal import Decimal
from dydxctl.config import resolve
from dydxctl.lifecycle import place
from dydxctl.orders import OrderRequest
from dydxctl.runtime import Runtime

grpc, indexer, db, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
good_til = {"good_til_blocks": 20} if sys.argv[5] == "short" else {"good_til": "1h"}
rt = Runtime(resolve({"network": "local", "grpc": grpc, "indexer": indexer, "db": db}, {}),
             env={"DYDX_MNEMONIC": sys.stdin.read()})
for _ in range(count):
    place(rt, OrderRequest("BTC-USD", "buy", Decimal("0.001"), price=Decimal("50000"),
                           **good_til))
rt.close()
"""


def _spawn(emu: Emulator, db: Path, count: int, kind: str = "short") -> subprocess.Popen:
    env = clean_env()
    proc = subprocess.Popen(
        [sys.executable, "-c", PLACER, emu.grpc_target, emu.indexer_url, str(db), str(count), kind],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    proc.stdin.write(TEST_MNEMONIC)
    proc.stdin.close()
    return proc


def test_eight_processes_place_25_orders_each(emulator: Emulator, tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    procs = [_spawn(emulator, db, 25) for _ in range(8)]
    errors = []
    for proc in procs:
        proc.wait(timeout=240)
        err = proc.stderr.read()
        if proc.returncode != 0:
            errors.append(err)
    assert not errors, errors[0][-2000:]
    with Store.open(db) as store:
        assert store.count() == 200
        ids = store.conn.execute("SELECT count(DISTINCT client_id) FROM orders").fetchone()[0]
        assert ids == 200
        statuses = store.conn.execute("SELECT DISTINCT status FROM orders").fetchall()
        assert statuses == [("OPEN",)]
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert emulator.state.open_order_count() == 200  # all 200 rest on the book


def test_prune_and_cancel_at_the_same_time(emulator: Emulator, tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    assert _spawn(emulator, db, 30, "short").wait(timeout=120) == 0
    emulator.advance(30)  # every short-term order is expired and past prune's margin
    assert _spawn(emulator, db, 8, "long").wait(timeout=120) == 0
    with Store.open(db) as store:
        live = [r["order_id"] for r in store.list_orders() if r["order_flags"] == 64]
        dead = [r["order_id"] for r in store.list_orders() if r["order_flags"] == 0]
    assert (len(live), len(dead)) == (8, 30)
    env = clean_env(DYDX_MNEMONIC=TEST_MNEMONIC)
    base = dydxctl_argv(emulator, db, "--json")

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen([*base, *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    pruner = start("prune-expired")
    cancels = {order_id: start("cancel", order_id) for order_id in live + dead[:4]}
    assert pruner.wait(timeout=60) == 0, pruner.stderr.read()
    codes = {order_id: proc.wait(timeout=60) for order_id, proc in cancels.items()}
    # Live orders are cancelled whatever prune does; an expired one is refused (exit 5),
    # or, once prune deleted its row, looked up on the Indexer, which (like the real one)
    # answers 404 for an unfilled short-term order off the book: not found (exit 3).
    assert all(codes[o] == 0 for o in live), codes
    assert all(codes[o] in (3, 5) for o in dead[:4]), codes
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {store.get(o)["status"] for o in live} == {"CANCEL_PENDING"}
        left = [o for o in dead if store.get(o) is not None]
        # prune deleted every dead row, except ones a concurrent cancel re-recorded from
        # the Indexer (as settled rows) after prune had passed.
        assert all(store.get(o)["status"] in ("CANCELED", "EXPIRED") for o in left)
        assert len(left) <= 4


def test_settle_yields_to_a_status_another_process_wrote_meanwhile(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """settle reads the status, then writes: if another process settled the row in between
    (OPEN → CANCELED), the move it planned (OPEN → CANCEL_PENDING) is now illegal; the
    newer status stands and nothing is raised (it used to be exit 1)."""
    from dydxctl import lifecycle
    from dydxctl.store import Store
    from tests.conftest import order_row

    with Store.open(db_path) as store:
        row = store.insert_order(order_row(status="OPEN"))
        stale = dict(store.get(row["order_id"]))
        other = Store.open(db_path)  # the other process
        other.transition(row["order_id"], "CANCELED", detail="settled elsewhere")
        other.close()
        reads = iter([stale])
        real_get = store.get
        monkeypatch.setattr(
            store, "get", lambda oid, **kw: next(reads, None) or real_get(oid, **kw)
        )
        result = lifecycle.settle(store, row, "CANCEL_PENDING", "AB" * 32, "cancel accepted")
        assert result["status"] == "CANCELED"
        assert real_get(row["order_id"])["status"] == "CANCELED"
