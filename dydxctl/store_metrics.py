"""Cancel attempts and their metrics (`stats`): written on every cancel, kept after the
order is pruned."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dydxctl.store_sql import now_iso

if TYPE_CHECKING:
    from dydxctl.store import Store


class CancelMetricsMixin:
    """Store's cancel-attempt record and metrics."""

    def record_cancel_attempt(
        self: Store,
        order_id: str,
        *,
        market: str | None,
        success: bool,
        latency_ms: float,
        kind: str | None = None,
        codespace: str | None = None,
        code: int | None = None,
        tx_hash: str | None = None,
        detail: str = "",
        chain_id: str | None = None,
    ) -> None:
        with self.write():
            self._execute(
                "INSERT INTO cancel_attempts (order_id, chain_id, market, at, outcome, kind,"
                " codespace, code, latency_ms, tx_hash, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_id, self._scope(chain_id), market, now_iso(),
                    "success" if success else "failure", kind, codespace, code, latency_ms,
                    tx_hash, detail or None,
                ),
            )  # fmt: skip

    def cancel_metrics(self: Store, *, chain_id: str | None = None) -> dict[str, Any]:
        """Attempts, successes, failures by kind, success rate and latency p50/p95, per
        market: of the store's chain (or chain_id), like every other read; an unscoped
        store (tools, tests) sees every chain's."""
        chain = self._scope(chain_id)
        sql = "SELECT market, outcome, kind, latency_ms FROM cancel_attempts"
        rows = self._query(f"{sql} WHERE chain_id = ?", (chain,)) if chain else self._query(sql)

        def summarize(subset: list[dict[str, Any]]) -> dict[str, Any]:
            attempts = len(subset)
            successes = sum(1 for r in subset if r["outcome"] == "success")
            failures: dict[str, int] = {}
            for r in subset:
                if r["outcome"] == "failure":
                    failures[r["kind"] or "unknown"] = failures.get(r["kind"] or "unknown", 0) + 1
            latencies = sorted(r["latency_ms"] for r in subset)
            return {
                "attempts": attempts,
                "successes": successes,
                "failures": attempts - successes,
                "failures_by_kind": dict(sorted(failures.items())),
                "success_rate": (successes / attempts) if attempts else None,
                "latency_ms_p50": _percentile(latencies, 50),
                "latency_ms_p95": _percentile(latencies, 95),
            }

        markets = sorted({r["market"] or "?" for r in rows})
        return {
            **summarize(rows),
            "by_market": {
                m: summarize([r for r in rows if (r["market"] or "?") == m]) for m in markets
            },
        }


def _percentile(sorted_values: list[float], pct: int) -> float | None:
    """Nearest-rank-interpolated percentile (statistics.quantiles) of sorted values."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    import statistics  # only `stats` needs it: not on every command's import path

    cuts = statistics.quantiles(sorted_values, n=100, method="inclusive")
    return round(cuts[pct - 1], 3)
