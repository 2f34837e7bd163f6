"""`cancel --all`: every open order of a subaccount, from the store and the Indexer.

Short-term orders go out in MsgBatchCancel transactions (at most
MAX_MSG_BATCH_CANCEL_BATCH_SIZE ids each, one good_til_block for the batch); stateful
orders need one MsgCancelOrder each (MsgBatchCancel is short-term only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dydxctl import cancel_fanout, chain, expiry, height_estimate, indexer_orders, lifecycle, logs
from dydxctl.errors import DydxctlError
from dydxctl.store import LIVE_STATUSES

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime

log = logs.get("cancel_all")
# The Indexer statuses of orders that may rest on the book (indexer_orders.INDEXER_STATUS).
INDEXER_OPEN_STATUSES = ",".join(
    sorted(k for k, v in lifecycle.INDEXER_STATUS.items() if v in ("OPEN", "UNTRIGGERED"))
)


def open_orders(rt: Runtime, market: str | None, subaccount: int) -> list[dict[str, Any]]:
    """Live rows of the store ∪ open orders the Indexer knows (recorded in the store)."""
    store = rt.store()
    wallet = rt.wallet()
    indexer = rt.indexer()
    with cancel_fanout.in_background(  # the Indexer's listing while the store is read
        lambda: indexer.orders(wallet.address, subaccount, status=INDEXER_OPEN_STATUSES,
                               ticker=market)
    ) as listing_future:  # fmt: skip
        rows = _stored_rows(rt, store, wallet.address, market, subaccount)
        listing = listing_future.result()
    parsed, skipped = indexer_orders.rows_from_listing(
        rt, [d for d in listing if not (isinstance(d, dict) and d.get("id") in rows)], subaccount
    )
    with store.write():
        for row in parsed:
            if row["order_id"] in rows:
                continue
            if store.get(row["order_id"]) is None:
                store.insert_order(row, detail="recorded from the Indexer by cancel --all")
                rows[row["order_id"]] = row
    for warning in skipped:
        log.warning("cancel --all: Indexer order %s %s", warning["order_id"], warning["detail"])
    return list(rows.values())


def _stored_rows(
    rt: Runtime, store: Any, address: str, market: str | None, subaccount: int
) -> dict[str, dict[str, Any]]:
    return {
        r["order_id"]: r
        for r in store.list_orders(
            chain_id=rt.settings.chain_id,
            address=address,
            market=market,
            statuses=LIVE_STATUSES,
        )
        # A short-term cancel already accepted needs nothing more (its GTB settles it); a
        # stateful one is re-checked by cancel_one: sent again if it failed or never landed.
        if r["subaccount_number"] == subaccount
        and not (r["status"] == "CANCEL_PENDING" and r["order_flags"] == 0)
    }


def cancel_all(
    rt: Runtime, *, market: str | None, subaccount: int, dry_run: bool = False
) -> dict[str, Any]:
    """Cancel every open order; one result row per order."""
    from dydxctl.errors import Disabled

    if not rt.settings.features.cancel:
        raise Disabled("Cancelling is switched off by [features] cancel = false.", "")
    node = rt.node()
    with cancel_fanout.in_background(node.latest_block) as latest_future:  # in parallel too
        orders = open_orders(rt, market, subaccount)
        latest = latest_future.result()
    clock = expiry.ChainClock(latest.height, latest.time_unix, latest.time_ms)
    height_estimate.observe(rt, clock)
    short_term = [r for r in orders if r["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM]
    stateful = [r for r in orders if r["order_flags"] != chain.ORDER_FLAGS_SHORT_TERM]
    results: list[dict[str, Any]] = []
    if not dry_run:  # every cancel tx in flight together (cancel_fanout.py)
        results += cancel_fanout.cancel_rows(
            rt, short_term, stateful, subaccount, clock, _result_row,
            lambda row, exc, tx_hash: _result_row(row, f"FAILED ({exc.kind})", tx_hash,
                                                  exc.message),
        )  # fmt: skip
    else:
        results += _batch_cancel(rt, short_term, subaccount, clock) if short_term else []
        for row in stateful:
            try:
                outcome = lifecycle.cancel(rt, row["order_id"], dry_run=True)
                results.append(_result_row(row, outcome.outcome, outcome.tx_hash, ""))
            except DydxctlError as exc:
                results.append(_result_row(row, f"FAILED ({exc.kind})", None, exc.message))
    failed = sum(1 for r in results if r["outcome"].startswith("FAILED"))
    summary = (
        f"cancel --all: {len(results)} orders, {len(results) - failed} cancelled, {failed} failed"
    )
    return {"summary": summary, "orders": results, "failed": failed}


def _result_row(row: dict[str, Any], outcome: str, tx_hash: str | None, detail: str) -> dict:
    return {
        "order_id": row["order_id"],
        "market": row["market"],
        "kind": chain.order_kind(row["order_flags"]),
        "client_id": row["client_id"],
        "outcome": outcome,
        "tx_hash": tx_hash,
        "detail": detail,
    }


def _batch_cancel(
    rt: Runtime, rows: list[dict[str, Any]], subaccount: int, latest: expiry.ChainClock
) -> list[dict[str, Any]]:
    """The dry run's batches: signed as cancel_fanout sends them, not sent."""
    outgoing, results = cancel_fanout.sign_batches(rt, rows, subaccount, latest, _result_row)
    for item in outgoing:
        results += [_result_row(r, "DRY_RUN", item.signed.tx_hash, "") for r in item.rows]
    return results
