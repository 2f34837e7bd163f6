"""What `dydxctl watch` shows: one line per order, the chain's clock for the time left, and
the rich rendering (changed lines highlighted for HIGHLIGHT_S, final ones dimmed until
`keep_final_s` has passed). Time left is counted in blocks for short-term orders (with an
estimate in seconds from the chain's own block times) and against the latest block time
for stateful ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dydxctl.ws_apply import Applied, view_status

HIGHLIGHT_S = 3.0
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
        line.status = applied.stored_to or view_status(u)
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
