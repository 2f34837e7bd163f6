"""The store follows a stream of real captured Indexer websocket payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dydxctl.ws_apply import StreamApplier, parse_order, store_status
from dydxctl.ws_client import replay
from tests.conftest import order_row

FIXTURES = Path(__file__).parent / "fixtures" / "ws"
STREAM = [  # the order a client would have received them in
    "v4_subscribed",
    "v4_channel_data_with_orders",
    "v4_subaccounts_update_3",
    "v4_subaccounts_update_4",
    "v4_subaccounts_update_7",
    "v4_best_effort_cancelled",
    "v4_parent_subaccounts_partially_filled_and_canceled_orders",
]


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_real_stream_moves_the_store(store: Any) -> None:
    rows = {
        # resting short-term order of the snapshot, later FILLED
        "b812bea8-29d3-5841-9549-caa072f6f8a8": "PENDING",
        # the snapshot shows it BEST_EFFORT_CANCELED with a partial fill: not final
        "b812bea8-29d3-5841-9549-caa072f6f8a9": "OPEN",
        "31d7d484-8685-570c-aa62-c2589cb6c8d8": "PENDING",  # conditional: UNTRIGGERED
        "2caebf6b-35d3-512c-a4d9-e438445d8dba": "PENDING",  # partly filled, then FILLED
        "80133551-6d61-573b-9788-c1488e11027a": "OPEN",  # IOC remainder removed
        "3a8c6f8f-d8dd-54b5-a3a1-d318f586a80c": "OPEN",  # CANCELED on the parent channel
    }
    for order_id, status in rows.items():
        store.insert_order(order_row(order_id=order_id, status=status))
    applier = StreamApplier(store)
    seen = []
    for event in replay([load(name) for name in STREAM]):
        seen.extend(applier.apply(event))

    final = {order_id: store.get(order_id)["status"] for order_id in rows}
    assert final == {
        "b812bea8-29d3-5841-9549-caa072f6f8a8": "FILLED",
        "b812bea8-29d3-5841-9549-caa072f6f8a9": "CANCEL_PENDING",
        "31d7d484-8685-570c-aa62-c2589cb6c8d8": "UNTRIGGERED",
        "2caebf6b-35d3-512c-a4d9-e438445d8dba": "FILLED",
        "80133551-6d61-573b-9788-c1488e11027a": "CANCELED",
        "3a8c6f8f-d8dd-54b5-a3a1-d318f586a80c": "CANCELED",
    }
    # every change is an event marked as coming from the websocket
    events = store.events("2caebf6b-35d3-512c-a4d9-e438445d8dba")
    assert [e["to_status"] for e in events] == ["PENDING", "OPEN", "FILLED"]
    assert all(e["detail"].startswith("websocket:") for e in events[1:])
    # fills come with their amounts
    filled = [a for a in seen if a.update.order_id == "2caebf6b-35d3-512c-a4d9-e438445d8dba"]
    assert filled[-1].fills[0]["size"] == "0.956746"
    assert str(filled[-1].update.total_filled) == "1"
    # orders the store does not hold are reported, not invented
    assert any(not a.as_json()["stored"] for a in seen)
    assert applier.block_height is not None


def test_removal_statuses_map_by_reason() -> None:
    def status(
        indexer: str, reason: str | None, current: str = "OPEN", *, ours: bool = False,
        filled: str = "0",
    ) -> str | None:  # fmt: skip
        update = parse_order(
            {"id": "x", "status": indexer, "removalReason": reason, "totalFilled": filled}
        )
        assert update is not None
        return store_status(update, current, our_cancel=ours)

    user = "ORDER_REMOVAL_REASON_USER_CANCELED"
    # our cancel, nothing filled: off the book for good (finality.py's 404 reading)
    assert status("BEST_EFFORT_CANCELED", user, "CANCEL_PENDING", ours=True) == "CANCELED"
    assert status("BEST_EFFORT_CANCELED", user, "OPEN", ours=True) == "CANCELED"
    # a partial fill, or a cancel sent elsewhere: best-effort until the good-til-block
    assert status("BEST_EFFORT_CANCELED", user, "CANCEL_PENDING", ours=True, filled="1") is None
    assert status("BEST_EFFORT_CANCELED", user, "OPEN") == "CANCEL_PENDING"
    # an IOC remainder can never fill again; a replacement is no removal
    ioc = "ORDER_REMOVAL_REASON_IMMEDIATE_OR_CANCEL_WOULD_REST_ON_BOOK"
    assert status("BEST_EFFORT_CANCELED", ioc) == "CANCELED"
    assert status("BEST_EFFORT_CANCELED", "ORDER_REMOVAL_REASON_REPLACED") is None
    assert status("CANCELED", "ORDER_REMOVAL_REASON_EXPIRED") == "EXPIRED"
    assert status("CANCELED", "ORDER_REMOVAL_REASON_USER_CANCELED") == "CANCELED"
    assert status("FILLED", None) == "FILLED"
    # a snapshot taken before our cancel never undoes it
    assert status("BEST_EFFORT_OPENED", None, current="CANCEL_PENDING") is None
    assert status("OPEN", None, current="PENDING") == "OPEN"


def test_malformed_messages_are_skipped_not_fatal(store: Any) -> None:
    good = load("v4_best_effort_cancelled")
    store.insert_order(order_row(order_id="80133551-6d61-573b-9788-c1488e11027a", status="OPEN"))
    broken: list[Any] = [
        {"type": "channel_data", "channel": "v4_subaccounts", "id": "a/0", "contents": "oops"},
        {"type": "channel_data", "channel": "v4_subaccounts", "id": "a/0",
         "contents": {"orders": [{"no": "id"}, 7]}},
        {"type": "channel_batch_data", "channel": "v4_subaccounts", "id": "a/0",
         "contents": [3]},
        {"type": "mystery"},
        good,
    ]  # fmt: skip
    events = replay(broken)
    assert [e.kind for e in events] == ["malformed", "update", "malformed", "malformed", "update"]
    applier = StreamApplier(store)
    for event in events:
        applier.apply(event)
    assert store.get("80133551-6d61-573b-9788-c1488e11027a")["status"] == "CANCELED"


def test_server_error_message_is_an_error_event() -> None:
    (event,) = replay([load("v4_error")])
    assert event.kind == "error"
    assert "could not fetch data" in event.detail


def test_watch_time_left_runs_on_the_chain_clock() -> None:
    from dydxctl.watch_view import WatchState

    state = WatchState()
    state.see_height(100, 1_000.0)
    state.see_height(110, 1_011.0)  # 1.1 s per block by the chain's block times
    assert str(state.seconds_per_block()) == "1.1"
    from dydxctl.watch_view import Line

    short = Line("a", status="OPEN", good_til_block=130)
    assert state.time_left(short) == "20 blocks (~22s)"
    stateful = Line("b", status="OPEN", good_til_block_time="1970-01-01T00:20:11Z")
    assert state.time_left(stateful) == "3m 20s"  # 1211 - 1011
    assert state.time_left(Line("c", status="CANCELED", good_til_block=130)) == "-"


def test_watch_replays_real_payloads(cli: Any) -> None:
    args = [a for name in STREAM for a in ("--replay", str(FIXTURES / f"{name}.json"))]
    result = cli("--json", "watch", *args)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    last = {e["order_id"]: e for e in events if e.get("order_id")}
    assert last["2caebf6b-35d3-512c-a4d9-e438445d8dba"]["status"] == "FILLED"
    assert last["80133551-6d61-573b-9788-c1488e11027a"]["status"] == "CANCELED"
    assert last["3a8c6f8f-d8dd-54b5-a3a1-d318f586a80c"]["indexer_status"] == "CANCELED"
    table = cli("watch", *args)  # the rich view of the same stream
    assert table.exit_code == 0 and "2caebf6b-35d3-512c-a4d9-e438445d8dba" in table.stdout
    assert "FILLED" in table.stdout


def test_websocket_url_settings(cli: Any) -> None:
    from dydxctl.config import resolve

    assert resolve({"network": "mainnet"}, {}).websocket == "wss://indexer.dydx.trade/v4/ws"
    local = resolve({"network": "local", "indexer": "http://127.0.0.1:4002"}, {})
    assert local.websocket == "ws://127.0.0.1:4003/v4/ws"  # socks beside the Indexer
    custom = resolve({"indexer": "https://indexer.example.org/v4"}, {})
    assert custom.websocket == "wss://indexer.example.org/v4/ws"
    env = resolve({}, {"DYDXCTL_WEBSOCKET": "ws://127.0.0.1:9/v4/ws"})
    assert env.websocket == "ws://127.0.0.1:9/v4/ws"
    bad = cli("--websocket", "http://nope", "--json", "watch", "--duration", "0")
    assert bad.exit_code == 2 and "ws:// or wss://" in bad.stdout
