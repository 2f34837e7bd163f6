"""The emulated Indexer websocket (socks): `v4_subaccounts` and `v4_parent_subaccounts`.

Built from the Indexer source (dydxprotocol/v4-chain, tag protocol/v9.6.1, indexer/):
- services/socks/src/helpers/message.ts — the outgoing shapes: `connected` (message_id 0),
  `subscribed` (channel, id, contents), `channel_data` (id, channel, version, contents,
  subaccountNumber), `unsubscribed`, `error` (message, connection_id, message_id).
- services/socks/src/websocket/index.ts — incoming `subscribe` / `unsubscribe` / `ping`;
  the error texts for unparsable messages, a missing type or channel, unknown types and
  channels; the per-connection message_id that counts every message sent.
- services/socks/src/lib/subscription.ts — the id format `{address}/{subaccountNumber}`
  (< 128 * 1000 for subaccounts, < 128 for parents), "already subscribed", and the initial
  response: the subaccount, its OPEN/UNTRIGGERED/BEST_EFFORT_OPENED orders plus the
  BEST_EFFORT_CANCELED ones of the last 20 blocks, and blockHeight.
- packages/kafka/src/constants.ts SUBACCOUNTS_WEBSOCKET_MESSAGE_VERSION, and the order
  contents of packages/kafka/src/websocket-helper.ts (placements) and vulcan
  handlers/order-remove-handler.ts (removals, with `removalReason`).

socks is its own server (WS_PORT; 3003 in indexer/docker-compose-local-deployment.yml),
accepting any path; we serve it on its own port too, and clients use `/v4/ws`.

The Indexer model publishes `SocksMessage`s (what ender/vulcan put on the
to-websockets-subaccounts topic); a single dispatcher thread forwards them in order, so a
subscription registered after a snapshot receives exactly the messages after it.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("dydxctl.emulator.ws")

CHANNEL_SUBACCOUNTS = "v4_subaccounts"
CHANNEL_PARENT_SUBACCOUNTS = "v4_parent_subaccounts"
# services/socks/src/types.ts Channel: every channel socks knows (we serve the two above).
ALL_CHANNELS = frozenset({
    "v4_orderbook", CHANNEL_SUBACCOUNTS, "v4_trades", "v4_markets", "v4_candles",
    CHANNEL_PARENT_SUBACCOUNTS, "v4_block_height",
})  # fmt: skip
SUBACCOUNTS_WEBSOCKET_MESSAGE_VERSION = "3.0.0"  # packages/kafka/src/constants.ts
MAX_PARENT_SUBACCOUNTS = 128  # packages/postgres/src/constants.ts
CHILD_SUBACCOUNT_MULTIPLIER = 1000  # packages/postgres/src/constants.ts
# socks/src/lib/constants.ts WS_CLOSE_CODE_SERVICE_RESTART, sent when socks shuts down.
WS_CLOSE_CODE_SERVICE_RESTART = 1012
# Fields of OrderSubaccountMessageContents (postgres/src/types/websocket-message-types.ts).
ORDER_MESSAGE_FIELDS = (
    "id", "subaccountId", "clientId", "clobPairId", "side", "size", "ticker", "price", "type",
    "timeInForce", "postOnly", "reduceOnly", "status", "orderFlags", "totalFilled",
    "totalOptimisticFilled", "goodTilBlock", "goodTilBlockTime", "triggerPrice", "updatedAt",
    "updatedAtHeight", "removalReason", "createdAtHeight", "clientMetadata",
)  # fmt: skip


@dataclass(frozen=True)
class SocksMessage:
    """One message on the to-websockets-subaccounts topic: a subaccount and its contents."""

    address: str
    subaccount_number: int
    contents: dict[str, Any]


def order_contents(order: dict[str, Any], **override: Any) -> dict[str, Any]:
    """An Indexer order object cut to the websocket's order fields, with overrides (status,
    removalReason, totalFilled…); None values are left out, as JSON.stringify does."""
    merged = {**order, **override}
    return {k: merged[k] for k in ORDER_MESSAGE_FIELDS if merged.get(k) is not None}


def parent_of(subaccount_number: int) -> int:
    """A child subaccount's parent (postgres/src/lib/parent-subaccount-helpers.ts)."""
    return subaccount_number % MAX_PARENT_SUBACCOUNTS


