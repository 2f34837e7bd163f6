"""The emulated chain's state: accounts, the memclob, stateful orders, the mempool, blocks.

One lock guards everything; servers call in from many threads. CheckTx (checktx.py) works
on the "check state" (uncommitted placements and cancels, check-state sequences); a block
(`advance`) delivers the mempool's stateful txs (deliver.py), then runs the EndBlocker's
expiries, and resets the check state to the committed one — as a real node does.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dydxctl.emulator import rules
from dydxctl.emulator.accountplus import AccountPlusKeeper
from dydxctl.emulator.indexer_model import IndexerModel, order_key, uuid_of
from dydxctl.emulator.markets import SEED_MARKETS, Market
from dydxctl.emulator.rate_limit import BlockRateLimiter

CHAIN_ID = "localdydxprotocol"
# memclob.go PlaceOrder: what the Indexer's websocket says of an IOC order's remainder.
IOC_REMAINDER_REASON = "ORDER_REMOVAL_REASON_IMMEDIATE_OR_CANCEL_WOULD_REST_ON_BOOK"
FIRST_ACCOUNT_NUMBER = 10
Key = tuple[str, int, int, int, int]


@dataclass
class Account:
    address: str
    account_number: int
    sequence: int = 0  # committed
    public_key: bytes | None = None
    timestamp_nonces: list[int] = field(default_factory=list)  # committed
    check_sequence: int = 0  # CheckTx's view, reset to the committed one every block
    check_nonces: list[int] = field(default_factory=list)


@dataclass
class LiveOrder:
    """An order on the memclob (short-term) or in state (stateful)."""

    order: Any
    triggered: bool = True  # False: a conditional order still in the untriggered store


@dataclass(frozen=True)
class OrderView:
    """For tests: an order the chain accepted, whether it is live, what the Indexer says."""

    uuid: str
    key: tuple[str, int, int, int, int]
    live: bool  # resting on the memclob or in state (uncommitted placements count)
    status: str | None  # the Indexer's status; None where the Indexer answers 404


@dataclass
class TxRecord:
    tx_hash: str
    height: int
    code: int
    codespace: str
    log: str


@dataclass
class PendingTx:
    """A stateful tx CheckTx accepted, waiting in the mempool for the next block."""

    tx_hash: str
    signer: str
    sequence: int
    messages: list[tuple[str, Any]]
    fault: dict[str, Any] | None = None  # fail in DeliverTx with this code
    dropped: bool = False  # never included in a block
    reauthenticate: Any = None  # authenticator txs: the ante's authentication, run again


class ChainState:
    def __init__(
        self,
        *,
        chain_id: str = CHAIN_ID,
        block_time_s: float = 1.0,
        app_version: str = rules.DEFAULT_APP_VERSION,
        rate_limits: bool | dict[str, Any] = False,
    ) -> None:
        self.lock = threading.RLock()
        self.chain_id = chain_id
        self.version = rules.parse_version(app_version)
        self.app_version = "v{}.{}.{}".format(*self.version)
        self.short_block_window = rules.short_block_window(self.version)
        self.block_time_s = block_time_s
        self.height = 1
        self.block_time = time.time()
        self.markets: dict[int, Market] = {m.clob_pair_id: m for m in SEED_MARKETS}
        self.oracle_subticks: dict[int, int] = {
            m.clob_pair_id: m.subticks(m.oracle_price) for m in SEED_MARKETS
        }
        self.accounts: dict[str, Account] = {}
        self.require_existing_accounts = False
        # memclob (short-term) and state (stateful) orders
        self.book: dict[Key, LiveOrder] = {}
        self.fill_amounts: dict[Key, int] = {}  # OrderFillState (quantums filled)
        self.fill_prune: dict[Key, int] = {}  # short-term: forget the fill amount at this height
        self.short_term_cancels: dict[Key, int] = {}  # memclob cancels: key → cancel GTB
        # check state: uncommitted stateful placements and cancels
        self.uncommitted_places: dict[Key, Any] = {}
        self.uncommitted_cancels: dict[Key, int] = {}
        self.mempool: list[PendingTx] = []
        self.removed_in_block: set[Key] = set()  # removed by a fill since the last block
        self.txs: dict[str, TxRecord] = {}
        self.mempool_cache: OrderedDict[str, None] = OrderedDict()
        self.rate_limiter = BlockRateLimiter.from_option(rate_limits)
        self.indexer = IndexerModel(self.markets)
        self.indexer.block_time = self.block_time
        self.accepted: dict[str, Key] = {}  # uuid → key of every order CheckTx accepted
        self.deliver_faults: list[dict[str, Any]] = []
        self.accountplus = AccountPlusKeeper()
        self.ioc_liquidity: list[tuple[int | None, Decimal | None]] = []  # (quantums, size)
        self.drops_pending = 0

    # --- accounts ----------------------------------------------------------------------
    def account(self, address: str, *, create: bool = True) -> Account | None:
        with self.lock:
            found = self.accounts.get(address)
            if found is None and create and not self.require_existing_accounts:
                found = Account(address, FIRST_ACCOUNT_NUMBER + len(self.accounts))
                self.accounts[address] = found
            return found

    # --- Indexer feed --------------------------------------------------------------------
    def emit(self, event: Any) -> None:
        self.indexer.emit(self.height, event)

    def sync_indexer(self) -> None:
        with self.lock:
            self.indexer.catch_up(self.height, self.block_time)

    def committed_tx(self, tx_hash: str) -> TxRecord | None:
        """The result of a tx in a committed block (GetTx, CometBFT /tx); None if none."""
        with self.lock:
            record = self.txs.get(tx_hash.upper())
            return record if record is not None and record.height <= self.height else None

    def find(self, uuid: str) -> LiveOrder | None:
        """The order on the book or in state with this Indexer uuid; KeyError, saying why,
        for a stateful placement still waiting for its block."""
        for live in self.book.values():
            if uuid_of(live.order.order_id) == uuid:
                return live
        if any(uuid_of(order.order_id) == uuid for order in self.uncommitted_places.values()):
            raise KeyError(f"order {uuid} is not in state until its block: advance first")
        return None

    # --- the block ----------------------------------------------------------------------
    def advance(self, blocks: int = 1) -> int:
        from dydxctl.emulator.stateful import deliver_block

        with self.lock:
            for _ in range(blocks):
                previous_block_time = self.block_time
                self.height += 1
                # Block time follows the wall clock (timestamp nonces stay valid), always forward.
                self.block_time = max(self.block_time + 0.001, time.time())
                deliver_block(self, previous_block_time)
                self.removed_in_block.clear()
                self._end_block()
                self._reset_check_state()
                self.indexer.catch_up(self.height, self.block_time)
            return self.height

    def _end_block(self) -> None:
        """EndBlocker / PrepareCheckState: expire orders and cancels (memclob.go
        RemoveAndClearOperationsQueue, keeper RemoveExpiredStatefulOrders)."""
        for key, live in list(self.book.items()):
            order = live.order
            if key[4] == rules.FLAGS_SHORT_TERM:
                if self.height >= order.good_til_block:
                    self.remove(key, "expired")
            elif self.block_time >= order.good_til_block_time:
                self.remove(key, "expired")
        for key, cancel_gtb in list(self.short_term_cancels.items()):
            if self.height >= cancel_gtb:
                del self.short_term_cancels[key]
        # PruneStateFillAmountsForShortTermOrders: fill amounts are kept until the GTB.
        for key, prune_at in list(self.fill_prune.items()):
            if self.height >= prune_at and key not in self.book:
                del self.fill_prune[key]
                self.fill_amounts.pop(key, None)

    def _reset_check_state(self) -> None:
        self.uncommitted_places.clear()
        self.uncommitted_cancels.clear()
        self.mempool.clear()
        for account in self.accounts.values():
            account.check_sequence = account.sequence
            account.check_nonces = list(account.timestamp_nonces)

    # --- order changes (with their Indexer effects) -------------------------------------------
    def rest_short_term(self, order: Any) -> None:
        key = order_key(order.order_id)
        self.book[key] = LiveOrder(order)
        self.emit(lambda: self.indexer.redis_put(order))
        self.emit(lambda: self.indexer.announce(order, "BEST_EFFORT_OPENED"))

    def add_stateful(self, order: Any) -> None:
        """DeliverTx of a stateful placement: into state, a Postgres row in its block."""
        key = order_key(order.order_id)
        conditional = key[4] == rules.FLAGS_CONDITIONAL
        self.book[key] = LiveOrder(order, triggered=not conditional)
        status = "UNTRIGGERED" if conditional else "OPEN"
        height, at = self.height, self.block_time
        self.emit(lambda: self.indexer.postgres_put(order, status, 0, height, at))
        if not conditional:
            self.emit(lambda: self.indexer.redis_put(order))
        self.emit(lambda: self.indexer.announce(order, status))

    def remove(self, key: Key, reason: str) -> None:
        """Take an order off the book / out of state. reason: user_cancel, expired, filled,
        stateful_cancel, permissioned_key_expired."""
        live = self.book.pop(key)
        order, height, at = live.order, self.height, self.block_time
        if key[4] == rules.FLAGS_SHORT_TERM:
            status = {"user_cancel": "BEST_EFFORT_CANCELED", "filled": "FILLED"}.get(reason)
            status = status or "CANCELED"
        else:
            status = "FILLED" if reason == "filled" else "CANCELED"
        keep = frozenset({"FILLED", "BEST_EFFORT_CANCELED"}) if reason == "expired" else frozenset()
        self.emit(lambda: self.indexer.redis_delete(order.order_id))
        self.emit(
            lambda: self.indexer.postgres_status(order.order_id, status, height, at, keep=keep)
        )
        if reason != "filled":  # a fill announces itself (match())
            filled = self.fill_amounts.get(key, 0)
            self.emit(lambda: self.indexer.announce(
                order, status, reason=reason, total_filled=filled))  # fmt: skip
        if key[4] != rules.FLAGS_SHORT_TERM:  # stateful fill state goes with the order
            self.fill_amounts.pop(key, None)

    # --- test hooks -----------------------------------------------------------------------
    def fill(self, uuid: str, quantums: int | None = None, size: Decimal | None = None) -> dict:
        """A match for a resting order (in its next block): fully (no amount) or partly."""
        with self.lock:
            live = self.find(uuid)
            if live is None or not live.triggered:
                raise KeyError(f"no order {uuid} is resting on the book")
            order = live.order
            key = order_key(order.order_id)
            if not self.accountplus.still_valid(key):  # its permissioned key is gone
                self.remove(key, "permissioned_key_expired")
                self.sync_indexer()
                return {"order_id": uuid, "filled_quantums": 0,
                        "status_on_chain": "removed: permissioned key expired"}  # fmt: skip
            market = self.markets[key[3]]
            if size is not None:
                quantums = market.quantums(size)
            filled, done = self.match(order, quantums, "OPEN")
            if done:
                self.remove(key, "filled")
                self.removed_in_block.add(key)
            self.sync_indexer()
            return {
                "order_id": uuid,
                "filled_quantums": filled,
                "status_on_chain": "filled" if done else "partially_filled",
            }

    def match(self, order: Any, quantums: int | None, remainder_status: str) -> tuple[int, bool]:
        """Record a fill of `quantums` (None: all that remains) in the order's fill state and
        in the Indexer's Postgres row (ender creates it on the first fill): FILLED when
        nothing remains, else `remainder_status`."""
        key = order_key(order.order_id)
        filled = self.fill_amounts.get(key, 0)
        remaining = order.quantums - filled
        amount = remaining if quantums is None else min(int(quantums), remaining)
        if amount <= 0:
            raise ValueError("a fill needs a positive amount")
        filled += amount
        self.fill_amounts[key] = filled
        if key[4] == rules.FLAGS_SHORT_TERM:
            self.fill_prune[key] = order.good_til_block
        height, at = self.height, self.block_time
        done = filled >= order.quantums
        status = "FILLED" if done else remainder_status
        self.emit(lambda: self.indexer.postgres_put(order, status, filled, height, at))
        reason = IOC_REMAINDER_REASON if status == "BEST_EFFORT_CANCELED" else None
        self.emit(lambda: self.indexer.announce(
            order, status, total_filled=filled, fill_quantums=amount, reason=reason))  # fmt: skip
        return filled, done

    def trigger(self, uuid: str) -> None:
        """A conditional order moves from the untriggered store to the book."""
        with self.lock:
            live = self.find(uuid)
            if live is None:
                raise KeyError(f"no stateful order {uuid} in state")
            self._trigger(live)
            self.sync_indexer()

    def _trigger(self, live: LiveOrder) -> None:
        if live.triggered:
            return
        live.triggered = True
        order, height, at = live.order, self.height, self.block_time
        self.emit(lambda: self.indexer.postgres_status(order.order_id, "OPEN", height, at))
        self.emit(lambda: self.indexer.redis_put(order))
        self.emit(lambda: self.indexer.announce(order, "OPEN"))

    def set_oracle_price(self, ticker: str, price: Decimal) -> list[str]:
        """x/clob/types/order.go CanTrigger: take-profit buys and stop-loss sells trigger
        when the oracle price is ≤ the trigger price, the others when it is ≥."""
        with self.lock:
            market = next((m for m in self.markets.values() if m.ticker == ticker), None)
            if market is None:
                raise KeyError(f"no market {ticker}")
            subticks = int(price.scaleb(-market._price_exponent()))
            self.oracle_subticks[market.clob_pair_id] = subticks
            self.markets[market.clob_pair_id] = _with_price(market, price)
            triggered = []
            for key, live in self.book.items():
                order = live.order
                if key[3] != market.clob_pair_id or live.triggered:
                    continue
                low = (order.condition_type == rules.CONDITION_TAKE_PROFIT) == (
                    order.side == rules.SIDE_BUY
                )
                trigger = order.conditional_order_trigger_subticks
                if (trigger >= subticks) if low else (trigger <= subticks):
                    self._trigger(live)
                    triggered.append(uuid_of(order.order_id))
            self.sync_indexer()
            return triggered

    @property
    def by_uuid(self) -> dict[str, OrderView]:
        """Every order CheckTx ever accepted, by Indexer uuid (a read-only view for tests)."""
        with self.lock:
            self.sync_indexer()
            views = {}
            for uuid, key in self.accepted.items():
                found = self.indexer.get(uuid)
                live = key in self.book or key in self.uncommitted_places
                views[uuid] = OrderView(uuid, key, live, found["status"] if found else None)
            return views

    def open_order_count(self) -> int:
        with self.lock:
            return len(self.book)


def _with_price(market: Market, price: Decimal) -> Market:
    from dataclasses import replace

    return replace(market, oracle_price=price)
