"""`cancel --all` at the physical limit: every cancel transaction in flight at once.

Short-term batch cancels carry no sequence (app/ante/util.go
ShouldSkipSequenceValidation) and stateful cancels carry timestamp nonces
(x/accountplus/keeper/timestampnonce.go), so no transaction waits for another's answer:
all are signed (and written ahead) on the calling thread, broadcast together over the one
gRPC channel, and their answers recorded on the calling thread again (the store's
connection belongs to it).

Timestamp nonces: the chain keeps an account's MAX_TIMESTAMP_NONCE_ARR_SIZE (20) newest
nonces and refuses one below the oldest kept once full. Sent together, nonces may arrive
out of order; a wave of at most 20 can be overtaken by at most 19 newer ones, so every
nonce of the wave stays above the oldest kept one. Larger sets go in waves of 20.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from dydxctl import chain, expiry, finality, height_estimate, lifecycle, logs
from dydxctl.errors import DydxctlError, Unreachable

if TYPE_CHECKING:
    from dydxctl.node import BroadcastResult
    from dydxctl.runtime import Runtime
    from dydxctl.tx import SignedTx

log = logs.get("cancel_all")
T = TypeVar("T")
STATEFUL_WAVE = chain.MAX_TIMESTAMP_NONCE_ARR_SIZE
ResultRow = Callable[[dict[str, Any], str, "str | None", str], dict[str, Any]]
FailedRow = Callable[[dict[str, Any], DydxctlError, "str | None"], dict[str, Any]]


@contextmanager
def in_background(fn: Callable[[], T]) -> Iterator[Future[T]]:
    """Run `fn` on a thread while the caller does something else (network only: the
    store stays on the calling thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(fn)


@dataclass
class Outgoing:
    """One signed cancel tx and the orders it cancels."""

    rows: list[dict[str, Any]]
    signed: SignedTx
    good_til_block: int | None = None
    good_til_block_time: int | None = None
    messages: list[Any] = field(default_factory=list)
    answer: BroadcastResult | None = None
    error: DydxctlError | None = None
    started: float = 0.0


def send_together(rt: Runtime, outgoing: list[Outgoing]) -> Iterator[Outgoing]:
    """Send every tx at once (node.broadcast_as_answered); yield each as its answer (or
    error) arrives, so its bookkeeping overlaps the node's checking of the others."""
    if not outgoing:
        return
    started = time.perf_counter()
    for item in outgoing:
        item.started = started
    txs = [(o.signed.tx_bytes, o.signed.tx_hash) for o in outgoing]
    for index, answer in rt.node().broadcast_as_answered(txs):
        item = outgoing[index]
        if isinstance(answer, DydxctlError):
            item.error = answer
        else:
            item.answer = answer
        yield item


# --- short-term: MsgBatchCancel ------------------------------------------------------------
def sign_batches(
    rt: Runtime, rows: list[dict[str, Any]], subaccount: int, clock: expiry.ChainClock,
    result_row: ResultRow, *, dry_run: bool = False,
) -> tuple[list[Outgoing], list[dict[str, Any]]]:  # fmt: skip
    """Batch txs for the live rows; rows the observed height shows expired are settled
    (dry_run: reported only — nothing is written, the account number is not remembered)."""
    from dydxctl.orders import make_order_id
    from dydxctl.tx import batch_cancel_msg

    store = rt.store()
    live, expired = [], []
    for row in rows:
        (expired if expiry.is_expired(row, clock) else live).append(row)
    results = []
    if expired:
        with contextlib.nullcontext() if dry_run else store.write():
            for row in expired:
                evidence = expiry.expiry_evidence(row, clock)
                if not dry_run:
                    lifecycle.mark_expired(store, row, evidence)
                results.append(result_row(row, "EXPIRED", None, evidence))
    if not live:
        return [], results
    wallet = rt.wallet()
    number = lifecycle.account_number(rt, wallet.address, store=store, remember=not dry_run)
    subaccount_id = make_order_id(wallet.address, subaccount, 0, 0, 0).subaccount_id
    size = chain.MAX_MSG_BATCH_CANCEL_BATCH_SIZE
    outgoing = []
    for start in range(0, len(live), size):
        chunk = live[start : start + size]
        gtb = chain.batch_cancel_good_til_block([r["good_til_block"] for r in chunk],
                                                clock.height)  # fmt: skip
        assert gtb is not None  # every row of `live` is unexpired at clock.height
        by_pair: dict[int, list[int]] = {}
        for r in chunk:
            by_pair.setdefault(r["clob_pair_id"], []).append(r["client_id"])
        message = batch_cancel_msg(subaccount_id, by_pair, gtb)
        signed = lifecycle.sign(rt, [message], sequence=0, number=number)
        outgoing.append(Outgoing(chunk, signed, good_til_block=gtb, messages=[message]))
    return outgoing, results


def record_batch(
    rt: Runtime, item: Outgoing, result_row: ResultRow, failed_row: FailedRow,
    batch_rejection: Callable[[dict[str, Any], BroadcastResult], DydxctlError] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    store = rt.store()
    if item.error is not None or item.answer is None:
        exc = item.error or Unreachable("No answer.", "")
        return [failed_row(r, exc, None) for r in item.rows]
    answer = item.answer
    latency = (time.perf_counter() - item.started) * 1000
    accepted = answer.accepted or answer.already_sent  # sdk 19: these bytes were sent
    results = []
    with store.write():  # one transaction for the whole batch's bookkeeping
        for r in item.rows:
            if accepted:
                lifecycle.settle(store, r, "CANCEL_PENDING", answer.tx_hash, "batch cancel",
                                 cancel_good_til_block=item.good_til_block)  # fmt: skip
                results.append(result_row(r, "CANCEL_PENDING", answer.tx_hash, ""))
            else:
                rejection = batch_rejection(r, answer) if batch_rejection else answer.rejection()
                results.append(failed_row(r, rejection, answer.tx_hash))
            store.record_cancel_attempt(
                r["order_id"], market=r["market"], success=accepted, latency_ms=latency,
                kind=None if accepted else "chain_rejected",
                codespace=answer.codespace or None, code=answer.code or None,
                tx_hash=answer.tx_hash, detail="batch cancel",
            )  # fmt: skip
    log.info("batch cancel %d orders tx=%s code=%s", len(item.rows), answer.tx_hash, answer.code)
    return results


# --- stateful: one MsgCancelOrder each ------------------------------------------------------
def needs_one_by_one(rt: Runtime, row: dict[str, Any]) -> bool:
    """Rows whose cancel first needs evidence (a stateful cancel already pending) or the
    Indexer's fields (metadata lookups off) take cancel_one's full path."""
    return row["status"] == "CANCEL_PENDING" or not rt.settings.features.cancel_from_metadata


def sign_stateful(rt: Runtime, row: dict[str, Any]) -> Outgoing:
    """A signed MsgCancelOrder with the order's own GTBT (≥ the order's, as
    PerformOrderCancellationStatefulValidation requires), written ahead."""
    from dydxctl.orders import decode_order_id
    from dydxctl.tx import cancel_order_msg

    gtbt = row["good_til_block_time"]
    message = cancel_order_msg(decode_order_id(row["order_id_proto"]), good_til_block_time=gtbt)
    number = lifecycle.account_number(rt, row["address"], store=rt.store())
    signed = lifecycle.sign(
        rt, [message], sequence=lifecycle._sequence_for(row["order_flags"]), number=number
    )
    _write_ahead(rt, row, signed, gtbt)
    return Outgoing([row], signed, good_til_block_time=gtbt, messages=[message])


def _write_ahead(rt: Runtime, row: dict[str, Any], signed: SignedTx, gtbt: int | None) -> None:
    store = rt.store()
    store.transition(
        row["order_id"], store.get(row["order_id"])["status"], tx_hash=signed.tx_hash,
        detail="cancel " + finality.SIGNED_DETAIL.format(sequence=signed.sequence),
        cancel_tx_hash=signed.tx_hash, cancel_good_til_block_time=gtbt,
    )  # fmt: skip


def record_stateful(
    rt: Runtime, item: Outgoing, result_row: ResultRow, failed_row: FailedRow
) -> dict[str, Any]:
    """cancel_one's own bookkeeping for the answer (accepted, already pending, expired,
    gone; an sdk 32 nonce refusal was re-sent before, by resend_with_sequences)."""
    from dydxctl import cancel_one

    row = item.rows[0]
    previous_cancel = row.get("cancel_tx_hash")
    answer = item.answer
    try:
        if item.error is not None or answer is None:
            exc = item.error or Unreachable("No answer.", "")
            cancel_one._record_attempt(rt.store(), row, item.started, exc, tx_hash=None)
            rt.store().update_fields(row["order_id"], last_error=exc.message)
            return failed_row(row, exc, None)
        if answer.accepted or answer.already_sent:
            outcome = cancel_one._cancel_accepted(
                rt, row, "store", answer, None, item.good_til_block_time, item.started, "",
            )  # fmt: skip
        else:
            outcome = cancel_one._cancel_rejected(
                rt, row, "store", answer, item.started, previous_cancel
            )
        return result_row(row, outcome.outcome, outcome.tx_hash, "")
    except DydxctlError as exc:
        return failed_row(row, exc, exc.details.get("tx_hash"))


def nonce_refused(item: Outgoing) -> bool:
    from dydxctl import codes

    answer = item.answer
    return answer is not None and (answer.codespace, answer.code) == codes.WRONG_SEQUENCE


# cosmos-sdk x/auth/ante/sigverify.go (IncrementSequenceDecorator's check): ErrWrongSequence
# "account sequence mismatch, expected %d, got %d".
_EXPECTED_SEQUENCE = re.compile(r"expected (\d+), got (\d+)")


def _expected_sequence(answer: BroadcastResult) -> int | None:
    from dydxctl import codes

    if (answer.codespace, answer.code) != codes.WRONG_SEQUENCE:
        return None
    found = _EXPECTED_SEQUENCE.search(answer.log or "")
    return int(found.group(1)) if found else None


def resend_with_sequences(rt: Runtime, refused: list[Outgoing]) -> None:
    """Stateful cancels whose timestamp nonce the chain refused (sdk 32: this host's clock
    over 30 s off the block time, a chain without timestamp nonces, or newer nonces of
    another process pushing them out): nothing was applied, so each goes again with the
    account's sequence. The sequence is read once and counted up here: CheckTx takes
    N+1 only after N (x/auth/ante/sigverify.go), and moves it only for a tx it accepts, so
    these go one at a time. A sequence the chain refuses names the one it expects (our
    own earlier txs still in its mempool, or a send whose answer was lost): used once."""
    if not refused:
        return
    node = rt.node()
    store = rt.store()
    sequence = node.account(rt.wallet().address).sequence
    for item in refused:
        row = item.rows[0]
        for _ in range(2):
            signed = lifecycle.sign(rt, item.messages, sequence=sequence,
                                    number=item.signed.account_number)  # fmt: skip
            with store.write(durable=True):  # written ahead, as every broadcast is
                _write_ahead(rt, row, signed, item.good_til_block_time)
            item.signed, item.started = signed, time.perf_counter()
            log.info("cancel %s: timestamp nonce refused; sequence %d", row["order_id"], sequence)
            try:
                item.answer, item.error = node.broadcast(signed.tx_bytes, signed.tx_hash), None
            except DydxctlError as exc:
                item.answer, item.error = None, exc  # unknown: the next one finds out
                break
            expected = _expected_sequence(item.answer)
            if expected is None or expected == sequence:
                break
            sequence = expected
        if item.answer is not None and (item.answer.accepted or item.answer.already_sent):
            sequence += 1


def cancel_rows(
    rt: Runtime, short_term: list[dict[str, Any]], stateful: list[dict[str, Any]],
    subaccount: int, clock: expiry.ChainClock, result_row: ResultRow, failed_row: FailedRow,
    batch_rejection: Callable[[dict[str, Any], BroadcastResult], DydxctlError] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Cancel every row, all transactions in flight together; one result row per order.
    `batch_rejection` says what a refused batch means for each of its orders."""
    store = rt.store()
    height_estimate.persist(rt)
    results: list[dict[str, Any]] = []
    batches: list[Outgoing] = []
    if short_term:
        batches, expired = sign_batches(rt, short_term, subaccount, clock, result_row)
        results += expired
    one_by_one = [r for r in stateful if needs_one_by_one(rt, r)]
    direct = [r for r in stateful if not needs_one_by_one(rt, r)]
    waves = [direct[i : i + STATEFUL_WAVE] for i in range(0, len(direct), STATEFUL_WAVE)] or [[]]
    for number, wave in enumerate(waves):
        signed: list[Outgoing] = []
        # every write-ahead row committed (fsync'd) before any broadcast
        with store.write(durable=True) if wave else contextlib.nullcontext():
            for row in wave:
                try:
                    signed.append(sign_stateful(rt, row))
                except DydxctlError as exc:
                    results.append(failed_row(row, exc, None))
        outgoing = (batches if number == 0 else []) + signed
        recorded: dict[int, list[dict[str, Any]]] = {}
        for item in send_together(rt, outgoing):
            if item.good_til_block is not None:  # a batch's 100 rows: recorded at once, in
                with store.write():  # one transaction, while the node checks the others
                    recorded[id(item)] = record_batch(rt, item, result_row, failed_row,
                                                      batch_rejection)  # fmt: skip
        resend_with_sequences(rt, [item for item in signed if nonce_refused(item)])
        with store.write():  # the stateful answers' bookkeeping: one transaction
            for item in signed:
                recorded[id(item)] = [record_stateful(rt, item, result_row, failed_row)]
        for item in outgoing:  # results in the order the txs were signed
            results += recorded[id(item)]
    for row in one_by_one:
        try:
            outcome = lifecycle.cancel(rt, row["order_id"])
            results.append(result_row(row, outcome.outcome, outcome.tx_hash, ""))
        except DydxctlError as exc:
            results.append(failed_row(row, exc, exc.details.get("tx_hash")))
    return results
