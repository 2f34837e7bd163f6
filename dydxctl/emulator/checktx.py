"""CheckTx as the dYdX chain runs it for clob messages, with the chain's own codes.

Each rule names its v4-chain source (paths relative to protocol/). Codes come from
dydxctl.codes; windows and flags from dydxctl.chain — one definition of each rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dydxctl import chain
from dydxctl.codes import CLOB, SDK
from dydxctl.emulator.state import ChainState, TxRecord, order_key
from dydxctl.tx import TxDecodeError, decode_tx, sign_doc_bytes, tx_hash
from dydxctl.wallet import address_from_public_key, is_low_s, verify


@dataclass(frozen=True)
class TxResult:
    tx_hash: str
    code: int = 0
    codespace: str = ""
    log: str = ""


class Reject(Exception):
    def __init__(self, codespace: str, code: int, log: str) -> None:
        super().__init__(log)
        self.codespace, self.code, self.log = codespace, code, log


SHORT_TERM_URLS = frozenset({chain.MSG_PLACE_ORDER_URL, chain.MSG_CANCEL_ORDER_URL})


def _is_short_term(type_url: str, msg: Any) -> bool:
    """app/ante/util.go IsShortTermClobMsgTx: short-term place/cancel, or MsgBatchCancel."""
    if type_url == chain.MSG_BATCH_CANCEL_URL:
        return True
    order_id = msg.order.order_id if type_url == chain.MSG_PLACE_ORDER_URL else msg.order_id
    return order_id.order_flags == chain.ORDER_FLAGS_SHORT_TERM


def check_tx(state: ChainState, tx_bytes: bytes) -> TxResult:
    digest = tx_hash(tx_bytes)
    try:
        with state.lock:
            _check(state, tx_bytes)
    except Reject as rejection:
        return TxResult(digest, rejection.code, rejection.codespace, rejection.log)
    return TxResult(digest)


def _check(state: ChainState, tx_bytes: bytes) -> None:
    try:
        decoded = decode_tx(tx_bytes)
    except TxDecodeError as exc:
        raise Reject(SDK, 2, f"tx parse error: {exc}") from None
    short_term = [_is_short_term(url, msg) for url, msg in decoded.messages]
    # app/msgs: a short-term clob message must be the only message of its tx (sdk 18).
    if any(short_term) and len(decoded.messages) > 1:
        raise Reject(SDK, 18, "a short-term clob message must be the only message in the tx")
    if len(decoded.public_key) != chain.SECP256K1_PUBKEY_SIZE:
        raise Reject(SDK, 8, "invalid secp256k1 public key length")

    address = address_from_public_key(decoded.public_key)
    account = state.account(address)
    if account is None:
        raise Reject(SDK, 9, f"account {address} not found")
    for url, msg in decoded.messages:
        owner = (
            msg.subaccount_id.owner
            if url == chain.MSG_BATCH_CANCEL_URL
            else (
                msg.order.order_id if url == chain.MSG_PLACE_ORDER_URL else msg.order_id
            ).subaccount_id.owner
        )
        if owner != address:
            raise Reject(SDK, 4, f"signer {address} does not own subaccount of {owner}")

    # x/auth ante SigVerificationDecorator: SIGN_MODE_DIRECT over the node's chain id and
    # the account's number; cosmos-sdk secp256k1 rejects high-S signatures.
    doc = sign_doc_bytes(decoded, state.chain_id, account.account_number)
    if not is_low_s(decoded.signature) or not verify(decoded.public_key, doc, decoded.signature):
        raise Reject(
            SDK,
            4,
            "signature verification failed; please verify account number "
            f"({account.account_number}), sequence ({decoded.sequence}) and chain-id "
            f"({state.chain_id})",
        )
    if decoded.timeout_height and decoded.timeout_height < state.height + 1:
        raise Reject(SDK, 30, f"tx timeout height {decoded.timeout_height} has passed")

    # app/ante/util.go ShouldSkipSequenceValidation: all-short-term txs skip the check and
    # do not bump the sequence.
    skip_sequence = all(short_term)
    if not skip_sequence:
        _check_sequence(state, account, decoded.sequence)

    for url, msg in decoded.messages:
        if url == chain.MSG_PLACE_ORDER_URL:
            _place(state, msg.order, decoded.timeout_height)
        elif url == chain.MSG_CANCEL_ORDER_URL:
            _cancel(state, msg, decoded.timeout_height)
        else:
            _batch_cancel(state, msg)

    account.public_key = decoded.public_key
    if not skip_sequence:
        if decoded.sequence >= chain.TIMESTAMP_NONCE_SEQUENCE_CUTOFF:
            account.timestamp_nonces = sorted([*account.timestamp_nonces, decoded.sequence])[
                -chain.MAX_TIMESTAMP_NONCE_ARR_SIZE :
            ]
        else:
            account.sequence += 1
        digest = tx_hash(tx_bytes)
        state.txs[digest] = TxRecord(digest, state.height + 1, 0, "", "")


def _check_sequence(state: ChainState, account: Any, sequence: int) -> None:
    if sequence >= chain.TIMESTAMP_NONCE_SEQUENCE_CUTOFF:
        # x/accountplus/keeper/timestampnonce.go: within ±30 s of the block time, unused,
        # and above the smallest of the kept nonces once the list is full.
        block_ms = int(state.block_time * 1000)
        if sequence > block_ms + chain.MAX_TIME_IN_FUTURE_FOR_TIMESTAMP_NONCE_MS:
            raise Reject(SDK, 32, f"timestamp nonce {sequence} is too far in the future")
        if sequence < block_ms - chain.MAX_TIME_IN_PAST_FOR_TIMESTAMP_NONCE_MS:
            raise Reject(SDK, 32, f"timestamp nonce {sequence} is too far in the past")
        if sequence in account.timestamp_nonces:
            raise Reject(SDK, 32, f"timestamp nonce {sequence} already used")
        full = len(account.timestamp_nonces) >= chain.MAX_TIMESTAMP_NONCE_ARR_SIZE
        if full and sequence <= min(account.timestamp_nonces):
            raise Reject(SDK, 32, f"timestamp nonce {sequence} is below the ejected minimum")
        return
    if sequence != account.sequence:
        raise Reject(
            SDK, 32, f"account sequence mismatch, expected {account.sequence}, got {sequence}"
        )


def _check_good_til_block(state: ChainState, gtb: int) -> None:
    """keeper/orders.go validateGoodTilBlock."""
    if gtb == 0:
        raise Reject(CLOB, 5, "GoodTilBlock is zero")
    low, high = chain.good_til_block_bounds(state.height, state.short_block_window)
    if gtb < low:
        raise Reject(CLOB, 10, f"GoodTilBlock {gtb} is less than the next block height {low}")
    if gtb > high:
        raise Reject(
            CLOB,
            11,
            f"GoodTilBlock {gtb} is greater than ShortBlockWindow {state.short_block_window} "
            f"blocks past the next block {low}",
        )


def _check_good_til_block_time(state: ChainState, gtbt: int) -> None:
    """keeper/orders.go PerformStatefulOrderValidation / cancellation validation."""
    if gtbt == 0:
        raise Reject(CLOB, 3001, "GoodTilBlockTime is zero")
    if gtbt <= int(state.block_time):
        raise Reject(CLOB, 3003, f"GoodTilBlockTime {gtbt} is not after the block time")
    if gtbt > int(state.block_time) + chain.STATEFUL_ORDER_TIME_WINDOW_SECONDS:
        raise Reject(CLOB, 3004, f"GoodTilBlockTime {gtbt} exceeds StatefulOrderTimeWindow")


def _check_timeout_height(timeout_height: int, gtb: int) -> None:
    if timeout_height and timeout_height < gtb:
        raise Reject(SDK, 18, "timeout height is below the order's GoodTilBlock")


def _place(state: ChainState, order: Any, timeout_height: int) -> None:
    oid = order.order_id
    flags = oid.order_flags
    # types/order_id.go Validate: only known flags (clob 3000).
    if flags not in chain.VALID_ORDER_FLAGS or flags == chain.ORDER_FLAGS_TWAP:
        raise Reject(CLOB, 3000, f"invalid order flags {flags}")
    market = state.markets.get(oid.clob_pair_id)
    if market is None:
        raise Reject(CLOB, 8, f"clob pair {oid.clob_pair_id} does not exist")
    # types/message_place_order.go ValidateBasic.
    if order.side not in (chain.SIDE_BUY, chain.SIDE_SELL):
        raise Reject(CLOB, 3, "invalid order side")
    if order.quantums == 0:
        raise Reject(CLOB, 4, "order quantums cannot be 0")
    if order.subticks == 0:
        raise Reject(CLOB, 6, "order subticks cannot be 0")
    conditional = flags == chain.ORDER_FLAGS_CONDITIONAL
    if conditional:
        if order.condition_type == chain.CONDITION_TYPE_UNSPECIFIED:
            raise Reject(CLOB, 6000, "conditional orders need a condition type")
        if order.conditional_order_trigger_subticks == 0:
            raise Reject(CLOB, 6001, "conditional orders need trigger subticks")
    elif order.condition_type != chain.CONDITION_TYPE_UNSPECIFIED:
        raise Reject(CLOB, 6000, "only conditional orders have a condition type")
    # keeper/orders.go PerformStatefulOrderValidation (every order kind): subticks a multiple
    # of SubticksPerTick, quantums of StepBaseQuantums, else ErrInvalidPlaceOrder (clob 12).
    if order.quantums % market.step_base_quantums:
        raise Reject(
            CLOB, 12, f"order quantums {order.quantums} must be a multiple of the ClobPair's "
            f"StepBaseQuantums {market.step_base_quantums}",
        )  # fmt: skip
    if order.subticks % market.subticks_per_tick:
        raise Reject(
            CLOB, 12, f"order subticks {order.subticks} must be a multiple of the ClobPair's "
            f"SubticksPerTick {market.subticks_per_tick}",
        )  # fmt: skip
    key = order_key(oid)
    existing = state.orders.get(key)
    if flags == chain.ORDER_FLAGS_SHORT_TERM:
        _check_good_til_block(state, order.good_til_block)
        _check_timeout_height(timeout_height, order.good_til_block)
        cancel_gtb = state.short_term_cancels.get(key)
        if cancel_gtb is not None and cancel_gtb >= order.good_til_block:
            raise Reject(CLOB, 7, "the order was cancelled until a later or equal block")
        if existing is not None and existing.live:
            if existing.order.good_til_block >= order.good_til_block:
                raise Reject(CLOB, 20, "an order with this OrderId has a higher or equal GTB")
        elif existing is not None and existing.status == "FILLED":
            raise Reject(CLOB, 24, "order is fully filled")
    else:
        if order.time_in_force in (chain.TIME_IN_FORCE_IOC, chain.TIME_IN_FORCE_FILL_OR_KILL) and (
            flags == chain.ORDER_FLAGS_LONG_TERM
        ):
            raise Reject(CLOB, 3002, "long-term orders cannot require immediate execution")
        _check_good_til_block_time(state, order.good_til_block_time)
        if key in state.pending_stateful_cancels:
            raise Reject(CLOB, 3008, "stateful order was previously cancelled")
        if existing is not None and existing.live:
            raise Reject(CLOB, 3005, "stateful order already exists")
        if key in state.removed_this_block:
            raise Reject(CLOB, 3009, "stateful order was previously removed in this block")
    state.add_order(order)


def _cancel(state: ChainState, msg: Any, timeout_height: int) -> None:
    oid = msg.order_id
    flags = oid.order_flags
    if flags not in chain.VALID_ORDER_FLAGS:
        raise Reject(CLOB, 3000, f"invalid order flags {flags}")
    if oid.clob_pair_id not in state.markets:
        raise Reject(CLOB, 8, f"clob pair {oid.clob_pair_id} does not exist")
    key = order_key(oid)
    if flags == chain.ORDER_FLAGS_SHORT_TERM:
        _short_term_cancel(state, key, msg.good_til_block)
        _check_timeout_height(timeout_height, msg.good_til_block)
        return
    # keeper/orders.go PerformOrderCancellationStatefulValidation.
    _check_good_til_block_time(state, msg.good_til_block_time)
    book = state.orders.get(key)
    if book is None or not book.live:
        if key in state.removed_this_block:
            raise Reject(CLOB, 3010, "the order was already removed from state in this block")
        raise Reject(CLOB, 3006, "stateful order does not exist")
    if msg.good_til_block_time < book.order.good_til_block_time:
        raise Reject(
            CLOB, 29, f"cancellation GoodTilBlockTime {msg.good_til_block_time} is less than "
            f"the order's GoodTilBlockTime {book.order.good_til_block_time}",
        )  # fmt: skip
    if key in state.pending_stateful_cancels:
        raise Reject(CLOB, 32, "a cancellation for this stateful order already exists")
    state.pending_stateful_cancels[key] = msg.good_til_block_time


def _short_term_cancel(state: ChainState, key: tuple, gtb: int) -> None:
    """memclob/memclob.go CancelOrder: no existence check; removes a resting order only if
    the cancel's GTB ≥ the order's; remembered until its GTB."""
    _check_good_til_block(state, gtb)
    existing_cancel = state.short_term_cancels.get(key)
    if existing_cancel is not None and existing_cancel >= gtb:
        raise Reject(CLOB, 9, "a cancel with a greater or equal GoodTilBlock already exists")
    state.short_term_cancels[key] = gtb
    book = state.orders.get(key)
    if book is not None and book.live and book.order.good_til_block <= gtb:
        book.live = False
        state._set_status(book, "BEST_EFFORT_CANCELED", "USER_CANCELED")


def _batch_cancel(state: ChainState, msg: Any) -> None:
    """types/message_batch_cancel.go ValidateBasic (clob 45), then one cancel per id."""
    batches = list(msg.short_term_cancels)
    if not batches:
        raise Reject(CLOB, 45, "batch cancel has no batches")
    seen_pairs: set[int] = set()
    total = 0
    for batch in batches:
        if batch.clob_pair_id in seen_pairs:
            raise Reject(CLOB, 45, f"clob pair {batch.clob_pair_id} appears twice")
        seen_pairs.add(batch.clob_pair_id)
        ids = list(batch.client_ids)
        if not ids or len(set(ids)) != len(ids):
            raise Reject(CLOB, 45, "each batch needs at least one id and no repeated id")
        total += len(ids)
    if total > chain.MAX_MSG_BATCH_CANCEL_BATCH_SIZE:
        raise Reject(
            CLOB, 45, f"batch size {total} exceeds {chain.MAX_MSG_BATCH_CANCEL_BATCH_SIZE}"
        )
    _check_good_til_block(state, msg.good_til_block)
    succeeded = 0
    owner, number = msg.subaccount_id.owner, msg.subaccount_id.number
    for batch in batches:
        if batch.clob_pair_id not in state.markets:
            raise Reject(CLOB, 27, f"clob pair {batch.clob_pair_id} does not exist")
        for client_id in batch.client_ids:
            key = (owner, number, client_id, batch.clob_pair_id, chain.ORDER_FLAGS_SHORT_TERM)
            try:
                _short_term_cancel(state, key, msg.good_til_block)
                succeeded += 1
            except Reject:
                continue
    if succeeded == 0:
        raise Reject(CLOB, 46, "no order of the batch could be cancelled")
