"""Stateless checks of clob messages, in the chain's order (baseapp runs them before the
ante handler, so they win over signature and sequence errors).
"""

from __future__ import annotations

from typing import Any

from dydxctl.emulator import accountplus, rules
from dydxctl.emulator.crypto import is_account_address
from dydxctl.emulator.errors import Reject


def _order_id(order_id: Any, version: tuple[int, int, int]) -> None:
    """types/order_id.go Validate: known flags only (clob 3000); TWAP since v9.0.0."""
    flags = order_id.order_flags
    if flags not in rules.KNOWN_FLAGS or (flags == rules.FLAGS_TWAP and version < rules.TWAP_SINCE):
        raise Reject(rules.CLOB, 3000, f"invalid order flag {flags}")


def place_order(order: Any, version: tuple[int, int, int]) -> None:
    """types/message_place_order.go MsgPlaceOrder.ValidateBasic (v9.6.1), check by check."""
    oid = order.order_id
    if order.time_in_force == rules.TIF_FILL_OR_KILL:  # first check since v6.0.0
        raise Reject(rules.CLOB, 48, "Fill-or-kill has been deprecated: deprecated field")
    if order.side not in (rules.SIDE_BUY, rules.SIDE_SELL):
        raise Reject(rules.CLOB, 3, f"invalid order side ({order.side})")
    if order.time_in_force not in rules.KNOWN_TIFS:
        raise Reject(rules.CLOB, 44, f"invalid time in force ({order.time_in_force})")
    if order.condition_type not in rules.KNOWN_CONDITIONS:
        raise Reject(rules.CLOB, 6000, f"invalid condition type ({order.condition_type})")
    if order.quantums == 0:
        raise Reject(rules.CLOB, 4, "order size quantums cannot be 0")
    if order.order_router_address and not is_account_address(order.order_router_address):
        raise Reject(
            rules.CLOB,
            11000,
            f"order router address '{order.order_router_address}' must be a valid bech32 address",
        )
    flags = oid.order_flags
    if flags == rules.FLAGS_SHORT_TERM:
        if order.good_til_block == 0:
            raise Reject(rules.CLOB, 5, "order goodTilBlock cannot be 0")
    else:
        _order_id(oid, version)
        if order.good_til_block_time == 0:
            raise Reject(rules.CLOB, 3001, "stateful order goodTilBlockTime cannot be 0")
    long_term = flags == rules.FLAGS_LONG_TERM
    if long_term and rules.requires_immediate_execution(order.time_in_force):
        raise Reject(rules.CLOB, 3002, "Long-term orders cannot require immediate execution")
    if order.reduce_only and not rules.requires_immediate_execution(order.time_in_force):
        raise Reject(rules.CLOB, 9003, "reduce only orders must be short term IOC orders")
    # A TWAP order with subticks 0 is a market TWAP (no limit price for its suborders).
    if order.subticks == 0 and flags != rules.FLAGS_TWAP:
        raise Reject(rules.CLOB, 6, "order subticks cannot be 0 for this order type")
    if flags == rules.FLAGS_CONDITIONAL:
        if order.condition_type == rules.CONDITION_UNSPECIFIED:
            raise Reject(rules.CLOB, 6000, "condition type cannot be unspecified")
        if order.conditional_order_trigger_subticks == 0:
            raise Reject(rules.CLOB, 6001, "conditional order trigger subticks cannot be 0")
    else:
        if order.condition_type != rules.CONDITION_UNSPECIFIED:
            raise Reject(rules.CLOB, 6000, "condition type specified for non-conditional order")
        if order.conditional_order_trigger_subticks != 0:
            raise Reject(
                rules.CLOB,
                6001,
                "conditional order trigger subticks greater than 0 for non-conditional order",
            )
    if order.HasField("builder_code_parameters"):
        builder = order.builder_code_parameters
        if not is_account_address(builder.builder_address):
            raise Reject(
                rules.CLOB,
                50,
                f"builder code address '{builder.builder_address}' must be a valid bech32 address",
            )
        if not 0 < builder.fee_ppm <= rules.MAX_BUILDER_CODE_FEE_PPM:
            raise Reject(
                rules.CLOB,
                50,
                f"builder code fee ppm '{builder.fee_ppm}' must be in "
                f"the range (0, {rules.MAX_BUILDER_CODE_FEE_PPM}]",
            )
    if flags == rules.FLAGS_TWAP:
        _twap_parameters(order)