def _valid_subaccount_id(sub_id: Any, limit: int) -> tuple[str, int] | None:
    """subscription.ts validateSubaccountChannelId: `{address}/{number}`, number < limit."""
    if not isinstance(sub_id, str):
        return None
    parts = sub_id.split("/")
    if len(parts) != 2 or not parts[1].strip().lstrip("-").isdigit():
        return None
    number = int(parts[1])
    if number >= limit:
        return None
    return parts[0], number


class _Connection:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.id = str(uuid.uuid4())
        self.message_id = 0
        self.lock = threading.Lock()
        self.subscriptions: set[tuple[str, str]] = set()

    def send(self, body: dict[str, Any] | str, *, count: bool = True) -> None:
        with self.lock:
            if isinstance(body, dict) and count:
                self.message_id += 1
                body = {**body, "connection_id": self.id, "message_id": self.message_id}
            try:
                self.ws.send(body if isinstance(body, str) else json.dumps(body))
            except Exception as exc:  # closed under us: the reader thread cleans up
                log.debug("ws send to %s failed: %s", self.id, exc)

    def error(self, message: str, **extra: Any) -> None:
        """createErrorMessage: carries the connection's current message id (not a new one)."""
        with self.lock:
            body = {"type": "error", "message": message, "connection_id": self.id,
                    "message_id": self.message_id, **extra}  # fmt: skip
        self.send(json.dumps(body), count=False)


