"""The use cases: place, cancel, cancel-all. Plain functions a bot can import and call.

Write-ahead: an order's row (PENDING, full metadata, the tx hash) is committed before its
broadcast, and updated after it, so a crash at any point leaves a row `sync` can resolve
and `cancel` can use.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dydxctl import chain, codes, logs
from dydxctl.durations import format_unix, parse_time
from dydxctl.errors import (
    AlreadyFinal,
    BadInput,
    Disabled,
    DydxctlError,
    InternalError,
    OrderExpired,
    OrderNotFound,
    Unreachable,
)
from dydxctl.markets import Market, check_against_clob_pair
from dydxctl.orders import (
    ORDER_TYPES_BY_INDEXER_NAME,
    OrderRequest,
    build_order,
    decode_order_id,
    encode_order_id,
    kind_flags,
    make_order_id,
    plan_order,
)
from dydxctl.store import TRANSITIONS

if TYPE_CHECKING:
    from dydxctl.node import BroadcastResult
    from dydxctl.runtime import Runtime
    from dydxctl.store import Store
    from dydxctl.tx import SignedTx

log = logs.get("lifecycle")
MARKET_CACHE_TTL_S = 3600.0
LOCAL_CLOCK_ALLOWANCE_S = 60
CLIENT_ID_TRIES = 64
# The Indexer's order statuses (indexer/packages/postgres/src/types/order-types.ts) → ours.
INDEXER_STATUS = {
    "OPEN": "OPEN",
    "BEST_EFFORT_OPENED": "OPEN",
    "UNTRIGGERED": "UNTRIGGERED",
    "FILLED": "FILLED",
    "CANCELED": "CANCELED",
    "BEST_EFFORT_CANCELED": "CANCEL_PENDING",
}


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


def account_number(rt: Runtime, address: str, *, store: Store | None) -> int:
    """Account numbers never change: ask the node once, then use the store's cache."""
    chain_id = rt.settings.chain_id
    if store is not None:
        cached = store.cached_account_number(chain_id, address)
        if cached is not None:
            return cached
    number = rt.node().account(address).account_number
    if store is not None:
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
    rt: Runtime, messages: list[Any], number: int, on_resign: Any = None
) -> tuple[SignedTx, BroadcastResult]:
    """Broadcast a stateful tx with a timestamp nonce; if the chain refuses the nonce
    (sdk 32: clock skew, or a chain without timestamp nonces) nothing was applied, so sign
    once more with the account's sequence."""
    signed = sign(rt, messages, sequence=_sequence_for(chain.ORDER_FLAGS_LONG_TERM), number=number)
    if on_resign:
        on_resign(signed)
    result = rt.node().broadcast(signed.tx_bytes, signed.tx_hash)
    if (result.codespace, result.code) == (codes.SDK, 32):
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
    market = load_market(rt, request.market, fresh=needs_oracle, store=None if dry_run else store)
    latest = rt.node().latest_block() if flags == chain.ORDER_FLAGS_SHORT_TERM else None
    plan = plan_order(
        request,
        market,
        latest_height=latest.height if latest else None,
        now_unix=latest.time_unix if latest else int(time.time()),
        short_block_window=settings.network.short_block_window,
    )
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
    number = account_number(rt, wallet.address, store=None if dry_run else store)
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
    store.insert_order(row, detail="written before broadcast")
    crash_point("place:after_pending_row")
    try:
        if flags == chain.ORDER_FLAGS_SHORT_TERM:
            result = rt.node().broadcast(signed.tx_bytes, signed.tx_hash)
        else:

            def remember(resigned: SignedTx) -> None:
                if resigned.tx_hash != row["place_tx_hash"]:
                    store.update_fields(row["order_id"], place_tx_hash=resigned.tx_hash)
                    row["place_tx_hash"] = resigned.tx_hash

            signed, result = _broadcast_stateful(rt, messages, number, on_resign=remember)
    except Unreachable as exc:
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
        store.transition(
            row["order_id"], "REJECTED", tx_hash=result.tx_hash,
            detail=f"{result.codespace} {result.code}: {result.log}", last_error=rejection.message,
        )  # fmt: skip
        log.info(
            "place %s rejected %s %s in %.1f ms", row["order_id"], result.codespace, result.code,
            _ms(started),
        )  # fmt: skip
        rejection.details["order_id"] = row["order_id"]
        raise rejection
    status = "UNTRIGGERED" if flags == chain.ORDER_FLAGS_CONDITIONAL else "OPEN"
    stored = store.transition(
        row["order_id"], status, tx_hash=result.tx_hash, detail="accepted by CheckTx"
    )
    crash_point("place:after_status_update")
    latency = _ms(started)
    log.info(
        "place %s client_id=%s tx=%s outcome=%s latency_ms=%.1f",
        row["order_id"], client_id, result.tx_hash, status, latency,
    )  # fmt: skip
    return PlaceResult(order=stored, tx_hash=result.tx_hash, dry_run=False, latency_ms=latency)


