"""Is the order really gone? The final state each order's evidence supports, and the
evidence itself, for `cancel --wait` and `sync`.

Short-term orders (never in a block): once the chain's height reaches the order's
good_til_block it can no longer fill — FILLED if the Indexer says so, otherwise CANCELED
when one of our cancels was accepted, EXPIRED when none was. Before that, an Indexer 404
after our accepted cancel means "off the book, nothing filled" (an unfilled short-term
order lives only in the Indexer's Redis and is deleted when removed: vulcan
order-remove-handler.ts; comlink orders-controller.ts answers 404).

Stateful orders: their place and cancel txs are in blocks, so the block result (GetTx by
the hash known before broadcast) is the proof — a DeliverTx failure is a code there; a tx
in no block is dropped for good once it can no longer be included (its timestamp nonce
is more than 30 s behind the block time, x/accountplus/keeper/timestampnonce.go; or the
account's sequence has moved past it). Then the Indexer, for fills.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dydxctl import chain, codes
from dydxctl.expiry import ChainClock, expiry_evidence, is_expired
from dydxctl.indexer_orders import our_status

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime
    from dydxctl.store import Store

# Event details that record how a tx was signed, and that a place was seen in a block.
SIGNED_DETAIL = "signed with sequence {sequence}"
_SIGNED = re.compile(r"signed with sequence (\d+)")
CONFIRMED_PREFIX = "in a block"
# x/accountplus/keeper/timestampnonce.go: a nonce more than this far behind the block time
# is refused, so a tx carrying it can never be included any more.
NONCE_PAST_WINDOW_MS = chain.MAX_TIME_IN_PAST_FOR_TIMESTAMP_NONCE_MS


@dataclass(frozen=True)
class Landing:
    """Where a stateful tx is: in_block (code 0), failed (a DeliverTx code), pending
    (may still be included), never (can no longer be included)."""

    state: str
    evidence: str
    codespace: str = ""
    code: int = 0
    log: str = ""


class IndexerHeight:
    """The Indexer's height (/v4/height), read at most once per judgment round and only
    when a short-term verdict depends on it: what the Indexer does not show (a 404, no
    fill) proves nothing until it has processed the blocks in question."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.value: int | None = None

    def __call__(self) -> int:
        if self.value is None:
            self.value = self.rt.indexer().height()[0]
        return self.value


@dataclass(frozen=True)
class Verdict:
    status: str | None  # the status the evidence supports; None: leave the row as it is
    evidence: str
    cancel_failed: Landing | None = None  # a cancel that failed in its block or never landed


def signed_sequence(store: Store, order_id: str, tx_hash: str) -> int | None:
    """The sequence (or timestamp nonce) a tx of this order was signed with, from its events."""
    for event in reversed(store.events(order_id)):
        if event.get("tx_hash") == tx_hash:
            match = _SIGNED.search(event.get("detail") or "")
            if match:
                return int(match.group(1))
    return None


def tx_landing(rt: Runtime, row: dict[str, Any], tx_hash: str, clock: ChainClock) -> Landing:
    """Where a stateful tx is. `clock` must be read before this call: a tx missing from
    every block up to a block whose time is past its nonce's window can never land."""
    found = rt.node().get_tx(tx_hash)
    if found is not None:
        if found.code == 0:
            return Landing("in_block", f"tx {tx_hash} is in a block (GetTx code 0)")
        described = codes.describe(found.codespace, found.code)
        return Landing(
            "failed",
            f"tx {tx_hash} failed in its block: ({found.codespace}, {found.code}) "
            f"{described.name} — {described.meaning}",
            found.codespace, found.code, found.log,
        )  # fmt: skip
    sequence = signed_sequence(rt.store(), row["order_id"], tx_hash)
    if sequence is None:
        return Landing("pending", f"tx {tx_hash} is in no block yet")
    if sequence >= chain.TIMESTAMP_NONCE_SEQUENCE_CUTOFF:
        deadline_ms = sequence + NONCE_PAST_WINDOW_MS
        if clock.millis > deadline_ms:
            return Landing(
                "never",
                f"tx {tx_hash} is in no block, and the block time is more than 30 s past its "
                "timestamp nonce, so it can never be included",
            )
        return Landing("pending", f"tx {tx_hash} is in no block yet (its nonce is still valid)")
    account = rt.node().account(row["address"])
    if account.sequence > sequence:
        return Landing(
            "never",
            f"tx {tx_hash} is in no block, and the account's sequence ({account.sequence}) has "
            f"moved past its {sequence}, so it can never be included",
        )
    return Landing("pending", f"tx {tx_hash} is in no block yet")


