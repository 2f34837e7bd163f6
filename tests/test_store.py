"""The SQLite store on real files: CRUD, the status machine, migrations, refusals, plans."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from dydxctl.errors import DuplicateOrder, InternalError, OrderNotFound, StoreError
from dydxctl.store import (
    MIGRATION_NAMES,
    SQL_GET_BY_ID,
    SQL_PRUNE_FINAL,
    SQL_PRUNE_SHORT_TERM,
    SQL_PRUNE_STATEFUL,
    Store,
    order_listing_sql,
)
from dydxctl.store_open import open_store
from tests.conftest import LOCAL_CHAIN, order_row


def test_insert_get_and_events(store: Store) -> None:
    row = order_row()
    store.insert_order(row, detail="before broadcast")
    got = store.get(row["order_id"])
    assert got is not None
    assert got["status"] == "PENDING"
    assert got["size"] == "0.0001" and got["quantums"] == 1_000_000
    assert got["order_id_proto"] == row["order_id_proto"]
    events = store.events(row["order_id"])
    assert [(e["from_status"], e["to_status"]) for e in events] == [(None, "PENDING")]
    assert events[0]["detail"] == "before broadcast"


def test_allowed_transitions_are_recorded(store: Store) -> None:
    row = order_row()
    store.insert_order(row)
    store.transition(row["order_id"], "OPEN", tx_hash="AA" * 32)
    store.transition(row["order_id"], "CANCEL_PENDING", cancel_tx_hash="CC" * 32)
    store.transition(row["order_id"], "CANCELED", detail="indexer says CANCELED")
    got = store.get(row["order_id"])
    assert got["status"] == "CANCELED" and got["cancel_tx_hash"] == "CC" * 32
    assert [e["to_status"] for e in store.events(row["order_id"])] == [
        "PENDING", "OPEN", "CANCEL_PENDING", "CANCELED",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        (["OPEN"], "PENDING"),
        (["OPEN", "FILLED"], "OPEN"),
        (["REJECTED"], "OPEN"),
        (["OPEN", "CANCELED"], "CANCEL_PENDING"),
    ],
)
def test_illegal_transition_raises_and_changes_nothing(
    store: Store, path: list[str], illegal: str
) -> None:
    row = order_row()
    store.insert_order(row)
    for status in path:
        store.transition(row["order_id"], status)
    before = store.get(row["order_id"])
    with pytest.raises(InternalError, match="Illegal status change"):
        store.transition(row["order_id"], illegal)
    assert store.get(row["order_id"]) == before
    assert len(store.events(row["order_id"])) == len(path) + 1


def test_transition_of_unknown_order(store: Store) -> None:
    with pytest.raises(OrderNotFound):
        store.transition("00000000-0000-0000-0000-000000000000", "OPEN")


def test_duplicate_order_id_is_refused(store: Store) -> None:
    row = order_row()
    store.insert_order(row)
    twin = order_row(client_id=row["client_id"], order_id="another-uuid")
    with pytest.raises(DuplicateOrder, match="already stored") as info:
        store.insert_order(twin)
    assert info.value.exit_code == 2
    assert store.count() == 1


def test_same_client_id_on_other_clob_pair_is_a_different_order(store: Store) -> None:
    a = order_row()
    b = order_row(client_id=a["client_id"], clob_pair_id=1, market="ETH-USD")
    store.insert_order(a)
    store.insert_order(b)
    assert store.count() == 2
    with pytest.raises(Exception, match="names 2 stored orders"):
        store.resolve(str(a["client_id"]))
    assert store.resolve(a["order_id"].upper())["order_id"] == a["order_id"]


def test_list_filters(store: Store) -> None:
    store.insert_order(order_row(market="BTC-USD"))
    eth = order_row(market="ETH-USD", clob_pair_id=1)
    store.insert_order(eth)
    store.transition(eth["order_id"], "OPEN")
    assert [r["market"] for r in store.list_orders(status="OPEN")] == ["ETH-USD"]
    assert len(store.list_orders(market="BTC-USD")) == 1
    assert len(store.list_orders(limit=1)) == 1
    assert len(store.list_orders()) == 2


def test_migrations_twice_are_a_no_op(db_path: Path) -> None:
    Store.open(db_path).close()
    with Store.open(db_path) as again:
        from dydxctl.store import migrations

        applied = migrations().applied(again.db)
        assert [m.name for m in applied] == list(MIGRATION_NAMES)
        assert MIGRATION_NAMES == (
            "m001_initial", "m002_chain_scoped_keys", "m003_trading_keys", "m004_chain_clock_cache",
            "m005_event_order_seq",
        )  # fmt: skip
        assert migrations().pending(again.db) == []


def test_newer_schema_is_refused_untouched(db_path: Path) -> None:
    Store.open(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
        " VALUES ('dydxctl', 'm999_from_the_future', '2030-01-01')"
    )
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="newer dydxctl") as info:
        Store.open(db_path)
    assert info.value.exit_code == 8
    assert db_path.read_bytes() == before


@pytest.mark.parametrize("content", [b"this is not sqlite at all\n" * 100, b"\x00" * 4096])
def test_corrupt_file_is_refused_untouched(db_path: Path, content: bytes) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(content)
    with pytest.raises(StoreError, match=r"not a dydxctl store|corrupt|Store error") as info:
        Store.open(db_path)
    assert info.value.exit_code == 8
    assert db_path.read_bytes() == content


def test_store_file_and_directory_are_owner_only(db_path: Path) -> None:
    Store.open(db_path).close()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


@pytest.mark.sqlite_only
def test_wal_mode_and_busy_timeout(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def _plan(store: Store, sql: str, params: tuple | list | dict) -> str:
    rows = store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(r[-1] for r in rows)


_PRUNE_ARGS = {"chain": LOCAL_CHAIN, "height": 100, "time": 1_700_000_000, "limit": 5000}
# The very SQL the product runs: the constants prune and get use, and the builder behind
# `orders --status`, `sync` and `cancel --all`.
HOT_QUERIES = [
    ("get", SQL_GET_BY_ID, ("x", LOCAL_CHAIN), "sqlite_autoindex_orders_1"),
    ("orders --status", *order_listing_sql(chain_id=LOCAL_CHAIN, status="OPEN", limit=50),
     "orders_by_status"),
    ("prune short", SQL_PRUNE_SHORT_TERM, _PRUNE_ARGS, "orders_by_good_til_block"),
    ("prune stateful", SQL_PRUNE_STATEFUL, _PRUNE_ARGS, "orders_by_good_til_block_time"),
    ("prune final", SQL_PRUNE_FINAL,
     {**_PRUNE_ARGS, "status": "FILLED", "cutoff": "2026-01-01"}, "orders_by_status"),
]  # fmt: skip


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("name", "sql", "params", "index"), HOT_QUERIES, ids=lambda v: str(v))
def test_hot_queries_use_an_index(
    store: Store, name: str, sql: str, params: tuple, index: str
) -> None:
    plan = _plan(store, sql, params)
    assert index in plan, plan
    assert "SCAN orders" not in plan.replace(f"USING INDEX {index}", ""), plan


@pytest.mark.sqlite_only
def test_prune_runs_the_sql_the_index_test_checks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index test must check queries prune really runs, not look-alikes."""
    seen: list[str] = []
    original = Store._prune_batch

    def spy(self: Store, select_sql: str, params: dict) -> int:
        seen.append(select_sql)
        return original(self, select_sql, params)

    monkeypatch.setattr(Store, "_prune_batch", spy)
    store.prune(height=1000, now_unix=int(time.time()), keep_seconds=0)
    assert set(seen) == {SQL_PRUNE_SHORT_TERM, SQL_PRUNE_STATEFUL, SQL_PRUNE_FINAL}


