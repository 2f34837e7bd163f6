"""Tests that bite (issue 13 item 7) for store.py's edges: SQL builders, error texts,
files and modes, migrations, the write lock and prune batch sizing (docs/mutation_store.md).
In-process and on SQLite: mutants are imported, subprocesses would run the unmutated package."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from dydxctl.errors import BadInput, InternalError, StoreError
from dydxctl.store import (
    BUSY_TIMEOUT_MS,
    PruneSummary,
    Store,
    _store_error,
    now_iso,
    order_listing_sql,
    recorded_after_broadcast,
)
from dydxctl.store_metrics import _percentile
from tests.conftest import LOCAL_CHAIN, order_row
from tests.test_mutants_store import _logged, _propagate

TESTNET = "dydx-testnet-4"
MAINNET = "dydx-mainnet-1"


# --- store: pure helpers ---


def test_order_listing_sql_builds_each_filter() -> None:
    sql, params = order_listing_sql(chain_id=None)
    assert sql == "SELECT * FROM orders ORDER BY created_at DESC, rowid DESC" and params == []
    sql, params = order_listing_sql(
        chain_id="c", status="OPEN", statuses=frozenset({"UNKNOWN", "OPEN"}), market="BTC-USD",
        address="a", limit=3,
    )  # fmt: skip
    assert sql == (
        "SELECT * FROM orders WHERE chain_id = ? AND status = ? AND status IN (?, ?)"
        " AND market = ? AND address = ? ORDER BY created_at DESC, rowid DESC LIMIT ?"
    )
    assert params == ["c", "OPEN", "OPEN", "UNKNOWN", "BTC-USD", "a", 3]
    assert order_listing_sql(chain_id=None, limit=0)[1] == [0]
    with pytest.raises(BadInput) as caught:
        order_listing_sql(chain_id=None, status="open")
    assert caught.value.message == "Unknown status 'open'."
    assert caught.value.hint.startswith("Use one of: PENDING, OPEN, UNTRIGGERED, REJECTED")


def test_percentile_and_prune_summary() -> None:
    assert _percentile([], 50) is None
    assert _percentile([7], 95) == 7.0 and isinstance(_percentile([7], 95), float)
    assert _percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert _percentile([1.0, 2.0], 95) == 1.95
    assert _percentile([0.0, 1.0, 2.0], 1) == 0.02
    assert _percentile([0.0, 0.12345], 50) == 0.062  # three decimals
    s = PruneSummary(1, 2, 4, 8, dry_run=True)
    assert (s.deleted, s.total) == (7, 15)


def test_now_iso_is_utc_with_milliseconds() -> None:
    from datetime import UTC, datetime

    assert now_iso(datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.678Z"
    )
    assert now_iso()[:4] == str(datetime.now(UTC).year)


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("database is locked", f"The store /s.db stayed locked for more than "
                               f"{BUSY_TIMEOUT_MS // 1000} s."),
        ("database table is busy", "The store /s.db stayed locked"),
        ("attempt to write a readonly database", "The store /s.db is read-only."),
        ("file is read-only", "The store /s.db is read-only."),
        ("file is not a database", "/s.db is not a dydxctl store, or it is corrupt"),
        ("database disk image is malformed", "/s.db is not a dydxctl store"),
        ("index is corrupt", "/s.db is not a dydxctl store"),
        ("disk I/O error", "Store error on /s.db: disk I/O error."),
    ],
)  # fmt: skip
def test_store_error_classifies_sqlite_errors(text: str, starts: str) -> None:
    err = _store_error(sqlite3.OperationalError(text), Path("/s.db"))
    assert isinstance(err, StoreError) and err.message.startswith(starts)
    assert err.message.endswith(".") and err.hint.endswith(".")
    words = {
        "locked": "try again",
        "busy": "try again",
        "read": "permissions",
        "not a": "backup",
        "malformed": "backup",
        "corrupt": "backup",
        "I/O": "--debug",
    }
    assert next(w for k, w in words.items() if k in text) in err.hint


@pytest.mark.parametrize(
    ("accepted", "state", "hint"),
    [
        (None, "its outcome is unknown: it may be on the chain", "Do NOT place it again."),
        (True, "accepted: it is on the chain", "Do NOT place it again."),
        (False, "rejected by the node", "`dydxctl sync` records the rejection"),
    ],
)
def test_recorded_after_broadcast_says_what_happened(
    accepted: bool | None, state: str, hint: str
) -> None:
    with pytest.raises(StoreError) as caught, recorded_after_broadcast("oid", "TXH", accepted):
        raise StoreError("locked", "try again")
    err = caught.value
    assert err.message == (
        f"Order oid was broadcast and {state} (tx TXH), but the store could not record that: locked"
    )
    assert err.hint.startswith(hint) and "try again" not in err.hint
    assert err.details == {"order_id": "oid", "tx_hash": "TXH"}
    assert isinstance(err.__cause__, StoreError)
    with recorded_after_broadcast("oid", "TXH", accepted):
        pass  # no error: nothing raised


# --- store: files ---


def test_a_new_store_file_and_directory_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "orders.db"
    with Store.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    os.chmod(path, 0o640)  # an existing file keeps its mode
    with Store.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_store_open_error_messages(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(StoreError) as caught:
        Store.open(missing, create=False)
    assert caught.value.message == f"No store at {missing}."
    assert caught.value.hint == "Place an order first, or pass --db."
    directory = tmp_path / "dir.db"
    directory.mkdir()
    with pytest.raises(StoreError) as caught:
        Store.open(directory)
    assert caught.value.message.startswith(f"Cannot open the store at {directory}: ")
    assert caught.value.hint == "Pass another --db."


def test_a_newer_store_is_refused_naming_the_unknown_migrations(db_path: Path) -> None:
    with Store.open(db_path) as s, s.write():
        s.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('dydxctl', 'm999_future', '2030-01-01')"
        )
        s.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('other-app', 'm998_theirs', '2030-01-01')"
        )
    with pytest.raises(StoreError) as caught:
        Store.open(db_path)
    assert caught.value.message == (
        f"The store {db_path} was written by a newer dydxctl (migrations m999_future); "
        "this version will not change it."
    )
    assert caught.value.hint == "Upgrade dydxctl, or pass another --db."


def test_a_foreign_sqlite_file_lists_its_first_five_tables(tmp_path: Path) -> None:
    path = tmp_path / "foreign.db"
    conn = sqlite3.connect(path)
    for name in ("g", "f", "e", "d", "c", "b", "a"):
        conn.execute(f"CREATE TABLE {name} (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert caught.value.message == (
        f"{path} is not a dydxctl store: it has tables (a, b, c, d, e) and no dydxctl "
        "migration record. It was left untouched."
    )
    assert "--db" in caught.value.hint


@pytest.mark.parametrize(
    ("took", "batches"),
    [(0.1, [1000, 1000, 500]), (0.025, [1000, 1500]), (0.01, [1000, 2000, 2000])],
)
def test_prune_sizes_each_batch_to_the_time_target(
    store: Store, monkeypatch: pytest.MonkeyPatch, took: float, batches: list[int]
) -> None:
    """The first batch is 1000 rows; each next one is sized so a transaction lasts
    PRUNE_TX_TARGET_S (0.1 s), at most twice the last. The clock is a fake: every
    perf_counter() reading is `took` seconds after the previous one."""
    import dydxctl.store_prune as store_module

    with store.write():
        for i in range(sum(batches)):
            store.insert_order(order_row(client_id=500_000 + i, good_til_block=1))
    ticks = iter(range(10**6))
    fake = SimpleNamespace(
        perf_counter=lambda: next(ticks) * took, sleep=lambda s: None,
        monotonic=time.monotonic,
    )  # fmt: skip
    monkeypatch.setattr(store_module, "time", fake)
    progressed: list[int] = []
    summary = store.prune(height=1000, now_unix=10**9, keep_seconds=0,
                          progress=progressed.append)  # fmt: skip
    assert summary.expired_short_term == sum(batches)
    assert progressed == batches


# --- store: the write lock ---


def test_a_writer_gives_up_after_the_busy_timeout_and_restores_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dydxctl.store as store_module
    import dydxctl.store_errors as store_errors

    row = order_row()
    store.insert_order(row)
    other = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock throughout
    try:
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)
        monkeypatch.setattr(store_errors, "BUSY_TIMEOUT_MS", 50)  # the message's figure
        with pytest.raises(StoreError) as caught:
            store.transition(row["order_id"], "OPEN")
        assert caught.value.message == f"The store {store.path} stayed locked for more than 0 s."
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 50
        assert store.conn.in_transaction is False
    finally:
        other.execute("ROLLBACK")
        other.close()
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 10_000)
    assert store.transition(row["order_id"], "OPEN")["status"] == "OPEN"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_a_failing_write_rolls_back_and_the_store_stays_usable(store: Store) -> None:
    row = order_row()
    with pytest.raises(RuntimeError), store.write():
        store.insert_order(row)
        raise RuntimeError("boom")
    assert store.get(row["order_id"]) is None and not store.conn.in_transaction
    with store.write(), store.write():  # nested: one transaction
        store.insert_order(row)
        assert store.conn.in_transaction
    assert store.get(row["order_id"]) is not None and not store.conn.in_transaction


# --- store: migrations, low-level errors, closing ---


def test_m002_on_a_store_with_the_new_key_touches_nothing(store: Store) -> None:
    from dydxctl.store import m002_chain_scoped_keys

    store.insert_order(order_row())
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    m002_chain_scoped_keys(store.db)
    assert statements == ["PRAGMA table_info(orders)"]


def test_low_level_sqlite_errors_become_store_errors_naming_the_file(store: Store) -> None:
    with pytest.raises(StoreError) as caught:
        store._query("SELECT * FROM nope")
    assert caught.value.message == f"Store error on {store.path}: no such table: nope."
    with pytest.raises(StoreError) as caught:
        store._execute("INSERT INTO nope VALUES (1)")
    assert caught.value.message == f"Store error on {store.path}: no such table: nope."
    with pytest.raises(InternalError) as scope_error:
        store.get("x", chain_id=TESTNET)
    assert scope_error.value.message == (
        f"A store opened for chain {LOCAL_CHAIN} was asked about chain {TESTNET}."
    )


def test_close_releases_the_lock_file_once(db_path: Path) -> None:
    s = Store.open(db_path)
    with s.order_lock("oid"):
        pass
    assert s._lock_fd is not None
    s.close()
    assert s._lock_fd is None
    s.close()  # closing twice is harmless


def test_a_writer_retries_while_another_holds_the_lock_and_logs_the_wait(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Another connection holds the write lock until the writer's first poll sleep; the
    writer then gets it. A fake monotonic clock makes the wait exactly 1 ms."""
    import dydxctl.store as store_module

    row = order_row()
    store.insert_order(row)
    other = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    readings = iter([0.0, 0.0, 0.001])
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        other.execute("ROLLBACK")  # the other process commits meanwhile

    fake = SimpleNamespace(monotonic=lambda: next(readings), sleep=sleep,
                           perf_counter=time.perf_counter)  # fmt: skip
    monkeypatch.setattr(store_module, "time", fake)
    caplog.set_level("INFO", logger="dydxctl.store")
    _propagate(monkeypatch)
    try:
        assert store.transition(row["order_id"], "OPEN")["status"] == "OPEN"
    finally:
        other.close()
    assert slept == [store_module.WRITE_LOCK_POLL_S]
    assert "store: waited 1.0 ms for the write lock" in _logged(caplog, "dydxctl.store")
