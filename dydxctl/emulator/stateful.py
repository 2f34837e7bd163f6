"""Stateful orders (flags 32, 64, 128): CheckTx validation into the uncommitted check state,
and DeliverTx in the next block, where a tx CheckTx accepted can still fail.

keeper/orders.go PerformStatefulOrderValidation / PerformOrderCancellationStatefulValidation
(CheckTx and DeliverTx), keeper/msg_server_place_order.go and msg_server_cancel_orders.go
(DeliverTx only: 3008/3009/3010).
"""

from __future__ import annotations

from typing import Any

from dydxctl.emulator import accountplus, rules
from dydxctl.emulator.errors import Reject
from dydxctl.emulator.indexer_model import order_key
from dydxctl.emulator.memclob import check_grid
from dydxctl.emulator.state import ChainState, Key, TxRecord


def _check_gtbt(state: ChainState, gtbt: int, block_time: float) -> None:
    """GTBT ≤ previous block time → 3003; > previous block time + 95 days → 3004."""
    previous = int(block_time)
    if gtbt <= previous:
        raise Reject(
            rules.CLOB,
            3003,
            f"GoodTilBlockTime {gtbt} is less than the previous blockTime {previous}",
        )
    if gtbt > previous + rules.STATEFUL_ORDER_TIME_WINDOW_S:
        raise Reject(
            rules.CLOB,
            3004,
            f"GoodTilBlockTime {gtbt} exceeds the previous blockTime plus StatefulOrderTimeWindow",
        )


def validate_place(state: ChainState, order: Any, *, block_time: float, uncommitted: bool) -> None:
    """PerformStatefulOrderValidation for a stateful order."""
    market = check_grid(state, order)
    _check_gtbt(state, order.good_til_block_time, block_time)
    key = order_key(order.order_id)
    if uncommitted and key in state.uncommitted_cancels:
        raise Reject(
            rules.CLOB,
            3008,
            "An uncommitted stateful order cancellation with this "
            "OrderId already exists: stateful order previously cancelled",
        )
    if (uncommitted and key in state.uncommitted_places) or key in state.book:
        raise Reject(
            rules.CLOB,
            3005,
            "A stateful order with this OrderId already exists and "
            "stateful order replacement is not supported",
        )
    trigger = order.conditional_order_trigger_subticks
    if key[4] == rules.FLAGS_CONDITIONAL and trigger % market.subticks_per_tick:
        raise Reject(
            rules.CLOB,
            12,
            "Conditional order trigger subticks "
            f"{order.conditional_order_trigger_subticks} must be a multiple of the "
            f"ClobPair's SubticksPerTick {market.subticks_per_tick}",
        )


def check_place(state: ChainState, order: Any) -> None:
    validate_place(state, order, block_time=state.block_time, uncommitted=True)
    state.uncommitted_places[order_key(order.order_id)] = order


def _existing_order(state: ChainState, key: Key, *, uncommitted: bool) -> Any | None:
    live = state.book.get(key)
    if live is not None:
        return live.order
    return state.uncommitted_places.get(key) if uncommitted else None


def validate_cancel(state: ChainState, msg: Any, *, block_time: float, uncommitted: bool) -> Key:
    """PerformOrderCancellationStatefulValidation: GTBT window, a pending cancel (32) before
    existence (3006) before the GTBT comparison (29)."""
    if msg.order_id.clob_pair_id not in state.markets:
        raise Reject(rules.CLOB, 8, f"Clob {msg.order_id.clob_pair_id} is not a valid clob")
    _check_gtbt(state, msg.good_til_block_time, block_time)
    key = order_key(msg.order_id)
    if uncommitted and key in state.uncommitted_cancels:
        raise Reject(
            rules.CLOB,
            32,
            "An uncommitted stateful order cancellation with this OrderId already exists",
        )
    existing = _existing_order(state, key, uncommitted=uncommitted)
    if existing is None:
        raise Reject(rules.CLOB, 3006, "Order Id to cancel does not exist")
    if msg.good_til_block_time < existing.good_til_block_time:
        raise Reject(
            rules.CLOB,
            29,
            "cancellation goodTilBlockTime less than stateful order "
            "goodTilBlockTime: invalid stateful order cancellation",
        )
    return key


