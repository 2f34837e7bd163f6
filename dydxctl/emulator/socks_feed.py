"""What the emulated Indexer announces on its websocket, built from its own order model.

The message each chain event produces (dydxprotocol/v4-chain protocol/v9.6.1):
- a placement: vulcan `handlers/order-place-handler.ts` → packages/kafka
  `websocket-helper.ts` generateSubaccountMessageContents: a short-term order is
  BEST_EFFORT_OPENED (placement status BEST_EFFORT_OPENED at CheckTx); a stateful one OPEN
  (UNTRIGGERED for a conditional order), from ender in its block; a triggered one OPEN;
- a removal: vulcan `handlers/order-remove-handler.ts`: the order with the removal status
  (BEST_EFFORT_CANCELED for a short-term user cancel — protocol x/clob/memclob/memclob.go
  CancelOrder —, CANCELED for an expiry or a stateful cancel) and `removalReason` = the
  OrderRemovalReason name (indexer/packages/v4-protos/…/indexer/shared/removal_reason.ts);
- a fill: ender's fill handlers: the order with its totalFilled (FILLED when complete) and
  the fill in `fills` (FillSubaccountMessageContents).
A short-term order removed by a cancel has left the book, so its later expiry produces
nothing (memclob.go RemoveAndClearOperationsQueue only expires orders still on the book).
Announcements go through the Indexer model's queue, so they lag with it.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from dydxctl.emulator.markets import iso_ms
from dydxctl.emulator.ws_api import SocksMessage, order_contents, parent_of

if TYPE_CHECKING:
    from dydxctl.emulator.indexer_model import IndexerModel
    from dydxctl.emulator.ws_api import SocksServer

# Our removal reasons (state.py ChainState.remove) → OrderRemovalReason names.
REMOVAL_REASONS = {
    "user_cancel": "ORDER_REMOVAL_REASON_USER_CANCELED",
    "stateful_cancel": "ORDER_REMOVAL_REASON_USER_CANCELED",
    "expired": "ORDER_REMOVAL_REASON_EXPIRED",
}
# socks/src/lib/subscription.ts: the initial response's order statuses, plus the
# BEST_EFFORT_CANCELED orders whose good-til-block is within the last 20 blocks.
SNAPSHOT_STATUSES = frozenset({"OPEN", "UNTRIGGERED", "BEST_EFFORT_OPENED"})
SNAPSHOT_BEST_EFFORT_CANCELED_BLOCKS = 20


def announcement(
    model: IndexerModel,
    order: Any,
    status: str,
    *,
    reason: str | None = None,
    total_filled: int | None = None,
    fill_quantums: int = 0,
) -> SocksMessage:
    """The to-websockets-subaccounts message for one order change."""
    from dydxctl.emulator.indexer_model import uuid_of

    oid = order.order_id
    market = model.markets[oid.clob_pair_id]
    view = model._common(order)
    extra: dict[str, Any] = {"status": status}
    if total_filled is not None:
        extra["totalFilled"] = str(market.size(total_filled))
    if reason is not None:
        extra["removalReason"] = REMOVAL_REASONS.get(reason, reason)
    contents: dict[str, Any] = {
        "orders": [order_contents(view, **extra)],
        "blockHeight": str(model.height),
    }
    if fill_quantums > 0:
        size, price = market.size(fill_quantums), market.price(order.subticks)
        order_uuid = uuid_of(oid)
        event = hashlib.sha256(f"{order_uuid}/{total_filled}".encode()).hexdigest()
        contents["fills"] = [{
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, event)),
            "subaccountId": view["subaccountId"], "side": view["side"], "liquidity": "MAKER",
            "type": "LIMIT", "clobPairId": view["clobPairId"], "orderId": order_uuid,
            "size": str(size), "price": str(price), "quoteAmount": str(size * price),
            "eventId": event[:32], "transactionHash": event.upper(),
            "createdAt": iso_ms(model.block_time), "createdAtHeight": str(model.height),
            "ticker": view["ticker"],
        }]  # fmt: skip
    sub = oid.subaccount_id
    return SocksMessage(sub.owner, sub.number, contents)


class SocksFeed:
    """Connects the Indexer model's announcements to the socks server."""

    def __init__(self, model: IndexerModel, server: SocksServer) -> None:
        self.model = model
        self.server = server

    def snapshot(self, address: str, number: int, parent: bool) -> dict[str, Any]:
        """subscription.ts getInitialResponseForSubaccountSubscription (and the parent one):
        the subaccount, its open orders and recent best-effort-canceled ones, blockHeight."""
        model = self.model
        numbers = (
            {n for n in _subaccounts_of(model, address) if parent_of(n) == number}
            if parent
            else {number}
        )
        recent = max(model.height - SNAPSHOT_BEST_EFFORT_CANCELED_BLOCKS, 1)
        orders = []
        for sub in sorted(numbers):
            for view in model.list(address, sub):
                status = view.get("status")
                if status in SNAPSHOT_STATUSES or (
                    status == "BEST_EFFORT_CANCELED" and int(view.get("goodTilBlock") or 0) > recent
                ):
                    orders.append(view)
        subaccount: dict[str, Any] = {
            "address": address, "equity": "0", "freeCollateral": "0",
            "openPerpetualPositions": {}, "assetPositions": {}, "marginEnabled": True,
            "updatedAtHeight": str(model.height),
        }  # fmt: skip
        if parent:
            subaccount.update(parentSubaccountNumber=number, childSubaccounts=[])
        else:
            subaccount["subaccountNumber"] = number
        return {"subaccount": subaccount, "orders": orders, "blockHeight": str(model.height)}


def _subaccounts_of(model: IndexerModel, address: str) -> set[int]:
    numbers = set()
    for row in model.postgres.values():
        sub = row.order.order_id.subaccount_id
        if sub.owner == address:
            numbers.add(sub.number)
    for order in model.redis.values():
        sub = order.order_id.subaccount_id
        if sub.owner == address:
            numbers.add(sub.number)
    return numbers
