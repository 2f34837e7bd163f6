"""`sync` and `prune-expired`: bring stored metadata in line with the chain and the Indexer,
and delete what can no longer matter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dydxctl import chain, expiry, finality, indexer_orders, logs
from dydxctl.durations import parse_duration
from dydxctl.errors import DydxctlError
from dydxctl.store import LIVE_STATUSES, PruneSummary

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime

log = logs.get("reconcile")


def sync(rt: Runtime, *, import_orders: bool = False, subaccount: int = 0) -> dict[str, Any]:
    """Settle every non-final row by its evidence (finality.judge: the chain's clock, the
    block results of stateful txs, then the Indexer); with import_orders, record orders
    placed elsewhere. One row's error (a GetTx that fails) is reported, not fatal."""
    store = rt.store()
    rows = store.list_orders(chain_id=rt.settings.chain_id, statuses=LIVE_STATUSES)
    clock = expiry.fresh_chain_clock(rt) if rows or import_orders else None
    changes: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    lookup = _IndexerLookup(rt)
    indexer_height = finality.IndexerHeight(rt)
    if any(r["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM for r in rows):
        indexer_height()  # before the listing: the listing is at least this recent
    for row in rows:
        assert clock is not None
        try:
            verdict = finality.judge(rt, row, lookup.order(row), clock, indexer_height)
            stored = finality.apply(store, row, verdict)
        except DydxctlError as exc:
            log.warning("sync %s: %s", row["order_id"], exc.message)
            errors.append(_change(row, row["status"], f"not checked: {exc.message}"))
            continue
        if stored["status"] != row["status"]:
            changes.append(_change(row, stored["status"], verdict.evidence))
    imported: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    if import_orders:
        assert clock is not None
        listing = list(lookup.listing(rt.wallet().address, subaccount).values())
        parsed, skipped = indexer_orders.rows_from_listing(rt, listing, subaccount)
        for row in parsed:
            if store.get(row["order_id"]) is not None:
                continue
            if row["status"] in ("OPEN", "UNTRIGGERED") and expiry.is_expired(row, clock):
                row["status"] = "EXPIRED"
            store.insert_order(row, detail="imported from the Indexer by sync --import")
            imported.append(_change(row, row["status"], "imported"))
    log.info(
        "sync: %d rows checked, %d changed, %d imported, %d skipped, %d errors", len(rows),
        len(changes), len(imported), len(skipped), len(errors),
    )  # fmt: skip
    return {
        "checked": len(rows),
        "changed": changes,
        "imported": imported,
        "skipped": skipped,
        "errors": errors,
    }


def _change(row: dict[str, Any], to_status: str, detail: str) -> dict[str, Any]:
    return {
        "order_id": row["order_id"],
        "market": row["market"],
        "kind": chain.order_kind(row["order_flags"]),
        "from": row.get("status"),
        "status": to_status,
        "detail": detail,
    }


class _IndexerLookup:
    """The Indexer's view of stored orders: one /v4/orders listing per subaccount (up to
    INDEXER_PAGE orders) instead of one request per order; /v4/orders/{id} only for
    orders a full listing may have cut off."""

    INDEXER_PAGE = 1000  # the Indexer's maximum `limit`

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.listings: dict[tuple[str, int], tuple[dict[str, dict[str, Any]], bool]] = {}

    def _fetch(self, address: str, subaccount: int) -> tuple[dict[str, dict[str, Any]], bool]:
        key = (address, subaccount)
        if key not in self.listings:
            listed = self.rt.indexer().orders(address, subaccount, limit=self.INDEXER_PAGE)
            self.listings[key] = (
                {str(o.get("id")): o for o in listed if isinstance(o, dict)},
                len(listed) >= self.INDEXER_PAGE,
            )
        return self.listings[key]

    def listing(self, address: str, subaccount: int) -> dict[str, dict[str, Any]]:
        """The subaccount's orders (newest INDEXER_PAGE) by id, fetched once."""
        return self._fetch(address, subaccount)[0]

    def order(self, row: dict[str, Any]) -> dict[str, Any] | None:
        by_id, truncated = self._fetch(row["address"], row["subaccount_number"])
        if row["order_id"] in by_id:
            return by_id[row["order_id"]]
        return self.rt.indexer().order(row["order_id"]) if truncated else None


def prune(
    rt: Runtime,
    *,
    dry_run: bool = False,
    keep: str | None = None,
    offline: bool = False,
    progress: Callable[[int], None] | None = None,
) -> PruneSummary:
    """Delete expired and long-final metadata; offline uses the wall clock (stateful only)."""
    keep_seconds = parse_duration(keep or rt.settings.prune_keep)
    store = rt.store()
    if offline:
        height, now = None, int(time.time())
    else:
        clock = expiry.chain_clock(rt)
        height, now = clock.height, clock.time_unix
    started = time.perf_counter()
    summary = store.prune(
        height=height, now_unix=now, keep_seconds=keep_seconds, dry_run=dry_run, progress=progress
    )
    log.info(
        "prune%s: short-term %d, stateful %d, final %d, kept %d in %.1f ms",
        " (dry run)" if dry_run else "", summary.expired_short_term, summary.expired_stateful,
        summary.final_state, summary.kept, (time.perf_counter() - started) * 1000,
    )  # fmt: skip
    return summary
