"""The emulated chain's state: accounts, markets, the order book, the block clock, and the
Indexer's view of orders. One lock guards everything; servers call in from many threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dydxctl import chain
from dydxctl.durations import iso_ms
from dydxctl.markets import Market
from dydxctl.orders import ORDER_TYPES, TIME_IN_FORCE_BY_NAME

CHAIN_ID = "localdydxprotocol"
APP_VERSION = "v9.4.0-emulator"  # a version whose ShortBlockWindow is 20 (constants.go)
FIRST_ACCOUNT_NUMBER = 10

# Real mainnet parameters (Indexer /v4/perpetualMarkets), so grids match production.
SEED_MARKETS = (
    Market("BTC-USD", 0, -10, -9, 1_000_000, 100_000, Decimal("65000"), "ACTIVE"),
    Market("ETH-USD", 1, -9, -9, 1_000_000, 100_000, Decimal("3500"), "ACTIVE"),
)
_TIF_NAMES = {value: name for name, value in TIME_IN_FORCE_BY_NAME.items()}
_TYPE_BY_CONDITION = {
    (chain.CONDITION_TYPE_STOP_LOSS, False): "STOP_LIMIT",
    (chain.CONDITION_TYPE_STOP_LOSS, True): "STOP_MARKET",
    (chain.CONDITION_TYPE_TAKE_PROFIT, False): "TAKE_PROFIT",
    (chain.CONDITION_TYPE_TAKE_PROFIT, True): "TAKE_PROFIT_MARKET",
}


def order_key(order_id: Any) -> tuple[str, int, int, int, int]:
    """The chain's identity of an order: (owner, subaccount number, client id, clob pair, flags)."""
    return (
        order_id.subaccount_id.owner,
        order_id.subaccount_id.number,
        order_id.client_id,
        order_id.clob_pair_id,
        order_id.order_flags,
    )


@dataclass
class Account:
    address: str
    account_number: int
    sequence: int = 0
    public_key: bytes | None = None
    timestamp_nonces: list[int] = field(default_factory=list)


@dataclass
class BookOrder:
    """An order the chain accepted, with what the Indexer reports about it."""

    order: Any  # dydxprotocol.clob.Order
    uuid: str
    market: Market
    status: str  # Indexer status: OPEN, UNTRIGGERED, FILLED, CANCELED, BEST_EFFORT_CANCELED
    created_height: int
    updated_height: int
    updated_at: float
    total_filled: int = 0
    live: bool = True  # on the book (memclob) or in state

    @property
    def key(self) -> tuple[str, int, int, int, int]:
        return order_key(self.order.order_id)


@dataclass
class TxRecord:
    tx_hash: str
    height: int
    code: int
    codespace: str
    log: str


