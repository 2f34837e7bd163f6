"""`cancel ORDER_ID [--wait]`: one cancel, by the chain's rules, and the evidence that
settles it.

Expiry is the chain's call (expiry.py): a short-term cancel needs the height anyway (its
GTB = max(order GTB, latest+1)); a stateful cancel is simply sent, and the chain's own
clob 3003 says when it has expired. Retries are idempotent: a short-term cancel re-sent
after a lost answer has the same bytes, and the node's sdk 19 ("already in the mempool
cache") means the first send was taken.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dydxctl import cancel_wait, chain, codes, expiry, finality, height_estimate, logs, scope
from dydxctl.errors import (
    AlreadyFinal,
    BadInput,
    ChainRejected,
    Disabled,
    DuplicateOrder,
    DydxctlError,
    OrderExpired,
    OrderNotFound,
    Unreachable,
)
from dydxctl.indexer_orders import MalformedOrder, row_from_indexer
from dydxctl.lifecycle import (
    _broadcast_stateful,
    _ms,
    _sequence_for,
    account_number,
    crash_point,
    sign,
)

if TYPE_CHECKING:
    from dydxctl.node import BroadcastResult
    from dydxctl.runtime import Runtime
    from dydxctl.store import Store
    from dydxctl.tx import SignedTx

log = logs.get("cancel")


@dataclass
class CancelResult:
    order: dict[str, Any]
    outcome: str  # CANCEL_PENDING, CANCELED, FILLED, EXPIRED, DRY_RUN
    message: str
    tx_hash: str | None = None
    good_til_block: int | None = None
    good_til_block_time: int | None = None
    latency_ms: float = 0.0
    source: str = "store"  # where the metadata came from: store or indexer
    extra: dict[str, Any] = field(default_factory=dict)


def find_order(rt: Runtime, key: str, *, record: bool = True) -> tuple[dict[str, Any], str]:
    """The order's metadata: from the store, else rebuilt from the Indexer (and recorded)."""
    features = rt.settings.features
    store = rt.store()
    if features.cancel_from_metadata:
        row = store.resolve(key, chain_id=rt.settings.chain_id)
        if row is not None:
            return row, "store"
        scope.refuse_other_chain(rt, key)
    order_uuid = key.strip().lower()
    if not _is_uuid(order_uuid):
        if key.strip().isdigit():
            raise OrderNotFound(
                f"No stored order has client id {key}"
                + ("" if features.cancel_from_metadata else " (metadata lookups are switched off)")
                + ".",
                "Pass the ORDER ID (the Indexer UUID) shown by `place` or the dYdX web app.",
            )
        raise BadInput(f"'{key}' is not an order id (a UUID) or a client id.", "")
    data = rt.indexer().order(order_uuid)
    if data is None:
        raise OrderNotFound(
            f"Order {order_uuid} is neither in the store nor known to the Indexer.",
            "Check the id, the --network, and the --subaccount it was placed on.",
        )
    try:
        row = row_from_indexer(rt, data, remember=record)
    except MalformedOrder as exc:
        raise OrderNotFound(
            f"The Indexer's order {order_uuid} cannot be cancelled from its fields: {exc}.",
            "Cancel it where it was placed, or check the Indexer.",
        ) from None
    existing = store.get(row["order_id"])
    if existing is not None:
        # With metadata lookups off, the Indexer's fields are what the cancel is built from;
        # the stored row only names the order whose status is updated.
        return (existing if features.cancel_from_metadata else row), "indexer"
    if record:
        try:
            store.insert_order(row, detail="recorded from the Indexer")
        except DuplicateOrder:
            # Another process (or host) recorded it a moment ago: cancel by its row.
            existing = store.get(row["order_id"])
            return (existing if existing and features.cancel_from_metadata else row), "indexer"
    return row, "indexer"


