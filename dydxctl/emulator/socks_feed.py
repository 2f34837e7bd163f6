"""What the emulated Indexer announces on its websocket, built from its own order model.

The message each chain event produces (dydxprotocol/v4-chain protocol/v9.6.1):
- a placement: vulcan `handlers/order-place-handler.ts` → packages/kafka
  `websocket-helper.ts` generateSubaccountMessageContents: a short-term order is
  BEST_EFFORT_OPENED (placement status BEST_EFFORT_OPENED at CheckTx); a stateful one OPEN
  (UNTRIGGERED for a conditional order), from ender in its block;
- a removal: vulcan `handlers/order-remove-handler.ts`: the order with the removal status
  (BEST_EFFORT_CANCELED for a short-term user cancel — protocol x/clob/memclob/memclob.go
  CancelOrder —, CANCELED for an expiry or a stateful cancel) and
  `removalReason` = the OrderRemovalReason name (indexer/shared/removal_reason.proto);
- a fill: ender's fill handlers: the order with its totalFilled (FILLED when complete) and
  the fill in `fills`.
A short-term order removed by a cancel leaves the book then, so its later expiry produces
nothing (memclob.go RemoveAndClearOperationsQueue only expires orders still on the book).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from dydxctl.emulator.ws_api import SocksMessage, order_contents

if TYPE_CHECKING:
    from dydxctl.emulator.state import BookOrder, ChainState
    from dydxctl.emulator.ws_api import SocksServer

SHORT_TERM_FLAGS = 0  # protocol x/clob/types/order_id.go OrderIdFlags_ShortTerm
# socks/src/lib/subscription.ts: the initial response's order statuses, plus the
# BEST_EFFORT_CANCELED orders whose good-til-block is within the last 20 blocks.
SNAPSHOT_STATUSES = frozenset({"OPEN", "UNTRIGGERED", "BEST_EFFORT_OPENED"})
SNAPSHOT_BEST_EFFORT_CANCELED_BLOCKS = 20
REASON_PREFIX = "ORDER_REMOVAL_REASON_"


def _api_view(state: ChainState, book: BookOrder) -> dict[str, Any]:
    """The order as the Indexer's API shows it; a resting short-term order is only in Redis,
    so BEST_EFFORT_OPENED (comlink request-transformer.ts redisOrderToResponseObject)."""
    view = state.indexer_order(book)
    resting_short_term = book.live and book.order.order_id.order_flags == SHORT_TERM_FLAGS
    if resting_short_term and book.total_filled == 0 and book.status == "OPEN":
        view["status"] = "BEST_EFFORT_OPENED"
    return view


class SocksFeed:
    """Turns the model's changes into socks messages (one listener per emulator)."""

    def __init__(self, state: ChainState, server: SocksServer) -> None:
        self.state = state
        self.server = server
        self._filled: dict[str, int] = {}

    def on_change(self, book: BookOrder, reason: str | None) -> None:
        view = _api_view(self.state, book)
        previous = self._filled.get(book.uuid, 0)
        fill_quantums = book.total_filled - previous
        self._filled[book.uuid] = book.total_filled
        contents: dict[str, Any] = {"blockHeight": str(self.state.height)}
        if fill_quantums > 0:
            contents["orders"] = [order_contents(view)]
            contents["fills"] = [self._fill(book, view, fill_quantums)]
        elif reason is not None:
            contents["orders"] = [order_contents(view, removalReason=REASON_PREFIX + reason)]
        elif book.live:  # a placement, or a conditional order triggered
            contents["orders"] = [order_contents(view)]
        else:
            return  # bookkeeping after a removal: the Indexer sends nothing
        owner, number = book.key[0], book.key[1]
        self.server.publish(SocksMessage(owner, number, contents))

    def _fill(self, book: BookOrder, view: dict[str, Any], quantums: int) -> dict[str, Any]:
        """FillSubaccountMessageContents (postgres/src/types/websocket-message-types.ts)."""
        market = book.market
        size = market.size_from_quantums(quantums)
        price = market.price_from_subticks(book.order.subticks)
        event = hashlib.sha256(f"{book.uuid}/{book.total_filled}".encode()).hexdigest()
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, event)),
            "subaccountId": view["subaccountId"],
            "side": view["side"],
            "liquidity": "MAKER",
            "type": "LIMIT",
            "clobPairId": view["clobPairId"],
            "orderId": book.uuid,
            "size": str(size),
            "price": str(price),
            "quoteAmount": str(size * price),
            "eventId": event[:32],
            "transactionHash": event[:64].upper(),
            "createdAt": view.get("updatedAt"),
            "createdAtHeight": str(self.state.height),
            "ticker": view["ticker"],
        }


def socks_snapshot(state: ChainState, address: str, number: int, parent: bool) -> dict[str, Any]:
    """subscription.ts getInitialResponseForSubaccountSubscription (and the parent one)."""
    from dydxctl.emulator.ws_api import parent_of

    def belongs(book: BookOrder) -> bool:
        owner, sub = book.key[0], book.key[1]
        return owner == address and (parent_of(sub) == number if parent else sub == number)

    orders = []
    recent = max(state.height - SNAPSHOT_BEST_EFFORT_CANCELED_BLOCKS, 1)
    for book in state.by_uuid.values():
        if not belongs(book):
            continue
        view = _api_view(state, book)
        if view["status"] in SNAPSHOT_STATUSES or (
            view["status"] == "BEST_EFFORT_CANCELED" and int(view.get("goodTilBlock") or 0) > recent
        ):
            orders.append(view)
    subaccount: dict[str, Any] = {
        "address": address, "equity": "0", "freeCollateral": "0",
        "openPerpetualPositions": {}, "assetPositions": {}, "marginEnabled": True,
        "updatedAtHeight": str(state.height),
    }  # fmt: skip
    if parent:
        subaccount.update(parentSubaccountNumber=number, childSubaccounts=[])
    else:
        subaccount["subaccountNumber"] = number
    return {"subaccount": subaccount, "orders": orders, "blockHeight": str(state.height)}