def _twap_parameters(order: Any) -> None:
    if not order.HasField("twap_parameters"):
        raise Reject(rules.CLOB, 12, "TWAP order must have a TWAP config")
    p = order.twap_parameters
    if not rules.TWAP_MIN_INTERVAL <= p.interval <= rules.TWAP_MAX_INTERVAL:
        raise Reject(
            rules.CLOB,
            12,
            "TWAP order interval must be in the range "
            f"[{rules.TWAP_MIN_INTERVAL} seconds, {rules.TWAP_MAX_INTERVAL} seconds]",
        )
    if not rules.TWAP_MIN_DURATION <= p.duration <= rules.TWAP_MAX_DURATION:
        raise Reject(
            rules.CLOB,
            12,
            "TWAP order duration must be in the range "
            f"[{rules.TWAP_MIN_DURATION} seconds, {rules.TWAP_MAX_DURATION} seconds]",
        )
    if p.duration % p.interval:
        raise Reject(rules.CLOB, 12, "TWAP order duration must be a multiple of the interval")
    if p.price_tolerance >= rules.TWAP_MAX_PRICE_TOLERANCE:
        raise Reject(
            rules.CLOB,
            12,
            "TWAP order price tolerance must be in the range "
            f"[0, {rules.TWAP_MAX_PRICE_TOLERANCE})",
        )


def cancel_order(msg: Any, version: tuple[int, int, int]) -> None:
    """types/message_cancel_order.go ValidateBasic: a valid OrderId, then a non-zero GTBT
    (stateful, clob 3001) or GTB (short-term, clob 5)."""
    _order_id(msg.order_id, version)
    if msg.order_id.order_flags != rules.FLAGS_SHORT_TERM:
        if msg.good_til_block_time == 0:
            raise Reject(rules.CLOB, 3001, "stateful cancellation goodTilBlockTime cannot be 0")
    elif msg.good_til_block == 0:
        raise Reject(rules.CLOB, 5, "cancellation goodTilBlock cannot be 0")


def batch_cancel(msg: Any) -> None:
    """types/message_batch_cancel.go ValidateBasic (all clob 45). The GTB is not checked
    here: a GTB of 0 fails later as clob 10 (keeper validateGoodTilBlock)."""
    if not msg.short_term_cancels:
        raise Reject(rules.CLOB, 45, "Batch cancel cannot have zero orders specified.")
    total = 0
    seen_pairs: set[int] = set()
    for batch in msg.short_term_cancels:
        if batch.clob_pair_id in seen_pairs:
            raise Reject(
                rules.CLOB,
                45,
                "Batch cancel cannot have 2 order batches with the "
                f"same clob pair id: {batch.clob_pair_id}",
            )
        seen_pairs.add(batch.clob_pair_id)
        ids = list(batch.client_ids)
        if not ids:
            raise Reject(rules.CLOB, 45, "Order Batch cannot have zero client ids.")
        total += len(ids)
        if len(set(ids)) != len(ids):
            raise Reject(
                rules.CLOB,
                45,
                f"Batch Cancel Clob pair id {batch.clob_pair_id} has duplicate client ids",
            )
    if total > rules.MAX_BATCH_CANCEL_IDS:
        raise Reject(
            rules.CLOB,
            45,
            f"Batch cancel cannot have over {rules.MAX_BATCH_CANCEL_IDS} "
            f"orders. Order count: {total}",
        )


def message(type_url: str, msg: Any, version: tuple[int, int, int]) -> None:
    if type_url == rules.URL_PLACE:
        place_order(msg.order, version)
    elif type_url == rules.URL_CANCEL:
        cancel_order(msg, version)
    elif type_url == rules.URL_BATCH_CANCEL:
        batch_cancel(msg)
    else:
        accountplus.validate_basic(type_url, msg)
