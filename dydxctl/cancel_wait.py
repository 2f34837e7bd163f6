"""`cancel --wait`: follow an order until its evidence is final (finality.judge), within
a time bound; short-term waits end by themselves at the order's good-til-block."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dydxctl import chain, codes, expiry, finality
from dydxctl.errors import ChainRejected, WaitTimedOut
from dydxctl.indexer_orders import our_status

if TYPE_CHECKING:
    from dydxctl.cancel_one import CancelResult
    from dydxctl.runtime import Runtime

WAIT_POLL_S = 0.3

FINAL_MESSAGES = {
    "CANCELED": "Cancelled: the order is off the book and can no longer fill.",
    "FILLED": "The order was filled before the cancel took effect.",
    "EXPIRED": "The order expired (its good-til passed) before the cancel took effect.",
}


def wait_until_final(rt: Runtime, result: CancelResult, timeout_s: float) -> CancelResult:
    """Follow the order until its evidence is final. CANCELED returns; FILLED and EXPIRED
    raise their documented errors (exit 4 / 5); a cancel that failed in its block raises
    ChainRejected (6); the timeout raises WaitTimedOut (11). A short-term wait ends by
    itself when the order's good-til-block passes."""
    from dydxctl import ws_wait

    store = rt.store()
    row = result.order
    deadline = time.monotonic() + timeout_s
    # The Indexer websocket's word, when it has one (ws_wait: listening since before the
    # broadcast); the polling below is the fallback and carries on while it is silent.
    heard = ws_wait.listen_first(rt, store, row, WAIT_POLL_S)
    while True:
        current = store.get(row["order_id"]) or row
        if heard and current["status"] in ("CANCELED", "FILLED", "EXPIRED"):
            verdict = finality.Verdict(current["status"], heard)
            updated, data = current, None
        else:
            clock = expiry.fresh_chain_clock(rt)
            indexer_height = finality.IndexerHeight(rt)
            if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:
                indexer_height()  # before the order: what it shows is at least this recent
            data = rt.indexer().order(row["order_id"])
            verdict = finality.judge(rt, current, data, clock, indexer_height)
            updated = finality.apply(store, current, verdict)
        status = updated["status"]
        if status == "CANCELED":
            from dydxctl.cancel_one import CancelResult

            return CancelResult(
                updated, "CANCELED", FINAL_MESSAGES["CANCELED"], tx_hash=result.tx_hash,
                good_til_block=result.good_til_block,
                good_til_block_time=result.good_til_block_time, latency_ms=result.latency_ms,
                source=result.source, extra={"evidence": verdict.evidence},
            )  # fmt: skip
        if status in ("FILLED", "EXPIRED", "REJECTED"):
            finality.refuse_final(updated, evidence=verdict.evidence)
        if verdict.cancel_failed is not None:
            failed = verdict.cancel_failed
            gone = (failed.codespace, failed.code) in codes.ORDER_GONE_CODES
            raise ChainRejected(
                f"The cancel of {row['order_id']} did not take effect: {failed.evidence}. "
                + (
                    "Nothing yet shows how the order left the book, so it is OPEN again."
                    if gone
                    else "The order is OPEN again."
                ),
                f"Run `dydxctl cancel {row['order_id']}` to send a new cancel (it also tells "
                "how the order ended if it is gone).",
                codespace=failed.codespace, code=failed.code,
                order_id=row["order_id"], evidence=verdict.evidence,
            )  # fmt: skip
        if time.monotonic() > deadline:
            left = ""
            if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:
                left = f" ({expiry.blocks_left(current, clock)} blocks before it expires)"
            raise WaitTimedOut(
                f"Order {row['order_id']} is not final after {timeout_s:g} s{left}: "
                f"{verdict.evidence}. Its status stays {status}.",
                "Run `dydxctl sync` or `dydxctl cancel --wait` again later.",
                order_id=row["order_id"], status=status, indexer_status=our_status(
                    (data or {}).get("status")) if data else None,
            )  # fmt: skip
        heard = ws_wait.pause(rt, store, row, WAIT_POLL_S)
