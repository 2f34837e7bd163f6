"""The use cases: place, cancel, cancel-all. Plain functions a bot can import and call.

Write-ahead: an order's row (PENDING, full metadata, the tx hash) is committed before its
broadcast, and updated after it, so a crash at any point leaves a row `sync` can resolve
and `cancel` can use.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dydxctl import chain, codes, expiry, finality, height_estimate, logs
from dydxctl.errors import BadInput, DuplicateOrder, Unreachable
from dydxctl.markets import Market, check_against_clob_pair
from dydxctl.orders import (
    OrderRequest,
    build_order,
    encode_order_id,
    kind_flags,
    make_order_id,
)
from dydxctl.store import recorded_after_broadcast

if TYPE_CHECKING:
    from dydxctl.cancel_one import CancelResult
    from dydxctl.node import BroadcastResult
    from dydxctl.runtime import Runtime
    from dydxctl.store import Store
    from dydxctl.tx import SignedTx

log = logs.get("lifecycle")
MARKET_CACHE_TTL_S = 3600.0
CLIENT_ID_TRIES = 64


# --- markets and accounts -------------------------------------------------------------------
def load_market(rt: Runtime, ticker: str, *, fresh: bool = False, store: Store | None) -> Market:
    """Market parameters: from the store's cache when young enough, else from the Indexer."""
    ticker = ticker.upper()
    chain_id = rt.settings.chain_id
    if store is not None and not fresh:
        row = store.cached_market(chain_id, ticker, MARKET_CACHE_TTL_S, time.time())
        if row is not None:
            return Market.from_row(row)
    markets = rt.indexer().perpetual_markets(ticker)
    data = markets.get(ticker)
    if data is None:
        known = ", ".join(sorted(rt.indexer().perpetual_markets()))
        raise BadInput(f"Unknown market '{ticker}'.", f"Markets on this network: {known}.")
    market = Market.from_indexer(ticker, data)
    # Checked against the node once per fetch; the cache only holds checked parameters,
    # so a warm place/cancel costs no extra round trip.
    check_against_clob_pair(market, rt.node().clob_pair(market.clob_pair_id))
    if store is not None:
        store.cache_markets(chain_id, [market.to_row()], time.time())
    return market


def account_number(rt: Runtime, address: str, *, store: Store | None, remember: bool = True) -> int:
    """Account numbers never change: ask the node once, then use the store's cache
    (remember=False: read the cache but write nothing, for dry runs)."""
    chain_id = rt.settings.chain_id
    if store is not None:
        cached = store.cached_account_number(chain_id, address)
        if cached is not None:
            return cached
    number = rt.node().account(address).account_number
    if store is not None and remember:
        store.cache_account_number(chain_id, address, number, time.time())
    return number


def _sequence_for(order_flags: int) -> int:
    """Short-term txs skip sequence checks (app/ante/util.go ShouldSkipSequenceValidation);
    stateful ones use a timestamp nonce (x/accountplus, since v6), so neither needs a query."""
    if order_flags == chain.ORDER_FLAGS_SHORT_TERM:
        return 0
    from dydxctl.tx import timestamp_nonce

    return timestamp_nonce()


def sign(rt: Runtime, messages: list[Any], *, sequence: int, number: int) -> SignedTx:
    from dydxctl.trading_key import refuse_locally
    from dydxctl.tx import sign_tx

    refuse_locally(rt.wallet(), messages)  # a trading key's known filters (issue 16)

    return sign_tx(
        rt.wallet(),
        messages,
        chain_id=rt.settings.chain_id,
        account_number=number,
        sequence=sequence,
    )


def _broadcast_stateful(
    rt: Runtime, messages: list[Any], number: int, on_resign: Any = None,
    signed: SignedTx | None = None,
) -> tuple[SignedTx, BroadcastResult]:  # fmt: skip
    """Broadcast a stateful tx with a timestamp nonce (`signed`, or signed here); if the
    chain refuses the nonce (sdk 32: clock skew, or a chain without timestamp nonces)
    nothing was applied, so sign once more with the account's sequence."""
    if signed is None:
        signed = sign(
            rt, messages, sequence=_sequence_for(chain.ORDER_FLAGS_LONG_TERM), number=number
        )
        if on_resign:
            on_resign(signed)
    result = rt.node().broadcast(signed.tx_bytes, signed.tx_hash)
    if (result.codespace, result.code) == codes.WRONG_SEQUENCE:
        log.info("timestamp nonce refused (%s); retrying with the account sequence", result.log)
        sequence = rt.node().account(rt.wallet().address).sequence
        signed = sign(rt, messages, sequence=sequence, number=number)
        if on_resign:
            on_resign(signed)
        result = rt.node().broadcast(signed.tx_bytes, signed.tx_hash)
    return signed, result


