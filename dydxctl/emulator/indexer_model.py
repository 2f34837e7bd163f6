"""The Indexer as its two stores, fed by the chain's events and merged as comlink merges them.

- Redis (vulcan `handlers/order-place-handler.ts`): every order resting on a book. An
  unfilled short-term order lives ONLY here; when it is removed without a fill (user
  cancel, expiry, IOC remainder — `order-remove-handler.ts`) it is deleted and the REST API
  answers 404.
- Postgres (ender): stateful orders from their block on (OPEN, UNTRIGGERED for conditional
  orders), and short-term orders once they have a fill. Removal statuses
  (`order-remove-handler.ts` orderRemovalStatusToOrderStatus): user cancel of a short-term
  order → BEST_EFFORT_CANCELED (it stays so), expiry → CANCELED (roundtable
  `remove-expired-orders.ts`), a stateful cancel → CANCELED, fully filled → FILLED.
- comlink `request-helpers/request-transformer.ts` postgresAndRedisOrderToResponseObject:
  a Postgres row wins (with Redis' size/price/TIF when both exist); a Redis-only order is
  BEST_EFFORT_OPENED, type LIMIT, totalFilled 0, and has no createdAtHeight / updatedAt /
  updatedAtHeight / triggerPrice fields at all.

Events reach the stores `lag_blocks` blocks after they happen on the chain
(`Emulator.set_indexer_lag`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dydxctl.emulator import rules
from dydxctl.emulator.markets import Market, iso_ms


@dataclass
class PostgresOrder:
    order: Any  # dydxprotocol.clob.Order
    status: str
    total_filled: int
    created_height: int
    updated_height: int
    updated_at: float


def order_key(order_id: Any) -> tuple[str, int, int, int, int]:
    """The chain's identity of an order: (owner, subaccount number, client id, clob pair, flags)."""
    sub = order_id.subaccount_id
    return (sub.owner, sub.number, order_id.client_id, order_id.clob_pair_id, order_id.order_flags)


def uuid_of(order_id: Any) -> str:
    return rules.order_uuid(*order_key(order_id))


