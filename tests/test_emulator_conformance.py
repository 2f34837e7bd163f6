"""The emulator agrees with dYdX v9.6.1 and its Indexer where it used to disagree (issue 11).

Each test names the v4-chain source of the answer it asserts (paths under protocol/ or
indexer/ at tag protocol/v9.6.1).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from dydxctl import chain
from dydxctl.emulator import Emulator
from dydxctl.tx import batch_cancel_msg, sign_tx, timestamp_nonce
from tests.conftest import TEST_ADDRESS
from tests.test_emulator import WALLET, Chain, _sub, cancel, order, place, status_of

IOC, POST_ONLY, FOK = 1, 2, 3


@pytest.fixture
def net(emulator: Emulator) -> Any:
    client = Chain(emulator)
    yield client
    client.node.close()


def _uuid(client_id: int, flags: int = 0) -> str:
    return chain.indexer_order_uuid(TEST_ADDRESS, 0, client_id, 0, flags)


def _order_json(emu: Emulator, client_id: int, flags: int = 0) -> dict[str, Any]:
    with urllib.request.urlopen(f"{emu.indexer_url}/v4/orders/{_uuid(client_id, flags)}") as r:
        return json.load(r)


def _signed(net: Chain, *messages: Any, sequence: int = 0) -> Any:
    return sign_tx(
        WALLET,
        list(messages),
        chain_id=net.emu.state.chain_id,
        account_number=net.number,
        sequence=sequence,
    )


# --- version and window: x/clob/types/constants.go ------------------------------------------
def test_version_9_6_1_window_40_and_older_versions_window_20() -> None:
    with Emulator(block_time_s=0) as emu:
        assert emu.state.app_version == "v9.6.1" and emu.state.short_block_window == 40
    with Emulator(block_time_s=0, app_version="9.4.0") as emu:  # 20 until v9.5.0
        net = Chain(emu)
        assert net.send(place(order(1, gtb=22)))[1] == 0
        assert net.send(place(order(2, gtb=23))) == ("clob", 11)
        assert net.node.node_info()["app_version"] == "v9.4.0"
        net.node.close()


def test_ante_handler_order_sequence_before_signature_before_clob(net: Chain) -> None:
    # app/ante.go clobAnteHandle: sigVerification (sequence, then signature) runs before
    # the ClobDecorator's "short-term message must be alone" (sdk 18).
    assert net.send(place(order(1)), place(order(2)), chain_id="x") == ("sdk", 4)
    stateful = place(order(3, flags=64))
    assert net.send(stateful, sequence=5, chain_id="x") == ("sdk", 32)


# --- MsgPlaceOrder.ValidateBasic: types/message_place_order.go -------------------------------
def test_fill_or_kill_is_clob_48_before_anything_else(net: Chain) -> None:
    assert net.send(place(order(1, tif=FOK))) == ("clob", 48)
    # First check: even with zero quantums or a wrong chain id it is still 48.
    assert net.send(place(order(2, tif=FOK, quantums=0)), chain_id="x") == ("clob", 48)


def test_reduce_only_needs_ioc_clob_9003(net: Chain) -> None:
    assert net.send(place(order(1, reduce_only=True))) == ("clob", 9003)
    assert net.send(place(order(2, tif=POST_ONLY, reduce_only=True))) == ("clob", 9003)
    assert net.send(place(order(3, tif=IOC, reduce_only=True))) == ("", 0)


def test_trigger_on_non_conditional_is_6001_and_off_grid_trigger_is_12(net: Chain) -> None:
    assert net.send(place(order(1, conditional_order_trigger_subticks=100_000))) == ("clob", 6001)
    off_grid = order(
        2, flags=32, condition_type=1, conditional_order_trigger_subticks=4_800_000_001
    )
    assert net.send(place(off_grid)) == ("clob", 12)  # keeper/orders.go, SubticksPerTick


def test_order_router_and_builder_code_are_checked(net: Chain) -> None:
    from v4_proto.dydxprotocol.clob.order_pb2 import BuilderCodeParameters

    assert net.send(place(order(1, order_router_address="cosmos1xyz"))) == ("clob", 11000)
    assert net.send(place(order(2, order_router_address=TEST_ADDRESS))) == ("", 0)
    no_fee = BuilderCodeParameters(builder_address=TEST_ADDRESS, fee_ppm=0)
    assert net.send(place(order(3, builder_code_parameters=no_fee))) == ("clob", 50)
    fee = BuilderCodeParameters(builder_address=TEST_ADDRESS, fee_ppm=10_000)
    assert net.send(place(order(4, builder_code_parameters=fee))) == ("", 0)


# --- IOC never rests; the Indexer's two stores -------------------------------------------------
def test_ioc_remainder_never_rests_and_the_indexer_answers_404(net: Chain) -> None:
    assert net.send(place(order(1, tif=IOC))) == ("", 0)
    assert status_of(net.emu, 1) == "404"
    assert net.emu.state.open_order_count() == 0
    with pytest.raises(KeyError):
        net.emu.fill(_uuid(1))


def test_ioc_with_liquidity_fills_and_its_remainder_is_best_effort_canceled(net: Chain) -> None:
    net.emu.fill_next_ioc()
    assert net.send(place(order(1, tif=IOC))) == ("", 0)
    assert status_of(net.emu, 1) == "FILLED"
    _admin(net.emu, "/admin/ioc-fill", {"size": "0.0004"})
    assert net.send(place(order(2, tif=IOC))) == ("", 0)
    body = _order_json(net.emu, 2)
    assert (body["status"], body["totalFilled"], body["type"]) == (
        "BEST_EFFORT_CANCELED",
        "0.0004",
        "LIMIT",
    )
    assert net.send(place(order(2, tif=IOC, gtb=12))) == ("clob", 2004)  # filled once only
    assert net.emu.state.open_order_count() == 0


def test_unfilled_short_term_order_is_best_effort_opened_then_404(net: Chain) -> None:
    assert net.send(place(order(1, gtb=10))) == ("", 0)
    body = _order_json(net.emu, 1)
    assert (body["status"], body["type"], body["totalFilled"]) == (
        "BEST_EFFORT_OPENED",
        "LIMIT",
        "0",
    )
    assert "createdAtHeight" not in body and "updatedAt" not in body
    net.emu.advance(9)  # block 10 processed: expired
    assert status_of(net.emu, 1) == "404"


def test_partially_filled_short_term_order_has_a_postgres_row(net: Chain) -> None:
    # vulcan order-remove-handler.ts: user cancel → BEST_EFFORT_CANCELED, and it stays so.
    assert net.send(place(order(1, gtb=10))) == ("", 0)
    net.emu.fill(_uuid(1), size="0.0003")
    body = _order_json(net.emu, 1)
    assert (body["status"], body["totalFilled"]) == ("OPEN", "0.0003")
    assert body["createdAtHeight"] == "1"
    assert net.send(cancel(1, gtb=10)) == ("", 0)
    assert status_of(net.emu, 1) == "BEST_EFFORT_CANCELED"
    net.emu.advance(12)
    assert status_of(net.emu, 1) == "BEST_EFFORT_CANCELED"
    # roundtable remove-expired-orders.ts: an expired partially filled order → CANCELED.
    assert net.send(place(order(2, gtb=14))) == ("", 0)
    net.emu.fill(_uuid(2), quantums=1_000_000)
    net.emu.advance(1)
    assert status_of(net.emu, 2) == "CANCELED"


def test_fully_filled_short_term_order_is_filled_and_cannot_be_replaced(net: Chain) -> None:
    assert net.send(place(order(1, gtb=10))) == ("", 0)
    net.emu.fill(_uuid(1))
    assert status_of(net.emu, 1) == "FILLED"
    assert net.send(place(order(1, gtb=12))) == ("clob", 24)  # memclob validateNewOrder


def test_indexer_order_types_are_never_market(net: Chain) -> None:
    # ender dydx_protocol_convert_to_order_type.sql: LIMIT, STOP_LIMIT, TAKE_PROFIT, TWAP.
    assert net.send(place(order(1, gtb=10))) == ("", 0)
    stop = order(
        2, flags=32, condition_type=1, conditional_order_trigger_subticks=4_800_000_000, tif=IOC
    )
    take = order(3, flags=32, condition_type=2, conditional_order_trigger_subticks=5_200_000_000)
    assert net.send(place(stop)) == ("", 0) and net.send(place(take)) == ("", 0)
    net.emu.advance(1)
    assert _order_json(net.emu, 1)["type"] == "LIMIT"
    assert _order_json(net.emu, 2, 32)["type"] == "STOP_LIMIT"
    assert _order_json(net.emu, 3, 32)["type"] == "TAKE_PROFIT"


# --- CheckTx vs DeliverTx ----------------------------------------------------------------------
def test_stateful_place_is_in_state_and_indexer_only_after_its_block(net: Chain) -> None:
    signed = _signed(net, place(order(1, flags=64)), sequence=0)
    assert net.node.broadcast(signed.tx_bytes, signed.tx_hash).code == 0
    assert net.node.get_tx(signed.tx_hash) is None and status_of(net.emu, 1, 64) == "404"
    with pytest.raises(KeyError, match="advance first"):  # nothing to match before its block
        net.emu.fill(_uuid(1, 64))
    net.emu.advance(1)
    assert net.node.get_tx(signed.tx_hash).code == 0
    assert _order_json(net.emu, 1, 64)["createdAtHeight"] == "2"


def test_cancel_of_a_gone_stateful_order_is_3006_at_checktx_3010_in_deliver(net: Chain) -> None:
    gtbt = int(time.time()) + 3600
    assert net.send(place(order(1, flags=64, gtbt=gtbt))) == ("", 0)
    net.emu.advance(1)
    signed = _signed(net, cancel(1, flags=64, gtbt=gtbt), sequence=timestamp_nonce())
    assert net.node.broadcast(signed.tx_bytes, signed.tx_hash).code == 0  # CheckTx accepts
    net.emu.fill(_uuid(1, 64))  # removed in the block the cancel goes into
    net.emu.advance(1)
    result = net.node.get_tx(signed.tx_hash)
    assert (result.codespace, result.code) == ("clob", 3010)
    assert status_of(net.emu, 1, 64) == "FILLED"
    assert net.send(cancel(1, flags=64, gtbt=gtbt)) == ("clob", 3006)


def test_replace_of_a_stateful_order_removed_in_the_block_is_3009_in_deliver(net: Chain) -> None:
    assert net.send(place(order(1, flags=64))) == ("", 0)
    net.emu.advance(1)
    net.emu.fill(_uuid(1, 64))
    signed = _signed(net, place(order(1, flags=64)), sequence=timestamp_nonce())
    assert net.node.broadcast(signed.tx_bytes, signed.tx_hash).code == 0
    net.emu.advance(1)
    result = net.node.get_tx(signed.tx_hash)
    assert (result.codespace, result.code) == ("clob", 3009)


def test_fail_next_deliver_records_the_code_and_changes_nothing(net: Chain) -> None:
    net.emu.fail_next_deliver(codespace="clob", code=3007, log="undercollateralized")
    signed = _signed(net, place(order(1, flags=64)), sequence=0)
    assert net.node.broadcast(signed.tx_bytes, signed.tx_hash).code == 0
    net.emu.advance(1)
    result = net.node.get_tx(signed.tx_hash)
    assert (result.codespace, result.code) == ("clob", 3007)
    assert status_of(net.emu, 1, 64) == "404"
    assert net.send(cancel(1, flags=64, gtbt=int(time.time()) + 3600)) == ("clob", 3006)
    assert net.node.account(TEST_ADDRESS).sequence == 1  # the ante handler still ran


def test_drop_next_stateful_is_never_in_a_block(net: Chain) -> None:
    net.emu.drop_next_stateful()
    signed = _signed(net, place(order(1, flags=64)), sequence=0)
    assert net.node.broadcast(signed.tx_bytes, signed.tx_hash).code == 0
    net.emu.advance(3)
    assert net.node.get_tx(signed.tx_hash) is None and status_of(net.emu, 1, 64) == "404"
    assert net.node.account(TEST_ADDRESS).sequence == 0  # the check state was reset


def test_indexer_lag_delays_what_the_indexer_shows(net: Chain) -> None:
    net.emu.set_indexer_lag(2)
    assert net.send(place(order(1, flags=64))) == ("", 0)
    net.emu.advance(1)
    assert status_of(net.emu, 1, 64) == "404"
    net.emu.advance(2)
    assert status_of(net.emu, 1, 64) == "OPEN"
    with urllib.request.urlopen(f"{net.emu.indexer_url}/v4/height") as r:
        assert json.load(r)["height"] == str(net.emu.state.height - 2)
    net.emu.set_indexer_lag(0)


# --- mempool cache: CometBFT clist_mempool.go, KeepInvalidTxsInCache = true ----------------------
def test_the_same_bytes_twice_are_sdk_19_even_when_refused(net: Chain) -> None:
    good = _signed(net, place(order(1, gtb=10)))
    assert net.node.broadcast(good.tx_bytes, good.tx_hash).code == 0
    again = net.node.broadcast(good.tx_bytes, good.tx_hash)
    assert (again.codespace, again.code) == ("sdk", 19)
    bad = _signed(net, place(order(2, gtb=99)))
    assert net.node.broadcast(bad.tx_bytes, bad.tx_hash).code == 11
    net.emu.advance(1)
    again = net.node.broadcast(bad.tx_bytes, bad.tx_hash)
    assert (again.codespace, again.code) == ("sdk", 19)


# --- TWAP (flags 128, since v9.0.0) ---------------------------------------------------------------
def test_twap_orders_are_accepted_market_twap_has_price_zero(net: Chain) -> None:
    from v4_proto.dydxprotocol.clob.order_pb2 import TwapParameters

    twap = order(
        1,
        flags=128,
        subticks=0,
        twap_parameters=TwapParameters(duration=300, interval=30, price_tolerance=0),
    )
    assert net.send(place(twap)) == ("", 0)
    net.emu.advance(1)
    body = _order_json(net.emu, 1, 128)
    assert (body["type"], body["price"], body["status"]) == ("TWAP", "0", "OPEN")
    bad = order(2, flags=128, twap_parameters=TwapParameters(duration=301, interval=30))
    assert net.send(place(bad)) == ("clob", 12)
    with Emulator(block_time_s=0, app_version="8.2.0") as old:
        old_net = Chain(old)
        assert old_net.send(place(twap)) == ("clob", 3000)
        old_net.node.close()


# --- replacements and cancels ---------------------------------------------------------------------
def test_short_term_replacement_keeps_side_tif_reduce_only(net: Chain) -> None:
    # memclob.go validateReplacement: clob 20.
    assert net.send(place(order(1, gtb=10))) == ("", 0)
    flipped = order(1, gtb=11)
    flipped.side = 2
    assert net.send(place(flipped)) == ("clob", 20)
    assert net.send(place(order(1, gtb=11, tif=POST_ONLY))) == ("clob", 20)
    assert net.send(place(order(1, gtb=9))) == ("clob", 20)  # lower GTB
    assert net.send(place(order(1, gtb=11, quantums=20_000_000))) == ("", 0)
    assert _order_json(net.emu, 1)["size"] == "0.002"


def test_equal_gtb_replacement_is_decided_by_the_order_hash(net: Chain) -> None:
    # types/order.go MustCmpReplacementOrder: same GTB → compare SHA-256 of the order bytes.
    from dydxctl.emulator.memclob import order_hash

    first = order(1, gtb=10, quantums=10_000_000)
    candidates = [order(1, gtb=10, quantums=q * 1_000_000) for q in range(11, 30)]
    higher = next(c for c in candidates if order_hash(c) > order_hash(first))
    lower = next(c for c in candidates if order_hash(c) < order_hash(first))
    assert net.send(place(first)) == ("", 0)
    assert net.send(place(lower)) == ("clob", 20)
    assert net.send(place(higher)) == ("", 0)


def test_second_stateful_cancel_is_32_before_29(net: Chain) -> None:
    gtbt = int(time.time()) + 3600
    assert net.send(place(order(1, flags=64, gtbt=gtbt))) == ("", 0)
    assert net.send(cancel(1, flags=64, gtbt=gtbt)) == ("", 0)
    assert net.send(cancel(1, flags=64, gtbt=gtbt - 10)) == ("clob", 32)


def test_batch_cancel_with_gtb_0_is_clob_10(net: Chain) -> None:
    assert net.send(batch_cancel_msg(_sub(), {0: [1]}, 0)) == ("clob", 10)


def test_timeout_height_rule_is_for_short_term_places_only(net: Chain) -> None:
    # x/clob/ante/clob.go HOTFIX: only MsgPlaceOrder; a cancel with timeout < GTB passes.
    assert net.send(place(order(1, gtb=10)), timeout_height=5) == ("sdk", 18)
    assert net.send(cancel(1, gtb=10), timeout_height=5) == ("", 0)


# --- oracle prices and triggers: x/clob/types/order.go CanTrigger ---------------------------
def test_oracle_price_triggers_conditional_orders(net: Chain) -> None:
    stop_buy = order(
        1, flags=32, condition_type=1, conditional_order_trigger_subticks=5_100_000_000
    )
    take_buy = order(
        2, flags=32, condition_type=2, conditional_order_trigger_subticks=4_900_000_000
    )
    assert net.send(place(stop_buy)) == ("", 0) and net.send(place(take_buy)) == ("", 0)
    net.emu.advance(1)
    assert net.emu.set_oracle_price("BTC-USD", "50500") == []
    assert net.emu.set_oracle_price("BTC-USD", "51000") == [_uuid(1, 32)]  # stop buy: ≥
    request = urllib.request.Request(
        f"{net.emu.indexer_url}/admin/oracle",
        method="POST",
        data=json.dumps({"market": "BTC-USD", "price": "4900"}).encode(),
    )
    with urllib.request.urlopen(request) as r:
        assert json.load(r)["triggered"] == [_uuid(2, 32)]  # take-profit buy: ≤
    assert status_of(net.emu, 1, 32) == status_of(net.emu, 2, 32) == "OPEN"


# --- block rate limits: x/clob/rate_limit, testing/genesis.sh ------------------------------------
def test_rate_limits_are_off_by_default(net: Chain) -> None:
    for i in range(3):
        assert net.send(place(order(i + 1, flags=64))) == ("", 0)


def test_rate_limits_stateful_two_per_block_cancels_free() -> None:
    import grpc
    from v4_proto.dydxprotocol.clob import query_pb2, query_pb2_grpc

    with Emulator(block_time_s=0, rate_limits=True) as emu:
        with grpc.insecure_channel(emu.grpc_target) as channel:
            query = query_pb2_grpc.QueryStub(channel).BlockRateLimitConfiguration
            config = query(
                query_pb2.QueryBlockRateLimitConfigurationRequest()
            ).block_rate_limit_config
        assert [(r.num_blocks, r.limit) for r in config.max_stateful_orders_per_n_blocks] == [
            (1, 2),
            (100, 20),
        ]
        net = Chain(emu)
        gtbt = int(time.time()) + 3600
        assert net.send(place(order(1, flags=64, gtbt=gtbt))) == ("", 0)
        assert net.send(place(order(2, flags=64))) == ("", 0)
        assert net.send(place(order(3, flags=64))) == ("clob", 5001)
        assert net.send(cancel(1, flags=64, gtbt=gtbt)) == ("", 0)  # not limited
        emu.advance(1)
        assert net.send(place(order(3, flags=64))) == ("", 0)
        net.node.close()


def test_rate_limits_batch_cancel_weighs_two() -> None:
    with Emulator(block_time_s=0, rate_limits={"short_term": [(1, 3)]}) as emu:
        net = Chain(emu)
        assert net.send(place(order(1, gtb=10))) == ("", 0)  # 1
        assert net.send(batch_cancel_msg(_sub(), {0: [1]}, 10)) == ("", 0)  # 3
        assert net.send(cancel(2, gtb=10)) == ("clob", 5001)  # 4 > 3
        emu.advance(1)
        assert net.send(cancel(2, gtb=10), sequence=1) == ("", 0)
        net.node.close()


def _admin(emu: Emulator, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{emu.indexer_url}{path}", method="POST", data=json.dumps(body).encode()
    )
    with urllib.request.urlopen(request) as r:
        return json.load(r)


def test_admin_deliver_fault_drop_and_lag_over_http(net: Chain) -> None:
    _admin(net.emu, "/admin/deliver-fault", {"codespace": "clob", "code": 3009})
    failed = _signed(net, place(order(1, flags=64)), sequence=timestamp_nonce())
    assert net.node.broadcast(failed.tx_bytes, failed.tx_hash).code == 0
    _admin(net.emu, "/admin/drop", {})
    dropped = _signed(net, place(order(2, flags=64)), sequence=timestamp_nonce())
    assert net.node.broadcast(dropped.tx_bytes, dropped.tx_hash).code == 0
    _admin(net.emu, "/admin/indexer-lag", {"blocks": 1})
    assert net.send(place(order(3, flags=64))) == ("", 0)
    _admin(net.emu, "/admin/advance", {"blocks": 1})
    result = net.node.get_tx(failed.tx_hash)
    assert (result.codespace, result.code) == ("clob", 3009)
    assert net.node.get_tx(dropped.tx_hash) is None
    assert status_of(net.emu, 3, 64) == "404"  # one block behind
    _admin(net.emu, "/admin/advance", {"blocks": 1})
    assert status_of(net.emu, 3, 64) == "OPEN"
    with pytest.raises(urllib.error.HTTPError) as refused:
        _admin(net.emu, "/admin/indexer-lag", {})
    assert refused.value.code == 400
