"""A client of the Indexer websocket's subaccount channels (`v4_subaccounts`,
`v4_parent_subaccounts`), with reconnection and gap detection.

Protocol (dydxprotocol/v4-chain indexer/services/socks, see docs/cancellation.md): the server
greets with `connected` (message_id 0); `{"type":"subscribe","channel":…,"id":"addr/N"}` is
answered by `subscribed` carrying a snapshot (the subaccount, its open orders, blockHeight),
then `channel_data` (or `channel_batch_data`) for every change. message_id counts every
message of one connection, so a jump means a message was lost: the caller must reconcile
from REST before trusting the stream again, as after every reconnect.

`websockets` (its sync client) is imported here only, so other commands never load it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dydxctl import logs

log = logs.get("ws")

CHANNEL_SUBACCOUNTS = "v4_subaccounts"
CHANNEL_PARENT_SUBACCOUNTS = "v4_parent_subaccounts"
BACKOFF_FIRST_S = 0.25
BACKOFF_MAX_S = 8.0
RECV_SLICE_S = 0.2  # how often a blocked receive checks for stop / deadlines


@dataclass
class StreamEvent:
    """One thing that happened on the stream.

    kind: "subscribed" (contents = snapshot; `resumed` after a reconnect), "update"
    (contents of a channel_data, or one of a batch), "gap" (a message_id was skipped),
    "disconnected" (detail says why; the client reconnects), "error" (the server's error
    message), "malformed" (a message that could not be used; skipped).
    """

    kind: str
    contents: dict[str, Any] = field(default_factory=dict)
    subaccount_number: int | None = None
    detail: str = ""
    resumed: bool = False
    raw: dict[str, Any] | None = None


def subscription_id(address: str, number: int) -> str:
    """socks subscription.ts validateSubaccountChannelId: `{address}/{subaccountNumber}`."""
    return f"{address}/{number}"


class SubaccountStream:
    """Follow subaccounts of one address until `stop` is set; reconnects with backoff."""

    def __init__(
        self,
        url: str,
        address: str,
        subaccounts: list[int],
        *,
        parent: bool = False,
        open_timeout_s: float = 5.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.url = url
        self.address = address
        self.subaccounts = subaccounts
        self.channel = CHANNEL_PARENT_SUBACCOUNTS if parent else CHANNEL_SUBACCOUNTS
        self.accepted_channels = {self.channel}
        self.open_timeout_s = open_timeout_s
        self.stop = stop or threading.Event()
        self.connected = False
        self.reconnects = 0

    def events(self) -> Iterator[StreamEvent]:
        """Yield events forever (until stop); never raises for network trouble."""
        backoff = BACKOFF_FIRST_S
        first = True
        while not self.stop.is_set():
            try:
                for event in self._session(resumed=not first):
                    if event.kind == "subscribed":
                        backoff = BACKOFF_FIRST_S
                        first = False
                    yield event
                reason = "the server closed the connection"
            except OSError as exc:  # refused, reset, DNS, TLS
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # websockets' ConnectionClosed / InvalidHandshake …
                reason = f"{type(exc).__name__}: {exc}"
            self.connected = False
            if self.stop.is_set():
                return
            yield StreamEvent("disconnected", detail=f"{reason}; reconnecting in {backoff:g}s")
            self.reconnects += 1
            if self.stop.wait(backoff):
                return
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _session(self, *, resumed: bool) -> Iterator[StreamEvent]:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(
            self.url, open_timeout=self.open_timeout_s, close_timeout=1, compression=None
        ) as ws:
            for number in self.subaccounts:
                ws.send(json.dumps({
                    "type": "subscribe", "channel": self.channel,
                    "id": subscription_id(self.address, number),
                }))  # fmt: skip
            last_id: int | None = None
            while not self.stop.is_set():
                try:
                    raw = ws.recv(timeout=RECV_SLICE_S)
                except TimeoutError:
                    continue
                except ConnectionClosed as exc:
                    detail = f"closed ({exc.rcvd.code} {exc.rcvd.reason})" if exc.rcvd else ""
                    raise ConnectionError(detail or "connection closed") from None
                message = _parse(raw)
                if message is None:
                    log.warning("ws: skipped a message that is not a JSON object: %.200r", raw)
                    yield StreamEvent("malformed", detail="not a JSON object")
                    continue
                message_id = message.get("message_id")
                if isinstance(message_id, int) and message_id > 0:
                    if last_id is not None and message_id > last_id + 1:
                        yield StreamEvent(
                            "gap", detail=f"message_id jumped from {last_id} to {message_id}"
                        )
                    last_id = message_id if last_id is None else max(last_id, message_id)
                yield from self._interpret(message, resumed=resumed)

    def _interpret(self, message: dict[str, Any], *, resumed: bool) -> Iterator[StreamEvent]:
        kind = message.get("type")
        if kind == "connected":
            return
        if kind == "error":
            yield StreamEvent("error", detail=str(message.get("message", "")), raw=message)
            return
        if message.get("channel") not in self.accepted_channels:
            if kind not in ("unsubscribed", "pong"):
                yield StreamEvent("malformed", detail=f"unexpected message type {kind!r}")
            return
        number = _subaccount_number(message)
        contents = message.get("contents")
        if kind == "subscribed" and isinstance(contents, dict):
            self.connected = True
            yield StreamEvent(
                "subscribed", contents, number, resumed=resumed, raw=message,
                detail=str(message.get("id", "")),
            )  # fmt: skip
        elif kind == "channel_data" and isinstance(contents, dict):
            yield StreamEvent("update", contents, number, raw=message)
        elif kind == "channel_batch_data" and isinstance(contents, list):
            for item in contents:
                if isinstance(item, dict):
                    yield StreamEvent("update", item, number, raw=message)
                else:
                    yield StreamEvent("malformed", detail="a batch item is not an object")
        else:
            log.warning("ws: skipped a %s message without usable contents", kind)
            yield StreamEvent("malformed", detail=f"{kind} without usable contents")


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _subaccount_number(message: dict[str, Any]) -> int | None:
    """The subaccount a message is about: `subaccountNumber` (set by socks for parent
    channels), else the number in the subscription id."""
    number = message.get("subaccountNumber")
    if isinstance(number, int):
        return number
    sub_id = str(message.get("id", ""))
    tail = sub_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def replay(messages: list[dict[str, Any]]) -> list[StreamEvent]:
    """The events recorded messages (of either subaccount channel) produce: for
    `watch --replay` and tests."""
    stream = SubaccountStream("replay:", "", [])
    stream.accepted_channels = {CHANNEL_SUBACCOUNTS, CHANNEL_PARENT_SUBACCOUNTS}
    events: list[StreamEvent] = []
    for message in messages:
        events.extend(stream._interpret(message, resumed=False))
    return events