def test_prune_removes_dead_rows_and_keeps_live_ones(store: Store) -> None:
    height, now = 1000, int(time.time())
    live_short = order_row(good_til_block=height + 10)
    just_expired_short = order_row(good_til_block=height - 1)  # within the safety margin
    dead_short = order_row(good_til_block=height - 50)
    live_stateful = order_row(order_flags=64, good_til_block_time=now + 3600)
    dead_stateful = order_row(order_flags=64, good_til_block_time=now - 86400)
    recent_final = order_row(good_til_block=height + 10)
    for row in (live_short, just_expired_short, dead_short, live_stateful, dead_stateful,
                recent_final):  # fmt: skip
        store.insert_order(row)
    store.transition(recent_final["order_id"], "REJECTED")

    dry = store.prune(height=height, now_unix=now, keep_seconds=7 * 86400, dry_run=True)
    assert (dry.expired_short_term, dry.expired_stateful, dry.final_state) == (1, 1, 0)
    assert dry.kept == 4
    assert store.count() == 6

    done = store.prune(height=height, now_unix=now, keep_seconds=7 * 86400, batch_size=1)
    assert (done.expired_short_term, done.expired_stateful, done.deleted) == (1, 1, 2)
    left = {r["order_id"] for r in store.list_orders()}
    assert left == {
        live_short["order_id"], just_expired_short["order_id"], live_stateful["order_id"],
        recent_final["order_id"],
    }  # fmt: skip
    assert store.events(dead_short["order_id"]) == []  # events go with their order

    # Final rows go once they are older than keep; a live one never does.
    aged = store.prune(height=height, now_unix=now + 30 * 86400, keep_seconds=0)
    assert aged.final_state == 1
    assert store.get(recent_final["order_id"]) is None