def cancel(
    rt: Runtime, key: str, *, dry_run: bool = False, wait: bool = False, wait_timeout_s: float = 60
) -> CancelResult:
    """Cancel one order by Indexer UUID (or stored client id), by the chain's rules."""
    started = time.perf_counter()
    if not rt.settings.features.cancel:
        raise Disabled(
            "Cancelling is switched off by the feature flag [features] cancel = false.",
            "Set it to true (or unset DYDXCTL_FEATURE_CANCEL) to cancel again.",
        )
    row, source = find_order(rt, key, record=not dry_run)
    scope.require_owner(rt, row)
    if dry_run:
        return _cancel_found(rt, row, source, started, dry_run=True)
    finality.refuse_final(row)
    if wait:  # listen before sending, so the removal cannot slip past
        from dydxctl import ws_wait

        ws_wait.follow(rt, row["address"], row["subaccount_number"])
    store = rt.store()
    # One canceller at a time per order (across processes; on PostgreSQL across hosts): the
    # second reads the first's CANCEL_PENDING and reports it instead of broadcasting again.
    with store.order_lock(row["order_id"]):
        stored = store.get(row["order_id"])
        if stored is not None:
            row = {**row, **{name: stored[name] for name in _CANCEL_STATE}}
        result = _cancel_found(rt, row, source, started, dry_run=False)
    if wait and result.outcome == "CANCEL_PENDING":
        return cancel_wait.wait_until_final(rt, result, wait_timeout_s)
    return result


# What another canceller may have changed while this one waited for the order's lock.
_CANCEL_STATE = ("status", "cancel_tx_hash", "cancel_good_til_block", "cancel_good_til_block_time")


def _cancel_found(
    rt: Runtime, row: dict[str, Any], source: str, started: float, *, dry_run: bool
) -> CancelResult:
    """cancel() for one found order; the caller holds the order's lock (unless dry_run)
    and waits for the outcome itself."""
    store = rt.store()
    finality.refuse_final(row)
    resent = ""
    if row["status"] == "CANCEL_PENDING" and not dry_run:
        row, resent = _recheck_pending(rt, row)
        if row["status"] == "CANCEL_PENDING":
            result = CancelResult(
                row, "CANCEL_PENDING", "A cancel for this order is already on its way.",
                tx_hash=row.get("cancel_tx_hash"), source=source,
            )  # fmt: skip
            return result
    order_uuid = row["order_id"]
    flags = row["order_flags"]
    order_id = scope.stored_order_id(row)
    from dydxctl.tx import cancel_order_msg

    gtb = gtbt = None
    if flags == chain.ORDER_FLAGS_SHORT_TERM:
        # One round trip: the order's own GTB is valid for as long as the order lives, so
        # the chain's clob 10 is the evidence that it has expired. A height already observed
        # (height_estimate.known_height) past the GTB refuses it without a broadcast.
        known = height_estimate.known_height(rt)
        clock = expiry.ChainClock(known if known is not None else 0, 0)
        gtb = chain.short_term_cancel_good_til_block(row["good_til_block"], clock.height)
        if gtb is None:
            evidence = f"observed {expiry.expiry_evidence(row, clock)}"
            if not dry_run:
                finality.settle(store, row, "EXPIRED", None, evidence)
            raise OrderExpired(
                f"Order {order_uuid} expired ({evidence}). Nothing was sent.",
                "`dydxctl prune-expired` will clean it up.",
                order_id=order_uuid,
            )
        message = cancel_order_msg(order_id, good_til_block=gtb)
    else:
        # PerformOrderCancellationStatefulValidation: cancel GTBT ≥ the order's, so use it.
        # No local expiry check: the chain answers clob 3003 once its block time is past.
        gtbt = row["good_til_block_time"]
        message = cancel_order_msg(order_id, good_til_block_time=gtbt)
    number = account_number(rt, row["address"], store=store, remember=not dry_run)
    if dry_run:
        signed = sign(rt, [message], sequence=_sequence_for(flags), number=number)
        return CancelResult(
            row, "DRY_RUN", "Built and signed; nothing was sent.", tx_hash=signed.tx_hash,
            good_til_block=gtb, good_til_block_time=gtbt, latency_ms=_ms(started), source=source,
            extra={"tx_bytes": base64.b64encode(signed.tx_bytes).decode()},
        )  # fmt: skip
    previous_cancel = row.get("cancel_tx_hash")

    def remember(signed: SignedTx) -> None:
        """Write-ahead: the cancel's hash and how it was signed, before the broadcast."""
        current = store.get(order_uuid)
        if current is None:  # a concurrent prune removed it: prune takes only expired rows
            raise OrderExpired(
                f"Order {order_uuid} was pruned as expired while this cancel was being "
                "prepared. Nothing was sent.", "", order_id=order_uuid,
            )  # fmt: skip
        store.transition(
            order_uuid, current["status"], tx_hash=signed.tx_hash,
            detail="cancel " + finality.SIGNED_DETAIL.format(sequence=signed.sequence),
            cancel_tx_hash=signed.tx_hash, cancel_good_til_block=gtb,
            cancel_good_til_block_time=gtbt, durable=True,
        )  # fmt: skip
        crash_point("cancel:after_signing")

    try:
        if flags == chain.ORDER_FLAGS_SHORT_TERM:
            signed = sign(rt, [message], sequence=0, number=number)
            remember(signed)
            answer = rt.node().broadcast(signed.tx_bytes, signed.tx_hash)
        else:
            signed, answer = _broadcast_stateful(rt, [message], number, on_resign=remember)
    except Unreachable as exc:
        _record_attempt(store, row, started, exc, tx_hash=None)
        store.update_fields(order_uuid, last_error=exc.message)
        raise Unreachable(
            f"{exc.message} The cancel of {order_uuid} may or may not have reached the chain.",
            f"Run `dydxctl cancel {order_uuid}` again; it is safe to repeat.",
            order_id=order_uuid,
        ) from None
    crash_point("cancel:after_broadcast")
    if answer.accepted or answer.already_sent:
        note = resent
        if answer.already_sent:
            note = (
                "The node already holds this exact cancel (sdk 19: an earlier send, whose "
                "answer was lost, reached it); nothing new was sent. "
                if previous_cancel == signed.tx_hash
                else "The node already holds this exact cancel (sdk 19). "
            )
        return _cancel_accepted(rt, row, source, answer, gtb, gtbt, started, note)
    return _cancel_rejected(rt, row, source, answer, started, previous_cancel)


