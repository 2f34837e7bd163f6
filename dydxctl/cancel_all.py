"""`cancel --all`: every open order of a subaccount, from the store and the Indexer.

Short-term orders go out in MsgBatchCancel transactions (at most
MAX_MSG_BATCH_CANCEL_BATCH_SIZE ids each, one good_til_block for the batch); stateful
orders need one MsgCancelOrder each (MsgBatchCancel is short-term only).

The store holds every order's metadata, so a down or hung Indexer only means orders
placed elsewhere are missed: the stored ones are cancelled anyway, and the result says so.
The exit code is the highest of the failed orders' codes (SPEC §3: 4 filled/cancelled,
5 expired, 6 rejected, 7 unreachable, 8 store), so "unknown outcome" wins over "gone".
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dydxctl import cancel_fanout, chain, expiry, height_estimate, indexer_orders, lifecycle, logs
from dydxctl.errors import DydxctlError, OrderExpired, Unreachable
from dydxctl.store import LIVE_STATUSES

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime

log = logs.get("cancel_all")
# The Indexer statuses of orders that may rest on the book.
INDEXER_OPEN_STATUSES = ",".join(
    sorted(k for k, v in indexer_orders.INDEXER_STATUS.items() if v in ("OPEN", "UNTRIGGERED"))
)


def open_orders(
    rt: Runtime, market: str | None, subaccount: int, *, record: bool = True
) -> tuple[list[dict[str, Any]], str | None]:
    """Live rows of this chain and wallet in the store ∪ open orders the Indexer knows
    (recorded in the store unless record is False). The second value is a warning when
    the Indexer could not be asked."""
    store = rt.store()
    wallet = rt.wallet()
    indexer = rt.indexer()
    with cancel_fanout.in_background(  # the Indexer's listing while the store is read
        lambda: indexer.orders(wallet.address, subaccount, status=INDEXER_OPEN_STATUSES,
                               ticker=market)
    ) as listing_future:  # fmt: skip
        rows = _stored_rows(rt, store, wallet.address, market, subaccount)
        try:
            listing = listing_future.result()
        except Unreachable as exc:
            listing, unreachable = None, exc
    if listing is None:
        warning = (
            f"The Indexer could not be asked ({unreachable.message}); cancelling the "
            f"{len(rows)} open orders of the store alone — orders placed elsewhere are not "
            "included."
        )
        log.warning("cancel --all: %s", warning)
        return list(rows.values()), warning
    parsed, skipped = indexer_orders.rows_from_listing(
        rt, [d for d in listing if not (isinstance(d, dict) and d.get("id") in rows)], subaccount,
        remember=record,
    )  # fmt: skip
    with store.write():
        for row in parsed:
            if row["order_id"] in rows:
                continue
            if store.get(row["order_id"]) is None:
                if record:
                    store.insert_order(row, detail="recorded from the Indexer by cancel --all")
                rows[row["order_id"]] = row
    for skip in skipped:
        log.warning("cancel --all: Indexer order %s %s", skip["order_id"], skip["detail"])
    return list(rows.values()), None


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
    if not dry_run:
        node = rt.node()
        with cancel_fanout.in_background(node.latest_block) as latest_future:  # in parallel
            orders, warning = open_orders(rt, market, subaccount)
            latest = latest_future.result()
        clock = expiry.ChainClock(latest.height, latest.time_unix, latest.time_ms)
        height_estimate.observe(rt, clock)
        short_term = [r for r in orders if r["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM]
        stateful = [r for r in orders if r["order_flags"] != chain.ORDER_FLAGS_SHORT_TERM]
        results = cancel_fanout.cancel_rows(  # every cancel tx in flight together
            rt, short_term, stateful, subaccount, clock,
            lambda row, outcome, tx_hash, detail: _result_row(
                row, outcome, tx_hash, detail,
                OrderExpired.exit_code if outcome == "EXPIRED" else 0,
            ),
            _failed_row,
            batch_rejection=lambda row, answer: _batch_rejection(rt, row, answer),
        )  # fmt: skip
        return _summary(results, warning)
    orders, warning = open_orders(rt, market, subaccount, record=False)
    short_term = [r for r in orders if r["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM]
    stateful = [r for r in orders if r["order_flags"] != chain.ORDER_FLAGS_SHORT_TERM]
    results: list[dict[str, Any]] = []
    if short_term:
        results += _batch_cancel(rt, short_term, subaccount, dry_run)
    for row in stateful:
        try:
            outcome = lifecycle.cancel(rt, row["order_id"], dry_run=dry_run)
            results.append(_result_row(row, outcome.outcome, outcome.tx_hash, ""))
        except DydxctlError as exc:
            results.append(_failed_row(row, exc, exc.details.get("tx_hash")))
    return _summary(results, warning)


def _summary(results: list[dict[str, Any]], warning: str | None) -> dict[str, Any]:
    failed = sum(1 for r in results if r["exit_code"])
    summary = (
        f"cancel --all: {len(results)} orders, {len(results) - failed} cancelled, {failed} failed"
    )
    if warning:
        summary += " (store only: the Indexer was not reachable)"
    return {
        "summary": summary,
        "orders": results,
        "failed": failed,
        "exit_code": exit_code_of(results),
        "source": "store" if warning else "store+indexer",
        "warning": warning,
    }


def exit_code_of(results: list[dict[str, Any]]) -> int:
    """0 when every order went; else the highest failed order's code (see module doc)."""
    return max((r["exit_code"] for r in results), default=0)


