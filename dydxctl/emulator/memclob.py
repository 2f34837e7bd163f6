"""Short-term orders in CheckTx: the memclob (x/clob/memclob/memclob.go) and the keeper's
stateful validation they pass first (x/clob/keeper/orders.go). They never reach a block.
"""

from __future__ import annotations

from typing import Any

from dydxctl.emulator import rules
from dydxctl.emulator.errors import Reject
from dydxctl.emulator.indexer_model import order_key
from dydxctl.emulator.state import ChainState


def check_good_til_block(state: ChainState, gtb: int) -> None:
    """keeper/orders.go validateGoodTilBlock(gtb, nextBlockHeight):
    GTB < next block → clob 10; GTB > next block + ShortBlockWindow → clob 11."""
    next_block = state.height + 1
    if gtb < next_block:
        raise Reject(
            rules.CLOB, 10, f"GoodTilBlock {gtb} is less than the current blockHeight {next_block}"
        )
    if gtb > next_block + state.short_block_window:
        raise Reject(
            rules.CLOB,
            11,
            f"The GoodTilBlock {gtb} exceeds the current blockHeight "
            f"{next_block} plus ShortBlockWindow {state.short_block_window}",
        )


def check_grid(state: ChainState, order: Any) -> Any:
    """keeper/orders.go PerformStatefulOrderValidation (every order kind): a known clob
    pair (8), subticks and quantums on the pair's grid (12), and — for conditional
    orders — the trigger on the tick grid (12)."""
    market = state.markets.get(order.order_id.clob_pair_id)
    if market is None:
        raise Reject(rules.CLOB, 8, f"Clob {order.order_id.clob_pair_id} is not a valid clob")
    if order.subticks % market.subticks_per_tick:
        raise Reject(
            rules.CLOB,
            12,
            f"Order subticks {order.subticks} must be a multiple of "
            f"the ClobPair's SubticksPerTick {market.subticks_per_tick}",
        )
    if order.quantums % market.step_base_quantums:
        raise Reject(
            rules.CLOB,
            12,
            f"Order Quantums {order.quantums} must be a multiple of "
            f"the ClobPair's StepBaseQuantums {market.step_base_quantums}",
        )
    return market


def order_hash(order: Any) -> bytes:
    """types/order.go GetOrderHash: SHA-256 of the marshalled order."""
    import hashlib

    return hashlib.sha256(order.SerializeToString(deterministic=True)).digest()


def compare_replacement(existing: Any, new: Any) -> int:
    """types/order.go MustCmpReplacementOrder: by GTB, ties by the order hash."""
    a, b = existing.good_til_block, new.good_til_block
    if a != b:
        return 1 if a > b else -1
    ha, hb = order_hash(existing), order_hash(new)
    return (ha > hb) - (ha < hb)


def validate_replacement(existing: Any, new: Any) -> None:
    """memclob.go validateReplacement: only size, price and a later GTB may change (clob 20)."""
    if compare_replacement(existing, new) >= 0:
        raise Reject(
            rules.CLOB,
            20,
            "New order cannot reduce the GoodTilBlock or "
            "GoodTilBlockTime of existing order: invalid replacement",
        )
    for name in ("side", "time_in_force", "reduce_only"):
        if getattr(existing, name) != getattr(new, name):
            raise Reject(
                rules.CLOB,
                20,
                f"New order cannot change the {name} of the existing order: invalid replacement",
            )


