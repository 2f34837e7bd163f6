"""Orders as the Indexer reports them → our store rows, for every kind of order.

What a cancel needs is only the OrderId (owner, subaccount number, client id, clob pair,
flags) and the good-til value; everything else (size, price, type) is kept for display and
never re-gridded with today's market, so an order placed before a grid change, a market
TWAP (flags 128, price "0") or an order with odd fields can still be cancelled. An object
that cannot give an OrderId raises MalformedOrder, which callers turn into a warning for
that one order. Field names: indexer/services/comlink/public/swagger.json `OrderResponseObject`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dydxctl import chain, logs
from dydxctl.durations import parse_time
from dydxctl.errors import BadInput, DydxctlError

if TYPE_CHECKING:
    from dydxctl.markets import Market
    from dydxctl.runtime import Runtime

log = logs.get("indexer_orders")
# The Indexer's order statuses (indexer/packages/postgres/src/types/order-types.ts
# OrderStatus + APIOrderStatus BEST_EFFORT_OPENED) → ours. Anything else (ERROR, a status
# added later) is UNKNOWN: never assumed to be resting on the book.
INDEXER_STATUS = {
    "OPEN": "OPEN",
    "BEST_EFFORT_OPENED": "OPEN",
    "UNTRIGGERED": "UNTRIGGERED",
    "FILLED": "FILLED",
    "CANCELED": "CANCELED",
    "BEST_EFFORT_CANCELED": "CANCEL_PENDING",
}
# Parent subaccounts are numbered 0..127 (protocol/x/subaccounts/types/constants.go
# MaxParentSubaccountNumber = 128 … isolated ones above): tried when only the Indexer's
# subaccountId (a uuid) names the subaccount.
PARENT_SUBACCOUNTS = 128
TIME_IN_FORCE_NAMES = frozenset({"GTT", "IOC", "FOK", "POST_ONLY"})


class MalformedOrder(ValueError):
    """An Indexer order object from which no OrderId (or good-til) can be rebuilt."""


def our_status(indexer_status: Any) -> str:
    return INDEXER_STATUS.get(str(indexer_status), "UNKNOWN")


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise MalformedOrder(
            f"field {name!r} is {'missing' if value is None else repr(value)}"
        ) from None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def subaccount_number(
    data: dict[str, Any], address: str, ids: tuple[int, int, int], hint: int | None,
    known: list[int] | None = None,
) -> int:  # fmt: skip
    """The subaccount number: the object's own, else the one whose uuid matches its
    subaccountId (or its order id), trying the query's number, the known ones, 0..127."""
    if data.get("subaccountNumber") not in (None, ""):
        return _int(data, "subaccountNumber")
    candidates = [n for n in (hint, *(known or [])) if n is not None]
    candidates += [n for n in range(PARENT_SUBACCOUNTS) if n not in candidates]
    sub_uuid, order_uuid = data.get("subaccountId"), data.get("id")
    client_id, clob_pair_id, flags = ids
    for number in candidates:
        if sub_uuid and chain.indexer_subaccount_uuid(address, number) == sub_uuid:
            return number
        if (
            not sub_uuid
            and order_uuid
            and order_uuid
            == chain.indexer_order_uuid(address, number, client_id, clob_pair_id, flags)
        ):
            return number
    raise MalformedOrder("no subaccountNumber, and its subaccountId is none of this wallet's")


