"""What an order is on dYdX v4: kinds and flags, good-til rules, OrderId bytes, Order protos.

Pure functions over the chain rules in chain.py; no I/O. proto/dydxprotocol/clob/order.proto
is the source of every field used here (v4-proto ≥ 9: field 12 is twap_parameters).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from dydxctl import chain
from dydxctl.durations import good_til_to_unix
from dydxctl.errors import BadInput
from dydxctl.markets import Market

if TYPE_CHECKING:
    from v4_proto.dydxprotocol.clob.order_pb2 import Order, OrderId

SIDES = {"buy": chain.SIDE_BUY, "sell": chain.SIDE_SELL}
TIME_IN_FORCE = {
    "gtt": ("GTT", chain.TIME_IN_FORCE_UNSPECIFIED),
    "ioc": ("IOC", chain.TIME_IN_FORCE_IOC),
    "post-only": ("POST_ONLY", chain.TIME_IN_FORCE_POST_ONLY),
    "fok": ("FOK", chain.TIME_IN_FORCE_FILL_OR_KILL),
}
TIME_IN_FORCE_BY_NAME = {stored: value for stored, value in TIME_IN_FORCE.values()}


@dataclass(frozen=True)
class OrderType:
    name: str  # as stored and shown: LIMIT, MARKET, STOP_LIMIT, ...
    conditional: bool
    condition_type: int
    market_priced: bool  # executes immediately at a protective price (IOC)


ORDER_TYPES = {
    "limit": OrderType("LIMIT", False, chain.CONDITION_TYPE_UNSPECIFIED, False),
    "market": OrderType("MARKET", False, chain.CONDITION_TYPE_UNSPECIFIED, True),
    "stop-limit": OrderType("STOP_LIMIT", True, chain.CONDITION_TYPE_STOP_LOSS, False),
    "stop-market": OrderType("STOP_MARKET", True, chain.CONDITION_TYPE_STOP_LOSS, True),
    "take-profit-limit": OrderType("TAKE_PROFIT", True, chain.CONDITION_TYPE_TAKE_PROFIT, False),
    "take-profit-market": OrderType(
        "TAKE_PROFIT_MARKET", True, chain.CONDITION_TYPE_TAKE_PROFIT, True
    ),
}
# The Indexer's names for order types (indexer/packages/postgres/src/types/order-types.ts).
ORDER_TYPES_BY_INDEXER_NAME = {t.name: t for t in ORDER_TYPES.values()}

DEFAULT_SHORT_TERM_BLOCKS = chain.SHORT_BLOCK_WINDOW  # the longest valid on every version
DEFAULT_STATEFUL_GOOD_TIL = "28d"
# How far a market order's protective price may sit from the reference price.
MARKET_ORDER_SLIPPAGE = Decimal("0.05")


@dataclass(frozen=True)
class OrderRequest:
    """What the user asked for, parsed but not yet checked against a market or the chain."""

    market: str
    side: str
    size: Decimal
    type: str = "limit"
    price: Decimal | None = None
    time_in_force: str | None = None
    good_til_blocks: int | None = None
    good_til: str | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    client_id: int | None = None
    subaccount: int = 0


@dataclass(frozen=True)
class OrderPlan:
    """Everything needed to build the Order proto and its store row."""

    market: Market
    side: str  # BUY / SELL
    type: OrderType
    order_flags: int
    quantums: int
    subticks: int
    size: Decimal
    price: Decimal
    time_in_force: str  # GTT / IOC / POST_ONLY / FOK
    reduce_only: bool
    good_til_block: int | None
    good_til_block_time: int | None
    trigger_subticks: int
    trigger_price: Decimal | None


# Words people use for a status (what the tool prints, in any case) → the stored status.
STATUS_SYNONYMS = {"CANCELLED": "CANCELED", "CANCELLING": "CANCEL_PENDING"}


def parse_status(text: str) -> str:
    """A --status value as shown by the tool ("open", "Cancelled", "cancel-pending") → the
    stored status; refuses anything else, naming the valid words."""
    from dydxctl.store import STATUSES

    word = "_".join(text.strip().upper().replace("-", " ").split())
    word = STATUS_SYNONYMS.get(word, word)
    if word not in STATUSES:
        shown = ", ".join(s.lower() for s in STATUSES)
        raise BadInput(f"Unknown status {text!r}.", f"Use one of: {shown} (any case).")
    return word


def check_order_key(text: str) -> None:
    """An ORDER_ID argument is an Indexer UUID or a decimal client id (0..2^32-1)."""
    import uuid

    key = text.strip()
    if key.isascii() and key.isdigit():
        if int(key) > chain.CLIENT_ID_MAX:
            raise BadInput(
                f"Client id {key} is out of range: client ids are 0..{chain.CLIENT_ID_MAX}.",
                "Pass the ORDER ID (the UUID), or a client id shown by `dydxctl orders`.",
            )
        return
    try:
        uuid.UUID(key)
    except ValueError:
        raise BadInput(
            f"{text!r} is not an order id (a UUID) or a client id (0..{chain.CLIENT_ID_MAX}).",
            "Copy the ORDER ID shown by `dydxctl place` or `dydxctl orders`.",
        ) from None


def kind_flags(request: OrderRequest) -> int:
    """order_flags for the request: 0 short-term, 64 long-term, 32 conditional."""
    order_type = _order_type(request.type)
    if order_type.conditional:
        return chain.ORDER_FLAGS_CONDITIONAL
    if order_type.market_priced or request.good_til_blocks is not None:
        return chain.ORDER_FLAGS_SHORT_TERM
    return chain.ORDER_FLAGS_LONG_TERM


def _order_type(name: str) -> OrderType:
    try:
        return ORDER_TYPES[name.lower()]
    except KeyError:
        raise BadInput(
            f"Unknown order type '{name}'.", f"Use one of: {', '.join(ORDER_TYPES)}."
        ) from None


def plan_order(
    request: OrderRequest,
    market: Market,
    *,
    latest_height: int | None,
    now_unix: int,
    short_block_window: int = chain.SHORT_BLOCK_WINDOW,
) -> OrderPlan:
    """Check a request against the market and the chain's windows; compute every field."""
    order_type = _order_type(request.type)
    side = request.side.lower()
    if side not in SIDES:
        raise BadInput(f"Unknown side '{request.side}'.", "Use buy or sell.")
    flags = kind_flags(request)
    if request.good_til_blocks is not None and request.good_til is not None:
        raise BadInput("Give --good-til-blocks or --good-til, not both.", "")
    if flags != chain.ORDER_FLAGS_SHORT_TERM and request.good_til_blocks is not None:
        raise BadInput(
            f"A {order_type.name.lower().replace('_', '-')} order is stateful: it takes "
            "--good-til, not --good-til-blocks.",
            "Use e.g. --good-til 28d.",
        )
    if flags == chain.ORDER_FLAGS_SHORT_TERM and request.good_til is not None:
        raise BadInput(
            "A market order is short-term: it takes --good-til-blocks, not --good-til.",
            f"Use e.g. --good-til-blocks {DEFAULT_SHORT_TERM_BLOCKS}.",
        )
    if request.client_id is not None and not 0 <= request.client_id <= chain.CLIENT_ID_MAX:
        raise BadInput(
            f"--client-id {request.client_id} is out of range: it must be between 0 and "
            f"{chain.CLIENT_ID_MAX} (a uint32).",
            "Omit it to get a fresh random one.",
        )
    if not 0 <= request.subaccount <= chain.MAX_SUBACCOUNT_ID_NUMBER:
        raise BadInput(
            f"--subaccount {request.subaccount} is out of range: the chain accepts 0.."
            f"{chain.MAX_SUBACCOUNT_ID_NUMBER} (MaxSubaccountIdNumber).",
            "Use 0 for the main subaccount.",
        )
    if request.good_til is not None and not request.good_til.strip():
        raise BadInput(
            f"--good-til {request.good_til!r} is empty.",
            "Give a duration (90s, 12h, 28d) or an ISO time, or leave it out for 28d.",
        )

    tif_name = _time_in_force(request, order_type, flags)

    trigger_subticks, trigger_price = 0, None
    if order_type.conditional:
        if request.trigger_price is None:
            raise BadInput(
                f"A {request.type} order needs --trigger-price.", "Add e.g. --trigger-price 48000."
            )
        trigger_subticks = market.subticks(request.trigger_price)
        trigger_price = request.trigger_price
    elif request.trigger_price is not None:
        raise BadInput("--trigger-price only applies to stop and take-profit orders.", "")

    price = request.price
    if price is None:
        if not order_type.market_priced:
            raise BadInput(f"A {request.type} order needs --price.", "Add e.g. --price 50000.")
        reference = trigger_price if order_type.conditional else market.oracle_price
        if reference is None:
            raise BadInput(f"No oracle price is known for {market.ticker}.", "Pass --price.")
        factor = 1 + MARKET_ORDER_SLIPPAGE if side == "buy" else 1 - MARKET_ORDER_SLIPPAGE
        price = market.round_price(reference * factor, up=side == "buy")
    quantums = market.quantums(request.size)
    subticks = market.subticks(price)

    good_til_block = good_til_block_time = None
    if flags == chain.ORDER_FLAGS_SHORT_TERM:
        if latest_height is None:
            raise BadInput("The chain height is needed for a short-term order.", "")
        blocks = (
            request.good_til_blocks
            if request.good_til_blocks is not None
            else DEFAULT_SHORT_TERM_BLOCKS
        )
        if not 1 <= blocks <= short_block_window:
            raise BadInput(
                f"--good-til-blocks must be between 1 and {short_block_window} "
                f"(the node's ShortBlockWindow), not {blocks}.",
                "Use a long-term order (--good-til) for anything longer.",
            )
        # validateGoodTilBlock: latest+1 ≤ GTB ≤ latest+1+ShortBlockWindow; GTB = latest+N.
        low, high = chain.good_til_block_bounds(latest_height, short_block_window)
        good_til_block = latest_height + blocks
        assert low <= good_til_block <= high
    else:
        good_til_block_time = good_til_to_unix(
            request.good_til or DEFAULT_STATEFUL_GOOD_TIL, now_unix
        )
        check_good_til_block_time(good_til_block_time, now_unix)

    return OrderPlan(
        market=market,
        side=side.upper(),
        type=order_type,
        order_flags=flags,
        quantums=quantums,
        subticks=subticks,
        size=market.size_from_quantums(quantums),
        price=market.price_from_subticks(subticks),
        time_in_force=tif_name,
        reduce_only=request.reduce_only,
        good_til_block=good_til_block,
        good_til_block_time=good_til_block_time,
        trigger_subticks=trigger_subticks,
        trigger_price=trigger_price,
    )