class ChainState:
    def __init__(self, *, chain_id: str = CHAIN_ID, block_time_s: float = 1.0) -> None:
        self.lock = threading.RLock()
        self.chain_id = chain_id
        self.app_version = APP_VERSION
        self.short_block_window = chain.short_block_window_for(APP_VERSION)
        self.block_time_s = block_time_s
        self.height = 1
        self.block_time = time.time()
        self.markets: dict[int, Market] = {m.clob_pair_id: m for m in SEED_MARKETS}
        self.accounts: dict[str, Account] = {}
        self.orders: dict[tuple, BookOrder] = {}  # the latest order per OrderId
        self.by_uuid: dict[str, BookOrder] = {}
        self.short_term_cancels: dict[tuple, int] = {}  # key -> cancel GTB
        self.pending_stateful_cancels: dict[tuple, int] = {}  # key -> cancel GTBT
        self.removed_this_block: set[tuple] = set()
        self.txs: dict[str, TxRecord] = {}
        self.require_existing_accounts = False
        # Called (under the lock) with (book, removal reason or None) on every change the
        # Indexer would announce on its websocket; the emulator's socks server listens.
        self.listeners: list[Any] = []

    # --- accounts ---
    def account(self, address: str, *, create: bool = True) -> Account | None:
        with self.lock:
            found = self.accounts.get(address)
            if found is None and create and not self.require_existing_accounts:
                found = Account(address, FIRST_ACCOUNT_NUMBER + len(self.accounts))
                self.accounts[address] = found
            return found

    # --- the block clock ---
    def advance(self, blocks: int = 1) -> int:
        """Commit `blocks` blocks: apply pending cancels, expire orders, forget old cancels."""
        with self.lock:
            for _ in range(blocks):
                self.height += 1
                # Block time follows the wall clock (so timestamp nonces stay valid) and
                # always moves forward.
                self.block_time = max(self.block_time + 0.001, time.time())
                self.removed_this_block.clear()
                self._apply_pending_stateful_cancels()
                self._expire()
            return self.height

    def _apply_pending_stateful_cancels(self) -> None:
        for key in list(self.pending_stateful_cancels):
            book = self.orders.get(key)
            if book is not None and book.live:
                self._remove(book, "CANCELED", "USER_CANCELED")
            del self.pending_stateful_cancels[key]

    def _expire(self) -> None:
        for book in self.orders.values():
            if not book.live and book.status != "BEST_EFFORT_CANCELED":
                continue
            gtb = book.order.good_til_block
            if book.order.order_id.order_flags == chain.ORDER_FLAGS_SHORT_TERM:
                # Removed once block GTB is processed; the Indexer then says CANCELED.
                if self.height >= gtb:
                    if book.live:
                        self._remove(book, "CANCELED", "EXPIRED")
                    elif book.status == "BEST_EFFORT_CANCELED":
                        self._set_status(book, "CANCELED")
            elif book.live and self.block_time >= book.order.good_til_block_time:
                self._remove(book, "CANCELED", "EXPIRED")
        for key, cancel_gtb in list(self.short_term_cancels.items()):
            if self.height >= cancel_gtb:
                del self.short_term_cancels[key]

    def _set_status(self, book: BookOrder, status: str, reason: str | None = None) -> None:
        book.status = status
        book.updated_height = self.height
        book.updated_at = self.block_time
        self._announce(book, reason)

    def _announce(self, book: BookOrder, reason: str | None) -> None:
        for listener in self.listeners:
            listener(book, reason)

    def _remove(self, book: BookOrder, status: str, reason: str) -> None:
        book.live = False
        self._set_status(book, status, reason)
        self.removed_this_block.add(book.key)

    # --- order book changes ---
    def add_order(self, order: Any) -> BookOrder:
        market = self.markets[order.order_id.clob_pair_id]
        conditional = order.order_id.order_flags == chain.ORDER_FLAGS_CONDITIONAL
        book = BookOrder(
            order=order,
            uuid=chain.indexer_order_uuid(*order_key(order.order_id)),
            market=market,
            status="UNTRIGGERED" if conditional else "OPEN",
            created_height=self.height,
            updated_height=self.height,
            updated_at=self.block_time,
        )
        self.orders[book.key] = book
        self.by_uuid[book.uuid] = book
        self._announce(book, None)
        return book

    def fill(self, uuid: str, quantums: int | None = None) -> BookOrder:
        """Test hook: fill an order fully (quantums None) or partly."""
        with self.lock:
            book = self.by_uuid.get(uuid)
            if book is None or not book.live:
                raise KeyError(f"no live order {uuid}")
            remaining = book.order.quantums - book.total_filled
            amount = remaining if quantums is None else min(quantums, remaining)
            book.total_filled += amount
            if book.total_filled >= book.order.quantums:
                self._remove(book, "FILLED", "FULLY_FILLED")
            else:
                self._set_status(book, "OPEN")
            return book

    def trigger(self, uuid: str) -> BookOrder:
        """Test hook: a conditional order's trigger price was reached."""
        with self.lock:
            book = self.by_uuid[uuid]
            if book.live and book.status == "UNTRIGGERED":
                self._set_status(book, "OPEN")
            return book

    # --- the Indexer's view ---
    def indexer_order(self, book: BookOrder) -> dict[str, Any]:
        order, oid, market = book.order, book.order.order_id, book.market
        flags = oid.order_flags
        conditional = flags == chain.ORDER_FLAGS_CONDITIONAL
        tif = _TIF_NAMES.get(order.time_in_force, "GTT")
        if conditional:
            order_type = _TYPE_BY_CONDITION.get(
                (order.condition_type, tif in ("IOC", "FOK")), "STOP_LIMIT"
            )
        else:
            order_type = "MARKET" if tif in ("IOC", "FOK") and flags == 0 else "LIMIT"
        assert order_type in {t.name for t in ORDER_TYPES.values()}
        side = "BUY" if order.side == chain.SIDE_BUY else "SELL"
        return {
            "id": book.uuid,
            "subaccountId": chain.indexer_subaccount_uuid(
                oid.subaccount_id.owner, oid.subaccount_id.number
            ),
            "clientId": str(oid.client_id),
            "clobPairId": str(oid.clob_pair_id),
            "side": side,
            "size": str(market.size_from_quantums(order.quantums)),
            "totalFilled": str(market.size_from_quantums(book.total_filled)),
            "price": str(market.price_from_subticks(order.subticks)),
            "type": order_type,
            "status": book.status,
            "timeInForce": tif if tif != "POST_ONLY" else "GTT",
            "reduceOnly": order.reduce_only,
            "orderFlags": str(flags),
            "goodTilBlock": str(order.good_til_block) if flags == 0 else None,
            "goodTilBlockTime": iso_ms(order.good_til_block_time) if flags else None,
            "createdAtHeight": str(book.created_height),
            "clientMetadata": str(order.client_metadata),
            "triggerPrice": (
                str(market.price_from_subticks(order.conditional_order_trigger_subticks))
                if conditional
                else None
            ),
            "postOnly": tif == "POST_ONLY",
            "ticker": market.ticker,
            "updatedAt": iso_ms(book.updated_at),
            "updatedAtHeight": str(book.updated_height),
            "subaccountNumber": oid.subaccount_id.number,
        }

    def indexer_market(self, market: Market) -> dict[str, Any]:
        return {
            "ticker": market.ticker,
            "clobPairId": str(market.clob_pair_id),
            "status": market.status,
            "oraclePrice": str(market.oracle_price),
            "atomicResolution": market.atomic_resolution,
            "quantumConversionExponent": market.quantum_conversion_exponent,
            "stepBaseQuantums": market.step_base_quantums,
            "subticksPerTick": market.subticks_per_tick,
            "stepSize": str(market.step_size),
            "tickSize": str(market.tick_size),
            "marketType": "CROSS",
        }

    def open_order_count(self) -> int:
        with self.lock:
            return sum(1 for b in self.orders.values() if b.live)