class IndexerModel:
    def __init__(self, markets: dict[int, Market]) -> None:
        self.markets = markets
        self.redis: dict[str, Any] = {}  # uuid → Order resting on a book
        self.postgres: dict[str, PostgresOrder] = {}
        self.lag_blocks = 0
        self.height = 1  # the last block the Indexer has processed
        self.block_time = 0.0
        self._queue: list[tuple[int, Callable[[], None]]] = []
        # socks: called with each to-websockets-subaccounts message (ws_api.SocksMessage)
        self.socks_listeners: list[Callable[[Any], None]] = []

    # --- the feed ------------------------------------------------------------------------
    def emit(self, chain_height: int, event: Callable[[], None]) -> None:
        """Queue an effect of something that happened at `chain_height`."""
        self._queue.append((chain_height, event))

    def catch_up(self, chain_height: int, chain_time: float) -> None:
        """Apply every event at least `lag_blocks` old."""
        ready = chain_height - self.lag_blocks
        while self._queue and self._queue[0][0] <= ready:
            _, event = self._queue.pop(0)
            event()
        if ready >= self.height:
            self.height, self.block_time = max(ready, 1), chain_time

    def flush(self) -> None:
        while self._queue:
            self._queue.pop(0)[1]()

    # --- effects (called through emit) ---------------------------------------------------
    def announce(self, order: Any, status: str, **detail: Any) -> None:
        """vulcan/ender: tell the websocket about an order change (socks_feed.py)."""
        if self.socks_listeners:
            from dydxctl.emulator.socks_feed import announcement

            message = announcement(self, order, status, **detail)
            for listener in self.socks_listeners:
                listener(message)

    def redis_put(self, order: Any) -> None:
        self.redis[uuid_of(order.order_id)] = order

    def redis_delete(self, order_id: Any) -> None:
        self.redis.pop(uuid_of(order_id), None)

    def postgres_put(
        self, order: Any, status: str, total_filled: int, height: int, at: float
    ) -> None:
        """ender: create the row (stateful placement, first fill) or update it."""
        uuid = uuid_of(order.order_id)
        row = self.postgres.get(uuid)
        if row is None:
            self.postgres[uuid] = PostgresOrder(order, status, total_filled, height, height, at)
            return
        row.order, row.status, row.total_filled = order, status, total_filled
        row.updated_height, row.updated_at = height, at

    def postgres_status(
        self,
        order_id: Any,
        status: str,
        height: int,
        at: float,
        *,
        keep: frozenset[str] = frozenset(),
    ) -> None:
        """Set the status of an existing row (none: nothing to do), unless it is in `keep`."""
        row = self.postgres.get(uuid_of(order_id))
        if row is None or row.status in keep:
            return
        row.status, row.updated_height, row.updated_at = status, height, at

    # --- the REST view (comlink) ---------------------------------------------------------
    def get(self, uuid: str) -> dict[str, Any] | None:
        row, resting = self.postgres.get(uuid), self.redis.get(uuid)
        if row is not None:
            return self._merged(row, resting)
        if resting is not None:
            return self._redis_only(resting)
        return None

    def list(self, owner: str, number: int) -> list[dict[str, Any]]:
        found = []
        for uuid in set(self.postgres) | set(self.redis):
            source = self.postgres[uuid].order if uuid in self.postgres else self.redis[uuid]
            sub = source.order_id.subaccount_id
            if sub.owner == owner and sub.number == number:
                found.append(self.get(uuid))
        return [f for f in found if f is not None]

    def _common(self, order: Any) -> dict[str, Any]:
        oid = order.order_id
        market = self.markets[oid.clob_pair_id]
        flags = oid.order_flags
        subticks = order.subticks
        return {
            "id": uuid_of(oid),
            "subaccountId": rules.subaccount_uuid(
                oid.subaccount_id.owner, oid.subaccount_id.number
            ),
            "clientId": str(oid.client_id),
            "clobPairId": str(oid.clob_pair_id),
            "side": "BUY" if order.side == rules.SIDE_BUY else "SELL",
            "size": str(market.size(order.quantums)),
            "price": str(market.price(subticks)),
            "timeInForce": rules.INDEXER_TIF.get(order.time_in_force, "GTT"),
            "postOnly": order.time_in_force == rules.TIF_POST_ONLY,
            "reduceOnly": order.reduce_only,
            "orderFlags": str(flags),
            "goodTilBlock": str(order.good_til_block) if flags == rules.FLAGS_SHORT_TERM else None,
            "goodTilBlockTime": (
                iso_ms(order.good_til_block_time) if flags != rules.FLAGS_SHORT_TERM else None
            ),
            "clientMetadata": str(order.client_metadata),
            "ticker": market.ticker,
            "subaccountNumber": oid.subaccount_id.number,
        }

    def _redis_only(self, order: Any) -> dict[str, Any]:
        """request-transformer.ts redisOrderToResponseObject."""
        return {
            **self._common(order),
            "totalFilled": "0",
            "type": "LIMIT",
            "status": "BEST_EFFORT_OPENED",
        }

    def _merged(self, row: PostgresOrder, resting: Any | None) -> dict[str, Any]:
        order = row.order
        market = self.markets[order.order_id.clob_pair_id]
        conditional = order.order_id.order_flags == rules.FLAGS_CONDITIONAL
        body = self._common(order)
        body.update(
            {
                "totalFilled": str(market.size(row.total_filled)),
                "type": rules.indexer_order_type(order.order_id.order_flags, order.condition_type),
                "status": row.status,
                "createdAtHeight": str(row.created_height),
                "triggerPrice": (
                    str(market.price(order.conditional_order_trigger_subticks))
                    if conditional
                    else None
                ),
                "updatedAt": iso_ms(row.updated_at),
                "updatedAtHeight": str(row.updated_height),
            }
        )
        if resting is not None:  # Redis holds the latest replacement's terms
            fresh = self._common(resting)
            for name in (
                "size",
                "price",
                "goodTilBlock",
                "goodTilBlockTime",
                "timeInForce",
                "postOnly",
                "reduceOnly",
            ):
                body[name] = fresh[name]
        return body