def test_prune_offline_leaves_short_term_rows(store: Store) -> None:
    store.insert_order(order_row(good_til_block=1))
    summary = store.prune(height=None, now_unix=1_800_000_000, keep_seconds=0)
    assert summary.deleted == 0 and store.count() == 1


def test_cancel_metrics(store: Store) -> None:
    for ms in (10, 20, 30, 40):
        store.record_cancel_attempt("a", market="BTC-USD", success=True, latency_ms=ms)
    store.record_cancel_attempt(
        "b", market="ETH-USD", success=False, latency_ms=5, kind="chain_rejected",
        codespace="clob", code=29,
    )  # fmt: skip
    m = store.cancel_metrics()
    assert (m["attempts"], m["successes"], m["failures"]) == (5, 4, 1)
    assert m["failures_by_kind"] == {"chain_rejected": 1}
    assert m["success_rate"] == pytest.approx(0.8)
    assert m["latency_ms_p50"] == 20
    assert m["by_market"]["BTC-USD"]["latency_ms_p50"] == 25
    assert m["by_market"]["ETH-USD"]["failures"] == 1


def test_cancel_metrics_are_the_stores_chain_only(store: Store) -> None:
    """`stats` on one network never counts another chain's cancels (rows carry a chain)."""
    from dydxctl.errors import InternalError

    store.record_cancel_attempt("a", market="BTC-USD", success=True, latency_ms=10)
    with store.write():  # another host on another chain shares the file
        store._execute(
            "INSERT INTO cancel_attempts (order_id, chain_id, market, at, outcome, latency_ms)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ("b", "dydx-mainnet-1", "BTC-USD", "2026-11-26T00:00:00.000Z", "failure", 5),
        )
    assert store.cancel_metrics()["attempts"] == 1
    # ... and a store opened for one chain cannot be pointed at another's rows.
    with pytest.raises(InternalError):
        store.cancel_metrics(chain_id="dydx-mainnet-1")
    with pytest.raises(InternalError):
        store.transition("a", "OPEN", chain_id="dydx-mainnet-1")


def test_caches(store: Store) -> None:
    market = {
        "ticker": "BTC-USD", "clob_pair_id": 0, "atomic_resolution": -10,
        "quantum_conversion_exponent": -9, "step_base_quantums": 1_000_000,
        "subticks_per_tick": 100_000, "oracle_price": "50000", "status": "ACTIVE",
    }  # fmt: skip
    store.cache_markets("c", [market], now=1000.0)
    assert store.cached_market("c", "BTC-USD", max_age_s=60, now=1030.0)["clob_pair_id"] == 0
    assert store.cached_market("c", "BTC-USD", max_age_s=60, now=1100.0) is None
    assert store.cached_account_number("c", "addr") is None
    store.cache_account_number("c", "addr", 7, now=1.0)
    assert store.cached_account_number("c", "addr") == 7


