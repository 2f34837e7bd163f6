"""Order kinds, good-til rules, OrderId bytes, Indexer UUIDs, and the official byte vectors."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from dydxctl import chain
from dydxctl.errors import BadInput
from dydxctl.markets import Market
from dydxctl.orders import (
    OrderRequest,
    build_order,
    decode_order_id,
    encode_order_id,
    indexer_uuid_of,
    kind_flags,
    make_order_id,
    plan_order,
)
from dydxctl.tx import cancel_order_msg, place_order_msg
from tests.conftest import TEST_ADDRESS

BTC = Market("BTC-USD", 0, -10, -9, 1_000_000, 100_000, Decimal("65000"))
NOW = 1_800_000_000

# v4-client-py-v2 tests/test_v4_proto.py: MsgPlaceOrder / MsgCancelOrder bytes for a
# long-term order of TEST_ADDRESS with GTBT 1717148681. The bytes carry no clob_pair_id
# field (so clob pair 0), though that test's ORDER_ID names 127: we match the bytes.
SERIALIZED_PLACE_ORDER = (
    b"\nH\n1\n-\n+dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art\x18@\x10\x01\x18\x80\xad\xe2\x04"
    b" \x80\xa0\xbe\x81\x95\x015\t\x9cYfH\x02"
)
SERIALIZED_CANCEL_ORDER = b"\n1\n-\n+dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art\x18@\x1d\t\x9cYf"


def test_official_cancel_order_bytes() -> None:
    oid = make_order_id(TEST_ADDRESS, 0, 0, 0, 64)
    msg = cancel_order_msg(oid, good_til_block_time=1717148681)
    assert msg.type_url == "/dydxprotocol.clob.MsgCancelOrder"
    assert msg.value == SERIALIZED_CANCEL_ORDER


def test_official_place_order_bytes() -> None:
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    oid = make_order_id(TEST_ADDRESS, 0, 0, 0, 64)
    order = Order(
        order_id=oid, side=1, quantums=10_000_000, subticks=40_000_000_000,
        good_til_block_time=1717148681, time_in_force=0, reduce_only=False, client_metadata=2,
    )  # fmt: skip
    assert place_order_msg(order).value == SERIALIZED_PLACE_ORDER


def test_indexer_subaccount_uuid_known_example() -> None:
    # indexer/packages/postgres/src/constants.ts (defaultSubaccountId)
    assert (
        chain.indexer_subaccount_uuid("dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r", 0)
        == "c7169f81-0c80-54c5-a41f-9cbb6a538fdf"
    )


def test_indexer_order_uuid_follows_order_table() -> None:
    import uuid

    sub = "c7169f81-0c80-54c5-a41f-9cbb6a538fdf"
    expected = uuid.uuid5(chain.INDEXER_UUID_NAMESPACE, f"{sub}-7-0-64")
    oid = make_order_id("dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r", 0, 7, 0, 64)
    assert indexer_uuid_of(oid) == str(expected)


@pytest.mark.parametrize("flags", [0, 32, 64])
def test_order_id_base64_round_trip(flags: int) -> None:
    oid = make_order_id(TEST_ADDRESS, 3, 2**32 - 1, 1, flags)
    again = decode_order_id(encode_order_id(oid))
    assert again == oid and again.order_flags == flags and again.client_id == 2**32 - 1


def test_bad_order_id_bytes() -> None:
    with pytest.raises(BadInput):
        decode_order_id("not base64!!")


@pytest.mark.parametrize(
    ("kwargs", "flags", "tif", "type_name"),
    [
        ({"type": "limit"}, 64, "GTT", "LIMIT"),
        ({"type": "limit", "good_til_blocks": 5}, 0, "GTT", "LIMIT"),
        ({"type": "limit", "good_til_blocks": 5, "time_in_force": "ioc"}, 0, "IOC", "LIMIT"),
        ({"type": "limit", "time_in_force": "post-only"}, 64, "POST_ONLY", "LIMIT"),
        ({"type": "market"}, 0, "IOC", "MARKET"),
        ({"type": "stop-limit", "trigger_price": Decimal("48000")}, 32, "GTT", "STOP_LIMIT"),
        ({"type": "stop-market", "trigger_price": Decimal("48000")}, 32, "IOC", "STOP_MARKET"),
        (
            {"type": "take-profit-limit", "trigger_price": Decimal("52000")},
            32,
            "GTT",
            "TAKE_PROFIT",
        ),
        (
            {"type": "take-profit-market", "trigger_price": Decimal("52000")},
            32,
            "IOC",
            "TAKE_PROFIT_MARKET",
        ),
    ],
)
def test_six_types_get_their_flags(kwargs: dict, flags: int, tif: str, type_name: str) -> None:
    request = OrderRequest(market="BTC-USD", side="buy", size=Decimal("0.001"),
                           price=Decimal("50000"), **kwargs)  # fmt: skip
    assert kind_flags(request) == flags
    plan = plan_order(request, BTC, latest_height=100, now_unix=NOW)
    assert (plan.order_flags, plan.time_in_force, plan.type.name) == (flags, tif, type_name)
    order = build_order(plan, make_order_id(TEST_ADDRESS, 0, 1, 0, flags))
    if flags == 0:
        assert order.good_til_block == 100 + (kwargs.get("good_til_blocks") or 20)
        assert order.WhichOneof("good_til_oneof") == "good_til_block"
    else:
        assert order.good_til_block_time == NOW + 28 * 86400
        assert order.WhichOneof("good_til_oneof") == "good_til_block_time"
    if flags == 32:
        assert order.condition_type in (1, 2) and order.conditional_order_trigger_subticks > 0
    else:
        assert order.condition_type == 0


def test_market_order_protective_price_from_oracle() -> None:
    buy = plan_order(OrderRequest("BTC-USD", "buy", Decimal("0.001"), type="market"), BTC,
                     latest_height=1, now_unix=NOW)  # fmt: skip
    sell = plan_order(OrderRequest("BTC-USD", "sell", Decimal("0.001"), type="market"), BTC,
                      latest_height=1, now_unix=NOW)  # fmt: skip
    assert buy.price == Decimal("68250") and sell.price == Decimal("61750")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"side": "long"}, "Unknown side"),
        ({"type": "iceberg"}, "Unknown order type"),
        ({"time_in_force": "gtc"}, "Unknown time in force"),
        ({"good_til_blocks": 0}, "between 1 and 20"),
        ({"good_til_blocks": 21}, "between 1 and 20"),
        ({"good_til": "-5m"}, "not an ISO-8601 time"),
        ({"good_til": "96d"}, "more than 95 days"),
        ({"good_til": "2001-01-01T00:00:00Z"}, "in the past"),
        ({"good_til": "1h", "good_til_blocks": 3}, "not both"),
        ({"type": "stop-limit"}, "needs --trigger-price"),
        ({"trigger_price": Decimal("1")}, "only applies"),
        ({"time_in_force": "ioc"}, "cannot be ioc"),
        ({"time_in_force": "fok", "good_til_blocks": 5}, "clob 48"),
        ({"type": "market", "time_in_force": "fok"}, "clob 48"),
        ({"reduce_only": True, "good_til_blocks": 5}, "clob 9003"),
        ({"reduce_only": True}, "clob 9003"),
        ({"type": "market", "good_til": "1h"}, "takes --good-til-blocks"),
        ({"type": "stop-limit", "trigger_price": Decimal("1"), "good_til_blocks": 3}, "stateful"),
        ({"type": "market", "time_in_force": "gtt"}, "its time in force is ioc"),
        ({"client_id": 2**32}, "--client-id"),
        ({"price": None}, "needs --price"),
    ],
)
def test_plan_refusals(kwargs: dict, fragment: str) -> None:
    base = {"market": "BTC-USD", "side": "buy", "size": Decimal("0.001"), "price": Decimal("50000")}
    with pytest.raises(BadInput, match=fragment):
        plan_order(OrderRequest(**{**base, **kwargs}), BTC, latest_height=10, now_unix=NOW)


def test_iso_good_til() -> None:
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 3600))
    request = OrderRequest("BTC-USD", "sell", Decimal("0.001"), price=Decimal("1"), good_til=future)
    plan = plan_order(request, BTC, latest_height=None, now_unix=NOW)
    assert plan.good_til_block_time == NOW + 3600


def test_short_term_cancel_good_til_block_rule() -> None:
    # max(order GTB, latest+1) while live; None once latest ≥ GTB.
    assert chain.short_term_cancel_good_til_block(120, 100) == 120
    assert chain.short_term_cancel_good_til_block(120, 119) == 120
    assert chain.short_term_cancel_good_til_block(120, 120) is None
    assert chain.good_til_block_bounds(100) == (101, 121)


def test_short_block_window_by_version() -> None:
    assert chain.short_block_window_for("v9.4.2") == 20
    assert chain.short_block_window_for("v9.5.0") == 40
    assert chain.short_block_window_for("v9.6.1") == 40
    assert chain.short_block_window_for("v5.0.0") == 20
    assert chain.short_block_window_for("garbage") == 20