# --- cancel ---------------------------------------------------------------------------------------
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
    row = row_from_indexer(rt, data)
    existing = store.get(row["order_id"])
    if existing is not None:
        # With metadata lookups off, the Indexer's fields are what the cancel is built from;
        # the stored row only names the order whose status is updated.
        return (existing if features.cancel_from_metadata else row), "indexer"
    if record:
        store.insert_order(row, detail="recorded from the Indexer")
    return row, "indexer"


def row_from_indexer(rt: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """Rebuild an order's metadata and OrderId from the Indexer's /v4/orders/{id} fields."""
    wallet = rt.wallet()
    try:
        number = int(data["subaccountNumber"])
        client_id = int(data["clientId"])
        clob_pair_id = int(data["clobPairId"])
        flags = int(data["orderFlags"])
        ticker = str(data["ticker"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unreachable(f"The Indexer's order is missing fields ({exc!r}).", "") from None
    if data.get("subaccountId") != chain.indexer_subaccount_uuid(wallet.address, number):
        raise BadInput(
            f"Order {data.get('id')} belongs to another account than {wallet.address}.",
            "Only the owner's key can cancel an order; check DYDX_MNEMONIC.",
        )
    order_uuid = chain.indexer_order_uuid(wallet.address, number, client_id, clob_pair_id, flags)
    if data.get("id") != order_uuid:
        raise Unreachable(
            f"The Indexer's order {data.get('id')} does not match its own fields "
            f"(they give {order_uuid}).",
            "",
        )
    market = load_market(rt, ticker, store=rt.store())
    size, price = Decimal(str(data["size"])), Decimal(str(data["price"]))
    gtbt_text = data.get("goodTilBlockTime")
    trigger = data.get("triggerPrice")
    order_type = ORDER_TYPES_BY_INDEXER_NAME.get(str(data.get("type")), None)
    status = INDEXER_STATUS.get(str(data.get("status")), "OPEN")
    order_id = make_order_id(wallet.address, number, client_id, clob_pair_id, flags)
    return {
        "order_id": order_uuid,
        "chain_id": rt.settings.chain_id,
        "address": wallet.address,
        "subaccount_number": number,
        "client_id": client_id,
        "clob_pair_id": clob_pair_id,
        "order_flags": flags,
        "order_id_proto": encode_order_id(order_id),
        "market": ticker,
        "side": str(data.get("side", "BUY")).upper(),
        "type": order_type.name if order_type else str(data.get("type", "LIMIT")),
        "time_in_force": str(data.get("timeInForce") or "GTT"),
        "reduce_only": bool(data.get("reduceOnly")),
        "quantums": market.quantums(size),
        "subticks": market.subticks(price),
        "size": str(size),
        "price": str(price),
        "good_til_block": int(data["goodTilBlock"]) if data.get("goodTilBlock") else None,
        "good_til_block_time": int(parse_time(gtbt_text).timestamp()) if gtbt_text else None,
        "trigger_price": str(trigger) if trigger else None,
        "trigger_subticks": market.subticks(Decimal(str(trigger))) if trigger else None,
        "client_metadata": int(data.get("clientMetadata") or 0),
        "status": status,
        "source": "indexer",
    }


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
    store = rt.store()
    order_uuid = row["order_id"]
    _refuse_final(row)
    if row["status"] == "CANCEL_PENDING" and not dry_run:
        result = CancelResult(
            row, "CANCEL_PENDING", "A cancel for this order is already on its way.",
            tx_hash=row.get("cancel_tx_hash"), source=source,
        )  # fmt: skip
        return wait_until_final(rt, result, wait_timeout_s) if wait else result
    flags = row["order_flags"]
    order_id = decode_order_id(row["order_id_proto"])
    from dydxctl.tx import cancel_order_msg

    gtb = gtbt = None
    if flags == chain.ORDER_FLAGS_SHORT_TERM:
        latest = rt.node().latest_block()
        gtb = chain.short_term_cancel_good_til_block(row["good_til_block"], latest.height)
        if gtb is None:
            mark_expired(store, row, f"height {latest.height} ≥ good_til_block")
            raise OrderExpired(
                f"Order {order_uuid} expired: block {row['good_til_block']} (its good_til_block) "
                f"has passed (the chain is at {latest.height}). Nothing was sent.",
                "`dydxctl prune-expired` will clean it up.",
                order_id=order_uuid,
            )
        message = cancel_order_msg(order_id, good_til_block=gtb)
    else:
        # PerformOrderCancellationStatefulValidation: cancel GTBT ≥ the order's, so use it.
        gtbt = row["good_til_block_time"]
        # Only the chain's block time is authoritative: refuse locally only when the local
        # clock says the order expired well ago; nearer than that, the chain answers 3003.
        if gtbt <= int(time.time()) - LOCAL_CLOCK_ALLOWANCE_S:
            mark_expired(store, row, "good_til_block_time has passed")
            raise OrderExpired(
                f"Order {order_uuid} expired at {format_unix(gtbt)} (its good-til time). "
                "Nothing was sent.",
                "`dydxctl prune-expired` will clean it up.",
                order_id=order_uuid,
            )
        message = cancel_order_msg(order_id, good_til_block_time=gtbt)
    number = account_number(rt, row["address"], store=store)
    if dry_run:
        signed = sign(rt, [message], sequence=_sequence_for(flags), number=number)
        return CancelResult(
            row, "DRY_RUN", "Built and signed; nothing was sent.", tx_hash=signed.tx_hash,
            good_til_block=gtb, good_til_block_time=gtbt, latency_ms=_ms(started), source=source,
            extra={"tx_bytes": base64.b64encode(signed.tx_bytes).decode()},
        )  # fmt: skip
    try:
        if flags == chain.ORDER_FLAGS_SHORT_TERM:
            signed = sign(rt, [message], sequence=0, number=number)
            store.update_fields(
                order_uuid, cancel_tx_hash=signed.tx_hash, cancel_good_til_block=gtb
            )
            crash_point("cancel:after_signing")
            answer = rt.node().broadcast(signed.tx_bytes, signed.tx_hash)
        else:

            def remember(resigned: SignedTx) -> None:
                store.update_fields(
                    order_uuid, cancel_tx_hash=resigned.tx_hash, cancel_good_til_block_time=gtbt
                )
                crash_point("cancel:after_signing")

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
    if answer.accepted:
        return _cancel_accepted(rt, row, source, answer, gtb, gtbt, started, wait, wait_timeout_s)
    return _cancel_rejected(rt, row, source, answer, started)


def _cancel_accepted(
    rt: Runtime, row: dict[str, Any], source: str, answer: BroadcastResult, gtb: int | None,
    gtbt: int | None, started: float, wait: bool, wait_timeout_s: float,
) -> CancelResult:  # fmt: skip
    store = rt.store()
    stored = settle(store, row, "CANCEL_PENDING", answer.tx_hash, "cancel accepted by CheckTx")
    latency = _ms(started)
    store.record_cancel_attempt(
        row["order_id"], market=row["market"], success=True, latency_ms=latency,
        tx_hash=answer.tx_hash,
    )  # fmt: skip
    log.info(
        "cancel %s tx=%s outcome=CANCEL_PENDING latency_ms=%.1f", row["order_id"],
        answer.tx_hash, latency,
    )  # fmt: skip
    result = CancelResult(
        stored, "CANCEL_PENDING",
        "Cancel accepted by the node; it is final once the Indexer confirms it or the order's "
        "good-til passes (use --wait to follow it).",
        tx_hash=answer.tx_hash, good_til_block=gtb, good_til_block_time=gtbt, latency_ms=latency,
        source=source,
    )  # fmt: skip
    crash_point("cancel:after_status_update")
    return wait_until_final(rt, result, wait_timeout_s) if wait else result


def _cancel_rejected(
    rt: Runtime, row: dict[str, Any], source: str, answer: BroadcastResult, started: float
) -> CancelResult:
    store = rt.store()
    pair = (answer.codespace, answer.code)
    rejection = answer.rejection()
    if pair in codes.CANCEL_ALREADY_PENDING_CODES:
        stored = settle(store, row, "CANCEL_PENDING", answer.tx_hash, rejection.message)
        store.record_cancel_attempt(
            row["order_id"], market=row["market"], success=True, latency_ms=_ms(started),
            tx_hash=answer.tx_hash, detail="cancel already pending",
        )  # fmt: skip
        return CancelResult(
            stored, "CANCEL_PENDING", "A cancel for this order already exists on the chain.",
            tx_hash=row.get("cancel_tx_hash"), latency_ms=_ms(started), source=source,
        )  # fmt: skip
    if pair in codes.EXPIRED_CODES:
        _record_attempt(store, row, started, rejection, tx_hash=answer.tx_hash)
        mark_expired(store, row, rejection.message)
        raise OrderExpired(
            f"Order {row['order_id']} has expired (the chain answered {answer.codespace} "
            f"{answer.code}). Nothing to cancel.",
            "`dydxctl prune-expired` will clean it up.",
            order_id=row["order_id"],
        )
    if pair in codes.ORDER_GONE_CODES:
        _record_attempt(store, row, started, rejection, tx_hash=answer.tx_hash)
        raise _resolve_gone(rt, row, answer)
    _record_attempt(store, row, started, rejection, tx_hash=answer.tx_hash)
    store.update_fields(row["order_id"], last_error=rejection.message)
    rejection.details["order_id"] = row["order_id"]
    raise rejection


def _resolve_gone(rt: Runtime, row: dict[str, Any], answer: BroadcastResult) -> DydxctlError:
    """The chain says the order is not there: ask the Indexer what became of it."""
    store = rt.store()
    data = rt.indexer().order(row["order_id"])
    said = f"the chain answered {answer.codespace} {answer.code}"
    status = INDEXER_STATUS.get(str(data.get("status"))) if data else None
    if status == "FILLED":
        settle(store, row, "FILLED", answer.tx_hash, said)
        return AlreadyFinal(
            f"Order {row['order_id']} was already filled ({said}).", "Nothing to cancel.",
            order_id=row["order_id"], status="FILLED",
        )  # fmt: skip
    gtbt = row.get("good_til_block_time")
    if gtbt and gtbt <= int(time.time()):
        mark_expired(store, row, said)
        return OrderExpired(
            f"Order {row['order_id']} has expired ({said}).", "Nothing to cancel.",
            order_id=row["order_id"],
        )  # fmt: skip
    if status == "CANCELED":
        settle(store, row, "CANCELED", answer.tx_hash, said)
        return AlreadyFinal(
            f"Order {row['order_id']} was already cancelled ({said}).", "Nothing to cancel.",
            order_id=row["order_id"], status="CANCELED",
        )  # fmt: skip
    if data is None and row["status"] in ("PENDING", "UNKNOWN"):
        settle(store, row, "REJECTED", answer.tx_hash, f"never reached the chain ({said})")
        return OrderNotFound(
            f"Order {row['order_id']} never reached the chain ({said}; the Indexer does not "
            "know it).",
            "Nothing to cancel.",
            order_id=row["order_id"],
        )
    rejection = answer.rejection()
    rejection.details["indexer_status"] = data.get("status") if data else None
    return rejection


def _refuse_final(row: dict[str, Any]) -> None:
    status = row["status"]
    if status in ("FILLED", "CANCELED"):
        raise AlreadyFinal(
            f"Order {row['order_id']} is already {status.lower()}. Nothing was sent.",
            "Nothing to cancel.",
            order_id=row["order_id"],
            status=status,
        )
    if status == "EXPIRED":
        raise OrderExpired(
            f"Order {row['order_id']} has expired. Nothing was sent.",
            "`dydxctl prune-expired` will clean it up.",
            order_id=row["order_id"],
        )
    if status == "REJECTED":
        raise AlreadyFinal(
            f"Order {row['order_id']} was rejected by the chain when placed, so it never "
            "rested on the book. Nothing was sent.",
            "Nothing to cancel.",
            order_id=row["order_id"],
            status=status,
        )


def wait_until_final(rt: Runtime, result: CancelResult, timeout_s: float) -> CancelResult:
    """Poll the Indexer (and the height, for short-term orders) until the order is final."""
    store = rt.store()
    row = result.order
    deadline = time.monotonic() + timeout_s
    while True:
        data = rt.indexer().order(row["order_id"])
        status = INDEXER_STATUS.get(str(data.get("status"))) if data else None
        expired = False
        if row["order_flags"] == chain.ORDER_FLAGS_SHORT_TERM:
            expired = rt.node().latest_block().height >= (row["good_til_block"] or 0)
        elif row.get("good_til_block_time"):
            expired = row["good_til_block_time"] <= int(time.time())
        final = status if status in ("FILLED", "CANCELED") else ("EXPIRED" if expired else None)
        if final:
            stored = settle(store, row, final, None, f"settled: Indexer says {status}")
            message = {
                "CANCELED": "Cancelled: the order is off the book.",
                "FILLED": "The order was filled before the cancel took effect.",
                "EXPIRED": "The order expired (its good-til passed) before the cancel settled.",
            }[final]
            return CancelResult(
                stored, final, message, tx_hash=result.tx_hash,
                good_til_block=result.good_til_block,
                good_til_block_time=result.good_til_block_time, latency_ms=result.latency_ms,
                source=result.source,
            )  # fmt: skip
        if time.monotonic() > deadline:
            return result
        time.sleep(0.5)


# --- helpers ---
def settle(
    store: Store, row: dict[str, Any], status: str, tx_hash: str | None, detail: str
) -> dict[str, Any]:
    """Move a row to `status` when the status machine allows it; otherwise leave it."""
    current = store.get(row["order_id"])
    if current is None:
        return row
    if current["status"] == status or status not in TRANSITIONS[current["status"]]:
        return current
    fields: dict[str, Any] = {}
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


def mark_expired(store: Store, row: dict[str, Any], detail: str) -> None:
    if store.get(row["order_id"]) is not None:
        settle(store, row, "EXPIRED", None, detail)


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


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


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
