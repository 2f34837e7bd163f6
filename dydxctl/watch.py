"""`dydxctl watch`: a subaccount's orders, live from the Indexer websocket.

The stream runs in a thread that only reads the socket; everything else — applying
updates to the store, REST reconciliation after a (re)connect or a gap, rendering
(watch_view.py) — happens in the calling thread, in arrival order.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dydxctl import logs
from dydxctl.watch_view import FINAL, WatchState, render
from dydxctl.ws_apply import Applied, StreamApplier
from dydxctl.ws_client import StreamEvent, SubaccountStream

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime

log = logs.get("watch")
HEIGHT_POLL_S = 2.0


@dataclass
class WatchOptions:
    subaccounts: list[int]
    market: str | None = None
    parent: bool = False
    as_json: bool = False
    count: int | None = None  # stop after this many order events (snapshots not counted)
    duration_s: float | None = None
    keep_final_s: float = 30.0


class Watcher:
    """Runs the watch loop against a Runtime (websocket, store, REST) or a replay."""

    def __init__(
        self,
        rt: Runtime | None,
        address: str,
        options: WatchOptions,
        *,
        out: Callable[[str], None] | None = None,
    ) -> None:
        self.rt = rt
        self.address = address
        self.options = options
        self.state = WatchState(keep_final_s=options.keep_final_s)
        self.applier = StreamApplier(rt.store() if rt is not None else None)
        self.out = out or (lambda text: print(text, flush=True))
        self.order_events = 0
        self.stop = threading.Event()
        self._last_height_poll = 0.0

    # --- event handling (one thread) ---------------------------------------------------
    def handle(self, event: StreamEvent) -> None:
        now = time.monotonic()
        market = self.options.market
        if event.kind == "disconnected":
            self.state.connected = False
            self.state.connection = f"DISCONNECTED: {event.detail}"
            self._emit({"event": "disconnected", "detail": event.detail})
            return
        if event.kind in ("error", "malformed"):
            self.state.note(f"{event.kind}: {event.detail}")
            self._emit({"event": event.kind, "detail": event.detail})
            return
        if event.kind == "gap":
            self.state.note(f"gap: {event.detail}; reconciled from REST")
            self._emit({"event": "gap", "detail": event.detail})
            self._reconcile("gap")
            return
        for applied in self.applier.apply(event):
            line = self.state.apply(applied, now)
            self._see_update_time(applied)
            if market and line.market != market:
                continue
            self._emit(applied.as_json())
            if not applied.snapshot:
                self.order_events += 1
        self.state.see_height(self.applier.block_height)
        if event.kind == "subscribed":
            self.state.connected = True
            self.state.connection = f"connected: {event.detail}" + (
                " (resumed)" if event.resumed else ""
            )
            self._emit({"event": "subscribed", "id": event.detail, "resumed": event.resumed})
            self._reconcile("resubscribed" if event.resumed else "subscribed")

    def _see_update_time(self, applied: Applied) -> None:
        """An update's updatedAtHeight/updatedAt is a block and its time: the chain's clock
        (and the only one a replay has)."""
        u = applied.update
        if u.updated_height is not None and u.updated_at:
            from dydxctl.durations import parse_time

            try:
                self.state.see_height(u.updated_height, parse_time(u.updated_at).timestamp())
            except Exception as exc:  # a malformed time: keep the clock we have
                log.info("watch: unreadable updatedAt %r: %s", u.updated_at, exc)

    def _reconcile(self, why: str) -> None:
        """REST before trusting the stream: the snapshot has only open orders, so orders
        that ended while we were away are found by `sync` (Indexer + chain height)."""
        if self.rt is None:
            return
        from dydxctl import reconcile
        from dydxctl.errors import DydxctlError

        try:
            changed: list[dict[str, Any]] = reconcile.sync(self.rt)["changed"]
        except DydxctlError as exc:
            self.state.note(f"REST reconciliation failed: {exc.title}")
            self._emit({"event": "reconcile_failed", "why": why, "detail": exc.title})
            return
        now = time.monotonic()
        for change in changed:
            line = self.state.lines.get(change["order_id"])
            if line is not None:
                line.status, line.changed_at = change["status"], now
                if change["status"] in FINAL:
                    line.final_at = line.final_at or now
        self._emit({"event": "reconciled", "why": why, "changed": changed})

    def _emit(self, data: dict[str, Any]) -> None:
        if self.options.as_json:
            self.out(json.dumps(data, default=str))

    def _poll_height(self) -> None:
        """The chain's clock for time left: /v4/height every HEIGHT_POLL_S."""
        if self.rt is None or time.monotonic() - self._last_height_poll < HEIGHT_POLL_S:
            return
        self._last_height_poll = time.monotonic()
        from dydxctl.durations import parse_time
        from dydxctl.errors import DydxctlError

        try:
            height, at = self.rt.indexer().height()
            self.state.see_height(height, parse_time(at).timestamp())
        except DydxctlError as exc:
            log.info("watch: height poll failed: %s", exc.title)
            return
        self._settle_past_good_til(height)

    def _settle_past_good_til(self, height: int) -> None:
        """A best-effort cancel the websocket reported is final once the order's
        good-til-block has passed (it can no longer fill, and any fill before would have
        come on the stream, which has been whole since the last reconciliation)."""
        from dydxctl import lifecycle

        store = self.applier.store
        now = time.monotonic()
        for line in self.state.lines.values():
            gtb = line.good_til_block
            if line.status != "CANCEL_PENDING" or not gtb or height < gtb:
                continue
            detail = (
                f"websocket: BEST_EFFORT_CANCELED, and block {gtb} (its good-til-block) has "
                f"passed (Indexer height {height}): it can no longer fill"
            )
            row = store.get(line.order_id) if store is not None else None
            if row is not None:
                line.status = lifecycle.settle(store, row, "CANCELED", None, detail)["status"]
            else:
                line.status = "CANCELED"
            line.changed_at, line.final_at = now, now
            self._emit({"event": "settled", "order_id": line.order_id, "status": line.status,
                        "detail": detail})  # fmt: skip

    def done(self, started: float) -> bool:
        o = self.options
        if o.count is not None and self.order_events >= o.count:
            return True
        return o.duration_s is not None and time.monotonic() - started >= o.duration_s

    # --- loops ---------------------------------------------------------------------------
    def run_live(self, url: str) -> int:
        if self.options.as_json:
            from dydxctl import render

            render.ONE_LINE_JSON = True  # an error after the stream (Ctrl-C: 130) is NDJSON too
        stream = SubaccountStream(
            url, self.address, self.options.subaccounts, parent=self.options.parent,
            stop=self.stop,
        )  # fmt: skip
        inbox: queue.Queue[StreamEvent | None] = queue.Queue()

        def pump() -> None:
            try:
                for event in stream.events():
                    inbox.put(event)
            finally:
                inbox.put(None)

        reader = threading.Thread(target=pump, name="ws-reader", daemon=True)
        reader.start()
        try:
            return self._loop(lambda: _next(inbox), f"{self.address} on {url}")
        finally:
            self.stop.set()
            reader.join(timeout=2)

    def run_replay(self, events: Iterable[StreamEvent]) -> int:
        pending = iter(events)

        def next_event() -> StreamEvent | bool | None:
            return next(pending, None)

        return self._loop(next_event, "replay")

    def _loop(self, next_event: Callable[[], StreamEvent | bool | None], where: str) -> int:
        started = time.monotonic()
        title = f"orders of {where}"
        live = None
        if not self.options.as_json:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)
            live = Live(render(self.state, title, self.options.market, started),
                        console=console, refresh_per_second=4, transient=False)  # fmt: skip
            live.start()
        try:
            while not self.done(started):
                event = next_event()
                if event is None:  # the stream (or the replay) ended
                    break
                if isinstance(event, StreamEvent):
                    self.handle(event)
                self._poll_height()
                if live is not None:
                    live.update(render(self.state, title, self.options.market, time.monotonic()))
        finally:
            if live is not None:
                live.update(render(self.state, title, self.options.market, time.monotonic()))
                live.stop()
        return 0


def _next(inbox: queue.Queue[StreamEvent | None]) -> StreamEvent | bool | None:
    """The next event, or False after a short wait (so the view and deadlines refresh)."""
    try:
        return inbox.get(timeout=0.25)
    except queue.Empty:
        return False


def load_replay(path: str) -> list[dict[str, Any]]:
    """Messages recorded as a JSON array, one JSON object per line, or one object."""
    from pathlib import Path

    text = Path(path).read_text(encoding="utf-8")
    stripped = text.strip()
    if stripped.startswith("["):
        return [m for m in json.loads(stripped) if isinstance(m, dict)]
    try:
        single = json.loads(stripped)
        return [single] if isinstance(single, dict) else []
    except ValueError:
        pass
    messages = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            log.warning("replay: line %d is not JSON; skipped", number)
            continue
        if isinstance(parsed, dict):
            messages.append(parsed)
    return messages