def _insert_many(args: tuple[str, int]) -> int:
    path, worker = args
    with Store.open(path) as s:
        for i in range(250):
            s.insert_order(order_row(client_id=worker * 10_000 + i))
    return worker


def test_four_processes_insert_concurrently(db_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        done = pool.map(_insert_many, [(str(db_path), w) for w in range(4)])
    assert sorted(done) == [0, 1, 2, 3]
    with Store.open(db_path) as s:
        assert s.count() == 1000
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = s.conn.execute("SELECT count(DISTINCT client_id) FROM orders").fetchone()[0]
        assert ids == 1000


def test_missing_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="No store"):
        Store.open(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()


def test_unwritable_directory_is_a_store_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/dydxctl-cannot-exist/orders.db")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "sub" / "orders.db"
    with pytest.raises(StoreError, match="Cannot create the store"):
        Store.open(target)


@pytest.mark.sqlite_only
def test_prune_in_short_batches_keeps_exactly_the_live_rows(store: Store) -> None:
    height, now = 1000, int(time.time())
    live = [order_row(good_til_block=height + 5), order_row(order_flags=64)]
    dead = [order_row(good_til_block=height - 100 - i) for i in range(250)]
    for row in live + dead:
        store.insert_order(row)
    store.transition(live[0]["order_id"], "OPEN", detail="kept with its events")
    progressed: list[int] = []
    summary = store.prune(height=height, now_unix=now, keep_seconds=86400, batch_size=100,
                          progress=progressed.append)  # fmt: skip
    assert (summary.expired_short_term, summary.kept, summary.dry_run) == (250, 2, False)
    assert sum(progressed) == 250 and max(progressed) <= 100 and len(progressed) >= 3
    assert {r["order_id"] for r in store.list_orders()} == {r["order_id"] for r in live}
    assert [e["to_status"] for e in store.events(live[0]["order_id"])] == ["PENDING", "OPEN"]
    assert store.conn.execute("SELECT count(*) FROM order_events").fetchone()[0] == 3
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    store.insert_order(order_row())
    assert store.count() == 3


def test_prune_final_condition_names_every_final_status() -> None:
    from dydxctl.store import _PRUNE_FINAL, FINAL_STATUSES

    assert all(f"'{status}'" in _PRUNE_FINAL for status in FINAL_STATUSES)


def test_prune_margins_and_counts_per_chain(store: Store, db_target: Path | str) -> None:
    """Within the margins nothing goes; another chain's rows are neither pruned nor
    counted; a dry run's counts add up with final-state rows among them."""
    height, now = 1000, int(time.time())
    within_block_margin = order_row(good_til_block=height - 3)
    within_time_margin = order_row(order_flags=64, good_til_block_time=now - 60)
    past_time_margin = order_row(order_flags=64, good_til_block_time=now - 600)
    final = order_row(good_til_block=height + 50)
    for row in (within_block_margin, within_time_margin, past_time_margin, final):
        store.insert_order(row)
    store.transition(final["order_id"], "REJECTED")
    with open_store(db_target, chain_id="dydx-testnet-4") as other:
        other.insert_order(order_row(chain_id="dydx-testnet-4", good_til_block=1))
        other.insert_order(order_row(chain_id="dydx-testnet-4", order_flags=64,
                                     good_til_block_time=1))  # fmt: skip

    dry = store.prune(height=height, now_unix=now + 10, keep_seconds=0, dry_run=True)
    assert (dry.expired_short_term, dry.expired_stateful, dry.final_state) == (0, 1, 1)
    assert (dry.kept, dry.dry_run) == (2, True)
    offline = store.prune(height=None, now_unix=now + 10, keep_seconds=0, dry_run=True)
    assert offline.expired_short_term == 0
    done = store.prune(height=height, now_unix=now + 10, keep_seconds=0)
    assert (done.deleted, done.kept) == (2, 2)
    assert {r["order_id"] for r in store.list_orders()} == {
        within_block_margin["order_id"], within_time_margin["order_id"],
    }  # fmt: skip
    with open_store(db_target, chain_id="dydx-testnet-4") as other:
        assert other.count() == 2  # the other chain's rows are untouched
