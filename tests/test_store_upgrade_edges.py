"""Store corners mutation testing found unpinned (docs/mutation_store.md, "Survivors left"):
upgrades of stores written between migrations, the foreign-key check after a migration,
errors at BEGIN IMMEDIATE that are not a busy lock, and the connection's options."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from dydxctl.errors import StoreError
from dydxctl.store import MIGRATION_NAMES, Store
from dydxctl.store_errors import BUSY_TIMEOUT_MS
from dydxctl.store_migrations import MIGRATION_SET, MIGRATION_STEPS, _statements
from dydxctl.store_sql import ORDER_COLUMNS
from tests.conftest import LOCAL_CHAIN, order_row

# What m001_initial created while m002 was the newest migration: no trading-key columns,
# no seq, events keyed by (order_id, chain_id), no chain_clock_cache.
M002_SCHEMA = Path(__file__).parent / "fixtures" / "store_m002_schema.sql"
SIGNER = "dydx1signerxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"


def _old_release_migrations() -> Migrations:
    """The set as a release of that era ran it: its own m001, then today's later steps
    (m002 is a no-op on the shape that m001 made)."""

    def m001_initial(db: sqlite_utils.Database) -> None:
        for statement in _statements(M002_SCHEMA.read_text(encoding="utf-8")):
            db.execute(statement)

    steps = Migrations(MIGRATION_SET)
    steps(name="m001_initial")(m001_initial)
    for fn in MIGRATION_STEPS[1:]:
        steps(name=fn.__name__)(fn)
    return steps


def _store_before(path: Path, migration: str) -> None:
    """A store as a release whose newest migration came just before `migration` wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    _old_release_migrations().apply(db, stop_before=migration)
    db.close()


def _columns(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    return {row[1]: row[2] for row in conn.execute(f"PRAGMA table_info({table})")}


def _put_old_rows(path: Path) -> list[dict[str, Any]]:
    """Two orders with their events, written as that release would (no seq)."""
    conn = sqlite3.connect(path, isolation_level=None)
    present = _columns(conn, "orders")
    assert "seq" not in present
    expired = order_row(good_til_block=10, status="OPEN")  # short-term, long expired
    live = order_row(
        order_flags=64, good_til_block_time=4_000_000_000, status="OPEN", client_metadata=5
    )
    if "signer_address" in present:  # the store already had m003
        live.update(signer_address=SIGNER, authenticator_id=3)
    rows = []
    for n, row in enumerate((expired, live)):
        record = {name: row.get(name) for name in ORDER_COLUMNS if name in present}
        record.update(
            reduce_only=0, client_metadata=row.get("client_metadata", 0), source="place",
            created_at=f"2026-01-0{n + 1}T00:00:00.000Z", updated_at="2026-01-05T00:00:00.000Z",
        )  # fmt: skip
        names = ", ".join(record)
        conn.execute(
            f"INSERT INTO orders ({names}) VALUES ({', '.join('?' for _ in record)})",
            list(record.values()),
        )
        steps = (("01", None, "PENDING", "before"), ("02", "PENDING", "OPEN", ""))
        for at, old, new, detail in steps:
            conn.execute(
                "INSERT INTO order_events (order_id, chain_id, at, from_status, to_status,"
                " tx_hash, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record["order_id"], LOCAL_CHAIN, f"2026-01-{at}T00:00:00.000Z", old, new,
                 row["place_tx_hash"], detail),
            )  # fmt: skip
        rows.append(record)
    conn.close()
    return rows


