"""`dydxctl watch`: a subaccount's orders, live from the Indexer websocket.

The stream runs in a thread that only reads the socket; everything else — applying
updates to the store, REST reconciliation after a (re)connect or a gap, rendering —
happens in the calling thread, in arrival order. The view keeps one line per order:
changed lines are highlighted for HIGHLIGHT_S, final ones dim and leave after `keep_final_s`.
Time left is counted in blocks for short-term orders (with an estimate in seconds from the
observed block rate) and against the latest block time for stateful ones: the chain's clock.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dydxctl import logs
from dydxctl.ws_apply import Applied, StreamApplier
from dydxctl.ws_client import StreamEvent, SubaccountStream

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime

log = logs.get("watch")

HIGHLIGHT_S = 3.0
HEIGHT_POLL_S = 2.0
DEFAULT_BLOCK_S = Decimal("1")  # before two heights have been seen
FINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED"})


@dataclass
class Line:
    order_id: str
    market: str = "?"
    side: str = "?"
    size: str = "?"
    filled: str = "0"
    price: str = "?"
    status: str = "?"
    indexer_status: str = ""
    good_til_block: int | None = None
    good_til_block_time: str | None = None
    changed_at: float = 0.0
    final_at: float | None = None


@dataclass
class WatchState:
    """What the view shows; fed by `apply` and `note`."""

    keep_final_s: float = 30.0
    lines: dict[str, Line] = field(default_factory=dict)
    height: int | None = None
    block_time: float | None = None  # unix seconds of `height`
    heights_seen: list[tuple[float, int]] = field(default_factory=list)
    connection: str = "connecting…"
    connected: bool = False
    notes: list[str] = field(default_factory=list)

    def see_height(self, height: int | None, block_time: float | None = None) -> None:
        """A block the chain reached, with its time when known (REST /v4/height, an
        update's updatedAt): the block rate comes from block times, the chain's clock."""
        if height is None or (self.height is not None and height < self.height):
            return
        if block_time is not None:
            self.block_time = block_time
            if not self.heights_seen or self.heights_seen[-1][1] < height:
                self.heights_seen = [*self.heights_seen[-19:], (block_time, height)]
        self.height = height

    def seconds_per_block(self) -> Decimal:
        if len(self.heights_seen) < 2:
            return DEFAULT_BLOCK_S
        (t0, h0), (t1, h1) = self.heights_seen[0], self.heights_seen[-1]
        if h1 <= h0 or t1 <= t0:
            return DEFAULT_BLOCK_S
        return Decimal(str(round((t1 - t0) / (h1 - h0), 2)))

    def apply(self, applied: Applied, now: float) -> Line:
        u = applied.update
        line = self.lines.get(u.order_id) or Line(u.order_id)
        line.market = u.ticker or line.market
        line.side = u.side or line.side
        line.size = str(u.size) if u.size is not None else line.size
        line.price = str(u.price) if u.price is not None else line.price
        line.filled = str(u.total_filled) if u.total_filled is not None else line.filled
        line.indexer_status = u.status
        line.status = applied.stored_to or _view_status(u.status, u.reason)
        line.good_til_block = u.good_til_block or line.good_til_block
        line.good_til_block_time = u.good_til_block_time or line.good_til_block_time
        line.changed_at = now
        if line.status in FINAL and line.final_at is None:
            line.final_at = now
        self.lines[u.order_id] = line
        return line

    def note(self, text: str) -> None:
        self.notes = [*self.notes[-2:], text]

    def visible(self, now: float, market: str | None) -> list[Line]:
        for order_id in [
            k for k, v in self.lines.items()
            if v.final_at is not None and now - v.final_at > self.keep_final_s
        ]:  # fmt: skip
            del self.lines[order_id]
        return [v for v in self.lines.values() if market in (None, v.market)]

    def time_left(self, line: Line) -> str:
        if line.status in FINAL:
            return "-"
        if line.good_til_block:
            if self.height is None:
                return f"GTB {line.good_til_block}"
            blocks = line.good_til_block - self.height
            seconds = (blocks * self.seconds_per_block()).quantize(Decimal("1"))
            return f"{blocks} blocks (~{seconds}s)"
        if line.good_til_block_time and self.block_time is not None:
            from dydxctl.durations import parse_time

            left = int(parse_time(line.good_til_block_time).timestamp() - self.block_time)
            return _duration(left)
        return "?"


def _view_status(indexer_status: str, reason: str | None) -> str:
    """Our status for an order the store does not hold (ws_apply.store_status rules)."""
    from dydxctl.ws_apply import EXPIRY_REASONS

    if indexer_status in ("OPEN", "BEST_EFFORT_OPENED"):
        return "OPEN"
    if indexer_status == "BEST_EFFORT_CANCELED":
        return "CANCELED"
    if indexer_status == "CANCELED":
        return "EXPIRED" if reason in EXPIRY_REASONS else "CANCELED"
    return indexer_status


def _duration(seconds: int) -> str:
    if seconds <= 0:
        return "due"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def render(state: WatchState, title: str, market: str | None, now: float) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from dydxctl.render import STATUS_STYLES

    table = Table(title=title, title_justify="left", expand=False)
    for name in ("MARKET", "SIDE", "SIZE", "FILLED", "PRICE", "STATUS", "TIME LEFT", "ORDER ID"):
        table.add_column(name, no_wrap=True, justify="right" if name in ("SIZE", "FILLED",
                         "PRICE") else "left")  # fmt: skip
    for line in sorted(state.visible(now, market), key=lambda v: (v.final_at or 0, v.market)):
        style = ""
        if line.final_at is not None:
            style = "dim"
        if now - line.changed_at < HIGHLIGHT_S:
            style = "bold reverse" if line.final_at is None else "bold"
        status = Text(line.status, style=STATUS_STYLES.get(line.status, ""))
        table.add_row(
            line.market, line.side, line.size, line.filled, line.price, status,
            state.time_left(line), line.order_id, style=style,
        )  # fmt: skip
    connection = Text(
        state.connection, style="green" if state.connected else "bold red"
    )  # a lost connection is shown, never hidden
    footer = Text(
        f"height {state.height if state.height is not None else '?'}"
        f"  ~{state.seconds_per_block()}s/block   " + "  |  ".join(state.notes),
        style="dim",
    )
    return Group(connection, table, footer)


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

    def done(self, started: float) -> bool:
        o = self.options
        if o.count is not None and self.order_events >= o.count:
            return True
        return o.duration_s is not None and time.monotonic() - started >= o.duration_s

    # --- loops ---------------------------------------------------------------------------
    def run_live(self, url: str) -> int:
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