# --- persistence (dydxctl emulator --state-dir) ---
STATE_FILE = "emulator-state.json"


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def save_state(state: ChainState, directory: Any) -> None:
    """Write the whole chain state as JSON, atomically (write then rename)."""
    import json
    import os
    from pathlib import Path

    with state.lock:
        data = {
            "chain_id": state.chain_id,
            "height": state.height,
            "block_time": state.block_time,
            "accounts": [
                {
                    "address": a.address,
                    "account_number": a.account_number,
                    "sequence": a.sequence,
                    "public_key": a.public_key.hex() if a.public_key else None,
                    "timestamp_nonces": a.timestamp_nonces,
                }
                for a in state.accounts.values()
            ],
            "orders": [
                {
                    "order": _b64(b.order.SerializeToString()),
                    "status": b.status,
                    "created_height": b.created_height,
                    "updated_height": b.updated_height,
                    "updated_at": b.updated_at,
                    "total_filled": b.total_filled,
                    "live": b.live,
                }
                for b in state.by_uuid.values()
            ],
            "short_term_cancels": [[list(k), v] for k, v in state.short_term_cancels.items()],
            "pending_stateful_cancels": [
                [list(k), v] for k, v in state.pending_stateful_cancels.items()
            ],
            "txs": [vars(t) for t in state.txs.values()],
        }
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path / STATE_FILE)


def load_state(state: ChainState, directory: Any) -> bool:
    """Restore a saved state into `state`; False when there is none."""
    import json
    from pathlib import Path

    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    path = Path(directory) / STATE_FILE
    if not path.exists():
        return False
    data = json.loads(path.read_text())
    with state.lock:
        state.chain_id = data["chain_id"]
        state.height = data["height"]
        state.block_time = data["block_time"]
        for a in data["accounts"]:
            state.accounts[a["address"]] = Account(
                a["address"], a["account_number"], a["sequence"],
                bytes.fromhex(a["public_key"]) if a["public_key"] else None,
                list(a["timestamp_nonces"]),
            )  # fmt: skip
        for o in data["orders"]:
            book = state.add_order(Order.FromString(_unb64(o["order"])))
            book.status, book.live = o["status"], o["live"]
            book.created_height, book.updated_height = o["created_height"], o["updated_height"]
            book.updated_at, book.total_filled = o["updated_at"], o["total_filled"]
        state.short_term_cancels = {tuple(k): v for k, v in data["short_term_cancels"]}
        state.pending_stateful_cancels = {tuple(k): v for k, v in data["pending_stateful_cancels"]}
        state.txs = {t["tx_hash"]: TxRecord(**t) for t in data["txs"]}
    return True