def _time_in_force(request: OrderRequest, order_type: OrderType, flags: int) -> str:
    if request.time_in_force is not None and not request.time_in_force.strip():
        raise BadInput(
            "--time-in-force '' is empty.", f"Use one of: {', '.join(TIME_IN_FORCE)}, or omit it."
        )
    name = (request.time_in_force or ("ioc" if order_type.market_priced else "gtt")).lower()
    if name not in TIME_IN_FORCE:
        raise BadInput(
            f"Unknown time in force '{request.time_in_force}'.",
            f"Use one of: {', '.join(TIME_IN_FORCE)}.",
        )
    stored, _ = TIME_IN_FORCE[name]
    # MsgPlaceOrder.ValidateBasic (protocol/x/clob/types/message_place_order.go): any FOK
    # order is refused with clob 48 ErrDeprecatedField since v6, before anything else.
    if stored == "FOK":
        raise BadInput(
            "Fill-or-kill orders are no longer accepted by the chain (clob 48, deprecated).",
            "Use --time-in-force ioc: it fills what it can at once and cancels the rest.",
        )
    if order_type.market_priced and stored != "IOC":
        raise BadInput("A market order executes immediately: its time in force is ioc.", "")
    # Same function: reduce-only requires immediate execution (IOC) → clob 9003.
    if request.reduce_only and stored != "IOC":
        raise BadInput(
            "Reduce-only is accepted on IOC orders only (the chain refuses others with "
            "clob 9003 ErrReduceOnlyDisabled).",
            "Add --time-in-force ioc (with --good-til-blocks N), or drop --reduce-only.",
        )
    # PerformStatefulOrderValidation: long-term orders cannot be IOC/FOK (clob 3002).
    if flags == chain.ORDER_FLAGS_LONG_TERM and stored == "IOC":
        raise BadInput(
            "A long-term order cannot be ioc (the chain refuses it with clob 3002).",
            "Use --good-til-blocks N for a short-term ioc/fok order.",
        )
    return stored


