"""The store's promises: an old store upgraded in place, foreign files refused untouched,
write-ahead rows fsync'd, and store errors that never invite a second order."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dydxctl.store import MIGRATION_NAMES, Store
from tests.conftest import LOCAL_CHAIN, ChainCli, clean_env, order_row

FIXTURE = Path(__file__).parent / "fixtures" / "store_v0_1_0.sql"
LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]


def _load_fixture(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text())
    conn.close()


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- m002_chain_scoped_keys on a store written by 0.1.0 ----------------------------------
def test_a_0_1_0_store_is_upgraded_in_place(db_path: Path) -> None:
    _load_fixture(db_path)
    before = _rows(db_path, "SELECT * FROM orders ORDER BY order_id")
    old_events = _rows(
        db_path, "SELECT id, order_id, at, from_status, to_status, tx_hash, detail"
        " FROM order_events ORDER BY id",
    )  # fmt: skip
    assert len(before) == 3 and len(old_events) == 7

    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        names = [n for (n,) in s.conn.execute("SELECT name FROM _sqlite_migrations")]
        assert names == list(MIGRATION_NAMES)
        pk = [r[1] for r in sorted(s.conn.execute("PRAGMA table_info(orders)"), key=lambda r: r[5])
              if r[5]]  # fmt: skip
        assert pk == ["order_id", "chain_id"]
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Every row and event kept, events now carrying their order's chain.
        after = s.conn.execute("SELECT * FROM orders ORDER BY order_id").fetchall()
        # m003 adds the trading-key columns last, NULL for rows placed by the owner; m005
        # numbers the orders (seq), which their events then refer to.
        assert sorted(row[: len(before[0])] for row in after) == sorted(before)
        assert {row[len(before[0]) : -1] for row in after} == {(None, None)}
        assert sorted(row[-1] for row in after) == [1, 2, 3]
        unlinked = "SELECT count(*) FROM order_events WHERE order_seq IS NULL"
        assert s.conn.execute(unlinked).fetchone()[0] == 0
        events = s.conn.execute(
            "SELECT e.id, e.order_id, e.at, e.from_status, e.to_status, e.tx_hash, e.detail,"
            " e.chain_id = o.chain_id FROM order_events e JOIN orders o USING (order_id, chain_id)"
            " ORDER BY e.id"
        ).fetchall()
        assert [e[:7] for e in events] == old_events and all(e[7] for e in events)
        attempts = s.conn.execute("SELECT chain_id FROM cancel_attempts").fetchall()
        assert attempts == [("dydx-testnet-4",)]
        # The scope works on upgraded rows: this chain sees its one order.
        [local] = s.list_orders()
        assert (local["client_id"], local["status"]) == (11, "OPEN")
        assert [e["to_status"] for e in s.events(local["order_id"])] == ["PENDING", "OPEN"]
        # The same OrderId may now be stored for a second chain.
        twin = {**local, "chain_id": "dydx-mainnet-1", "status": "PENDING"}
        with Store.open(db_path, chain_id="dydx-mainnet-1") as mainnet:
            mainnet.insert_order(twin)
            assert mainnet.get(local["order_id"])["chain_id"] == "dydx-mainnet-1"
        assert s.get(local["order_id"])["status"] == "OPEN"
        # Events cascade with their order on the new composite key.
        s.conn.execute("DELETE FROM orders WHERE order_id = ? AND chain_id = ?",
                       (local["order_id"], LOCAL_CHAIN))  # fmt: skip
        assert s.events(local["order_id"]) == []
    with Store.open(db_path) as again:  # a second open applies nothing
        assert len(again.conn.execute("SELECT * FROM _sqlite_migrations").fetchall()) == len(
            MIGRATION_NAMES
        )


def test_a_fresh_store_has_the_new_key_and_m002_is_a_no_op(store: Store) -> None:
    from dydxctl.store import m002_chain_scoped_keys

    schema = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'orders'").fetchone()
    m002_chain_scoped_keys(store.db)
    assert (
        store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'orders'").fetchone()
        == schema
    )
    assert "PRIMARY KEY (order_id, chain_id)" in schema[0]


# --- m005_event_order_seq on a store written before it -------------------------------------
_M004_EVENTS = (
    "CREATE TABLE order_events (id INTEGER PRIMARY KEY, order_id TEXT NOT NULL,"
    " chain_id TEXT NOT NULL, at TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL,"
    " tx_hash TEXT, detail TEXT, FOREIGN KEY (order_id, chain_id)"
    " REFERENCES orders (order_id, chain_id) ON DELETE CASCADE);"
    "CREATE INDEX order_events_by_order ON order_events (order_id, chain_id, id);"
)


def _back_to_m004(path: Path) -> None:
    """The shape m001-m004 gave a store: events keyed by (order_id, chain_id), no seq."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        "PRAGMA foreign_keys = OFF; BEGIN;"
        "ALTER TABLE order_events RENAME TO newer_events;"
        f"{_M004_EVENTS}"
        "INSERT INTO order_events SELECT id, order_id, chain_id, at, from_status, to_status,"
        " tx_hash, detail FROM newer_events;"
        "DROP TABLE newer_events; DROP INDEX orders_by_seq; ALTER TABLE orders DROP COLUMN seq;"
        "DELETE FROM _sqlite_migrations WHERE name = 'm005_event_order_seq'; COMMIT;"
    )
    conn.close()


