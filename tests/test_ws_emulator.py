"""The emulator's /v4/ws speaks socks' protocol, in the shapes of real captured payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import TEST_ADDRESS, ChainCli
from tests.test_ws_replay import load

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]


class Client:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def send(self, body: Any) -> None:
        self.ws.send(body if isinstance(body, str) else json.dumps(body))

    def recv(self) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=5))


@pytest.fixture
def client(emulator: Any) -> Any:
    from websockets.sync.client import connect

    with connect(emulator.ws_url, open_timeout=5) as ws:
        yield Client(ws)


def subscribe(client: Client, sub_id: str, channel: str = "v4_subaccounts") -> dict[str, Any]:
    client.send({"type": "subscribe", "channel": channel, "id": sub_id})
    return client.recv()


def _real_orders() -> list[dict[str, Any]]:
    orders = []
    for name in ("v4_subscribed", "v4_channel_data_with_orders", "v4_subaccounts_update_4",
                 "v4_subaccounts_update_7", "v4_best_effort_cancelled"):  # fmt: skip
        orders += load(name)["contents"]["orders"]
    return orders


def assert_like_real_orders(orders: list[dict[str, Any]]) -> None:
    """Every field is one real payloads use, with the same JSON type."""
    real_types: dict[str, set[type]] = {}
    for order in _real_orders():
        for key, value in order.items():
            real_types.setdefault(key, set()).add(type(value))
    for order in orders:
        for key, value in order.items():
            if key in ("removalReason", "goodTilBlockTime", "triggerPrice"):
                assert isinstance(value, str)  # not in every capture; strings in socks
                continue
            assert key in real_types, f"{key} is in no real payload"
            assert type(value) in real_types[key], (key, value)


def test_connected_then_subscribed_with_the_snapshot(chain_cli: ChainCli, client: Client) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    connected = client.recv()
    assert connected["type"] == "connected" and connected["message_id"] == 0
    assert set(connected) == {"type", "connection_id", "message_id"}
    subscribed = subscribe(client, f"{TEST_ADDRESS}/0")
    real = load("v4_subscribed")
    assert set(subscribed) == set(real)
    assert subscribed["message_id"] == 1
    assert subscribed["connection_id"] == connected["connection_id"]
    assert {"subaccount", "orders", "blockHeight"} <= set(subscribed["contents"])
    (snapshot,) = subscribed["contents"]["orders"]
    assert snapshot["id"] == order["order_id"] and snapshot["status"] == "BEST_EFFORT_OPENED"


def test_channel_data_like_real_payloads(chain_cli: ChainCli, client: Client) -> None:
    client.recv()
    subscribe(client, f"{TEST_ADDRESS}/0")
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    placed = client.recv()
    chain_cli.json("cancel", order["order_id"])
    removed = client.recv()
    real = load("v4_best_effort_cancelled")
    for message in (placed, removed):
        assert set(real) <= set(message) <= {*real, "subaccountNumber"}
        assert message["version"] == "3.0.0"  # SUBACCOUNTS_WEBSOCKET_MESSAGE_VERSION
        assert message["message_id"] > 1
        assert_like_real_orders(message["contents"]["orders"])
    assert removed["message_id"] == placed["message_id"] + 1
    assert placed["contents"]["orders"][0]["status"] == "BEST_EFFORT_OPENED"
    gone = removed["contents"]["orders"][0]
    assert gone["status"] == "BEST_EFFORT_CANCELED"
    assert gone["removalReason"] == "ORDER_REMOVAL_REASON_USER_CANCELED"


def test_fill_messages_carry_the_fill(chain_cli: ChainCli, client: Client) -> None:
    client.recv()
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    subscribe(client, f"{TEST_ADDRESS}/0")
    chain_cli.emu.fill(order["order_id"])
    message = client.recv()
    real_fill = load("v4_subaccounts_update_4")["contents"]["fills"][0]
    (fill,) = message["contents"]["fills"]
    assert set(fill) == set(real_fill)
    assert fill["orderId"] == order["order_id"] and fill["size"] == "0.001"
    assert message["contents"]["orders"][0]["status"] == "FILLED"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "Invalid message: could not parse"),
        ({"channel": "v4_subaccounts"}, "Invalid message: type is required"),
        ({"type": "dance"}, "Invalid message type: dance"),
        ({"type": "subscribe"}, "Invalid subscribe message: channel is required"),
        ({"type": "subscribe", "channel": "v4_nope", "id": "x/0"}, "Invalid channel: v4_nope"),
        ({"type": "subscribe", "channel": "v4_subaccounts", "id": "dydx1abc"},
         "Invalid subscription id for channel: (v4_subaccounts-dydx1abc)"),
        ({"type": "subscribe", "channel": "v4_parent_subaccounts", "id": "dydx1abc/128"},
         "Invalid subscription id for channel: (v4_parent_subaccounts-dydx1abc/128)"),
    ],
)  # fmt: skip
def test_bad_messages_get_socks_errors(client: Client, body: Any, message: str) -> None:
    client.recv()
    client.send(body)
    error = client.recv()
    assert set(load("v4_error")) <= set(error)
    assert error["type"] == "error" and error["message"] == message


def test_resubscribe_and_unsubscribe(client: Client) -> None:
    client.recv()
    subscribe(client, "dydx1abc/0")
    again = subscribe(client, "dydx1abc/0")
    assert again["message"] == (
        "Invalid subscribe message: already subscribed (v4_subaccounts-dydx1abc/0)"
    )
    client.send({"type": "unsubscribe", "channel": "v4_subaccounts", "id": "dydx1abc/0"})
    unsubscribed = client.recv()
    assert unsubscribed["type"] == "unsubscribed" and unsubscribed["id"] == "dydx1abc/0"


def test_parent_channel_hears_child_subaccounts(chain_cli: ChainCli, client: Client) -> None:
    client.recv()
    subscribed = subscribe(client, f"{TEST_ADDRESS}/0", channel="v4_parent_subaccounts")
    assert subscribed["contents"]["subaccount"]["parentSubaccountNumber"] == 0
    chain_cli.place(*LIMIT, "--good-til-blocks", "20", "--subaccount", "128")
    message = client.recv()
    assert message["channel"] == "v4_parent_subaccounts"
    assert message["id"] == f"{TEST_ADDRESS}/0" and message["subaccountNumber"] == 128


def test_admin_routes_drive_the_websocket(emulator: Any) -> None:
    import urllib.request

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    def admin(path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            emulator.indexer_url + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())

    with connect(emulator.ws_url, open_timeout=5) as ws:
        ws.recv(timeout=5)
        assert admin("/admin/ws/inject", {"raw": "garbage"}) == {"ok": True}
        assert ws.recv(timeout=5) == "garbage"
        assert admin("/admin/ws/drop", {"refuse": True}) == {"dropped": 1}
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1012  # WS_CLOSE_CODE_SERVICE_RESTART
    with connect(emulator.ws_url, open_timeout=5) as ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)  # refused: closed at once
    assert admin("/admin/ws/accept", {}) == {"ok": True}
    with connect(emulator.ws_url, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "connected"
