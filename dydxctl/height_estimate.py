"""An estimate of the CHAIN's clock between reads, so a place needs no GetLatestBlock.

A place's good-til is relative to the chain's clock (a short-term GTB to the latest
height, a --good-til duration to the latest block time). Reading that clock costs a round
trip; instead the last observed block (height, block time) is kept with the monotonic
instant it was observed and the chain's own block rate (measured from two observed
blocks), and extrapolated:

    height ≈ observed height + elapsed / block interval
    time   ≈ observed block time + elapsed

The estimate only ever chooses a good-til; it never decides that an order has expired
(expiry.py does, from observed blocks only). Its errors are safe by construction:
- a short-term GTB is capped at observed height + 1 + ShortBlockWindow, which is valid at
  any later height (protocol/x/clob/keeper/orders.go `validateGoodTilBlock`), so the
  chain cannot answer clob 11 for it; an estimate too low is answered clob 10, and the
  place refreshes the height once and re-signs;
- a stateful GTBT is used only when it is ≤ observed block time + 95 days
  (StatefulOrderTimeWindow, protocol/x/clob/types/constants.go), which is ≤ the chain's
  bound at any later block, so clob 3004 cannot happen; otherwise the clock is read.

Observations live in the Runtime (this process) and in the store (the next process), with
the host's boot id: monotonic instants of another boot are not comparable.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dydxctl import chain
from dydxctl.expiry import ChainClock

if TYPE_CHECKING:
    from dydxctl.markets import Market
    from dydxctl.orders import OrderPlan, OrderRequest
    from dydxctl.runtime import Runtime
    from dydxctl.store import Store

# How long an observation is trusted for extrapolation. Block intervals wander (dYdX
# mainnet: ~1.0–1.2 s); over 20 s the error stays a few blocks, inside the window.
MAX_AGE_S = 20.0
# Measured block intervals are clamped to this range (a manual test chain can produce
# blocks 1 ms apart; a stalled one, none): an outlier must not throw the estimate off.
MIN_BLOCK_MS = 400
MAX_BLOCK_MS = 10_000
# Until two observed blocks give the chain's own interval: dYdX mainnet's is ~1.1 s. Too
# short overestimates the height, which the GTB cap keeps valid; too long underestimates
# it, which clob 10 corrects (one fresh read).
DEFAULT_BLOCK_MS = 1000
_RUNTIME_KEY = "chain_clock_observation"
_SAVED_KEY = "chain_clock_observation_saved"


@dataclass(frozen=True)
class Observation:
    """One GetLatestBlock answer and when (monotonic, this boot) it was read."""

    height: int
    time_ms: int
    observed_mono: float
    boot_id: str
    block_ms: int | None  # the chain's block interval, once two blocks were observed

    def age_s(self, now_mono: float) -> float:
        return now_mono - self.observed_mono


@dataclass(frozen=True)
class Estimate:
    """The chain's clock extrapolated from `observed`; `clock` is what plan_order uses."""

    clock: ChainClock
    observed: Observation

    def cap_good_til_block(self, gtb: int, window: int) -> int:
        """≤ observed height + 1 + window: valid at every height from the observed one on."""
        return min(gtb, chain.good_til_block_bounds(self.observed.height, window)[1])

    def stateful_time_safe(self, good_til_block_time: int) -> bool:
        """Within 95 days of a block time the chain has already passed."""
        limit = self.observed.time_ms // 1000 + chain.STATEFUL_ORDER_TIME_WINDOW_SECONDS
        return good_til_block_time <= limit


@functools.cache
def boot_id() -> str:
    """The host's boot id (Linux); monotonic instants are comparable only within one boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def observe(rt: Runtime, clock: ChainClock) -> Observation:
    """Remember a fresh read of the chain's clock (and the block interval it implies)."""
    previous = last_observation(rt)
    block_ms = previous.block_ms if previous else None
    if previous and clock.height > previous.height and clock.millis > previous.time_ms:
        measured = (clock.millis - previous.time_ms) // (clock.height - previous.height)
        block_ms = max(MIN_BLOCK_MS, min(MAX_BLOCK_MS, measured))
    # A fresh read always replaces the last one: from a concurrent process it may be a block
    # older (still a true lower bound), and a chain that was reset (a local devnet started
    # again) must not keep its old heights.
    observation = Observation(clock.height, clock.millis, time.monotonic(), boot_id(), block_ms)
    rt._cache[_RUNTIME_KEY] = observation
    rt._cache[_SAVED_KEY] = False
    return observation


