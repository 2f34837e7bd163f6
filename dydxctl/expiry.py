"""The one place that decides whether an order can still fill: by the chain's clock only.

A short-term order is gone once the chain's height reaches its good_til_block; a stateful
order once the latest block's time reaches its good_til_block_time (the chain judges the
next block against the previous one: protocol/x/clob/keeper/orders.go
`PerformStatefulOrderValidation` / `PerformOrderCancellationStatefulValidation` answer clob
3003 when GTBT ≤ the previous block time; keeper/stateful_order_state.go
`RemoveExpiredStatefulOrders` removes them up to the block time). The local clock is never
asked: a laptop five minutes fast must not write EXPIRED for a live order.

Every command asks this module; tests inject a ChainClock instead of a node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dydxctl import chain
from dydxctl.durations import format_unix

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime


@dataclass(frozen=True)
class ChainClock:
    """The chain's clock: the latest block's height and time (unix seconds)."""

    height: int
    time_unix: int
    time_ms: int = 0  # the same time in milliseconds, when the node gave it

    @property
    def millis(self) -> int:
        return self.time_ms or self.time_unix * 1000


def chain_clock(rt: Runtime) -> ChainClock:
    """The latest block's height and time: one GetLatestBlock, never memoised (a bot's
    Runtime lives for hours, and a stale height makes a short-term GTB the chain refuses)."""
    latest = rt.node().latest_block()
    clock = ChainClock(latest.height, latest.time_unix, latest.time_ms)
    from dydxctl import height_estimate

    height_estimate.observe(rt, clock)  # the next place can skip this read
    return clock


fresh_chain_clock = chain_clock  # the commands that wait ask for it by this name


def is_expired(row: dict[str, Any], clock: ChainClock) -> bool:
    """True when the order can no longer fill because its good-til has passed."""
    if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:
        gtb = row.get("good_til_block")
        return gtb is not None and clock.height >= gtb
    gtbt = row.get("good_til_block_time")
    return bool(gtbt) and clock.time_unix >= gtbt


def expiry_evidence(row: dict[str, Any], clock: ChainClock) -> str:
    """Why `is_expired` said so, in the chain's terms."""
    if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:
        return f"chain height {clock.height} ≥ good_til_block {row.get('good_til_block')}"
    return (
        f"block time {format_unix(clock.time_unix)} ≥ good_til_block_time "
        f"{format_unix(row.get('good_til_block_time'))}"
    )


def blocks_left(row: dict[str, Any], clock: ChainClock) -> int:
    """Blocks until a short-term order's expiry (0 once expired)."""
    return max(0, (row.get("good_til_block") or 0) - clock.height)


# --- the short-term window ----------------------------------------------------------------
_WINDOWS: dict[tuple[str, str], int] = {}


def short_block_window(rt: Runtime) -> int:
    """The node's ShortBlockWindow, from GetNodeInfo's application version (cached per
    chain for this process). protocol/x/clob/types/constants.go: 20 up to v9.4, 40 since."""
    key = (rt.settings.chain_id, rt.settings.grpc)
    if key not in _WINDOWS:
        version = rt.node().node_info()["app_version"]
        _WINDOWS[key] = chain.short_block_window_for(version)
    return _WINDOWS[key]


def short_block_window_if_needed(rt: Runtime, blocks: int | None) -> int:
    """The window to check `blocks` against, asking the node only when it matters: every
    version allows chain.SHORT_BLOCK_WINDOW blocks, so fewer need no GetNodeInfo."""
    if blocks is None or 1 <= blocks <= chain.SHORT_BLOCK_WINDOW:
        return max(
            chain.SHORT_BLOCK_WINDOW, _WINDOWS.get((rt.settings.chain_id, rt.settings.grpc), 0)
        )
    return short_block_window(rt)
