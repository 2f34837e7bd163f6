"""`cancel --all`: every open order of a subaccount, from the store and the Indexer.

Short-term orders go out in MsgBatchCancel transactions (at most
MAX_MSG_BATCH_CANCEL_BATCH_SIZE ids each, one good_til_block for the batch); stateful
orders need one MsgCancelOrder each (MsgBatchCancel is short-term only).
"""

from __future__ import annotations

import time
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
    if not dry_run:
        results += cancel_fanout.cancel_rows(
            rt, short_term, stateful, subaccount, clock, _result_row,
            lambda row, exc, tx_hash: _result_row(row, f"FAILED ({exc.kind})", tx_hash,
                                                  exc.message),
        )  # fmt: skip
        short_term = stateful = []
    if short_term:
        results += _batch_cancel(rt, short_term, subaccount, dry_run, clock)
    for row in stateful:
        try:
            outcome = lifecycle.cancel(rt, row["order_id"], dry_run=dry_run)
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
    rt: Runtime, rows: list[dict[str, Any]], subaccount: int, dry_run: bool,
    latest: expiry.ChainClock,
) -> list[dict[str, Any]]:  # fmt: skip
    """The dry run's batches (cancel_fanout.py sends the real ones)."""
    from dydxctl.orders import make_order_id
    from dydxctl.tx import batch_cancel_msg

    store = rt.store()
    live = []
    results = []
    for row in rows:
        if expiry.is_expired(row, latest):
            evidence = expiry.expiry_evidence(row, latest)
            lifecycle.mark_expired(store, row, evidence)
            results.append(_result_row(row, "EXPIRED", None, evidence))
        else:
            live.append(row)
    wallet = rt.wallet()
    number = lifecycle.account_number(rt, wallet.address, store=store)
    subaccount_id = make_order_id(wallet.address, subaccount, 0, 0, 0).subaccount_id
    size = chain.MAX_MSG_BATCH_CANCEL_BATCH_SIZE
    for start in range(0, len(live), size):
        chunk = live[start : start + size]
        # One GTB for the batch: ≥ every order's GTB, so each resting order is removed
        # (memclob CancelOrder), and within the window since each GTB already is.
        gtb = max(max(r["good_til_block"] for r in chunk), latest.height + 1)
        by_pair: dict[int, list[int]] = {}
        for r in chunk:
            by_pair.setdefault(r["clob_pair_id"], []).append(r["client_id"])
        signed = lifecycle.sign(
            rt, [batch_cancel_msg(subaccount_id, by_pair, gtb)], sequence=0, number=number
        )
        if dry_run:
            results += [_result_row(r, "DRY_RUN", signed.tx_hash, "") for r in chunk]
            continue
        started = time.perf_counter()
        try:
            answer = rt.node().broadcast(signed.tx_bytes, signed.tx_hash)
        except DydxctlError as exc:
            results += [_result_row(r, f"FAILED ({exc.kind})", None, exc.message) for r in chunk]
            continue
        latency = (time.perf_counter() - started) * 1000
        accepted = answer.accepted or answer.already_sent  # sdk 19: these bytes were sent
        for r in chunk:
            if accepted:
                lifecycle.settle(store, r, "CANCEL_PENDING", answer.tx_hash, "batch cancel")
                store.update_fields(r["order_id"], cancel_good_til_block=gtb)
                results.append(_result_row(r, "CANCEL_PENDING", answer.tx_hash, ""))
            else:
                rejection = answer.rejection()
                results.append(
                    _result_row(r, f"FAILED ({rejection.kind})", answer.tx_hash, rejection.message)
                )
            store.record_cancel_attempt(
                r["order_id"], market=r["market"], success=accepted, latency_ms=latency,
                kind=None if accepted else "chain_rejected",
                codespace=answer.codespace or None, code=answer.code or None,
                tx_hash=answer.tx_hash, detail="batch cancel",
            )  # fmt: skip
        log.info("batch cancel %d orders tx=%s code=%s", len(chunk), answer.tx_hash, answer.code)
    return results
