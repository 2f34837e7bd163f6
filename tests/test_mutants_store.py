"""Tests that bite (issue 13 item 7): each pins a detail of store.py, scope.py,
store_open.py or reconcile.py that a mutation test (docs/mutation_store.md) showed no other
test would notice. All in-process and on SQLite: mutants are imported, subprocesses not."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dydxctl import scope
from dydxctl.errors import BadInput, InternalError, StoreError
from dydxctl.store import (
    BUSY_TIMEOUT_MS,
    PruneSummary,
    Store,
    _percentile,
    _store_error,
    now_iso,
    order_listing_sql,
    recorded_after_broadcast,
)
from dydxctl.store_open import is_postgres_url, open_store, redact_url, store_exists
from tests.conftest import LOCAL_CHAIN, TEST_ADDRESS, order_row

TESTNET = "dydx-testnet-4"
MAINNET = "dydx-mainnet-1"


# --- store_open ---


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("postgresql://u@h/db", True),
        ("postgres://u@h/db", True),
        ("POSTGRESQL://u@h/db", True),
        ("PostGres://u@h/db", True),
        ("sqlite:///x.db", False),
        ("/tmp/postgresql://x", False),
        (Path("postgresql://u@h/db"), False),  # a Path is always a file
    ],
    ids=[f"target{i}" for i in range(7)],
)
def test_is_postgres_url(target: Any, expected: bool) -> None:
    assert is_postgres_url(target) is expected


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://bob:s3cret@db.example:6543/orders",
         "postgresql://bob:***@db.example:6543/orders"),
        ("postgresql://bob:s3cret@db.example/orders", "postgresql://bob:***@db.example/orders"),
        ("postgresql://:s3cret@db.example/orders", "postgresql://:***@db.example/orders"),
        ("postgresql://bob:s3cret@[::1]:5432/orders", "postgresql://bob:***@[::1]:5432/orders"),
        ("postgresql://bob@db.example/orders?password=s3cret&sslmode=require",
         "postgresql://bob@db.example/orders?password=***&sslmode=require"),
        ("postgresql://bob@db.example/orders?sslmode=require&PASSWORD=s3cret",
         "postgresql://bob@db.example/orders?sslmode=require&PASSWORD=***"),
        ("postgresql://bob@db.example/orders?mypassword=keep",
         "postgresql://bob@db.example/orders?mypassword=keep"),
        ("postgresql://bob@db.example:5432/orders", "postgresql://bob@db.example:5432/orders"),
        ("postgresql://bob:s3cret@/orders?host=/run/pg", "postgresql://bob:***@/orders?host=/run/pg"),
    ],
    ids=[f"url{i}" for i in range(9)],
)  # fmt: skip
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
    assert "s3cret" not in redact_url(url)


def test_open_store_expands_home_and_honours_create_and_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(StoreError, match="No store"):
        open_store("~/orders.db", create=False)
    assert not store_exists("~/orders.db")
    with open_store("~/orders.db", chain_id=TESTNET) as s:
        assert s.path == tmp_path / "orders.db" and s.chain_id == TESTNET
    assert store_exists("~/orders.db")
    assert store_exists("postgresql://u@127.0.0.1/none")  # a server may always hold it
    with open_store(str(tmp_path / "orders.db"), create=False) as s:
        assert s.chain_id is None


def test_open_store_hands_a_postgres_url_to_pgstore(monkeypatch: pytest.MonkeyPatch) -> None:
    from dydxctl.store_pg import PgStore

    opened: list[tuple] = []
    monkeypatch.setattr(PgStore, "open", classmethod(
        lambda cls, url, *, create, chain_id: opened.append((url, create, chain_id)) or "pg"
    ))  # fmt: skip
    assert open_store("postgres://u@127.0.0.1/db", create=False, chain_id=TESTNET) == "pg"
    assert open_store("postgresql://u@127.0.0.1/db") == "pg"
    assert opened == [
        ("postgres://u@127.0.0.1/db", False, TESTNET),
        ("postgresql://u@127.0.0.1/db", True, None),
    ]


# --- scope ---


def test_network_option_names_the_profile_or_the_chain_id() -> None:
    assert scope.network_option(MAINNET) == "--network mainnet"
    assert scope.network_option(TESTNET) == "--network testnet"
    assert scope.network_option(LOCAL_CHAIN) == "--network local"
    assert scope.network_option("my-chain") == "--chain-id my-chain"


class _Rt:
    """The parts of a Runtime scope.py reads: store(), settings.chain_id, wallet()."""

    def __init__(self, store: Store, chain_id: str = LOCAL_CHAIN, address: str = TEST_ADDRESS):
        self._store = store
        self.settings = SimpleNamespace(chain_id=chain_id)
        self.address = address

    def store(self) -> Store:
        return self._store

    def wallet(self) -> Any:
        return SimpleNamespace(address=self.address)


def test_refuse_other_chain_names_every_owning_chain(db_path: Path) -> None:
    row = order_row(chain_id=TESTNET)
    with Store.open(db_path) as s:
        s.insert_order(row)
        s.insert_order({**row, "chain_id": MAINNET})
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        scope.refuse_other_chain(_Rt(s), "6b2c0e8e-0000-5000-8000-000000000000")  # nowhere
        with pytest.raises(BadInput) as caught:
            scope.refuse_other_chain(_Rt(s), f"  {row['order_id']} ")
    err = caught.value
    assert err.message == (
        f"Order {row['order_id']} is stored for chain {MAINNET}, {TESTNET}, not for "
        f"{LOCAL_CHAIN} (the chain this command uses). Nothing was sent."
    )
    assert err.hint.startswith("Run the command again with --network mainnet or --network testnet.")
    assert err.hint.endswith("`dydxctl sync --import` records it here first.)")
    assert err.details == {"order_id": row["order_id"], "chain_id": MAINNET}


def test_require_owner_checks_chain_then_wallet(store: Store) -> None:
    row = order_row()
    rt = _Rt(store)
    scope.require_owner(rt, row)  # ours: no error
    with pytest.raises(BadInput) as caught:
        scope.require_owner(rt, {**row, "chain_id": TESTNET, "address": "dydx1other"})
    assert caught.value.message == (
        f"Order {row['order_id']} belongs to chain {TESTNET}, not {LOCAL_CHAIN}. Nothing was sent."
    )
    assert caught.value.hint == "Run the command again with --network testnet."
    assert caught.value.details == {"order_id": row["order_id"]}
    with pytest.raises(BadInput) as caught:
        scope.require_owner(rt, {**row, "address": "dydx1other"})
    assert caught.value.message == (
        f"Order {row['order_id']} belongs to wallet dydx1other, not to this wallet "
        f"({TEST_ADDRESS}). Nothing was sent."
    )
    assert "dydx1other" in caught.value.hint and "DYDX_MNEMONIC" in caught.value.hint
    assert caught.value.details == {"order_id": row["order_id"]}


def test_stored_order_id_refuses_bad_or_foreign_bytes() -> None:
    row = order_row()
    assert scope.stored_order_id(row).client_id == row["client_id"]
    other = order_row()
    for proto, why in (
        ("%%%", "Stored OrderId bytes are not valid"),
        (12345, "not 'int'"),  # not even text: any decoding failure is the row's
        (None, "they name another order"),  # empty bytes: the default OrderId
        (other["order_id_proto"], "they name another order"),
    ):
        with pytest.raises(StoreError) as caught:
            scope.stored_order_id({**row, "order_id_proto": proto})
        assert caught.value.message.startswith(
            f"The stored OrderId of order {row['order_id']} is corrupt ("
        )
        assert why in caught.value.message and caught.value.message.endswith("Nothing was sent.")
        if why.startswith("they"):
            assert f"is corrupt ({why}). Nothing" in caught.value.message
        assert row["order_id"] in caught.value.hint and "`dydxctl sync`" in caught.value.hint
        assert caught.value.details == {"order_id": row["order_id"]}


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


# --- reconcile: the Indexer lookup ---


class _FakeIndexer:
    def __init__(self, listings: dict[tuple[str, int], list[Any]]) -> None:
        self.listings = listings
        self.calls: list[tuple] = []

    def orders(self, address: str, subaccount: int, **kw: Any) -> list[Any]:
        self.calls.append(("orders", address, subaccount, kw))
        return self.listings[(address, subaccount)]

    def order(self, order_id: str) -> dict[str, Any] | None:
        self.calls.append(("order", order_id))
        return {"id": order_id, "status": "FILLED"}


def test_indexer_lookup_lists_each_subaccount_once_and_asks_only_when_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dydxctl.reconcile import _IndexerLookup

    assert _IndexerLookup.INDEXER_PAGE == 1000  # the Indexer's maximum limit
    monkeypatch.setattr(_IndexerLookup, "INDEXER_PAGE", 2)
    fake = _FakeIndexer({
        ("a", 0): [{"id": "x", "status": "OPEN"}],  # short of a page: complete
        ("a", 1): [{"id": "y"}, {"id": 7}],  # a full page: may be cut off
        ("b", 0): ["not an object", {"id": "z"}],
    })  # fmt: skip
    lookup = _IndexerLookup(SimpleNamespace(indexer=lambda: fake))
    assert lookup.listing("a", 0) == {"x": {"id": "x", "status": "OPEN"}}
    assert lookup.listing("a", 1) == {"y": {"id": "y"}, "7": {"id": 7}}
    assert lookup.listing("b", 0) == {"z": {"id": "z"}}
    assert lookup.listing("a", 0) == {"x": {"id": "x", "status": "OPEN"}}  # cached
    assert fake.calls == [
        ("orders", "a", 0, {"limit": 2}), ("orders", "a", 1, {"limit": 2}),
        ("orders", "b", 0, {"limit": 2}),
    ]  # fmt: skip
    fake.calls.clear()
    row = {"address": "a", "subaccount_number": 0, "order_id": "x"}
    assert lookup.order(row) == {"id": "x", "status": "OPEN"}
    assert lookup.order({**row, "order_id": "gone"}) is None  # complete listing: not there
    assert lookup.order({**row, "subaccount_number": 1, "order_id": "y"}) == {"id": "y"}
    assert fake.calls == []
    cut_off = lookup.order({**row, "subaccount_number": 1, "order_id": "old"})
    assert cut_off == {"id": "old", "status": "FILLED"}
    assert fake.calls == [("order", "old")]


# --- reconcile: sync, in-process against the emulator ---

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]
SYNC_KEYS = {"checked", "changed", "imported", "skipped", "errors"}


def _runtime(cli: Any) -> Any:
    from dydxctl.config import resolve
    from dydxctl.runtime import Runtime
    from tests.conftest import TEST_MNEMONIC

    settings = resolve(
        {"network": "local", "grpc": cli.emu.grpc_target, "indexer": cli.emu.indexer_url,
         "db": str(cli.db_path)},
        {},
    )  # fmt: skip
    return Runtime(settings, env={"DYDX_MNEMONIC": TEST_MNEMONIC})


def _sync(cli: Any, **kw: Any) -> dict[str, Any]:
    from dydxctl import reconcile

    rt = _runtime(cli)
    try:
        return reconcile.sync(rt, **kw)
    finally:
        rt.close()


def _calls(cli: Any) -> list[str]:
    return [c["name"] for c in cli.emu.call_log()]


def _logged(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """The messages, each once (with propagation on, a record can be captured twice)."""
    return list(dict.fromkeys(r.getMessage() for r in caplog.records if r.name == logger))


def _propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let caplog see dydxctl's records: a CLI run configures the logger not to propagate."""
    import logging

    monkeypatch.setattr(logging.getLogger("dydxctl"), "propagate", True)


