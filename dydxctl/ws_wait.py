"""Confirmation on the spot: follow one subaccount on the Indexer websocket while a command
waits for its orders (`cancel --wait`, `cancel --all --wait`, `place --wait`).

The follower is started BEFORE the broadcast, so the removal cannot slip past it; its
snapshot also lists the subaccount's best-effort-canceled orders of the last 20 blocks
(socks subscription.ts), which covers a short-term cancel that raced the subscription.
It only reads the socket; the waiting thread applies what it hands over to the store
(ws_apply, events marked `websocket:`). When the websocket cannot be reached the waiter
keeps its REST/height/GetTx polling (finality.py): the websocket only makes it faster.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dydxctl import logs
from dydxctl.ws_apply import OrderUpdate, parse_order

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime
    from dydxctl.store import Store

log = logs.get("ws")
CONNECT_GRACE_S = 2.0  # how long a waiter lets the follower connect before relying on REST


@dataclass
class Heard:
    """One order update heard on the websocket, with its fills and the block it reports."""

    update: OrderUpdate
    fills: list[dict[str, Any]]
    block_height: int | None
    at: float  # time.monotonic() when it arrived


class OrderFollower:
    """A background reader of one subaccount's stream, collecting order updates."""

    def __init__(self, url: str, address: str, subaccount: int) -> None:
        from dydxctl.ws_client import SubaccountStream

        self.stream = SubaccountStream(url, address, [subaccount], open_timeout_s=3)
        self._heard: dict[str, list[Heard]] = {}
        self._taken: dict[str, int] = {}
        self._cond = threading.Condition()
        self.subscribed = threading.Event()
        self.disconnects = 0
        self._thread = threading.Thread(target=self._run, name="ws-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for event in self.stream.events():
            if event.kind == "disconnected":
                self.disconnects += 1
                continue
            if event.kind not in ("subscribed", "update"):
                continue
            contents = event.contents
            height = contents.get("blockHeight")
            fills: dict[str, list[dict[str, Any]]] = {}
            for fill in contents.get("fills") or []:
                if isinstance(fill, dict) and fill.get("orderId"):
                    fills.setdefault(str(fill["orderId"]), []).append(fill)
            now = time.monotonic()
            with self._cond:
                for item in contents.get("orders") or []:
                    update = parse_order(item, event.subaccount_number)
                    if update is None:
                        continue
                    heard = Heard(
                        update, fills.get(update.order_id, []),
                        int(height) if str(height or "").isdigit() else None, now,
                    )  # fmt: skip
                    self._heard.setdefault(update.order_id, []).append(heard)
                if event.kind == "subscribed":
                    self.subscribed.set()
                self._cond.notify_all()

    def take(self, order_id: str, timeout_s: float) -> list[Heard]:
        """Updates of `order_id` not taken before; waits up to timeout_s for one."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                heard = self._heard.get(order_id, [])
                start = self._taken.get(order_id, 0)
                if len(heard) > start:
                    self._taken[order_id] = len(heard)
                    return heard[start:]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    def close(self) -> None:
        self.stream.stop.set()
        self._thread.join(timeout=2)


def start_follower(rt: Runtime, address: str, subaccount: int) -> OrderFollower | None:
    """A follower for the command's subaccount; None when no websocket is configured."""
    url = rt.settings.websocket
    if not url:
        return None
    try:
        return OrderFollower(url, address, subaccount)
    except Exception as exc:  # never let the fast path break the command
        log.warning("ws: cannot follow %s: %s", url, exc)
        return None


def settle_heard(store: Store, heard: list[Heard]) -> str | None:
    """Apply heard updates to the store; the evidence when one is final, else None."""
    from dydxctl.ws_apply import StreamApplier, describe

    applier = StreamApplier(store)
    evidence = None
    for item in heard:
        applier.apply_order(item.update, item.fills, snapshot=False)
        if item.update.final:
            evidence = describe(item.update)
            if item.block_height is not None:
                evidence += f" at height {item.block_height}"
            if item.update.status == "FILLED" or item.update.total_filled:
                size = f" of {item.update.size}" if item.update.size is not None else ""
                evidence += f"; filled {item.update.total_filled or 0}{size}"
    return evidence


def follow(rt: Runtime, address: str, subaccount: int) -> OrderFollower | None:
    """Start (once per process) the follower a later `pause` listens to; Runtime.close()
    stops it."""
    key = f"ws_follower:{address}/{subaccount}"
    if key not in rt._cache:
        follower = start_follower(rt, address, subaccount)
        if follower is None:
            return None
        rt._cache[key] = follower
    return rt._cache[key]


def pause(rt: Runtime, store: Store, row: dict[str, Any], seconds: float) -> str | None:
    """Wait up to `seconds` between two polls: for a websocket update of the order when a
    follower runs (applied at once; its evidence returned when final), else just sleep."""
    follower = rt._cache.get(f"ws_follower:{row['address']}/{row['subaccount_number']}")
    if follower is None:
        time.sleep(seconds)
        return None
    heard = follower.take(row["order_id"], seconds)
    return settle_heard(store, heard) if heard else None


def listen_first(rt: Runtime, store: Store, row: dict[str, Any], wait_s: float = 0.0) -> str | None:
    """Before a REST poll: what the websocket says within wait_s (after up to
    CONNECT_GRACE_S for a follower still connecting). No follower: None at once."""
    follower = rt._cache.get(f"ws_follower:{row['address']}/{row['subaccount_number']}")
    if follower is None:
        return None
    if not follower.subscribed.wait(CONNECT_GRACE_S):
        return None  # unreachable: the polling carries on alone
    heard = follower.take(row["order_id"], wait_s)
    return settle_heard(store, heard) if heard else None