def check_good_til_block_time(good_til_block_time: int, block_time_unix: int) -> None:
    """block time < GTBT ≤ block time + StatefulOrderTimeWindow (clob 3003 / 3004), where
    `block_time_unix` is the latest block's time (expiry.chain_clock), never the local one."""
    if good_til_block_time <= block_time_unix:
        raise BadInput(
            "The good-til time is in the past: not after the chain's latest block time "
            "(the chain refuses it with clob 3003).",
            "Use a duration like 12h or a future ISO time.",
        )
    if good_til_block_time > block_time_unix + chain.STATEFUL_ORDER_TIME_WINDOW_SECONDS:
        raise BadInput(
            "The good-til time is more than 95 days after the chain's latest block time "
            "(StatefulOrderTimeWindow, measured by the chain from its block time; clob 3004).",
            "Use at most 95d: durations count from the latest block time.",
        )


# --- protobuf ---------------------------------------------------------------------------------
def make_order_id(
    address: str, subaccount_number: int, client_id: int, clob_pair_id: int, order_flags: int
) -> OrderId:
    from v4_proto.dydxprotocol.clob.order_pb2 import OrderId
    from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

    return OrderId(
        subaccount_id=SubaccountId(owner=address, number=subaccount_number),
        client_id=client_id,
        order_flags=order_flags,
        clob_pair_id=clob_pair_id,
    )