def place(state: ChainState, order: Any) -> None:
    """keeper PlaceShortTermOrder → memclob PlaceOrder / validateNewOrder."""
    market = check_grid(state, order)
    check_good_til_block(state, order.good_til_block)
    key = order_key(order.order_id)
    cancel_gtb = state.short_term_cancels.get(key)
    if cancel_gtb is not None and cancel_gtb >= order.good_til_block:
        raise Reject(rules.CLOB, 7, f"Order is canceled: cancellation GoodTilBlock {cancel_gtb}")
    resting = state.book.get(key)
    if resting is not None:
        validate_replacement(resting.order, order)
    filled = state.fill_amounts.get(key, 0)
    remaining = order.quantums - filled if order.quantums > filled else 0
    if remaining < market.step_base_quantums:
        raise Reject(
            rules.CLOB,
            24,
            "Order remaining amount is less than "
            f"`MinOrderBaseQuantums`. Remaining amount: {remaining}",
        )
    if rules.requires_immediate_execution(order.time_in_force):
        if filled:  # validateNewOrder: an IOC order may only be filled once
            raise Reject(rules.CLOB, 2004, "IOC order is already filled")
        # The unmatched remainder of an IOC order is removed in the same CheckTx: it never
        # rests. Without a fill the Indexer keeps no trace (vulcan order-remove-handler.ts);
        # with one (Emulator.fill_next_ioc) ender writes a row, and the remainder's removal
        # is BEST_EFFORT_CANCELED (memclob.go PlaceOrder, IOC would rest on the book).
        # Its websocket hears the OrderPlace first, then the fill and/or the remainder's
        # OrderRemove (BEST_EFFORT_CANCELED, IMMEDIATE_OR_CANCEL_WOULD_REST_ON_BOOK).
        state.emit(lambda: state.indexer.announce(order, "BEST_EFFORT_OPENED"))
        if state.ioc_liquidity:
            quantums, size = state.ioc_liquidity.pop(0)
            if size is not None:
                quantums = market.quantums(size)
            state.match(order, quantums, "BEST_EFFORT_CANCELED")
        else:
            from dydxctl.emulator.state import IOC_REMAINDER_REASON

            reason = IOC_REMAINDER_REASON
            state.emit(lambda: state.indexer.announce(
                order, "BEST_EFFORT_CANCELED", total_filled=0, reason=reason))  # fmt: skip
        return
    state.rest_short_term(order)


def cancel(state: ChainState, order_id: Any, gtb: int) -> None:
    """keeper CancelShortTermOrder → memclob CancelOrder: no existence check; a resting
    order is removed only if the cancel's GTB ≥ its GTB; the cancel is kept until its GTB;
    a cancel with GTB ≤ an existing one's → clob 9."""
    if order_id.clob_pair_id not in state.markets:
        raise Reject(rules.CLOB, 8, f"Clob {order_id.clob_pair_id} is not a valid clob")
    check_good_til_block(state, gtb)
    key = order_key(order_id)
    existing = state.short_term_cancels.get(key)
    if existing is not None and existing >= gtb:
        raise Reject(
            rules.CLOB,
            9,
            "A cancel already exists for this order with a greater "
            f"than or equal GoodTilBlock: {existing}",
        )
    state.short_term_cancels[key] = gtb
    resting = state.book.get(key)
    if resting is not None and resting.order.good_til_block <= gtb:
        state.remove(key, "user_cancel")


def batch_cancel(state: ChainState, msg: Any) -> None:
    """keeper BatchCancelShortTermOrder: the GTB first (0 → clob 10), each clob pair must
    exist (27), then one cancel per id; none succeeded → clob 46 (ante/clob.go)."""
    check_good_til_block(state, msg.good_til_block)
    for batch in msg.short_term_cancels:
        if batch.clob_pair_id not in state.markets:
            raise Reject(rules.CLOB, 27, f"Invalid clob pair id {batch.clob_pair_id}")
    from v4_proto.dydxprotocol.clob.order_pb2 import OrderId

    succeeded = 0
    for batch in msg.short_term_cancels:
        for client_id in batch.client_ids:
            oid = OrderId(
                subaccount_id=msg.subaccount_id,
                client_id=client_id,
                order_flags=rules.FLAGS_SHORT_TERM,
                clob_pair_id=batch.clob_pair_id,
            )
            try:
                cancel(state, oid, msg.good_til_block)
                succeeded += 1
            except Reject:
                continue
    if not succeeded:
        raise Reject(rules.CLOB, 46, "No successful cancellations: batch cancel failed")