def place_confirmed(store: Store, row: dict[str, Any]) -> bool:
    """Whether the order's placement is known to be in state (a block or the Indexer)."""
    if row.get("source") == "indexer" or not row.get("place_tx_hash"):
        return True
    return any(
        (e.get("detail") or "").startswith(CONFIRMED_PREFIX) for e in store.events(row["order_id"])
    )


def filled_note(data: dict[str, Any] | None) -> str:
    """ ", 0.002 filled" when the Indexer shows a partial fill."""
    try:
        filled = Decimal(str((data or {}).get("totalFilled") or 0))
    except InvalidOperation:
        return ""
    return f", {filled} filled" if filled > 0 else ""


def judge(
    rt: Runtime, row: dict[str, Any], data: dict[str, Any] | None, clock: ChainClock,
    indexer_height: IndexerHeight | None = None,
) -> Verdict:  # fmt: skip
    """The status the evidence supports for a non-final row, and the evidence. Read
    `clock` first, then the Indexer's height, then `data`."""
    indexer = our_status(data.get("status")) if data else None
    said = f"Indexer: {data.get('status')}" if data else "Indexer: 404 (not known)"
    if indexer == "FILLED":
        return Verdict("FILLED", f"{said}{filled_note(data)}")
    if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:
        height = indexer_height or IndexerHeight(rt)
        return _judge_short_term(row, data, indexer, said, clock, height)
    return _judge_stateful(rt, row, data, indexer, said, clock)


def _judge_short_term(
    row: dict[str, Any], data: dict[str, Any] | None, indexer: str | None, said: str,
    clock: ChainClock, indexer_height: IndexerHeight,
) -> Verdict:  # fmt: skip
    cancelled = row["status"] == "CANCEL_PENDING" and bool(row.get("cancel_tx_hash"))
    if is_expired(row, clock):
        gtb = row["good_til_block"]
        if indexer_height() < gtb:  # a fill in the last blocks may not be indexed yet
            return Verdict(None, f"{expiry_evidence(row, clock)}; the Indexer is at block "
                           f"{indexer_height()}, before {gtb}: waiting for it")  # fmt: skip
        why = f"{expiry_evidence(row, clock)}: it can no longer fill; {said}{filled_note(data)}"
        if cancelled or indexer == "CANCEL_PENDING":
            return Verdict("CANCELED", f"our cancel was accepted and {why}")
        return Verdict("EXPIRED", f"no cancel was sent and {why}")
    if cancelled and data is None:
        if indexer_height() < clock.height:  # it may not have seen the order at all yet
            return Verdict(None, f"{said}, but the Indexer is at block {indexer_height()}, "
                           f"behind the chain's {clock.height}")  # fmt: skip
        return Verdict(
            "CANCELED", "Indexer 404 after our accepted cancel: off the book, nothing filled"
        )
    if indexer == "CANCELED":
        return Verdict("CANCELED", f"{said}{filled_note(data)}")
    if indexer == "CANCEL_PENDING" and row["status"] in ("OPEN", "UNKNOWN", "PENDING"):
        return Verdict(
            "CANCEL_PENDING", f"{said}: cancelled elsewhere, final at its good-til-block"
        )
    if indexer == "OPEN" and row["status"] in ("PENDING", "UNKNOWN"):
        return Verdict("OPEN", f"{said}: the order rests on the book")
    return Verdict(None, said)