def encode_order_id(order_id: OrderId) -> str:
    """The OrderId as base64 of its protobuf bytes: what the store keeps."""
    return base64.b64encode(order_id.SerializeToString(deterministic=True)).decode("ascii")


def decode_order_id(text: str) -> OrderId:
    from google.protobuf.message import DecodeError
    from v4_proto.dydxprotocol.clob.order_pb2 import OrderId

    try:
        order_id = OrderId.FromString(base64.b64decode(text, validate=True))
    except (binascii.Error, DecodeError, ValueError) as exc:
        raise BadInput(f"Stored OrderId bytes are not valid: {exc}.", "") from exc
    return order_id


def indexer_uuid_of(order_id: OrderId) -> str:
    return chain.indexer_order_uuid(
        order_id.subaccount_id.owner,
        order_id.subaccount_id.number,
        order_id.client_id,
        order_id.clob_pair_id,
        order_id.order_flags,
    )


def build_order(plan: OrderPlan, order_id: OrderId, client_metadata: int = 0) -> Order:
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    order = Order(
        order_id=order_id,
        side=SIDES[plan.side.lower()],
        quantums=plan.quantums,
        subticks=plan.subticks,
        time_in_force=TIME_IN_FORCE_BY_NAME[plan.time_in_force],
        reduce_only=plan.reduce_only,
        client_metadata=client_metadata,
        condition_type=plan.type.condition_type,
        conditional_order_trigger_subticks=plan.trigger_subticks,
    )
    if plan.good_til_block is not None:
        order.good_til_block = plan.good_til_block
    else:
        order.good_til_block_time = plan.good_til_block_time or 0
    return order
