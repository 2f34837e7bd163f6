"""`sync` and `prune-expired`: bring stored metadata in line with the chain and the Indexer,
and delete what can no longer matter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dydxctl import chain, lifecycle, logs
from dydxctl.durations import parse_duration, parse_time
from dydxctl.store import LIVE_STATUSES, PruneSummary

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime

log = logs.get("reconcile")
# A stateful tx signed with a timestamp nonce is valid only within ±30 s of the block time
# (chain.MAX_TIME_IN_PAST_FOR_TIMESTAMP_NONCE_MS); four times that later, one that is in no
# block never will be.
STATEFUL_LANDING_WINDOW_S = 4 * chain.MAX_TIME_IN_PAST_FOR_TIMESTAMP_NONCE_MS // 1000


def _age_seconds(row: dict[str, Any]) -> float:
    return time.time() - parse_time(row["created_at"]).timestamp()


def _expired(row: dict[str, Any], height: int | None, now_unix: int) -> bool:
    if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:
        return height is not None and height >= (row["good_til_block"] or 0)
    return bool(row["good_til_block_time"]) and row["good_til_block_time"] <= now_unix


def sync(rt: Runtime, *, import_orders: bool = False, subaccount: int = 0) -> dict[str, Any]:
    """Resolve every PENDING/UNKNOWN/OPEN/UNTRIGGERED/CANCEL_PENDING row against the Indexer
    (and GetTx for stateful placements); with import_orders, record orders placed elsewhere."""
    store = rt.store()
    rows = store.list_orders(chain_id=rt.settings.chain_id, statuses=LIVE_STATUSES)
    height = rt.node().latest_block().height if rows else None
    now = int(time.time())
    changes: list[dict[str, Any]] = []
    lookup = _IndexerLookup(rt)
    for row in rows:
        new_status, detail = _decide(rt, row, lookup.order(row), height, now)
        if new_status and new_status != row["status"]:
            stored = lifecycle.settle(store, row, new_status, None, f"sync: {detail}")
            if stored["status"] != row["status"]:
                changes.append(_change(row, stored["status"], detail))
    imported: list[dict[str, Any]] = []
    if import_orders:
        wallet = rt.wallet()
        for data in lookup.listing(wallet.address, subaccount).values():
            if store.get(str(data.get("id"))) is not None:
                continue
            row = lifecycle.row_from_indexer(rt, data)
            if _expired(row, height, now) and row["status"] in ("OPEN", "UNTRIGGERED"):
                row["status"] = "EXPIRED"
            store.insert_order(row, detail="imported from the Indexer by sync --import")
            imported.append(_change(row, row["status"], "imported"))
    log.info(
        "sync: %d rows checked, %d changed, %d imported", len(rows), len(changes), len(imported)
    )
    return {"checked": len(rows), "changed": changes, "imported": imported}


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
                {str(o.get("id")): o for o in listed},
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


def _decide(
    rt: Runtime, row: dict[str, Any], data: dict[str, Any] | None, height: int | None, now: int
) -> tuple[str | None, str]:
    expired = _expired(row, height, now)
    if data is not None:
        indexer_status = str(data.get("status"))
        status = lifecycle.INDEXER_STATUS.get(indexer_status)
        if status == "FILLED":
            return "FILLED", "Indexer says FILLED"
        if status == "CANCELED":
            if row.get("cancel_tx_hash") or not expired:
                return "CANCELED", "Indexer says CANCELED"
            return "EXPIRED", "Indexer says CANCELED after the good-til passed"
        if status == "CANCEL_PENDING":
            if expired:
                return "CANCELED", "best-effort cancel, and the good-til has passed"
            if row["status"] in ("OPEN", "UNTRIGGERED", "UNKNOWN"):
                return "CANCEL_PENDING", "Indexer says BEST_EFFORT_CANCELED"
            return None, ""
        # A placement confirmed, or a conditional order triggered.
        if status in ("OPEN", "UNTRIGGERED") and row["status"] in (
            "PENDING",
            "UNKNOWN",
            "UNTRIGGERED",
        ):
            return status, f"Indexer says {indexer_status}"
        return None, ""
    if expired:
        return "EXPIRED", "good-til passed; the Indexer does not know the order"
    stateful = chain.is_stateful(row["order_flags"])
    if stateful and row["place_tx_hash"] and row["status"] in ("PENDING", "UNKNOWN"):
        # Stateful placements are in blocks: GetTx tells whether the tx landed.
        found = rt.node().get_tx(row["place_tx_hash"])
        if found is not None:
            if found.code == 0:
                flags = row["order_flags"]
                landed = "UNTRIGGERED" if flags == chain.ORDER_FLAGS_CONDITIONAL else "OPEN"
                return landed, f"place tx {found.tx_hash} is in block"
            return "REJECTED", f"place tx failed in block: {found.codespace} {found.code}"
        if _age_seconds(row) > STATEFUL_LANDING_WINDOW_S:
            return "REJECTED", (
                "the place tx is in no block and the Indexer does not know the order; its "
                "timestamp nonce has expired, so it can never land"
            )
    return None, ""


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
        latest = rt.node().latest_block()
        height, now = latest.height, latest.time_unix
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
