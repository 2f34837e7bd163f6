"""Tests that bite (issue 13 item 7) for reconcile.py: the Indexer lookup, `sync` and the
library prune, in-process against the emulator (docs/mutation_store.md)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dydxctl.store import (
    Store,
)
from tests.conftest import LOCAL_CHAIN, order_row
from tests.test_mutants_store import _logged, _propagate

TESTNET = "dydx-testnet-4"
MAINNET = "dydx-mainnet-1"


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