def _recheck_pending(rt: Runtime, row: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A stateful CANCEL_PENDING row: did that cancel land, fail, or never land? A failed
    or dropped cancel returns the row to OPEN so it is sent again."""
    if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM or not row.get("cancel_tx_hash"):
        return row, ""
    clock = expiry.fresh_chain_clock(rt)
    verdict = finality.judge(rt, row, rt.indexer().order(row["order_id"]), clock)
    updated = finality.apply(rt.store(), row, verdict)
    finality.refuse_final(updated, evidence=verdict.evidence)
    if updated["status"] in ("OPEN", "UNTRIGGERED"):
        return updated, f"The earlier cancel did not take effect ({verdict.evidence}); sent again. "
    return updated, ""


def _cancel_accepted(
    rt: Runtime, row: dict[str, Any], source: str, answer: BroadcastResult, gtb: int | None,
    gtbt: int | None, started: float, note: str,
) -> CancelResult:  # fmt: skip
    store = rt.store()
    what = "sdk 19: already in the node's mempool cache" if answer.already_sent else "CheckTx"
    latency = _ms(started)
    with store.write():  # the status and the attempt: one commit
        stored = finality.settle(
            store, row, "CANCEL_PENDING", answer.tx_hash, f"cancel accepted ({what})"
        )
        store.record_cancel_attempt(
            row["order_id"], market=row["market"], success=True, latency_ms=latency,
            tx_hash=answer.tx_hash,
            detail="already sent (sdk 19)" if answer.already_sent else None,
        )  # fmt: skip
    log.info(
        "cancel %s tx=%s outcome=CANCEL_PENDING latency_ms=%.1f", row["order_id"],
        answer.tx_hash, latency,
    )  # fmt: skip
    if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:
        final = f"it is final once block {row['good_til_block']} (its good-til-block) passes"
    else:
        final = "it is final once its block result (GetTx) confirms it"
    result = CancelResult(
        stored, "CANCEL_PENDING",
        f"{note}Cancel accepted by the node; {final} (use --wait to follow it).",
        tx_hash=answer.tx_hash, good_til_block=gtb, good_til_block_time=gtbt, latency_ms=latency,
        source=source,
    )  # fmt: skip
    crash_point("cancel:after_status_update")
    return result


def _cancel_rejected(
    rt: Runtime, row: dict[str, Any], source: str, answer: BroadcastResult, started: float,
    previous_cancel: str | None,
) -> CancelResult:  # fmt: skip
    store = rt.store()
    pair = (answer.codespace, answer.code)
    rejection = answer.rejection()
    if pair in codes.CANCEL_ALREADY_PENDING_CODES:
        # The earlier cancel (e.g. one whose answer was lost) is the one that counts: keep
        # its hash for the block result, not this refused retry's.
        store.update_fields(row["order_id"], cancel_tx_hash=previous_cancel)
        stored = finality.settle(store, row, "CANCEL_PENDING", None, rejection.message)
        store.record_cancel_attempt(
            row["order_id"], market=row["market"], success=True, latency_ms=_ms(started),
            tx_hash=answer.tx_hash, detail="cancel already pending",
        )  # fmt: skip
        return CancelResult(
            stored, "CANCEL_PENDING",
            "A cancel for this order already exists on the chain "
            f"({answer.codespace} {answer.code}): "
            + (f"the earlier one, {previous_cancel}, whose answer was lost, got there; "
               "nothing new was sent." if previous_cancel else "nothing new was sent."),
            tx_hash=previous_cancel, latency_ms=_ms(started), source=source,
        )  # fmt: skip
    _record_attempt(store, row, started, rejection, tx_hash=answer.tx_hash)
    if pair in codes.EXPIRED_CODES:
        said = f"the chain answered ({answer.codespace}, {answer.code}): its good-til has passed"
        if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:  # the order's own GTB was sent
            said += f" (good_til_block {row['good_til_block']})"
        finality.settle(store, row, "EXPIRED", None, said)
        raise OrderExpired(
            f"Order {row['order_id']} has expired ({said}). Nothing to cancel.",
            "`dydxctl prune-expired` will clean it up.",
            order_id=row["order_id"],
        )
    if pair in codes.ORDER_GONE_CODES:
        raise _resolve_gone(rt, row, answer, previous_cancel)
    store.update_fields(row["order_id"], last_error=rejection.message)
    rejection.details["order_id"] = row["order_id"]
    raise rejection


def _resolve_gone(
    rt: Runtime, row: dict[str, Any], answer: BroadcastResult, previous_cancel: str | None,
    clock: expiry.ChainClock | None = None,
) -> DydxctlError:  # fmt: skip
    """The chain says the order is not in state: find out why, and write only what the
    evidence proves (REJECTED needs the place's block result or proof it never lands).
    `clock`: one the caller read just before this answer (cancel --all: one for all
    its rows), else a fresh read."""
    store = rt.store()
    said = f"the chain answered ({answer.codespace}, {answer.code})"
    clock = clock or expiry.fresh_chain_clock(rt)
    if previous_cancel and chain.is_stateful(row["order_flags"]):
        landing = finality.tx_landing(rt, row, previous_cancel, clock)
        if landing.state == "in_block":
            finality.settle(store, row, "CANCELED", previous_cancel, landing.evidence)
            return AlreadyFinal(
                f"Order {row['order_id']} is already cancelled: your earlier cancel landed "
                f"({landing.evidence}).",
                "Nothing to cancel; the retry was safe.",
                order_id=row["order_id"], status="CANCELED",
            )  # fmt: skip
    data = rt.indexer().order(row["order_id"])
    verdict = finality.judge(rt, row, data, clock)
    if verdict.status in ("FILLED", "CANCELED", "EXPIRED", "REJECTED"):
        updated = finality.apply(store, row, verdict)
        try:
            finality.refuse_final(updated, evidence=f"{said}; {verdict.evidence}")
        except DydxctlError as exc:
            return exc
    rejection = answer.rejection()
    rejection.details.update(order_id=row["order_id"], indexer_status=(data or {}).get("status"))
    if not finality.place_confirmed(store, row):
        return ChainRejected(
            f"Order {row['order_id']} is not in the chain's state yet ({said}): its placement "
            f"may still be on its way ({verdict.evidence}). Nothing was cancelled.",
            f"Run `dydxctl cancel {row['order_id']}` again in a few seconds, or `dydxctl sync`.",
            codespace=answer.codespace, code=answer.code, order_id=row["order_id"],
        )  # fmt: skip
    return rejection


def _record_attempt(
    store: Store, row: dict[str, Any], started: float, exc: DydxctlError, *, tx_hash: str | None
) -> None:
    store.record_cancel_attempt(
        row["order_id"],
        market=row.get("market"),
        success=False,
        latency_ms=_ms(started),
        kind=exc.kind,
        codespace=getattr(exc, "codespace", None),
        code=getattr(exc, "code", None),
        tx_hash=tx_hash,
        detail=exc.message,
    )
    log.info(
        "cancel %s outcome=failure kind=%s latency_ms=%.1f", row["order_id"], exc.kind,
        _ms(started),
    )  # fmt: skip


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