def row_from_indexer(
    rt: Runtime, data: dict[str, Any], *, subaccount: int | None = None, remember: bool = True,
    markets: dict[str, Market | None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Rebuild an order's store row and OrderId from an Indexer order object
    (remember=False: nothing is written, not even the market cache — dry runs).
    `markets`: the markets already loaded for a listing, filled as it goes (one lookup
    per market, not per order)."""
    from dydxctl.orders import encode_order_id, make_order_id

    if not isinstance(data, dict):
        raise MalformedOrder(f"not an object: {type(data).__name__}")
    address = rt.wallet().address
    ids = (_int(data, "clientId"), _int(data, "clobPairId"), _int(data, "orderFlags"))
    client_id, clob_pair_id, flags = ids
    if flags not in chain.VALID_ORDER_FLAGS:
        raise MalformedOrder(f"orderFlags {flags} is not a flag a client can cancel")
    number = subaccount_number(data, address, ids, subaccount)
    if data.get("subaccountId") and data["subaccountId"] != chain.indexer_subaccount_uuid(
        address, number
    ):
        raise BadInput(
            f"Order {data.get('id')} belongs to another account than {address}.",
            "Only the owner's key can cancel an order; check DYDX_MNEMONIC.",
        )
    order_uuid = chain.indexer_order_uuid(address, number, client_id, clob_pair_id, flags)
    if data.get("id") and data["id"] != order_uuid:
        raise MalformedOrder(f"its id {data['id']} does not match its fields ({order_uuid})")
    gtb = data.get("goodTilBlock")
    gtbt_text = data.get("goodTilBlockTime")
    good_til_block = good_til_block_time = None
    if flags == chain.ORDER_FLAGS_SHORT_TERM:
        good_til_block = _int(data, "goodTilBlock") if gtb not in (None, "") else None
        if good_til_block is None:
            raise MalformedOrder("a short-term order without goodTilBlock")
    else:
        try:
            good_til_block_time = int(parse_time(str(gtbt_text)).timestamp())
        except (BadInput, ValueError):
            raise MalformedOrder(f"a stateful order with goodTilBlockTime {gtbt_text!r}") from None
    ticker = str(data.get("ticker") or _ticker_of(rt, clob_pair_id))
    size = _decimal(data.get("size")) or Decimal(0)
    price = _decimal(data.get("price")) or Decimal(0)  # a market TWAP says "0"
    trigger = _decimal(data.get("triggerPrice"))
    tif = str(data.get("timeInForce") or "GTT").upper()
    if data.get("postOnly") is True or str(data.get("postOnly")).lower() == "true":
        tif = "POST_ONLY"
    quantums, subticks, trigger_subticks = _raw_units(
        rt, ticker, size, price, trigger, remember=remember, markets=markets
    )
    return {
        "order_id": order_uuid,
        "chain_id": rt.settings.chain_id,
        "address": address,
        "subaccount_number": number,
        "client_id": client_id,
        "clob_pair_id": clob_pair_id,
        "order_flags": flags,
        "order_id_proto": encode_order_id(
            make_order_id(address, number, client_id, clob_pair_id, flags)
        ),
        "market": ticker,
        "side": "SELL" if str(data.get("side")).upper() == "SELL" else "BUY",
        "type": str(data.get("type") or ("TWAP" if flags == chain.ORDER_FLAGS_TWAP else "LIMIT")),
        "time_in_force": tif if tif in TIME_IN_FORCE_NAMES else "GTT",
        "reduce_only": str(data.get("reduceOnly")).lower() == "true",
        "quantums": quantums,
        "subticks": subticks,
        "size": str(size),
        "price": str(price),
        "good_til_block": good_til_block,
        "good_til_block_time": good_til_block_time,
        "trigger_price": str(trigger) if trigger is not None else None,
        "trigger_subticks": trigger_subticks,
        "client_metadata": _int(data, "clientMetadata") if data.get("clientMetadata") else 0,
        "status": our_status(data.get("status")),
        "source": "indexer",
    }


def rows_from_listing(
    rt: Runtime, listing: list[Any], subaccount: int, *, remember: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for each order of a /v4/orders listing, and one warning per object skipped."""
    rows, skipped = [], []
    markets: dict[str, Market | None] = {}
    for data in listing:
        try:
            rows.append(row_from_indexer(rt, data, subaccount=subaccount, remember=remember,
                                         markets=markets))  # fmt: skip
        except (MalformedOrder, BadInput) as exc:
            text = exc.message if isinstance(exc, DydxctlError) else str(exc)
            order_id = data.get("id") if isinstance(data, dict) else None
            log.warning("skipped Indexer order %s: %s", order_id, text)
            skipped.append(
                {"order_id": order_id, "market": "", "kind": "", "from": None,
                 "status": "SKIPPED", "detail": f"skipped: {text}"}
            )  # fmt: skip
    return rows, skipped


def _ticker_of(rt: Runtime, clob_pair_id: int) -> str:
    for ticker, market in rt.indexer().perpetual_markets().items():
        if str(market.get("clobPairId")) == str(clob_pair_id):
            return ticker
    return f"CLOB-{clob_pair_id}"


def _raw_units(
    rt: Runtime, ticker: str, size: Decimal, price: Decimal, trigger: Decimal | None,
    *, remember: bool = True, markets: dict[str, Market | None] | None = None,
) -> tuple[int, int, int | None]:  # fmt: skip
    """Quantums/subticks for display: today's scale, no grid check (a cancel needs none)."""
    from dydxctl.lifecycle import load_market

    if markets is not None and ticker in markets:
        market = markets[ticker]
    else:
        try:
            market = load_market(rt, ticker, store=rt.store() if remember else None)
        except DydxctlError:
            market = None
        if markets is not None:
            markets[ticker] = market
    if market is None:
        return 0, 0, None
    size_scale = Decimal(10) ** -market.atomic_resolution
    price_scale = market.price_from_subticks(1)  # price of one subtick

    def subticks(value: Decimal) -> int:
        return int(value / price_scale) if price_scale else 0

    return (
        int(size * size_scale),
        subticks(price),
        subticks(trigger) if trigger is not None else None,
    )
