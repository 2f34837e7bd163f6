"""Confirmation on the spot: follow one subaccount on the Indexer websocket while a command
waits for its orders (`cancel --wait`, `cancel --all --wait`, `place --wait`).

The follower is subscribed BEFORE the broadcast (follow() waits up to CONNECT_GRACE_S for
it): the removal of an unfilled short-term order is announced once and never appears in a
later snapshot (socks subscription.ts lists open orders and the best-effort-canceled rows
of Postgres, which only filled short-term orders have), so a late subscriber would miss it.
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
FINAL_STATUSES = frozenset({"CANCELED", "FILLED", "EXPIRED", "REJECTED"})


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
        self.first_try = threading.Event()  # subscribed, or the first connection failed
        self.disconnects = 0
        self._thread = threading.Thread(target=self._run, name="ws-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for event in self.stream.events():
            if event.kind == "disconnected":
                self.disconnects += 1
                self.first_try.set()
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
                    self.first_try.set()
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

    def seen(self, order_id: str) -> list[Heard]:
        """Every update of `order_id` heard so far (taken or not)."""
        with self._cond:
            return list(self._heard.get(order_id, []))

    def wait_any(self, order_ids: set[str], timeout_s: float) -> None:
        """Return when an untaken update of one of `order_ids` is there, or at the timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not any(len(self._heard.get(o, [])) > self._taken.get(o, 0) for o in order_ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
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
        applied = applier.apply_order(item.update, item.fills, snapshot=False)
        if applied.stored_to in FINAL_STATUSES:
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
        follower.first_try.wait(CONNECT_GRACE_S)
        if not follower.subscribed.is_set():
            log.warning(
                "ws: %s not reachable; --wait follows the order by polling instead",
                rt.settings.websocket,
            )
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
    if not follower.subscribed.is_set():
        return None  # unreachable: the polling carries on alone (the follower retries)
    deadline = time.monotonic() + wait_s
    while True:  # non-final updates (the snapshot's, a placement) are applied, not enough
        heard = follower.take(row["order_id"], max(deadline - time.monotonic(), 0))
        evidence = settle_heard(store, heard) if heard else None
        if evidence or not heard:
            return evidence


def wait_all(
    rt: Runtime, results: list[dict[str, Any]], timeout_s: float, poll_s: float = 0.3
) -> None:
    """`cancel --all --wait`: follow every CANCEL_PENDING result to its final status, from
    the websocket when it speaks, else by the finality rules (REST, height, GetTx). Each
    result row gets `outcome` = the final status (or stays CANCEL_PENDING at the timeout)
    and `evidence`."""
    from dydxctl import expiry, finality

    store = rt.store()
    pending = {r["order_id"]: r for r in results if r["outcome"] == "CANCEL_PENDING"}
    deadline = time.monotonic() + timeout_s
    first = True
    while pending:
        for order_id, result in list(pending.items()):
            row = store.get(order_id)
            if row is None:
                del pending[order_id]
                continue
            heard = listen_first(rt, store, row, poll_s if first else 0)
            first = False
            row = store.get(order_id) or row
            if heard is None and row["status"] not in FINAL_STATUSES:
                clock = expiry.fresh_chain_clock(rt)
                verdict = finality.judge(rt, row, rt.indexer().order(order_id), clock)
                row = finality.apply(store, row, verdict)
                heard = verdict.evidence
            if row["status"] in FINAL_STATUSES:
                result["outcome"], result["evidence"] = row["status"], heard or ""
                del pending[order_id]
        if not pending or time.monotonic() > deadline:
            return
        follower = _any_follower(rt)
        if follower is None:
            time.sleep(poll_s)
        else:  # wake on the next websocket update of any pending order
            follower.wait_any(set(pending), poll_s)


def _any_follower(rt: Runtime) -> OrderFollower | None:
    return next((v for k, v in rt._cache.items() if k.startswith("ws_follower:")), None)


def wait_placed(rt: Runtime, row: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """`place --wait`: when the Indexer reports the order on the book — or removed (an IOC
    remainder, a post-only crossing), or filled. Websocket first; REST as the fallback."""
    from dydxctl import expiry, finality

    store = rt.store()
    deadline = time.monotonic() + timeout_s
    heard = listen_first(rt, store, row, 0.3)
    while True:
        current = store.get(row["order_id"]) or row
        follower = _any_follower(rt)
        said = None
        if follower is not None:
            seen = follower.seen(row["order_id"])
            if seen:
                said = describe_placement(seen[-1])
        if said is None and not heard:
            clock = expiry.fresh_chain_clock(rt)
            data = rt.indexer().order(row["order_id"])
            verdict = finality.judge(rt, current, data, clock)
            current = finality.apply(store, current, verdict)
            if data is not None:
                said = f"Indexer: {data.get('status')}"
        if said or heard or current["status"] in FINAL_STATUSES:
            return {"status": current["status"], "evidence": heard or said or ""}
        if time.monotonic() > deadline:
            return {"status": current["status"], "evidence": "no word from the Indexer yet"}
        heard = pause(rt, store, row, 0.3)


def describe_placement(heard: Heard) -> str:
    from dydxctl.ws_apply import describe

    text = describe(heard.update)
    return text + (f" at height {heard.block_height}" if heard.block_height else "")


def outcome_counts(results: list[dict[str, Any]]) -> str:
    """e.g. "2 CANCELED, 1 FILLED": the outcomes of `cancel --all --wait`."""
    from collections import Counter

    counts = Counter(r["outcome"] for r in results)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
