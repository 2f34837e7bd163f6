"""Apply what the Indexer websocket says to the store, through the same transitions as
everything else (lifecycle.settle), with events marked `websocket:`.

Order contents are OrderSubaccountMessageContents (v4-chain protocol/v9.6.1
indexer/packages/postgres/src/types/websocket-message-types.ts): every field but id,
subaccountId, clientId, status and orderFlags may be missing (vulcan
order-remove-handler.ts leaves out what it does not know). Statuses → ours:
- BEST_EFFORT_OPENED / OPEN → OPEN; UNTRIGGERED → UNTRIGGERED (only confirm a placement:
  never undo a CANCEL_PENDING, the snapshot may predate our cancel);
- FILLED → FILLED;
- BEST_EFFORT_CANCELED: the Indexer's node removed the order from its book. CANCELED when
  nothing can fill it any more (an IOC/FOK remainder, a post-only crossing…, or our own
  accepted cancel of an order with nothing filled); a user cancel is otherwise
  best-effort until the order's good-til-block: CANCEL_PENDING (see _best_effort_canceled);
- CANCELED with removalReason EXPIRED / INDEXER_EXPIRED → EXPIRED, otherwise CANCELED.
A message that cannot be read is logged and skipped, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dydxctl import logs

if TYPE_CHECKING:
    from dydxctl.store import Store
    from dydxctl.ws_client import StreamEvent

log = logs.get("ws")

SOURCE = "websocket"
REASON_PREFIX = "ORDER_REMOVAL_REASON_"  # vulcan: OrderRemovalReason[...] (older: no prefix)
EXPIRY_REASONS = frozenset({"ORDER_REMOVAL_REASON_EXPIRED", "ORDER_REMOVAL_REASON_INDEXER_EXPIRED",
                            "EXPIRED", "INDEXER_EXPIRED"})  # fmt: skip
FINAL_INDEXER_STATUSES = frozenset({"FILLED", "CANCELED", "BEST_EFFORT_CANCELED"})
_CONFIRMABLE = frozenset({"PENDING", "UNKNOWN", "UNTRIGGERED"})


@dataclass
class OrderUpdate:
    """One order of a websocket message, as we use it."""

    order_id: str
    status: str  # the Indexer's
    reason: str | None
    ticker: str | None
    side: str | None
    size: Decimal | None
    price: Decimal | None
    total_filled: Decimal | None
    order_flags: int | None
    good_til_block: int | None
    good_til_block_time: str | None
    subaccount_number: int | None
    updated_height: int | None = None
    updated_at: str | None = None  # the block time of that height (ISO)

    @property
    def final(self) -> bool:
        return self.status in FINAL_INDEXER_STATUSES


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_order(item: Any, subaccount_number: int | None = None) -> OrderUpdate | None:
    """An order object of a message, or None when it lacks what identifies it."""
    if not isinstance(item, dict) or not item.get("id") or not item.get("status"):
        return None
    filled = item.get("totalFilled", item.get("totalOptimisticFilled"))
    return OrderUpdate(
        order_id=str(item["id"]),
        status=str(item["status"]),
        reason=item.get("removalReason"),
        ticker=item.get("ticker"),
        side=item.get("side"),
        size=_decimal(item.get("size")),
        price=_decimal(item.get("price")),
        total_filled=_decimal(filled),
        order_flags=_int(item.get("orderFlags")),
        good_til_block=_int(item.get("goodTilBlock")),
        good_til_block_time=item.get("goodTilBlockTime"),
        subaccount_number=_int(item.get("subaccountNumber", subaccount_number)),
        updated_height=_int(item.get("updatedAtHeight")),
        updated_at=item.get("updatedAt"),
    )


def store_status(update: OrderUpdate, current: str, *, our_cancel: bool = False) -> str | None:
    """The status the store should move to on this update (None: no change). our_cancel:
    we sent a cancel for this order (its hash is stored)."""
    if update.status == "FILLED":
        return "FILLED"
    if update.status == "BEST_EFFORT_CANCELED":
        return _best_effort_canceled(update, current, our_cancel)
    if update.status == "CANCELED":
        return "EXPIRED" if update.reason in EXPIRY_REASONS else "CANCELED"
    if update.status in ("OPEN", "BEST_EFFORT_OPENED") and current in _CONFIRMABLE:
        return "OPEN"
    if update.status == "UNTRIGGERED" and current in ("PENDING", "UNKNOWN"):
        return "UNTRIGGERED"
    return None


def _best_effort_canceled(update: OrderUpdate, current: str, our_cancel: bool) -> str | None:
    """A removal from the book of the Indexer's node. Final when nothing can fill the order
    any more: an IOC/FOK remainder, a post-only crossing… (memclob.go PlaceOrder removes it
    for good), or our own cancel of an order with nothing filled (as finality.py reads the
    404 that follows it). A user cancel is otherwise best-effort until the order's
    good-til-block (a proposer that missed it may still match the order): CANCEL_PENDING,
    settled by the finality rules at the GTB. A replacement is no removal at all."""
    reason = (update.reason or "").removeprefix(REASON_PREFIX)
    if reason == "REPLACED":
        return None
    if reason and reason != "USER_CANCELED":
        return "CANCELED"
    if our_cancel and not update.total_filled:
        return "CANCELED"
    return "CANCEL_PENDING" if current in ("OPEN", "UNTRIGGERED", "UNKNOWN", "PENDING") else None


def view_status(update: OrderUpdate) -> str:
    """Our status for an order the store does not hold (the rules of store_status)."""
    if update.status in ("OPEN", "BEST_EFFORT_OPENED"):
        return "OPEN"
    return store_status(update, "OPEN") or update.status


def describe(update: OrderUpdate) -> str:
    reason = f" ({update.reason})" if update.reason else ""
    return f"{SOURCE}: Indexer says {update.status}{reason}"


@dataclass
class Applied:
    """What one order update did: for the live view and the NDJSON stream."""

    update: OrderUpdate
    stored_from: str | None  # None: not in the store
    stored_to: str | None
    fills: list[dict[str, Any]]
    snapshot: bool

    def as_json(self) -> dict[str, Any]:
        u = self.update
        return {
            "event": "snapshot" if self.snapshot else "order",
            "source": SOURCE,
            "order_id": u.order_id,
            "market": u.ticker,
            "side": u.side,
            "size": str(u.size) if u.size is not None else None,
            "filled": str(u.total_filled) if u.total_filled is not None else None,
            "price": str(u.price) if u.price is not None else None,
            "indexer_status": u.status,
            "removal_reason": u.reason,
            "status": self.stored_to or self.stored_from or view_status(u),
            "stored": self.stored_from is not None,
            "fills": self.fills,
            "subaccount_number": u.subaccount_number,
            "good_til_block": u.good_til_block,
            "good_til_block_time": u.good_til_block_time,
        }


class StreamApplier:
    """Applies stream events to a store (None: view only)."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self.block_height: int | None = None

    def apply(self, event: StreamEvent) -> list[Applied]:
        if event.kind not in ("subscribed", "update"):
            return []
        contents = event.contents
        height = _int(contents.get("blockHeight"))
        if height is not None:
            self.block_height = max(self.block_height or 0, height)
        fills_by_order: dict[str, list[dict[str, Any]]] = {}
        for fill in contents.get("fills") or []:
            if isinstance(fill, dict) and fill.get("orderId"):
                fills_by_order.setdefault(str(fill["orderId"]), []).append({
                    "size": fill.get("size"), "price": fill.get("price"),
                    "liquidity": fill.get("liquidity"), "height": fill.get("createdAtHeight"),
                })  # fmt: skip
        applied = []
        orders = contents.get("orders") or []
        if not isinstance(orders, list):
            log.warning("ws: skipped `orders` that is not a list")
            orders = []
        for item in orders:
            update = parse_order(item, event.subaccount_number)
            if update is None:
                log.warning("ws: skipped an order without id/status: %.200r", item)
                continue
            fills = fills_by_order.pop(update.order_id, [])
            applied.append(self.apply_order(update, fills, snapshot=event.kind == "subscribed"))
        return applied

    def apply_order(
        self, update: OrderUpdate, fills: list[dict[str, Any]], *, snapshot: bool
    ) -> Applied:
        if self.store is None:
            return Applied(update, None, None, fills, snapshot)
        from dydxctl import lifecycle

        row = self.store.get(update.order_id)
        if row is None:
            return Applied(update, None, None, fills, snapshot)
        before = row["status"]
        target = store_status(update, before, our_cancel=bool(row.get("cancel_tx_hash")))
        after = before
        if target is not None and target != before:
            after = lifecycle.settle(self.store, row, target, None, describe(update))["status"]
        elif fills and update.total_filled is not None:  # a partial fill: an event, no move
            size = f" of {update.size}" if update.size is not None else ""
            self.store.transition(
                update.order_id, before,
                detail=f"{SOURCE}: filled {update.total_filled}{size}",
            )  # fmt: skip
        if target is not None and after == before and target != before:
            log.info("ws: order %s stays %s (Indexer says %s)", update.order_id, before,
                     update.status)  # fmt: skip
        return Applied(update, before, after, fills, snapshot)