# --- place ---------------------------------------------------------------------------------------
@dataclass
class PlaceResult:
    order: dict[str, Any]
    tx_hash: str
    dry_run: bool
    tx_bytes: str | None = None  # base64 TxRaw (dry runs)
    latency_ms: float = 0.0


def _new_client_id(store: Store | None, chain_id: str, address: str, subaccount: int) -> int:
    for _ in range(CLIENT_ID_TRIES):
        candidate = secrets.randbelow(chain.CLIENT_ID_MAX + 1)
        if store is None or not store.client_id_taken(chain_id, address, subaccount, candidate):
            return candidate
    raise BadInput("Could not find an unused client id.", "Pass --client-id.")


def place(rt: Runtime, request: OrderRequest, *, dry_run: bool = False) -> PlaceResult:
    """Place one order; the row is committed (PENDING) before the broadcast."""
    started = time.perf_counter()
    wallet = rt.wallet()
    settings = rt.settings
    store = rt.store() if not dry_run else (rt.store(create=False) if rt.has_store() else None)
    flags = kind_flags(request)
    needs_oracle = request.price is None and request.type.lower() == "market"
    market = load_market(rt, request.market, fresh=needs_oracle, store=store)
    # One clock, the chain's: a short-term GTB counts from the latest height, a --good-til
    # duration from the latest block time (the chain's 95-day window is measured from it) —
    # estimated from the last observed block when young (height_estimate.py), else read.
    window = expiry.short_block_window_if_needed(rt, request.good_til_blocks)
    plan, estimated = height_estimate.plan(rt, request, market, window)
    subaccount = request.subaccount
    if request.client_id is not None:
        client_id = request.client_id
        if store is not None and store.client_id_taken(
            settings.chain_id, wallet.address, subaccount, client_id
        ):
            raise BadInput(
                f"Client id {client_id} is already used by a stored order of this subaccount.",
                "Use another --client-id, or omit it to get a fresh one.",
            )
    else:
        client_id = _new_client_id(store, settings.chain_id, wallet.address, subaccount)
    order_id = make_order_id(wallet.address, subaccount, client_id, market.clob_pair_id, flags)
    order = build_order(plan, order_id)
    from dydxctl.tx import place_order_msg

    messages = [place_order_msg(order)]
    number = account_number(rt, wallet.address, store=store)
    signed = sign(rt, messages, sequence=_sequence_for(flags), number=number)
    if not dry_run:
        crash_point("place:after_signing")
    row = {
        "order_id": chain.indexer_order_uuid(
            wallet.address, subaccount, client_id, market.clob_pair_id, flags
        ),
        "chain_id": settings.chain_id,
        "address": wallet.address,
        "subaccount_number": subaccount,
        "client_id": client_id,
        "clob_pair_id": market.clob_pair_id,
        "order_flags": flags,
        "order_id_proto": encode_order_id(order_id),
        "market": market.ticker,
        "side": plan.side,
        "type": plan.type.name,
        "time_in_force": plan.time_in_force,
        "reduce_only": plan.reduce_only,
        "quantums": plan.quantums,
        "subticks": plan.subticks,
        "size": str(plan.size),
        "price": str(plan.price),
        "good_til_block": plan.good_til_block,
        "good_til_block_time": plan.good_til_block_time,
        "trigger_subticks": plan.trigger_subticks or None,
        "trigger_price": str(plan.trigger_price) if plan.trigger_price is not None else None,
        "status": "PENDING",
        "place_tx_hash": signed.tx_hash,
        # A trading key (issue 16): which key and authenticator placed it.
        "signer_address": getattr(wallet, "signer_address", None),
        "authenticator_id": getattr(wallet, "authenticator_id", None),
    }
    if dry_run:
        return PlaceResult(
            order={**row, "status": "DRY_RUN"},
            tx_hash=signed.tx_hash,
            dry_run=True,
            tx_bytes=base64.b64encode(signed.tx_bytes).decode(),
            latency_ms=_ms(started),
        )
    assert store is not None
    try:
        # durable: fsync'd, so the row of a broadcast order survives even a power loss.
        store.insert_order(
            row,
            detail="written before broadcast; place "
            + finality.SIGNED_DETAIL.format(sequence=signed.sequence),
            durable=True,
        )
    except DuplicateOrder:
        if request.client_id is not None:
            raise
        # Another process (or host) took this client id between the check and the insert:
        # the UNIQUE OrderId key decided, nothing was sent; draw another id.
        log.info("place: client id %s taken concurrently; drawing another", client_id)
        return place(rt, request)
    crash_point("place:after_pending_row")

    def remember(resigned: SignedTx, **fields: Any) -> None:
        if resigned.tx_hash != row["place_tx_hash"]:
            store.transition(
                row["order_id"], "PENDING", tx_hash=resigned.tx_hash,
                detail="place re-" + finality.SIGNED_DETAIL.format(sequence=resigned.sequence),
                place_tx_hash=resigned.tx_hash, durable=True, **fields,
            )  # fmt: skip
            row.update(fields, place_tx_hash=resigned.tx_hash)

    def send(signed: SignedTx, messages: list[Any]) -> tuple[SignedTx, BroadcastResult]:
        if flags == chain.ORDER_FLAGS_SHORT_TERM:
            return signed, rt.node().broadcast(signed.tx_bytes, signed.tx_hash)
        return _broadcast_stateful(rt, messages, number, on_resign=remember, signed=signed)

    try:
        signed, result = send(signed, messages)
        if estimated and (result.codespace, result.code) in height_estimate.ESTIMATE_MISSED:
            # CheckTx refused the estimated good-til (nothing applied): read the clock once,
            # re-sign the same order (same id) and send again.
            log.info("place %s: estimated clock off (%s %s); re-signing with a fresh one",
                     row["order_id"], result.codespace, result.code)  # fmt: skip
            plan, estimated = height_estimate.plan(rt, request, market, window, fresh_clock=True)
            messages = [place_order_msg(build_order(plan, order_id))]
            signed = sign(rt, messages, sequence=_sequence_for(flags), number=number)
            remember(signed, good_til_block=plan.good_til_block,
                     good_til_block_time=plan.good_til_block_time)  # fmt: skip
            signed, result = send(signed, messages)
    except Unreachable as exc:
        with recorded_after_broadcast(row["order_id"], row["place_tx_hash"], None):
            store.transition(
                row["order_id"], "UNKNOWN", tx_hash=row["place_tx_hash"], detail=exc.message,
                last_error=exc.message,
            )  # fmt: skip
        log.info("place %s: broadcast outcome unknown: %s", row["order_id"], exc.message)
        raise Unreachable(
            f"{exc.message} The order {row['order_id']} may or may not have been placed; "
            "it is recorded as UNKNOWN.",
            "Run `dydxctl sync` to find out, or `dydxctl cancel "
            f"{row['order_id']}` to make sure it is gone.",
            order_id=row["order_id"],
        ) from None
    crash_point("place:after_broadcast")
    if not result.accepted:
        rejection = result.rejection()
        with recorded_after_broadcast(row["order_id"], result.tx_hash, False):
            store.transition(
                row["order_id"], "REJECTED", tx_hash=result.tx_hash,
                detail=f"{result.codespace} {result.code}: {result.log}",
                last_error=rejection.message,
            )  # fmt: skip
        log.info(
            "place %s rejected %s %s in %.1f ms", row["order_id"], result.codespace, result.code,
            _ms(started),
        )  # fmt: skip
        rejection.details["order_id"] = row["order_id"]
        raise rejection
    status = "UNTRIGGERED" if flags == chain.ORDER_FLAGS_CONDITIONAL else "OPEN"
    detail = "accepted by CheckTx"
    if chain.is_stateful(flags):
        detail += "; its block result (GetTx) confirms it: `dydxctl sync`"
    with recorded_after_broadcast(row["order_id"], result.tx_hash, True):
        stored = store.transition(row["order_id"], status, tx_hash=result.tx_hash, detail=detail)
    height_estimate.persist(rt)  # the chain clock this place read, for the next process
    crash_point("place:after_status_update")
    latency = _ms(started)
    log.info(
        "place %s client_id=%s tx=%s outcome=%s latency_ms=%.1f",
        row["order_id"], client_id, result.tx_hash, status, latency,
    )  # fmt: skip
    return PlaceResult(order=stored, tx_hash=result.tx_hash, dry_run=False, latency_ms=latency)


