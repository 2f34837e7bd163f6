"""Caches of chain facts that rarely change (market parameters, account numbers, the last
observed block), so a warm place or cancel makes one round trip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dydxctl.store import Store


class CachesMixin:
    """Store's caches (PgStore overrides the upserts)."""

    def cached_market(
        self: Store, chain_id: str, ticker: str, max_age_s: float, now: float
    ) -> dict | None:
        rows = self._query(
            "SELECT * FROM market_cache WHERE chain_id = ? AND ticker = ? AND fetched_at >= ?",
            (chain_id, ticker, now - max_age_s),
        )
        return rows[0] if rows else None

    def cache_markets(
        self: Store, chain_id: str, markets: list[Mapping[str, Any]], now: float
    ) -> None:
        with self.write():
            for m in markets:
                self._execute(
                    "INSERT OR REPLACE INTO market_cache (chain_id, ticker, clob_pair_id,"
                    " atomic_resolution, quantum_conversion_exponent, step_base_quantums,"
                    " subticks_per_tick, oracle_price, status, fetched_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        chain_id, m["ticker"], m["clob_pair_id"], m["atomic_resolution"],
                        m["quantum_conversion_exponent"], m["step_base_quantums"],
                        m["subticks_per_tick"], m.get("oracle_price"), m.get("status"), now,
                    ),
                )  # fmt: skip

    def cached_account_number(self: Store, chain_id: str, address: str) -> int | None:
        rows = self._query(
            "SELECT account_number FROM account_cache WHERE chain_id = ? AND address = ?",
            (chain_id, address),
        )
        return rows[0]["account_number"] if rows else None

    def cache_account_number(
        self: Store, chain_id: str, address: str, number: int, now: float
    ) -> None:
        with self.write():
            self._execute(
                "INSERT OR REPLACE INTO account_cache (chain_id, address, account_number,"
                " fetched_at) VALUES (?, ?, ?, ?)",
                (chain_id, address, number, now),
            )

    def cached_chain_clock(self: Store, chain_id: str, grpc: str) -> dict | None:
        """The last observed block of this chain via this node (height_estimate.py)."""
        row = self.conn.execute(
            "SELECT height, time_ms, observed_mono, boot_id, block_ms FROM"
            " chain_clock_cache WHERE chain_id = ? AND grpc = ?", (chain_id, grpc)
        ).fetchone()  # fmt: skip
        names = ("height", "time_ms", "observed_mono", "boot_id", "block_ms")
        return dict(zip(names, row, strict=True)) if row else None

    def cache_chain_clock(self: Store, chain_id: str, grpc: str, **fields: Any) -> None:
        with self.write():
            self._execute(
                "INSERT OR REPLACE INTO chain_clock_cache (chain_id, grpc, height, time_ms,"
                " observed_mono, boot_id, block_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chain_id, grpc, fields["height"], fields["time_ms"], fields["observed_mono"],
                    fields["boot_id"], fields["block_ms"],
                ),
            )  # fmt: skip