def persist(rt: Runtime) -> None:
    """Write this process's last observation to the store for the next process — called
    by commands that write anyway (a place, a cancel --all), never by a dry run."""
    found = rt._cache.get(_RUNTIME_KEY)
    store = rt._cache.get("store")
    if found is not None and store is not None and rt._cache.get(_SAVED_KEY) is False:
        save(store, rt.settings.chain_id, rt.settings.grpc, found)
        rt._cache[_SAVED_KEY] = True


def last_observation(rt: Runtime) -> Observation | None:
    """This process's last observation, else the store's (another process's) of this boot."""
    found = rt._cache.get(_RUNTIME_KEY)
    if found is None and (rt._cache.get("store") is not None or rt.has_store()):
        found = load(rt.store(create=False), rt.settings.chain_id, rt.settings.grpc)
        if found is not None:
            rt._cache[_RUNTIME_KEY] = found
    return found


def known_height(rt: Runtime) -> int | None:
    """A height the chain has certainly reached (an observed one): evidence, not a guess."""
    found = last_observation(rt)
    return found.height if found is not None and found.boot_id == boot_id() else None


def estimate(rt: Runtime) -> Estimate | None:
    """The extrapolated clock, or None when no young observation of this boot is known."""
    found = last_observation(rt)
    if found is None or found.boot_id != boot_id():
        return None
    age = found.age_s(time.monotonic())
    if not 0 <= age <= MAX_AGE_S:
        return None
    elapsed_ms = int(age * 1000)
    height = found.height + elapsed_ms // (found.block_ms or DEFAULT_BLOCK_MS)
    time_ms = found.time_ms + elapsed_ms
    return Estimate(ChainClock(height, time_ms // 1000, time_ms), found)


def fresh(rt: Runtime) -> ChainClock:
    """Read the chain's clock now (one GetLatestBlock) and remember it."""
    from dydxctl.expiry import chain_clock

    return chain_clock(rt)


# --- persistence (the store's chain_clock_cache table) -------------------------------------
def _persists(store: Store) -> bool:
    """The chain_clock_cache table lives in SQLite stores; other backends (PostgreSQL)
    keep the estimate in the process only until they have the table."""
    import sqlite3

    return isinstance(getattr(store, "conn", None), sqlite3.Connection)


def save(store: Store, chain_id: str, grpc: str, observation: Observation) -> None:
    if not _persists(store):
        return
    store.cache_chain_clock(
        chain_id, grpc, height=observation.height, time_ms=observation.time_ms,
        observed_mono=observation.observed_mono, boot_id=observation.boot_id,
        block_ms=observation.block_ms,
    )  # fmt: skip


def load(store: Store, chain_id: str, grpc: str) -> Observation | None:
    row = store.cached_chain_clock(chain_id, grpc) if _persists(store) else None
    if row is None:
        return None
    return Observation(
        row["height"], row["time_ms"], row["observed_mono"], row["boot_id"], row["block_ms"]
    )


# --- planning a place with the estimate ------------------------------------------------------
# The answers that mean "the estimate was off" for a place: nothing was applied (CheckTx
# refused it), so a fresh read and a re-signed tx are safe. clob 10: GTB ≤ the latest
# height; clob 11: beyond the window; clob 3003: GTBT ≤ the block time; clob 3004: beyond
# 95 days (protocol/x/clob/keeper/orders.go validateGoodTilBlock,
# PerformStatefulOrderValidation).
ESTIMATE_MISSED: frozenset[tuple[str, int]] = frozenset(
    {("clob", 10), ("clob", 11), ("clob", 3003), ("clob", 3004)}
)


def plan(
    rt: Runtime, request: OrderRequest, market: Market, window: int, *, fresh_clock: bool = False
) -> tuple[OrderPlan, bool]:
    """The order's plan from the estimated clock when it is young and safe, else from a
    fresh read; the flag says whether the estimate was used."""
    from dydxctl.orders import plan_order

    guess = None if fresh_clock else estimate(rt)
    if guess is not None:
        planned = plan_order(
            request, market, latest_height=guess.clock.height, now_unix=guess.clock.time_unix,
            short_block_window=window,
        )  # fmt: skip
        if planned.good_til_block is not None:
            capped = guess.cap_good_til_block(planned.good_til_block, window)
            return dataclasses.replace(planned, good_til_block=capped), True
        if planned.good_til_block_time and guess.stateful_time_safe(planned.good_til_block_time):
            return planned, True
    clock = fresh(rt)
    planned = plan_order(
        request, market, latest_height=clock.height, now_unix=clock.time_unix,
        short_block_window=window,
    )  # fmt: skip
    return planned, False
