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
    if dry_run:
        return _dry_run(rt, market, subaccount)
    node = rt.node()
    with cancel_fanout.in_background(node.latest_block) as latest_future:  # in parallel
        orders, warning = open_orders(rt, market, subaccount)
        latest = latest_future.result()
    clock = expiry.ChainClock(latest.height, latest.time_unix, latest.time_ms)
    height_estimate.observe(rt, clock)
    short_term, stateful = _split(orders)
    results = cancel_fanout.cancel_rows(  # every cancel tx in flight together
        rt, short_term, stateful, subaccount, clock, _outcome_row, _failed_row,
        batch_rejection=lambda row, answer: _batch_rejection(rt, row, answer, clock),
    )  # fmt: skip
    return _summary(results, warning)


def _dry_run(rt: Runtime, market: str | None, subaccount: int) -> dict[str, Any]:
    """What cancel --all would send: the same signed batches (cancel_fanout.sign_batches),
    nothing written or broadcast."""
    orders, warning = open_orders(rt, market, subaccount, record=False)
    short_term, stateful = _split(orders)
    results: list[dict[str, Any]] = []
    if short_term:
        batches, results = cancel_fanout.sign_batches(
            rt, short_term, subaccount, expiry.chain_clock(rt), _outcome_row, dry_run=True
        )
        results += [_result_row(r, "DRY_RUN", b.signed.tx_hash, "") for b in batches
                    for r in b.rows]  # fmt: skip
    for row in stateful:
        try:
            outcome = lifecycle.cancel(rt, row["order_id"], dry_run=True)
            results.append(_result_row(row, outcome.outcome, outcome.tx_hash, ""))
        except DydxctlError as exc:
            results.append(_failed_row(row, exc, exc.details.get("tx_hash")))
    return _summary(results, warning)


def _split(orders: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    short = chain.ORDER_FLAGS_SHORT_TERM
    return ([r for r in orders if r["order_flags"] == short],
            [r for r in orders if r["order_flags"] != short])  # fmt: skip


def _outcome_row(row: dict[str, Any], outcome: str, tx_hash: str | None, detail: str) -> dict:
    exit_code = OrderExpired.exit_code if outcome == "EXPIRED" else 0
    return _result_row(row, outcome, tx_hash, detail, exit_code)


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


def _batch_rejection(
    rt: Runtime, row: dict[str, Any], answer: Any, clock: expiry.ChainClock
) -> DydxctlError:
    """A batch the chain refused: an order already gone is resolved against the Indexer
    as a single cancel is (filled/cancelled → 4, expired → 5); anything else is 6."""
    from dydxctl import cancel_one, codes

    pair = (answer.codespace, answer.code)
    if pair in codes.EXPIRED_CODES:
        return OrderExpired(f"Order {row['order_id']} has expired.", "")
    if pair in codes.ORDER_GONE_CODES:
        try:
            return cancel_one._resolve_gone(rt, row, answer, row.get("cancel_tx_hash"), clock)
        except Unreachable as exc:
            return exc
    return answer.rejection()
