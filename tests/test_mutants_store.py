"""Tests that bite (issue 13 item 7): each pins a detail of store.py that a mutation test
(docs/mutation_store.md) showed no other test would notice. In-process and on SQLite:
mutants are imported, subprocesses would run the unmutated package."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from dydxctl.errors import BadInput, InternalError
from dydxctl.store import (
    Store,
)
from tests.conftest import LOCAL_CHAIN, TEST_ADDRESS, order_row

TESTNET = "dydx-testnet-4"
MAINNET = "dydx-mainnet-1"


def _logged(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """The messages, each once (with propagation on, a record can be captured twice)."""
    return list(dict.fromkeys(r.getMessage() for r in caplog.records if r.name == logger))


def _propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let caplog see dydxctl's records: a CLI run configures the logger not to propagate."""
    import logging

    monkeypatch.setattr(logging.getLogger("dydxctl"), "propagate", True)


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