# --- cancel (cancel_one.py) and finality (finality.py), re-exported for callers -----------
def cancel(rt: Runtime, key: str, **options: Any) -> CancelResult:
    """Cancel one order: see cancel_one.cancel."""
    from dydxctl.cancel_one import cancel as cancel_order

    return cancel_order(rt, key, **options)


def settle(
    store: Store, row: dict[str, Any], status: str, tx_hash: str | None, detail: str,
    **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    return finality.settle(store, row, status, tx_hash, detail, **extra)


def mark_expired(store: Store, row: dict[str, Any], detail: str) -> None:
    """Only with the chain's evidence (expiry.py) in `detail`."""
    if store.get(row["order_id"]) is not None:
        settle(store, row, "EXPIRED", None, detail)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


CRASH_POINTS = (
    "place:after_signing",
    "place:after_pending_row",
    "place:after_broadcast",
    "place:after_status_update",
    "cancel:after_signing",
    "cancel:after_broadcast",
    "cancel:after_status_update",
)


def crash_point(name: str) -> None:
    """Fault injection for crash tests: with DYDXCTL_CRASH_AT=name the process sends itself
    SIGKILL right here, so tests can prove the store survives a crash at every step."""
    import os

    if os.environ.get("DYDXCTL_CRASH_AT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