def _result_row(
    row: dict[str, Any], outcome: str, tx_hash: str | None, detail: str, exit_code: int = 0
) -> dict:
    return {
        "order_id": row["order_id"],
        "market": row["market"],
        "kind": chain.order_kind(row["order_flags"]),
        "client_id": row["client_id"],
        "outcome": outcome,
        "tx_hash": tx_hash,
        "detail": detail,
        "exit_code": exit_code,
    }


def _failed_row(row: dict[str, Any], exc: DydxctlError, tx_hash: str | None = None) -> dict:
    return _result_row(row, f"FAILED ({exc.kind})", tx_hash, exc.message, exc.exit_code)


def _batch_cancel(
    rt: Runtime, rows: list[dict[str, Any]], subaccount: int, dry_run: bool
) -> list[dict[str, Any]]:
    from dydxctl.orders import make_order_id
    from dydxctl.tx import batch_cancel_msg

    store = rt.store()
    latest = expiry.chain_clock(rt)
    live = []
    results = []
    for row in rows:
        if expiry.is_expired(row, latest):
            evidence = expiry.expiry_evidence(row, latest)
            if not dry_run:
                lifecycle.mark_expired(store, row, evidence)
            results.append(_result_row(row, "EXPIRED", None, evidence, OrderExpired.exit_code))
        else:
            live.append(row)
    wallet = rt.wallet()
    number = lifecycle.account_number(rt, wallet.address, store=store, remember=not dry_run)
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
            results += [_failed_row(r, exc) for r in chunk]
            continue
        latency = (time.perf_counter() - started) * 1000
        accepted = answer.accepted or answer.already_sent  # sdk 19: these bytes were sent
        for r in chunk:
            if accepted:
                lifecycle.settle(store, r, "CANCEL_PENDING", answer.tx_hash, "batch cancel")
                store.update_fields(r["order_id"], cancel_good_til_block=gtb)
                results.append(_result_row(r, "CANCEL_PENDING", answer.tx_hash, ""))
            else:
                results.append(_failed_row(r, _batch_rejection(rt, r, answer), answer.tx_hash))
            store.record_cancel_attempt(
                r["order_id"], market=r["market"], success=accepted, latency_ms=latency,
                kind=None if accepted else "chain_rejected",
                codespace=answer.codespace or None, code=answer.code or None,
                tx_hash=answer.tx_hash, detail="batch cancel",
            )  # fmt: skip
        log.info("batch cancel %d orders tx=%s code=%s", len(chunk), answer.tx_hash, answer.code)
    return results


def _batch_rejection(rt: Runtime, row: dict[str, Any], answer: Any) -> DydxctlError:
    """A batch the chain refused: an order already gone is resolved against the Indexer
    as a single cancel is (filled/cancelled → 4, expired → 5); anything else is 6."""
    from dydxctl import cancel_one, codes

    pair = (answer.codespace, answer.code)
    if pair in codes.EXPIRED_CODES:
        return OrderExpired(f"Order {row['order_id']} has expired.", "")
    if pair in codes.ORDER_GONE_CODES:
        try:
            return cancel_one._resolve_gone(rt, row, answer, row.get("cancel_tx_hash"))
        except Unreachable as exc:
            return exc
    return answer.rejection()