def test_sync_reports_each_change_in_full_and_checks_live_rows_only(
    chain_cli: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level("INFO", logger="dydxctl.reconcile")
    filled = chain_cli.place(*LIMIT)
    cancelled = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    chain_cli.json("cancel", cancelled["order_id"])
    chain_cli.emu.fill(filled["order_id"])
    chain_cli.emu.advance(1)
    chain_cli.emu.reset_calls()
    _propagate(monkeypatch)
    outcome = _sync(chain_cli)
    assert set(outcome) == SYNC_KEYS
    assert outcome["checked"] == 2
    assert _logged(caplog, "dydxctl.reconcile") == [
        "sync: 2 rows checked, 2 changed, 0 imported, 0 skipped, 0 errors"
    ]
    assert (outcome["imported"], outcome["skipped"], outcome["errors"]) == ([], [], [])
    by_id = {c["order_id"]: c for c in outcome["changed"]}
    assert set(by_id) == {filled["order_id"], cancelled["order_id"]}
    fill = by_id[filled["order_id"]]
    assert {k: v for k, v in fill.items() if k != "detail"} == {
        "order_id": filled["order_id"], "market": "BTC-USD", "kind": "long-term",
        "from": "OPEN", "status": "FILLED",
    }  # fmt: skip
    assert fill["detail"].startswith("Indexer: FILLED")
    cancel = by_id[cancelled["order_id"]]
    assert (cancel["from"], cancel["status"]) == ("CANCEL_PENDING", "CANCELED")
    assert "GetTx code 0" in cancel["detail"]
    # Stateful rows only: no /v4/height, one listing, no single-order lookup.
    assert "/v4/height" not in _calls(chain_cli)
    assert _calls(chain_cli).count("/v4/orders") == 1 and "/v4/orders/{id}" not in _calls(chain_cli)
    # Both rows are final now: nothing is checked, and with nothing to check no node call.
    chain_cli.emu.reset_calls()
    assert _sync(chain_cli) == {
        "checked": 0, "changed": [], "imported": [], "skipped": [], "errors": [],
    }  # fmt: skip
    assert "GetLatestBlock" not in _calls(chain_cli)


def test_sync_reads_the_indexer_height_once_before_listing_short_term_rows(
    chain_cli: Any,
) -> None:
    orders = [chain_cli.place(*LIMIT, "--good-til-blocks", "3") for _ in range(2)]
    chain_cli.emu.advance(3)
    chain_cli.emu.reset_calls()
    outcome = _sync(chain_cli)
    assert sorted(c["order_id"] for c in outcome["changed"]) == sorted(
        o["order_id"] for o in orders
    )
    for change in outcome["changed"]:
        assert (change["kind"], change["status"]) == ("short-term", "EXPIRED")
        assert "no cancel was sent" in change["detail"]
    calls = _calls(chain_cli)
    assert calls.count("/v4/height") == 1
    assert calls.index("/v4/height") < calls.index("/v4/orders")


def test_sync_reports_a_row_it_could_not_check_and_goes_on(
    chain_cli: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level("INFO", logger="dydxctl.reconcile")
    orders = [chain_cli.place(*LIMIT) for _ in range(2)]
    chain_cli.emu.advance(1)
    for order in orders:
        chain_cli.json("cancel", order["order_id"])
    chain_cli.emu.advance(1)
    chain_cli.emu.fail_next("GetTx", grpc_status="INTERNAL")
    _propagate(monkeypatch)
    outcome = _sync(chain_cli)
    [error] = outcome["errors"]
    [change] = outcome["changed"]
    assert {error["order_id"], change["order_id"]} == {o["order_id"] for o in orders}
    assert (error["from"], error["status"], error["market"]) == (
        "CANCEL_PENDING", "CANCEL_PENDING", "BTC-USD",
    )  # fmt: skip
    assert error["detail"].startswith("not checked: ") and len(error["detail"]) > 14
    assert outcome["checked"] == 2
    assert _logged(caplog, "dydxctl.reconcile") == [
        f"sync {error['order_id']}: {error['detail'].removeprefix('not checked: ')}",
        "sync: 2 rows checked, 1 changed, 0 imported, 0 skipped, 1 errors",
    ]


def _forget(cli: Any, order_id: str) -> None:
    """The order stays on the chain and the Indexer; this host forgets its row."""
    with Store.open(cli.db_path, chain_id=LOCAL_CHAIN) as s, s.write():
        s.conn.execute("DELETE FROM orders WHERE order_id = ?", (order_id,))


def test_sync_import_records_only_orders_missing_from_the_store(chain_cli: Any) -> None:
    orders = [chain_cli.place(*LIMIT) for _ in range(3)]
    chain_cli.emu.advance(1)
    middle = orders[1]["order_id"]
    _forget(chain_cli, middle)
    assert _sync(chain_cli)["imported"] == []  # without --import nothing is imported
    assert _sync(chain_cli, import_orders=True, subaccount=1)["imported"] == []
    outcome = _sync(chain_cli, import_orders=True)
    assert outcome["checked"] == 2 and outcome["skipped"] == []
    assert outcome["imported"] == [{
        "order_id": middle, "market": "BTC-USD", "kind": "long-term", "from": "OPEN",
        "status": "OPEN", "detail": "imported",
    }]  # fmt: skip
    with Store.open(chain_cli.db_path, chain_id=LOCAL_CHAIN) as s:
        assert s.get(middle)["status"] == "OPEN"
        [event] = s.events(middle)
        assert event["detail"] == "imported from the Indexer by sync --import"
        assert s.count() == 3
    assert _sync(chain_cli, import_orders=True)["imported"] == []


def test_sync_import_of_an_order_past_its_good_til_records_it_expired(chain_cli: Any) -> None:
    chain_cli.emu.set_indexer_lag(10)  # the Indexer still lists it OPEN
    chain_cli.emu.advance(1)
    old = chain_cli.place(*LIMIT, "--good-til-blocks", "3")
    live = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    chain_cli.emu.advance(12)
    for order in (old, live):
        _forget(chain_cli, order["order_id"])
    outcome = _sync(chain_cli, import_orders=True)
    statuses = {i["order_id"]: (i["from"], i["status"]) for i in outcome["imported"]}
    assert statuses == {old["order_id"]: ("EXPIRED", "EXPIRED"),
                        live["order_id"]: ("OPEN", "OPEN")}  # fmt: skip


# --- store: unscoped stores (tools, tests) and per-call chains ---


def _two_chains(db_path: Path) -> tuple[Store, dict[str, Any]]:
    """An unscoped store holding the same OrderId on the local chain and on testnet."""
    s = Store.open(db_path)
    row = order_row()
    s.insert_order(row, detail="local")
    s.insert_order({**row, "chain_id": TESTNET}, detail="testnet")
    return s, row


def test_an_unscoped_store_takes_the_chain_each_call_names(db_path: Path) -> None:
    s, row = _two_chains(db_path)
    oid = row["order_id"]
    with s:
        with pytest.raises(BadInput, match="several chains"):
            s.get(oid)
        s.update_fields(oid, chain_id=TESTNET, last_error="testnet only")
        assert s.get(oid, chain_id=TESTNET)["last_error"] == "testnet only"
        assert s.get(oid, chain_id=LOCAL_CHAIN)["last_error"] is None
        assert len(s.find_by_client_id(row["client_id"])) == 2
        [found] = s.find_by_client_id(row["client_id"], chain_id=TESTNET)
        assert found["chain_id"] == TESTNET
        assert s.find_by_client_id(row["client_id"], address="dydx1other") == []
        assert len(s.find_by_client_id(row["client_id"], address=TEST_ADDRESS)) == 2
        assert [e["detail"] for e in s.events(oid, chain_id=TESTNET)] == ["testnet"]
        assert s.events("6b2c0e8e-0000-5000-8000-000000000000") == []
        assert s.count() == 2 and s.count(TESTNET) == 1
        summary = s.prune(height=10**6, now_unix=int(time.time()), keep_seconds=0,
                          chain_id=TESTNET)  # fmt: skip
        assert (summary.expired_short_term, summary.kept) == (1, 0) and s.count() == 1
        with pytest.raises(InternalError) as caught:
            s.prune(height=1, now_unix=0, keep_seconds=0)
        assert caught.value.message.startswith("prune needs a chain")
    with Store.open(db_path) as s:  # one row left: an unscoped store finds it by UUID
        assert [e["detail"] for e in s.events(oid)] == ["local"]


def test_update_fields_is_not_durable_unless_asked(store: Store) -> None:
    row = order_row()
    store.insert_order(row)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    store.update_fields(row["order_id"], last_error="x")
    assert "PRAGMA synchronous = FULL" not in statements
    store.update_fields(row["order_id"], durable=True, cancel_tx_hash="CD" * 32)
    assert "PRAGMA synchronous = FULL" in statements
    got = store.get(row["order_id"])
    assert (got["last_error"], got["cancel_tx_hash"]) == ("x", "CD" * 32)
    store.update_fields("6b2c0e8e-0000-5000-8000-000000000000", last_error="x")  # no row: no-op


def test_cancel_metrics_of_nothing_of_every_chain_and_of_unknowns(db_path: Path) -> None:
    with Store.open(db_path) as s:
        empty = s.cancel_metrics()
        assert empty == {
            "attempts": 0, "successes": 0, "failures": 0, "failures_by_kind": {},
            "success_rate": None, "latency_ms_p50": None, "latency_ms_p95": None,
            "by_market": {},
        }  # fmt: skip
        for ms in (10.0, 20.0, 30.0, 40.0):
            s.record_cancel_attempt("a", market=None, success=False, latency_ms=ms,
                                    chain_id=LOCAL_CHAIN)  # fmt: skip
        s.record_cancel_attempt("b", market="ETH-USD", success=True, latency_ms=1.0,
                                chain_id=TESTNET)  # fmt: skip
        m = s.cancel_metrics()  # unscoped: every chain's attempts
        assert (m["attempts"], m["successes"], m["failures"]) == (5, 1, 4)
        assert m["failures_by_kind"] == {"unknown": 4}
        assert set(m["by_market"]) == {"?", "ETH-USD"}
        unknown = m["by_market"]["?"]
        assert (unknown["attempts"], unknown["latency_ms_p50"], unknown["latency_ms_p95"]) == (
            4, 25.0, 38.5,
        )  # fmt: skip
        assert unknown["success_rate"] == 0.0
        assert s.cancel_metrics(chain_id=TESTNET)["attempts"] == 1


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
    import dydxctl.store as store_module

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


# --- store: rows, events and the status machine ---


def test_insert_order_fills_defaults_and_refuses_what_cannot_be_stored(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level("INFO", logger="dydxctl.store")
    _propagate(monkeypatch)
    row = order_row(reduce_only=None, client_metadata=None, source=None)
    stored = store.insert_order(row)
    got = store.get(row["order_id"])
    for record in (stored, got):
        assert (record["status"], record["reduce_only"], record["client_metadata"],
                record["source"]) == ("PENDING", 0, 0, "place")  # fmt: skip
        assert record["created_at"] == record["updated_at"]
    bare = {k: v for k, v in order_row().items() if k != "status"}
    assert store.insert_order(bare)["status"] == "PENDING"
    assert store.get(bare["order_id"])["status"] == "PENDING"
    assert store.insert_order(order_row(status=None, place_tx_hash=None))["status"] == "PENDING"
    assert _logged(caplog, "dydxctl.store")[-1].endswith(" tx=-")
    assert [e["detail"] for e in store.events(bare["order_id"])] == [None]  # no detail: NULL
    kept = order_row(status="OPEN", reduce_only="yes", client_metadata=7, source="import",
                     created_at="2020-01-01T00:00:00.000Z")  # fmt: skip
    store.insert_order(kept)
    got = store.get(kept["order_id"])
    assert (got["status"], got["reduce_only"], got["client_metadata"], got["source"]) == (
        "OPEN", 1, 7, "import",
    )  # fmt: skip
    assert got["created_at"] == "2020-01-01T00:00:00.000Z" and got["updated_at"] > "2026"
    n = store.count()
    with pytest.raises(InternalError) as caught:
        store.insert_order(order_row(status="LIVE"))
    assert caught.value.message == "Unknown order status 'LIVE'."
    with pytest.raises(InternalError) as caught:
        store.insert_order(order_row(chain_id=TESTNET))
    assert caught.value.message == (
        f"Order for chain {TESTNET} written to a store of {LOCAL_CHAIN}."
    )
    assert store.count() == n


def test_a_duplicate_order_names_its_order_id(store: Store) -> None:
    from dydxctl.errors import DuplicateOrder

    row = order_row(subaccount_number=3, clob_pair_id=1, market="ETH-USD")
    store.insert_order(row)
    with pytest.raises(DuplicateOrder) as caught:
        store.insert_order({**row, "order_id": "another-uuid"})
    assert caught.value.message == (
        f"An order with this OrderId is already stored (client id {row['client_id']}, clob "
        "pair 1, flags 0, subaccount 3)."
    )
    assert caught.value.hint == "Use another --client-id, or omit it to get a fresh one."
    assert caught.value.details == {"order_id": "another-uuid"}
    assert store.conn.in_transaction is False  # rolled back, the store stays usable


def test_transition_records_its_event_and_returns_the_row(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §5: every place/cancel is logged with its order id, tx hash and outcome."""
    caplog.set_level("INFO", logger="dydxctl.store")
    _propagate(monkeypatch)
    row = order_row()
    store.insert_order(row, detail="write-ahead")
    same = store.transition(row["order_id"], "PENDING", detail="again")  # no-op move is allowed
    assert same["status"] == "PENDING"
    moved = store.transition(row["order_id"], "OPEN", tx_hash="AA" * 32, detail="in a block",
                             last_error="none")  # fmt: skip
    assert (moved["status"], moved["last_error"], moved["order_id"]) == (
        "OPEN", "none", row["order_id"],
    )  # fmt: skip
    assert store.get(row["order_id"])["last_error"] == "none"
    assert _logged(caplog, "dydxctl.store") == [
        f"store order={row['order_id']} inserted PENDING client_id={row['client_id']} "
        f"tx={row['place_tx_hash']}",
        f"store order={row['order_id']} PENDING -> PENDING tx=- again",
        f"store order={row['order_id']} PENDING -> OPEN tx={'AA' * 32} in a block",
    ]
    events = store.events(row["order_id"])
    assert [(e["from_status"], e["to_status"], e["tx_hash"], e["detail"]) for e in events] == [
        (None, "PENDING", row["place_tx_hash"], "write-ahead"),
        ("PENDING", "PENDING", None, "again"),
        ("PENDING", "OPEN", "AA" * 32, "in a block"),
    ]
    store.transition(row["order_id"], "FILLED")
    assert store.events(row["order_id"])[-1]["detail"] is None  # "" is stored as NULL
    with pytest.raises(InternalError) as caught:
        store.transition(row["order_id"], "GONE")
    assert caught.value.message == "Unknown order status 'GONE'."
    with pytest.raises(InternalError) as caught:
        store.transition(row["order_id"], "OPEN")
    assert caught.value.message == (
        f"Illegal status change FILLED → OPEN for order {row['order_id']}."
    )
    from dydxctl.errors import OrderNotFound

    with pytest.raises(OrderNotFound) as missing:
        store.transition("nope", "OPEN")
    assert missing.value.message == "Order nope is not in the store."
    with pytest.raises(InternalError) as caught:
        store.transition(row["order_id"], "FILLED", client_id=1, chain_id=None, zz=2)
    assert caught.value.message == "Cannot update columns ['client_id', 'zz']."


@pytest.mark.parametrize(
    ("start", "allowed"),
    [
        ("PENDING", {"OPEN", "UNTRIGGERED", "REJECTED", "UNKNOWN", "CANCELED", "FILLED",
                     "EXPIRED"}),
        ("UNKNOWN", {"OPEN", "UNTRIGGERED", "REJECTED", "CANCEL_PENDING", "CANCELED",
                     "FILLED", "EXPIRED"}),
        ("OPEN", {"CANCEL_PENDING", "REJECTED", "CANCELED", "FILLED", "EXPIRED"}),
        ("UNTRIGGERED", {"OPEN", "CANCEL_PENDING", "REJECTED", "CANCELED", "FILLED",
                         "EXPIRED"}),
        ("CANCEL_PENDING", {"OPEN", "UNTRIGGERED", "CANCELED", "FILLED", "EXPIRED"}),
        ("FILLED", set()),
    ],
)  # fmt: skip
def test_the_status_machine_allows_exactly_its_moves(
    db_path: Path, start: str, allowed: set[str]
) -> None:
    from dydxctl.store import STATUSES, IllegalTransition

    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s, s.write():
        for target in STATUSES:
            row = order_row(status=start)
            s.insert_order(row)
            if target in allowed or target == start:
                assert s.transition(row["order_id"], target)["status"] == target
            else:
                with pytest.raises(IllegalTransition):
                    s.transition(row["order_id"], target)


def test_resolve_by_client_id_uuid_and_range(store: Store) -> None:
    from dydxctl.chain import CLIENT_ID_MAX

    row = order_row(client_id=CLIENT_ID_MAX)
    store.insert_order(row)
    assert store.resolve(f" {CLIENT_ID_MAX} ")["order_id"] == row["order_id"]
    assert store.resolve(str(CLIENT_ID_MAX), address="dydx1other") is None
    assert store.resolve(f" {row['order_id'].upper()} ")["order_id"] == row["order_id"]
    assert store.resolve("12") is None
    assert store.resolve("１２") is None  # not ASCII digits: looked up as a UUID
    with pytest.raises(BadInput) as caught:
        store.resolve(str(CLIENT_ID_MAX + 1))
    assert caught.value.message == (
        f"Client id {CLIENT_ID_MAX + 1} is out of range: client ids are 0..{CLIENT_ID_MAX}."
    )
    assert caught.value.hint == (
        "Pass the ORDER ID (the UUID), or a client id shown by `dydxctl orders`."
    )
    twin = order_row(client_id=CLIENT_ID_MAX, clob_pair_id=1, market="ETH-USD")
    store.insert_order(twin)
    with pytest.raises(BadInput) as caught:
        store.resolve(str(CLIENT_ID_MAX))
    assert caught.value.message.startswith(f"Client id {CLIENT_ID_MAX} names 2 stored orders (")
    assert caught.value.message in {
        f"Client id {CLIENT_ID_MAX} names 2 stored orders ({a}, {b})."
        for a, b in ((row["order_id"], twin["order_id"]), (twin["order_id"], row["order_id"]))
    }
    assert caught.value.hint == "Pass the ORDER ID (the UUID) instead."
    assert store.client_id_taken(LOCAL_CHAIN, TEST_ADDRESS, 0, CLIENT_ID_MAX)
    assert not store.client_id_taken(LOCAL_CHAIN, TEST_ADDRESS, 1, CLIENT_ID_MAX)
    assert not store.client_id_taken(TESTNET, TEST_ADDRESS, 0, CLIENT_ID_MAX)
    assert not store.client_id_taken(LOCAL_CHAIN, "dydx1other", 0, CLIENT_ID_MAX)
    assert not store.client_id_taken(LOCAL_CHAIN, TEST_ADDRESS, 0, 5)


def test_an_unscoped_get_of_a_uuid_on_two_chains_names_them(db_path: Path) -> None:
    s, row = _two_chains(db_path)
    with s, pytest.raises(BadInput) as caught:
        s.get(row["order_id"])
    assert caught.value.message in {
        f"Order {row['order_id']} is stored for several chains ({a}, {b})."
        for a, b in ((LOCAL_CHAIN, TESTNET), (TESTNET, LOCAL_CHAIN))
    }
    assert caught.value.hint == "Pass --network (or --chain-id) to say which."


def test_list_orders_scopes_to_the_chain_unless_all_chains(db_path: Path) -> None:
    s, _ = _two_chains(db_path)
    with s:
        s.insert_order(order_row(chain_id=TESTNET, market="ETH-USD", clob_pair_id=1,
                                 status="OPEN"))  # fmt: skip
        assert len(s.list_orders(chain_id=TESTNET)) == 2
        assert len(s.list_orders(chain_id=TESTNET, all_chains=True)) == 3
        assert [r["market"] for r in s.list_orders(chain_id=TESTNET, limit=1)] == ["ETH-USD"]
        assert s.list_orders(chain_id=TESTNET, address="dydx1other") == []
        assert (
            len(
                s.list_orders(
                    chain_id=TESTNET,
                    status="OPEN",
                    market="ETH-USD",
                    address=TEST_ADDRESS,
                    statuses=frozenset({"OPEN"}),
                )
            )
            == 1
        )
    with Store.open(db_path, chain_id=TESTNET) as s:
        assert len(s.list_orders()) == 2 and len(s.list_orders(all_chains=True)) == 3


# --- store: caches and cancel attempts ---


def test_caches_round_trip_every_field(store: Store) -> None:
    market = {
        "ticker": "ETH-USD", "clob_pair_id": 1, "atomic_resolution": -9,
        "quantum_conversion_exponent": -9, "step_base_quantums": 1_000_000,
        "subticks_per_tick": 100_000, "oracle_price": "3000", "status": "ACTIVE",
    }  # fmt: skip
    store.cache_markets("c", [market, {**market, "ticker": "X", "oracle_price": None}], 50.0)
    got = store.cached_market("c", "ETH-USD", max_age_s=10, now=60.0)
    assert got == {**market, "chain_id": "c", "fetched_at": 50.0}
    assert store.cached_market("c", "ETH-USD", max_age_s=10, now=60.5) is None
    assert store.cached_market("d", "ETH-USD", max_age_s=10, now=60.0) is None
    assert store.cached_market("c", "X", max_age_s=10, now=60.0)["oracle_price"] is None
    store.cache_markets("c", [{**market, "oracle_price": "3100"}], 70.0)  # replaced
    assert store.cached_market("c", "ETH-USD", max_age_s=10, now=70.0)["oracle_price"] == "3100"
    store.cache_account_number("c", "addr", 7, now=1.0)
    store.cache_account_number("c", "addr", 8, now=2.0)
    assert store.cached_account_number("c", "addr") == 8
    assert store.cached_account_number("d", "addr") is None
    assert store.cached_account_number("c", "other") is None
    assert store.cached_chain_clock("c", "g:1") is None
    clock = {"height": 10, "time_ms": 1_000, "observed_mono": 5.5, "boot_id": "b",
             "block_ms": 1_500}  # fmt: skip
    store.cache_chain_clock("c", "g:1", **clock)
    store.cache_chain_clock("c", "g:2", **{**clock, "height": 11})
    assert store.cached_chain_clock("c", "g:1") == clock
    store.cache_chain_clock("c", "g:1", **{**clock, "height": 12})
    assert store.cached_chain_clock("c", "g:1")["height"] == 12
    assert store.cached_chain_clock("d", "g:1") is None


def test_a_cancel_attempt_is_stored_field_by_field(store: Store) -> None:
    store.record_cancel_attempt(
        "oid", market="BTC-USD", success=False, latency_ms=12.5, kind="chain_rejected",
        codespace="clob", code=29, tx_hash="EE" * 32, detail="why",
    )  # fmt: skip
    store.record_cancel_attempt("oid", market=None, success=True, latency_ms=1.0)
    rows = store._query("SELECT * FROM cancel_attempts ORDER BY rowid")
    assert {k: rows[0][k] for k in ("order_id", "chain_id", "market", "outcome", "kind",
                                     "codespace", "code", "latency_ms", "tx_hash", "detail")} == {
        "order_id": "oid", "chain_id": LOCAL_CHAIN, "market": "BTC-USD", "outcome": "failure",
        "kind": "chain_rejected", "codespace": "clob", "code": 29, "latency_ms": 12.5,
        "tx_hash": "EE" * 32, "detail": "why",
    }  # fmt: skip
    assert (rows[1]["outcome"], rows[1]["detail"], rows[1]["market"]) == ("success", None, None)
    assert rows[0]["at"].endswith("Z") and rows[0]["at"] <= rows[1]["at"]


# --- store: the write lock ---


def test_a_writer_gives_up_after_the_busy_timeout_and_restores_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dydxctl.store as store_module

    row = order_row()
    store.insert_order(row)
    other = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock throughout
    try:
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)
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


def test_sync_import_of_an_untriggered_order_past_its_good_til_records_it_expired(
    chain_cli: Any,
) -> None:
    emu = chain_cli.emu
    emu.set_indexer_lag(5)
    stop = chain_cli.place(*LIMIT, "--type", "stop-limit", "--trigger-price", "60000",
                           "--good-til", "1h")  # fmt: skip
    emu.advance(6)  # the Indexer has the order (UNTRIGGERED) ...
    with emu.state.lock:  # ... and the chain's next block is past its good-til
        emu.state.block_time = stop["good_til_block_time"] + 10
    emu.advance(1)
    _forget(chain_cli, stop["order_id"])
    [imported] = _sync(chain_cli, import_orders=True)["imported"]
    assert (imported["order_id"], imported["from"], imported["status"]) == (
        stop["order_id"], "EXPIRED", "EXPIRED",
    )  # fmt: skip


def test_resolve_on_an_unscoped_store_takes_the_chain_and_lists_five(db_path: Path) -> None:
    s, row = _two_chains(db_path)
    with s:
        assert s.resolve(str(row["client_id"]), chain_id=TESTNET)["chain_id"] == TESTNET
        assert s.resolve(row["order_id"], chain_id=TESTNET)["chain_id"] == TESTNET
        for pair in range(1, 6):
            s.insert_order(order_row(client_id=row["client_id"], clob_pair_id=pair,
                                     market=f"M{pair}-USD"))  # fmt: skip
        with pytest.raises(BadInput) as caught:
            s.resolve(str(row["client_id"]), chain_id=LOCAL_CHAIN)
    assert caught.value.message.startswith(f"Client id {row['client_id']} names 6 stored orders")
    assert caught.value.message.count(", ") == 4  # the first five ids


@pytest.mark.parametrize("dry_run", [True, False])
def test_library_prune_logs_its_counts_and_duration(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    dry_run: bool,
) -> None:  # fmt: skip
    """SPEC §5: every prune is logged. Offline: the wall clock, no node."""
    from dydxctl import reconcile

    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        s.insert_order(order_row(order_flags=64, good_til_block_time=1_000_000))
        s.insert_order(order_row(order_flags=64, good_til_block_time=4_000_000_000))
        ticks = iter([10.0, 10.25])
        fake = SimpleNamespace(time=time.time, perf_counter=lambda: next(ticks))
        monkeypatch.setattr(reconcile, "time", fake)
        rt = SimpleNamespace(settings=SimpleNamespace(prune_keep="7d"), store=lambda: s)
        caplog.set_level("INFO", logger="dydxctl.reconcile")
        _propagate(monkeypatch)
        summary = reconcile.prune(rt, dry_run=dry_run, offline=True)
        assert (summary.expired_stateful, summary.kept, summary.dry_run) == (1, 1, dry_run)
    label = " (dry run)" if dry_run else ""
    assert _logged(caplog, "dydxctl.reconcile") == [
        f"prune{label}: short-term 0, stateful 1, final 0, kept 1 in 250.0 ms"
    ]


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