def _judge_stateful(
    rt: Runtime, row: dict[str, Any], data: dict[str, Any] | None, indexer: str | None,
    said: str, clock: ChainClock,
) -> Verdict:  # fmt: skip
    store = rt.store()
    expired = is_expired(row, clock)
    if row["status"] == "CANCEL_PENDING" and row.get("cancel_tx_hash"):
        landing = tx_landing(rt, row, row["cancel_tx_hash"], clock)
        if landing.state == "in_block":
            return Verdict("CANCELED", f"{landing.evidence}; {said}{filled_note(data)}")
        if expired:
            return Verdict("EXPIRED", f"{expiry_evidence(row, clock)}; {landing.evidence}")
        if indexer == "CANCELED":
            return Verdict("CANCELED", f"{said}{filled_note(data)}; {landing.evidence}")
        if landing.state in ("failed", "never"):
            back = "UNTRIGGERED" if indexer == "UNTRIGGERED" else "OPEN"
            return Verdict(back, f"the cancel did not take effect: {landing.evidence}", landing)
        return Verdict(None, f"{landing.evidence}; {said}")
    confirmed = place_confirmed(store, row)
    if indexer in ("OPEN", "UNTRIGGERED") and not expired and row["status"] != "CANCEL_PENDING":
        keep = row["status"] not in ("PENDING", "UNKNOWN", "UNTRIGGERED")
        target = row["status"] if keep else indexer
        if target != row["status"] or not confirmed:
            return Verdict(target, f"{CONFIRMED_PREFIX} — {said}")
        return Verdict(None, said)
    if indexer == "CANCELED":
        if expired and not row.get("cancel_tx_hash"):
            return Verdict("EXPIRED", f"{expiry_evidence(row, clock)}; {said}{filled_note(data)}")
        return Verdict("CANCELED", f"{said}{filled_note(data)}")
    if indexer == "CANCEL_PENDING":
        return Verdict("CANCEL_PENDING", said)
    if not confirmed:
        landing = tx_landing(rt, row, row["place_tx_hash"], clock)
        if landing.state in ("failed", "never"):
            return Verdict("REJECTED", f"the placement did not take effect: {landing.evidence}")
        if landing.state == "in_block":
            if expired:
                return Verdict("EXPIRED", f"{expiry_evidence(row, clock)}; {landing.evidence}")
            landed = (
                "UNTRIGGERED" if row["order_flags"] == chain.ORDER_FLAGS_CONDITIONAL else "OPEN"
            )
            if row["status"] in ("PENDING", "UNKNOWN"):
                return Verdict(landed, f"{CONFIRMED_PREFIX}: {landing.evidence}")
            return Verdict(row["status"], f"{CONFIRMED_PREFIX}: {landing.evidence}")
        return Verdict(None, f"{landing.evidence}; {said}")
    if expired:
        return Verdict("EXPIRED", f"{expiry_evidence(row, clock)}; {said}")
    return Verdict(None, said)


def settle(
    store: Store, row: dict[str, Any], status: str, tx_hash: str | None, detail: str,
    **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """Move a row to `status` when the status machine allows it; otherwise leave it.
    Moving to its own status records the evidence as an event (e.g. "in a block").
    `extra`: more columns written with the move (not when it is refused)."""
    from dydxctl.errors import InternalError, OrderNotFound
    from dydxctl.store import TRANSITIONS

    current = store.get(row["order_id"])
    if current is None:
        return row
    if status not in TRANSITIONS[current["status"]] and status != current["status"]:
        return current
    fields: dict[str, Any] = dict(extra)
    if status == "CANCEL_PENDING" and tx_hash:
        fields["cancel_tx_hash"] = tx_hash
    try:
        return store.transition(row["order_id"], status, tx_hash=tx_hash, detail=detail, **fields)
    except OrderNotFound:  # pruned by another process meanwhile: nothing left to update
        return row
    except InternalError:
        # Another process moved the row between our read and our write (e.g. a concurrent
        # sync settled it): its newer status stands. Same status as read: a real bug.
        latest = store.get(row["order_id"])
        if latest is not None and latest["status"] != current["status"]:
            return latest
        raise


def apply(store: Store, row: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
    """Write what a verdict supports; the evidence becomes the event's detail."""
    if verdict.status is None:
        return store.get(row["order_id"]) or row
    current = store.get(row["order_id"])
    same = current is not None and current["status"] == verdict.status
    if same and not verdict.evidence.startswith(CONFIRMED_PREFIX):
        return current  # type: ignore[return-value]
    return settle(store, row, verdict.status, None, verdict.evidence)


def refuse_final(row: dict[str, Any], *, evidence: str = "") -> None:
    """Raise the documented error for an order in a final state (exit 4 or 5)."""
    from dydxctl.errors import AlreadyFinal, OrderExpired

    status = row["status"]
    why = f" ({evidence})" if evidence else ""
    if status in ("FILLED", "CANCELED"):
        raise AlreadyFinal(
            f"Order {row['order_id']} is already {status.lower()}{why}. Nothing was sent.",
            "Nothing to cancel.",
            order_id=row["order_id"],
            status=status,
        )
    if status == "EXPIRED":
        raise OrderExpired(
            f"Order {row['order_id']} has expired{why}. Nothing was sent.",
            "`dydxctl prune-expired` will clean it up.",
            order_id=row["order_id"],
        )
    if status == "REJECTED":
        raise AlreadyFinal(
            f"Order {row['order_id']} was never on the book: its placement was rejected{why}. "
            "Nothing was sent.",
            "Nothing to cancel.",
            order_id=row["order_id"],
            status=status,
        )