# --- 1. upgrades from a store written between migrations --------------------------------
@pytest.mark.parametrize(
    "newest_missing", ["m003_trading_keys", "m004_chain_clock_cache", "m005_event_order_seq"]
)
def test_a_store_written_between_migrations_is_upgraded_and_usable(
    db_path: Path, newest_missing: str
) -> None:
    _store_before(db_path, newest_missing)
    listing = "SELECT name FROM _sqlite_migrations ORDER BY id"
    applied = [n for (n,) in sqlite3.connect(db_path).execute(listing)]
    assert applied == list(MIGRATION_NAMES[: MIGRATION_NAMES.index(newest_missing)])
    expired, live = _put_old_rows(db_path)

    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        names = [n for (n,) in s.conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert names == list(MIGRATION_NAMES)
        columns = _columns(s.conn, "orders")
        assert {k: columns[k] for k in ("signer_address", "authenticator_id", "seq")} == {
            "signer_address": "TEXT", "authenticator_id": "INTEGER", "seq": "INTEGER",
        }  # fmt: skip
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        # Every old row intact, numbered in insertion order; its events still its own.
        for n, old in enumerate((expired, live), start=1):
            got = s.get(old["order_id"])
            assert {k: got[k] for k in old} == old
            assert got["seq"] == n
            events = s.events(old["order_id"])
            assert [(e["from_status"], e["to_status"], e["detail"]) for e in events] == [
                (None, "PENDING", "before"), ("PENDING", "OPEN", ""),
            ]  # fmt: skip
        had_m003 = newest_missing != "m003_trading_keys"
        assert s.get(live["order_id"])["signer_address"] == (SIGNER if had_m003 else None)

        # Usable: a transition with its event, a new order with a trading key, the cache.
        s.transition(live["order_id"], "CANCEL_PENDING")
        assert s.events(live["order_id"])[-1]["to_status"] == "CANCEL_PENDING"
        fresh = s.insert_order(order_row(good_til_block=10_000, signer_address=SIGNER,
                                         authenticator_id=7))  # fmt: skip
        got = s.get(fresh["order_id"])
        assert (got["signer_address"], got["authenticator_id"], got["seq"]) == (SIGNER, 7, 3)
        clock = {"height": 500, "time_ms": 1_800_000_000_000, "observed_mono": 12.5,
                 "boot_id": "boot-1", "block_ms": 1000}  # fmt: skip
        s.cache_chain_clock(LOCAL_CHAIN, "127.0.0.1:9090", **clock)
        assert s.cached_chain_clock(LOCAL_CHAIN, "127.0.0.1:9090") == clock

        # Prune takes the expired old order and, through the new key, its events.
        summary = s.prune(height=100, now_unix=1_800_000_000, keep_seconds=10**9)
        assert (summary.expired_short_term, summary.deleted) == (1, 1)
        assert s.get(expired["order_id"]) is None
        assert s.events(expired["order_id"]) == []
        left = {o for (o,) in s.conn.execute("SELECT DISTINCT order_id FROM order_events")}
        assert left == {live["order_id"], fresh["order_id"]}


# --- 2. the foreign-key check after a migration --------------------------------------------
def _snapshot(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_a_dangling_row_after_a_migration_is_refused_and_nothing_applied(db_path: Path) -> None:
    """_migrate checks foreign keys before its commit: a row pointing at no order (here an
    event written with foreign keys off) makes it roll every pending migration back: a
    damaged store, exit 8 (SPEC: "corrupt"), never exit 1 "internal error"."""
    Store.open(db_path).close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(
        "INSERT INTO order_events (order_id, chain_id, order_seq, at, to_status)"
        " VALUES ('ghost', ?, 999, '2026-01-01T00:00:00.000Z', 'OPEN')", (LOCAL_CHAIN,)
    )  # fmt: skip
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm004_chain_clock_cache'")
    conn.close()
    before = _snapshot(db_path)

    for _ in range(2):  # refused each time, never half applied
        with pytest.raises(StoreError) as info:
            Store.open(db_path)
        assert info.value.message == (
            f"The store {db_path} has 1 row(s) that refer to an order it does not hold; its "
            "schema upgrade was not applied and the file is unchanged.")
        assert "PRAGMA foreign_key_check" in info.value.hint
        assert info.value.exit_code == 8
        assert _snapshot(db_path) == before
    pending = "SELECT count(*) FROM _sqlite_migrations WHERE name = 'm004_chain_clock_cache'"
    assert sqlite3.connect(db_path).execute(pending).fetchone()[0] == 0


# --- 3. errors at BEGIN IMMEDIATE that are not a busy lock ---------------------------------
def _busy_timeout(store: Store) -> int:
    return store.conn.execute("PRAGMA busy_timeout").fetchone()[0]


def test_a_read_only_connection_fails_at_once_not_after_the_busy_timeout(db_path: Path) -> None:
    """SQLITE_READONLY at BEGIN IMMEDIATE is no lock to wait for: exit 8 at once (only
    busy/locked errors are polled for, up to BUSY_TIMEOUT_MS = 10 s)."""
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        s.conn.execute("PRAGMA query_only = ON")  # as root, chmod 0400 would not stop us
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            s.insert_order(order_row())
        elapsed = time.monotonic() - started
        assert elapsed < 2, f"a read-only store was retried for {elapsed:.1f} s"
        assert info.value.exit_code == 8
        assert info.value.message == f"The store {db_path} is read-only."
        assert _busy_timeout(s) == BUSY_TIMEOUT_MS  # restored after the poll
        assert not s.conn.in_transaction
        s.conn.execute("PRAGMA query_only = OFF")
        assert s.count() == 0
        s.insert_order(order_row())
        assert s.count() == 1


def test_a_non_operational_error_at_begin_is_a_store_error(db_path: Path) -> None:
    """A DatabaseError that is not an OperationalError at BEGIN IMMEDIATE (here SQLITE_AUTH
    from an authorizer that denies transactions) is exit 8 naming the file and the cause."""
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        s.conn.set_authorizer(
            lambda action, *_: sqlite3.SQLITE_DENY
            if action == sqlite3.SQLITE_TRANSACTION else sqlite3.SQLITE_OK
        )  # fmt: skip
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            s.insert_order(order_row())
        assert time.monotonic() - started < 2
        assert info.value.message == f"Store error on {db_path}: not authorized."
        assert info.value.exit_code == 8
        assert _busy_timeout(s) == BUSY_TIMEOUT_MS
        s.conn.set_authorizer(None)
        assert s.count() == 0


# --- 4. the options of sqlite3.connect in Store.open ---------------------------------------
def test_the_first_reads_of_open_wait_the_busy_timeout(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reads before _prepare sets busy_timeout (schema_version, the foreign-file check)
    wait as long as every later statement: connect's timeout is BUSY_TIMEOUT_MS."""
    Store.open(db_path).close()
    seen: list[int] = []
    original = Store._refuse_foreign

    def spy(self: Store) -> None:
        seen.append(_busy_timeout(self))
        original(self)

    monkeypatch.setattr(Store, "_refuse_foreign", spy)
    with Store.open(db_path) as s:
        assert _busy_timeout(s) == BUSY_TIMEOUT_MS
    assert seen == [BUSY_TIMEOUT_MS]


def test_the_connection_is_in_autocommit_and_writes_begin_explicitly(db_path: Path) -> None:
    """isolation_level=None: sqlite3 never opens a transaction by itself, so a statement
    outside Store.write() is committed at once and only write() holds the write lock."""
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        assert s.conn.isolation_level is None
        s.conn.execute(
            "INSERT INTO account_cache (chain_id, address, account_number, fetched_at)"
            " VALUES (?, 'dydx1a', 7, 0)", (LOCAL_CHAIN,)
        )  # fmt: skip
        assert not s.conn.in_transaction
        other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
        try:
            assert other.execute("SELECT account_number FROM account_cache").fetchall() == [(7,)]
            with s.write():
                assert s.conn.in_transaction
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            assert not s.conn.in_transaction
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()


def test_a_store_opened_in_one_thread_works_in_another(db_path: Path) -> None:
    """check_same_thread=False: a Store may be handed to a worker thread (one at a time)."""
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        row = order_row()

        def work() -> tuple[str, int]:
            assert threading.current_thread() is not threading.main_thread()
            s.insert_order(row)
            return s.get(row["order_id"])["status"], s.count()

        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(work).result(timeout=30) == ("PENDING", 1)
        assert s.get(row["order_id"])["status"] == "PENDING"