def test_a_store_without_event_order_seq_is_upgraded_in_place(db_path: Path) -> None:
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        rows = [s.insert_order(order_row(good_til_block=10)) for _ in range(3)]
        for row in rows:
            s.transition(row["order_id"], "OPEN")
    _back_to_m004(db_path)
    assert "seq" not in {r[1] for r in _rows(db_path, "PRAGMA table_info(orders)")}
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        names = [n for (n,) in s.conn.execute("SELECT name FROM _sqlite_migrations")]
        assert names == list(MIGRATION_NAMES)
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        indexes = {n for (n,) in s.conn.execute("SELECT name FROM sqlite_master WHERE"
                                               " type = 'index' AND tbl_name = 'order_events'")}
        assert indexes == {"order_events_by_order_seq"}
        seqs = [s.get(row["order_id"])["seq"] for row in rows]
        assert sorted(seqs) == [1, 2, 3]
        for row in rows:
            assert [e["to_status"] for e in s.events(row["order_id"])] == ["PENDING", "OPEN"]
        fresh = s.insert_order(order_row(good_til_block=10_000))
        assert s.get(fresh["order_id"])["seq"] == 4
        # The cascade now follows seq: pruning the three old orders takes their events.
        s.prune(height=100, now_unix=1_800_000_000, keep_seconds=10**9)
        left = s.conn.execute("SELECT DISTINCT order_id FROM order_events").fetchall()
        assert left == [(fresh["order_id"],)]


# --- foreign files ---------------------------------------------------------------------------
def _foreign_plain(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                       "INSERT INTO notes (body) VALUES ('my shopping list');")  # fmt: skip
    conn.close()


def _foreign_wal(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT);"
                       "INSERT INTO photos (name) VALUES ('cat.jpg');")  # fmt: skip
    conn.close()


def _foreign_other_migrations(path: Path) -> None:
    """Another sqlite-utils application: it has a migrations table, but not our set."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT,"
        " name TEXT, applied_at TEXT);"
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
        " VALUES ('blog', 'm001_posts', '2026-01-01');"
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);"
    )
    conn.close()


@pytest.mark.parametrize("make", [_foreign_plain, _foreign_wal, _foreign_other_migrations])
def test_another_applications_sqlite_file_is_refused_untouched(tmp_path: Path, make: Any) -> None:
    db = tmp_path / "theirs.sqlite"
    make(db)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    listing = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "dydxctl", "--json", "--db", str(db), "orders"],
        env=clean_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 8, proc.stdout + proc.stderr
    error = json.loads(proc.stdout)["error"]
    assert "not a dydxctl store" in error["message"] and "untouched" in error["message"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no -wal / -shm left


def test_an_empty_file_becomes_a_store(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"")
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        s.insert_order(order_row())
        assert s.count() == 1


# --- durability ----------------------------------------------------------------------------
def _traced(store: Store) -> list[str]:
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    return statements


def test_the_write_ahead_row_is_committed_with_synchronous_full(store: Store) -> None:
    statements = _traced(store)
    store.insert_order(order_row(), durable=True)
    full = statements.index("PRAGMA synchronous = FULL")
    commit = statements.index("COMMIT")
    assert full < statements.index("BEGIN IMMEDIATE") < commit
    assert statements.index("PRAGMA synchronous = NORMAL", commit) > commit
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again
    statements.clear()
    store.insert_order(order_row())
    assert "PRAGMA synchronous = FULL" not in statements


def test_place_and_cancel_write_their_pre_broadcast_rows_durably(
    chain_cli: ChainCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    durable_writes: list[str] = []
    original_write = Store.write

    def spy(self: Store, *, durable: bool = False) -> Any:
        if durable:
            durable_writes.append(f"broadcasts so far: {chain_cli.broadcasts()}")
        return original_write(self, durable=durable)

    monkeypatch.setattr(Store, "write", spy)
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "10")
    assert durable_writes == ["broadcasts so far: 0"]  # the PENDING row, before the broadcast
    chain_cli.json("cancel", order["order_id"])
    assert durable_writes[1:] == ["broadcasts so far: 1"]  # the cancel's tx hash, before it


# --- errors after a broadcast, corrupt rows --------------------------------------------------
def test_a_store_error_after_the_broadcast_does_not_say_try_again(
    chain_cli: ChainCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dydxctl.store import _store_error

    def locked(self: Store, *args: Any, **kwargs: Any) -> Any:
        raise _store_error(sqlite3.OperationalError("database is locked"), self.path)

    monkeypatch.setattr(Store, "transition", locked)
    err = chain_cli.json("place", *LIMIT, expect_exit=8)["error"]
    assert "try again" not in (err["message"] + err["hint"]).lower()
    assert "on the chain" in err["message"] and "sync" in err["hint"]
    assert "NOT place it again" in err["hint"]
    chain_cli.emu.advance(1)  # a stateful placement is in state once in a block
    assert chain_cli.emu.state.open_order_count() == 1
    monkeypatch.undo()
    synced = chain_cli.json("sync")
    assert [c["status"] for c in synced["changed"]] == ["OPEN"]


@pytest.mark.parametrize(
    "proto",
    [
        "!!! not base64 !!!",
        "Cg==",  # valid base64, truncated protobuf
        # A valid OrderId, but of another order (client id 424242): never cancel that one.
        order_row(client_id=424242)["order_id_proto"],
    ],
)
def test_a_corrupt_stored_order_id_is_a_store_error(chain_cli: ChainCli, proto: str) -> None:
    order = chain_cli.place(*LIMIT)
    with Store.open(chain_cli.db_path) as s:
        s.conn.execute("UPDATE orders SET order_id_proto = ?", (proto,))
    sent = chain_cli.broadcasts()
    err = chain_cli.json("cancel", order["order_id"], expect_exit=8)["error"]
    assert "corrupt" in err["message"] and err["details"]["order_id"] == order["order_id"]
    assert chain_cli.broadcasts() == sent