def check_cancel(state: ChainState, msg: Any) -> None:
    key = validate_cancel(state, msg, block_time=state.block_time, uncommitted=True)
    state.uncommitted_cancels[key] = msg.good_til_block_time


# --- DeliverTx -------------------------------------------------------------------------------
def deliver_block(state: ChainState, previous_block_time: float) -> None:
    """Deliver the mempool's stateful txs in order into the block at state.height."""
    cancelled_in_block: set[Key] = set()
    for tx in state.mempool:
        if tx.dropped:
            continue
        account = state.accounts[tx.signer]
        if tx.reauthenticate is not None:
            try:
                tx.reauthenticate()
            except Reject as failure:  # the ante handler failed: nothing of the tx stays
                state.txs[tx.tx_hash] = TxRecord(
                    tx.tx_hash, state.height, failure.code, failure.codespace, failure.log
                )
                continue
        # The ante handler ran and committed: the sequence moves even if a message fails.
        if tx.sequence >= rules.TIMESTAMP_NONCE_CUTOFF:
            nonces = sorted({*account.timestamp_nonces, tx.sequence})
            account.timestamp_nonces = nonces[-rules.TIMESTAMP_NONCES_KEPT :]
        else:
            account.sequence += 1
        fault = tx.fault
        if fault is not None:
            state.txs[tx.tx_hash] = TxRecord(
                tx.tx_hash, state.height, int(fault["code"]), fault["codespace"], fault["log"]
            )
            continue
        try:
            for url, msg in tx.messages:
                if url in (accountplus.URL_ADD_AUTHENTICATOR, accountplus.URL_REMOVE_AUTHENTICATOR):
                    accountplus.deliver(state.accountplus, url, msg)
                elif url == rules.URL_PLACE:
                    _deliver_place(state, msg.order, previous_block_time, cancelled_in_block)
                else:
                    _deliver_cancel(state, msg, previous_block_time)
                    cancelled_in_block.add(order_key(msg.order_id))
        except Reject as failure:
            state.txs[tx.tx_hash] = TxRecord(
                tx.tx_hash, state.height, failure.code, failure.codespace, failure.log
            )
            continue
        state.txs[tx.tx_hash] = TxRecord(tx.tx_hash, state.height, 0, "", "")


def _deliver_place(
    state: ChainState, order: Any, previous_block_time: float, cancelled_in_block: set[Key]
) -> None:
    """msg_server_place_order.go: cancelled in this block → 3008, removed in this block →
    3009, then PerformStatefulOrderValidation against the previous block's time."""
    key = order_key(order.order_id)
    if key in cancelled_in_block:
        raise Reject(rules.CLOB, 3008, "PlaceOrder: stateful order previously cancelled")
    if key in state.removed_in_block:
        raise Reject(rules.CLOB, 3009, "PlaceOrder: stateful order was previously removed")
    validate_place(state, order, block_time=previous_block_time, uncommitted=False)
    state.add_stateful(order)


def _deliver_cancel(state: ChainState, msg: Any, previous_block_time: float) -> None:
    """msg_server_cancel_orders.go HandleMsgCancelOrder: an order removed in this same block
    turns 3006 into 3010."""
    try:
        key = validate_cancel(state, msg, block_time=previous_block_time, uncommitted=False)
    except Reject as failure:
        if failure.code == 3006 and order_key(msg.order_id) in state.removed_in_block:
            raise Reject(
                rules.CLOB,
                3010,
                "Stateful order cancellation failed because the "
                f"order was already removed from state: {failure.log}",
            ) from None
        raise
    state.remove(key, "stateful_cancel")