class SocksServer:
    """The websocket server. `snapshot(address, number, parent)` returns the initial
    contents of a subscription (taken under the chain lock); `publish` queues an update."""

    def __init__(
        self,
        host: str,
        port: int,
        snapshot: Callable[[str, int, bool], dict[str, Any]],
        lock: Any,
    ) -> None:
        from websockets.sync.server import serve

        self._snapshot = snapshot
        self._chain_lock = lock
        self._connections: dict[str, _Connection] = {}
        self._registry_lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._refusing = threading.Event()
        self._server = serve(self._handle, host, port, compression=None)
        self.port = self._server.socket.getsockname()[1]
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="socks", daemon=True),
            threading.Thread(target=self._dispatch, name="socks-dispatch", daemon=True),
        ]
        self.published = itertools.count()
        self._losing = 0  # messages still to lose (lose_next)

    def start(self) -> SocksServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.drop_connections()
        self._server.shutdown()
        self._queue.put(("stop", None))
        for thread in self._threads:
            thread.join(timeout=5)

    # --- test hooks ---------------------------------------------------------------------
    def drop_connections(self, *, refuse: bool = False) -> int:
        """Close every connection (1012, as socks does on a restart); with refuse=True, also
        refuse new ones until `accept_connections()`."""
        if refuse:
            self._refusing.set()
        with self._registry_lock:
            connections = list(self._connections.values())
        for connection in connections:
            try:
                connection.ws.close(WS_CLOSE_CODE_SERVICE_RESTART, "Service restarting")
            except Exception as exc:
                log.debug("close %s: %s", connection.id, exc)
        return len(connections)

    def accept_connections(self) -> None:
        self._refusing.clear()

    def lose_next(self, count: int = 1) -> None:
        """Lose the next `count` messages to every subscriber, message_id counted all the
        same — as a frame written to a dying socket is (socks helpers/wss.ts sendMessage)."""
        self._queue.put(("lose", count))

    def inject(self, raw: str) -> None:
        """Send `raw` as is (a malformed frame) to every connection, in feed order."""
        self._queue.put(("raw", raw))

    def connection_count(self) -> int:
        with self._registry_lock:
            return len(self._connections)

    # --- the feed -----------------------------------------------------------------------
    def publish(self, message: SocksMessage) -> None:
        """Queue an update (call it in the order the Indexer produced them)."""
        next(self.published)
        self._queue.put(("publish", message))

    def _dispatch(self) -> None:
        while True:
            kind, item = self._queue.get()
            if kind == "stop":
                return
            if kind == "subscribe":
                connection, channel, sub_id, body = item
                connection.send(body)
                with self._registry_lock:
                    connection.subscriptions.add((channel, sub_id))
                continue
            if kind == "lose":
                self._losing += item
                continue
            if kind == "raw":
                with self._registry_lock:
                    connections = list(self._connections.values())
                for connection in connections:
                    connection.send(item, count=False)
                continue
            self._forward(item)

    def _forward(self, message: SocksMessage) -> None:
        """message-forwarder.ts: to subscribers of the subaccount, and of its parent (with
        subaccountNumber, so a client can tell the children apart)."""
        number = message.subaccount_number
        targets = {
            (CHANNEL_SUBACCOUNTS, f"{message.address}/{number}"),
            (CHANNEL_PARENT_SUBACCOUNTS, f"{message.address}/{parent_of(number)}"),
        }
        with self._registry_lock:
            subscribed = [
                (c, key) for c in self._connections.values() for key in c.subscriptions
                if key in targets
            ]  # fmt: skip
        lose = self._losing > 0
        self._losing -= 1 if lose else 0
        for connection, (channel, sub_id) in subscribed:
            if lose:  # counted, never delivered
                with connection.lock:
                    connection.message_id += 1
                continue
            connection.send({
                "type": "channel_data", "id": sub_id, "channel": channel,
                "version": SUBACCOUNTS_WEBSOCKET_MESSAGE_VERSION, "contents": message.contents,
                "subaccountNumber": message.subaccount_number,
            })  # fmt: skip

    # --- one connection -----------------------------------------------------------------
    def _handle(self, ws: Any) -> None:
        if self._refusing.is_set():
            ws.close(WS_CLOSE_CODE_SERVICE_RESTART, "Service restarting")
            return
        connection = _Connection(ws)
        with self._registry_lock:
            self._connections[connection.id] = connection
        try:
            # createConnectedMessage: message_id 0.
            connection.send(
                json.dumps({"type": "connected", "connection_id": connection.id, "message_id": 0}),
                count=False,
            )
            for raw in ws:
                self._on_message(connection, raw)
        except Exception as exc:  # a dropped peer ends the loop with ConnectionClosed
            log.debug("ws connection %s ended: %s", connection.id, exc)
        finally:
            with self._registry_lock:
                self._connections.pop(connection.id, None)

    def _on_message(self, connection: _Connection, raw: str | bytes) -> None:
        try:
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            connection.error("Invalid message: could not parse")
            return
        if not isinstance(parsed, dict) or not parsed.get("type"):
            connection.error("Invalid message: type is required")
            return
        kind = parsed["type"]
        if kind == "ping":  # socks lets the ws library answer pings; nothing to send
            return
        if kind not in ("subscribe", "unsubscribe"):
            connection.error(f"Invalid message type: {kind}")
            return
        channel, sub_id = parsed.get("channel"), parsed.get("id")
        if not channel:
            connection.error("Invalid subscribe message: channel is required")
            return
        if channel not in ALL_CHANNELS:
            connection.error(f"Invalid channel: {channel}")
            return
        if channel not in (CHANNEL_SUBACCOUNTS, CHANNEL_PARENT_SUBACCOUNTS):
            connection.error(f"Channel {channel} is not served by the emulator")
            return
        if kind == "unsubscribe":
            with self._registry_lock:
                connection.subscriptions.discard((channel, str(sub_id)))
            connection.send({"type": "unsubscribed", "channel": channel, "id": sub_id})
            return
        self._subscribe(connection, channel, sub_id)

    def _subscribe(self, connection: _Connection, channel: str, sub_id: Any) -> None:
        parent = channel == CHANNEL_PARENT_SUBACCOUNTS
        limit = MAX_PARENT_SUBACCOUNTS * (1 if parent else CHILD_SUBACCOUNT_MULTIPLIER)
        parsed = _valid_subaccount_id(sub_id, limit)
        if parsed is None:
            # subscription.ts subscribe: the message id is the next one.
            with connection.lock:
                connection.message_id += 1
            connection.error(f"Invalid subscription id for channel: ({channel}-{sub_id})")
            return
        with self._registry_lock:
            duplicate = (channel, sub_id) in connection.subscriptions
        if duplicate:
            connection.error(
                f"Invalid subscribe message: already subscribed ({channel}-{sub_id})",
                channel=channel, id=sub_id,
            )  # fmt: skip
            return
        address, number = parsed
        with self._chain_lock:  # the snapshot and its place in the feed are taken together
            contents = self._snapshot(address, number, parent)
            body = {"type": "subscribed", "channel": channel, "id": sub_id, "contents": contents}
            self._queue.put(("subscribe", (connection, channel, sub_id, body)))
