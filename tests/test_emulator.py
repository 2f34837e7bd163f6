"""The emulator answers as the chain does: each rule with its codespace and code."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from dydxctl import chain
from dydxctl.emulator import Emulator
from dydxctl.node import NodeClient
from dydxctl.orders import make_order_id
from dydxctl.tx import (
    batch_cancel_msg,
    cancel_order_msg,
    place_order_msg,
    sign_tx,
    timestamp_nonce,
)
from dydxctl.wallet import Wallet
from tests.conftest import TEST_ADDRESS, TEST_MNEMONIC

WALLET = Wallet.from_mnemonic(TEST_MNEMONIC)
OTHER = Wallet(bytes.fromhex("11" * 32))


class Chain:
    """Signs and broadcasts raw messages to an emulator through the real node client."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.node = NodeClient(emu.grpc_target, timeout_s=5)
        self.number = self.node.account(TEST_ADDRESS).account_number

    def send(self, *messages: Any, wallet: Wallet = WALLET, sequence: int | None = None,
             chain_id: str | None = None, number: int | None = None,
             timeout_height: int = 0) -> tuple[str, int]:  # fmt: skip
        if sequence is None:  # short-term: any; stateful: a fresh timestamp nonce
            sequence = 0 if self._short_term(messages) else timestamp_nonce()
        signed = sign_tx(
            wallet, list(messages), chain_id=chain_id or self.emu.state.chain_id,
            account_number=self.number if number is None else number, sequence=sequence,
            timeout_height=timeout_height,
        )  # fmt: skip
        result = self.node.broadcast(signed.tx_bytes, signed.tx_hash)
        return result.codespace, result.code

    @staticmethod
    def _short_term(messages: tuple) -> bool:
        from v4_proto.dydxprotocol.clob import tx_pb2

        from dydxctl.emulator.txcodec import is_short_term_msg
        from dydxctl.tx import MESSAGE_TYPES

        for m in messages:
            name = MESSAGE_TYPES.get(m.type_url)
            if name is None or not is_short_term_msg(
                m.type_url, getattr(tx_pb2, name).FromString(m.value)
            ):
                return False
        return True

    def height(self) -> int:
        return self.emu.state.height


@pytest.fixture
def net(emulator: Emulator) -> Chain:
    client = Chain(emulator)
    yield client
    client.node.close()


def order(client_id: int = 1, *, flags: int = 0, gtb: int | None = None, gtbt: int | None = None,
          clob: int = 0, quantums: int = 10_000_000, subticks: int = 5_000_000_000,
          tif: int = 0, owner: str = TEST_ADDRESS, **extra: Any) -> Any:  # fmt: skip
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    o = Order(order_id=make_order_id(owner, 0, client_id, clob, flags), side=1,
              quantums=quantums, subticks=subticks, time_in_force=tif, **extra)  # fmt: skip
    if flags == 0:
        o.good_til_block = gtb if gtb is not None else 10
    else:
        o.good_til_block_time = gtbt if gtbt is not None else int(time.time()) + 3600
    return o


def place(o: Any) -> Any:
    return place_order_msg(o)


def cancel(client_id: int, *, flags: int = 0, gtb: int | None = None, gtbt: int | None = None,
           clob: int = 0) -> Any:  # fmt: skip
    oid = make_order_id(TEST_ADDRESS, 0, client_id, clob, flags)
    if flags == 0:
        return cancel_order_msg(oid, good_til_block=gtb)
    return cancel_order_msg(oid, good_til_block_time=gtbt)


def status_of(emu: Emulator, client_id: int, flags: int = 0, clob: int = 0) -> str:
    """The Indexer's status of an order; "404" when the Indexer does not know it."""
    uuid = chain.indexer_order_uuid(TEST_ADDRESS, 0, client_id, clob, flags)
    try:
        with urllib.request.urlopen(f"{emu.indexer_url}/v4/orders/{uuid}") as r:
            return json.load(r)["status"]
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return "404"


# --- transaction-level rules -----------------------------------------------------------
def test_accepts_a_valid_short_term_order(net: Chain) -> None:
    assert net.send(place(order(1))) == ("", 0)
    assert status_of(net.emu, 1) == "BEST_EFFORT_OPENED"  # Redis only


def test_malformed_tx_bytes_are_sdk_2(net: Chain) -> None:
    result = net.node.broadcast(b"\x01\x02garbage", "X")
    assert (result.codespace, result.code) == ("sdk", 2)


def test_unknown_message_type_is_sdk_2(net: Chain) -> None:
    from dydxctl.tx import pack

    msg = pack(make_order_id(TEST_ADDRESS, 0, 1, 0, 0), "/cosmos.bank.v1beta1.MsgSend")
    assert net.send(msg, sequence=0) == ("sdk", 2)


def test_wrong_chain_id_is_sdk_4(net: Chain) -> None:
    assert net.send(place(order(1)), chain_id="dydx-mainnet-1") == ("sdk", 4)


def test_wrong_account_number_is_sdk_4(net: Chain) -> None:
    assert net.send(place(order(1)), number=net.number + 1) == ("sdk", 4)


def test_signer_must_own_the_subaccount(net: Chain) -> None:
    net.node.account(OTHER.address)
    # x/auth/ante SetPubKeyDecorator: the key must be the signer's (the owner's): sdk 8.
    assert net.send(place(order(1)), wallet=OTHER) == ("sdk", 8)


def test_unknown_account_is_sdk_9(net: Chain) -> None:
    net.emu.state.require_existing_accounts = True
    stranger = Wallet(bytes.fromhex("22" * 32))
    msg = place(order(1, owner=stranger.address))
    assert net.send(msg, wallet=stranger, number=99, sequence=0) == ("sdk", 9)


def test_short_term_messages_must_be_alone(net: Chain) -> None:
    assert net.send(place(order(1)), place(order(2)), sequence=0) == ("sdk", 18)


def test_timeout_height_below_gtb_is_sdk_18(net: Chain) -> None:
    assert net.send(place(order(1, gtb=10)), timeout_height=5) == ("sdk", 18)


def test_short_term_skips_sequence_and_does_not_bump_it(net: Chain) -> None:
    assert net.send(place(order(1)), sequence=987654) == ("", 0)
    assert net.node.account(TEST_ADDRESS).sequence == 0


def test_stateful_sequence_is_checked_and_bumped(net: Chain) -> None:
    assert net.send(place(order(1, flags=64)), sequence=5) == ("sdk", 32)
    assert net.send(place(order(1, flags=64)), sequence=0) == ("", 0)
    # CheckTx moved the check state's sequence; the committed one moves in the block.
    assert net.send(place(order(2, flags=64)), sequence=0) == ("sdk", 32)  # stale
    assert net.node.account(TEST_ADDRESS).sequence == 0
    net.emu.advance(1)
    assert net.node.account(TEST_ADDRESS).sequence == 1


def test_timestamp_nonce_accepted_once(net: Chain) -> None:
    net.emu.advance(1)
    nonce = int(time.time() * 1000)
    assert net.send(place(order(1, flags=64)), sequence=nonce) == ("", 0)
    assert net.send(place(order(2, flags=64)), sequence=nonce) == ("sdk", 32)  # reused
    assert net.send(place(order(3, flags=64)), sequence=nonce - 120_000) == ("sdk", 32)
    assert net.send(place(order(4, flags=64)), sequence=nonce + 120_000) == ("sdk", 32)
    assert net.node.account(TEST_ADDRESS).sequence == 0  # nonces leave the sequence alone


# --- short-term good_til_block window -------------------------------------------------
@pytest.mark.parametrize(("gtb", "code"), [(0, 5), (1, 10), (2, 0), (42, 0), (43, 11)])
def test_good_til_block_window(net: Chain, gtb: int, code: int) -> None:
    # At height 1: latest+1 = 2 ≤ GTB ≤ 2 + ShortBlockWindow (40 since v9.5.0).
    assert net.send(place(order(1, gtb=gtb)))[1] == code


# --- stateful good_til_block_time window ----------------------------------------------
def test_good_til_block_time_window(net: Chain) -> None:
    now = int(net.emu.state.block_time)
    assert net.send(place(order(1, flags=64, gtbt=now - 1)))[1] == 3003
    assert net.send(place(order(1, flags=64, gtbt=now + 96 * 86400)))[1] == 3004
    assert net.send(place(order(1, flags=64, gtbt=now + 95 * 86400)))[1] == 0


def test_long_term_ioc_is_3002(net: Chain) -> None:
    assert net.send(place(order(1, flags=64, tif=chain.TIME_IN_FORCE_IOC)))[1] == 3002


def test_duplicate_stateful_order_is_3005(net: Chain) -> None:
    assert net.send(place(order(1, flags=64)))[1] == 0
    assert net.send(place(order(1, flags=64)))[1] == 3005


def test_conditional_needs_condition_and_trigger(net: Chain) -> None:
    assert net.send(place(order(1, flags=32)))[1] == 6000
    assert net.send(place(order(1, flags=32, condition_type=1)))[1] == 6001
    good = order(1, flags=32, condition_type=1, conditional_order_trigger_subticks=4_800_000_000)
    assert net.send(place(good))[1] == 0
    assert status_of(net.emu, 1, 32) == "404"  # not before its block
    net.emu.advance(1)
    assert status_of(net.emu, 1, 32) == "UNTRIGGERED"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"clob": 99}, 8),
        ({"quantums": 10_000_001}, 12),  # off BTC's step (1_000_000)
        ({"subticks": 5_000_000_001}, 12),  # off BTC's tick (100_000)
        ({"quantums": 0}, 4),
        ({"subticks": 0}, 6),
        ({"flags": 8}, 3000),
    ],
)
def test_order_validation(net: Chain, kwargs: dict, code: int) -> None:
    assert net.send(place(order(1, **kwargs)), sequence=0)[1] == code


# --- cancels ---------------------------------------------------------------------------
def test_short_term_cancel_semantics(net: Chain) -> None:
    assert net.send(place(order(1, gtb=15)))[1] == 0
    # A cancel with GTB below the order's leaves it resting, and says nothing.
    assert net.send(cancel(1, gtb=10))[1] == 0
    assert status_of(net.emu, 1) == "BEST_EFFORT_OPENED"
    assert net.send(cancel(1, gtb=15))[1] == 0
    assert status_of(net.emu, 1) == "404"  # unfilled: dropped from Redis, never in Postgres
    # The same bytes again are answered by the mempool cache (sdk 19); other bytes (another
    # sequence value) reach the memclob: a cancel with ≥ GTB exists.
    assert net.send(cancel(1, gtb=15)) == ("sdk", 19)
    assert net.send(cancel(1, gtb=15), sequence=1)[1] == 9
    assert net.send(place(order(1, gtb=14)))[1] == 7  # cancelled until block 15
    assert net.send(cancel(42, gtb=5))[1] == 0  # unknown order: no existence check
    net.emu.advance(15)
    assert status_of(net.emu, 1) == "404"


def test_short_term_orders_expire_as_blocks_pass(net: Chain) -> None:
    assert net.send(place(order(1, gtb=5)))[1] == 0
    net.emu.advance(3)  # height 4
    assert status_of(net.emu, 1) == "BEST_EFFORT_OPENED"
    net.emu.advance(1)  # height 5: block GTB processed
    assert status_of(net.emu, 1) == "404"
    assert net.send(cancel(1, gtb=5))[1] == 10


def test_stateful_cancel_rules(net: Chain) -> None:
    gtbt = int(time.time()) + 3600
    assert net.send(cancel(1, flags=64, gtbt=gtbt))[1] == 3006  # not in state
    assert net.send(place(order(1, flags=64, gtbt=gtbt)))[1] == 0
    assert net.send(cancel(1, flags=64, gtbt=0))[1] == 3001
    assert net.send(cancel(1, flags=64, gtbt=gtbt - 10))[1] == 29
    assert net.send(cancel(1, flags=64, gtbt=gtbt))[1] == 0
    assert net.send(cancel(1, flags=64, gtbt=gtbt))[1] == 32
    net.emu.advance(1)
    assert status_of(net.emu, 1, 64) == "CANCELED"  # placed, then cancelled, in one block
    assert net.send(cancel(1, flags=64, gtbt=gtbt))[1] == 3006


def test_stateful_orders_expire_by_block_time(net: Chain) -> None:
    gtbt = int(time.time()) + 2
    assert net.send(place(order(1, flags=64, gtbt=gtbt)))[1] == 0
    net.emu.advance(1)
    assert status_of(net.emu, 1, 64) == "OPEN"
    time.sleep(2.2)
    net.emu.advance(1)
    assert status_of(net.emu, 1, 64) == "CANCELED"


def test_fill_then_cancel(net: Chain) -> None:
    gtbt = int(time.time()) + 3600
    assert net.send(place(order(1, flags=64, gtbt=gtbt)))[1] == 0
    net.emu.advance(1)
    uuid = chain.indexer_order_uuid(TEST_ADDRESS, 0, 1, 0, 64)
    net.emu.fill(uuid, 4_000_000)
    assert status_of(net.emu, 1, 64) == "OPEN"
    net.emu.fill(uuid)
    assert status_of(net.emu, 1, 64) == "FILLED"
    assert net.send(cancel(1, flags=64, gtbt=gtbt))[1] == 3006  # no longer in state


# --- MsgBatchCancel ----------------------------------------------------------------------
def _sub() -> Any:
    return make_order_id(TEST_ADDRESS, 0, 0, 0, 0).subaccount_id


def test_batch_cancel(net: Chain) -> None:
    for i in range(1, 4):
        assert net.send(place(order(i, gtb=12)))[1] == 0
    assert net.send(place(order(9, gtb=12, clob=1)))[1] == 0
    assert net.send(batch_cancel_msg(_sub(), {0: [1, 2, 3], 1: [9]}, 12))[1] == 0
    assert {status_of(net.emu, i) for i in (1, 2, 3)} == {"404"}
    assert status_of(net.emu, 9, clob=1) == "404"
    # Every id already has a cancel with this GTB: nothing succeeds.
    assert net.send(batch_cancel_msg(_sub(), {0: [1, 2, 3]}, 12))[1] == 46


@pytest.mark.parametrize(
    ("batches", "code"),
    [
        ({}, 45),
        ({0: []}, 45),
        ({0: [1, 1]}, 45),
        ({0: list(range(101))}, 45),
        ({77: [1]}, 27),
    ],
)
def test_batch_cancel_limits(net: Chain, batches: dict, code: int) -> None:
    assert net.send(batch_cancel_msg(_sub(), batches, 10))[1] == code


def test_batch_cancel_repeated_clob_pair_is_45(net: Chain) -> None:
    from v4_proto.dydxprotocol.clob.tx_pb2 import MsgBatchCancel, OrderBatch

    from dydxctl.tx import pack

    batches = [
        OrderBatch(clob_pair_id=0, client_ids=[1]),
        OrderBatch(clob_pair_id=0, client_ids=[2]),
    ]
    msg = MsgBatchCancel(subaccount_id=_sub(), good_til_block=10, short_term_cancels=batches)
    assert net.send(pack(msg, chain.MSG_BATCH_CANCEL_URL))[1] == 45


# --- services and hooks -------------------------------------------------------------------
def test_latest_block_node_info_and_clob_pairs(net: Chain) -> None:
    net.emu.advance(2)
    latest = net.node.latest_block()
    assert latest.height == 3 and abs(latest.time_unix - time.time()) < 5
    info = net.node.node_info()
    assert info["chain_id"] == "localdydxprotocol" and info["app_version"] == "v9.6.1"
    pair = net.node.clob_pair(1)
    assert (pair.id, pair.step_base_quantums, pair.subticks_per_tick) == (1, 1_000_000, 100_000)


def test_get_tx_finds_stateful_txs_only(net: Chain) -> None:
    signed = sign_tx(WALLET, [place(order(1, flags=64))], chain_id="localdydxprotocol",
                     account_number=net.number, sequence=0)  # fmt: skip
    assert net.node.broadcast(signed.tx_bytes, signed.tx_hash).code == 0
    net.emu.advance(1)
    assert net.node.get_tx(signed.tx_hash).code == 0
    short = sign_tx(WALLET, [place(order(2))], chain_id="localdydxprotocol",
                    account_number=net.number, sequence=0)  # fmt: skip
    assert net.node.broadcast(short.tx_bytes, short.tx_hash).code == 0
    net.emu.advance(1)
    assert net.node.get_tx(short.tx_hash) is None


def _post(emu: Emulator, path: str, body: dict) -> Any:
    request = urllib.request.Request(
        f"{emu.indexer_url}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request) as r:
        return json.load(r)


def test_admin_hooks_over_http(net: Chain) -> None:
    assert _post(net.emu, "/admin/advance", {"blocks": 4})["height"] == 5
    assert net.send(place(order(1, flags=64)))[1] == 0
    stop = order(2, flags=32, condition_type=1, conditional_order_trigger_subticks=4_900_000_000)
    assert net.send(place(stop))[1] == 0
    _post(net.emu, "/admin/advance", {})
    uuid = chain.indexer_order_uuid(TEST_ADDRESS, 0, 1, 0, 64)
    _post(net.emu, "/admin/fill", {"order_id": uuid, "size": "0.0004"})
    with urllib.request.urlopen(f"{net.emu.indexer_url}/v4/orders/{uuid}") as r:
        partly = json.load(r)
    assert partly["status"] == "OPEN" and partly["totalFilled"] == "0.0004"
    _post(net.emu, "/admin/fill", {"order_id": uuid})
    assert status_of(net.emu, 1, 64) == "FILLED"
    stop_uuid = chain.indexer_order_uuid(TEST_ADDRESS, 0, 2, 0, 32)
    _post(net.emu, "/admin/trigger", {"order_id": stop_uuid})
    assert status_of(net.emu, 2, 32) == "OPEN"
    from dydxctl.errors import Unreachable

    for _ in range(3):  # the client retries a read twice before giving up
        _post(net.emu, "/admin/fault", {"method": "GetLatestBlock", "grpc_status": "UNAVAILABLE"})
    with pytest.raises(Unreachable, match="unreachable"):
        net.node.latest_block()
    _post(net.emu, "/admin/latency", {"ms": 30})
    started = time.perf_counter()
    net.node.latest_block()
    assert time.perf_counter() - started >= 0.03
    with urllib.request.urlopen(f"{net.emu.indexer_url}/admin/calls") as r:
        names = [c["name"] for c in json.load(r)]
    assert "BroadcastTx" in names and "GetLatestBlock" in names


def test_indexer_json_shapes(net: Chain) -> None:
    assert net.send(place(order(7, gtb=9)))[1] == 0
    with urllib.request.urlopen(
        f"{net.emu.indexer_url}/v4/orders?address={TEST_ADDRESS}&subaccountNumber=0"
    ) as r:
        [row] = json.load(r)
    assert row["clientId"] == "7" and row["clobPairId"] == "0" and row["orderFlags"] == "0"
    assert row["goodTilBlock"] == "9" and row["goodTilBlockTime"] is None
    assert row["size"] == "0.001" and row["price"] == "50000" and row["ticker"] == "BTC-USD"
    assert row["subaccountNumber"] == 0 and row["status"] == "BEST_EFFORT_OPENED"
    assert row["type"] == "LIMIT" and row["totalFilled"] == "0"
    # comlink redisOrderToResponseObject: a Redis-only order has no Postgres fields at all.
    assert not {"createdAtHeight", "updatedAt", "updatedAtHeight", "triggerPrice"} & set(row)
    with urllib.request.urlopen(f"{net.emu.indexer_url}/v4/perpetualMarkets") as r:
        markets = json.load(r)["markets"]
    assert markets["BTC-USD"]["clobPairId"] == "0"
    assert markets["BTC-USD"]["atomicResolution"] == -10
    assert markets["ETH-USD"]["tickSize"] == "0.1"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on `port`, from the kernel's tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = TCP_LISTEN
                found.add(address)
    return found


def test_listens_on_loopback_only(emulator: Emulator) -> None:
    import os

    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    # 127.0.0.1 as the kernel prints it: plain IPv4, or IPv4-mapped on an IPv6 socket.
    loopback = {"0100007F", "0000000000000000FFFF00000100007F"}
    for port in (emulator.grpc_port, emulator.indexer_port):
        addresses = _listening_addresses(port)
        assert addresses and addresses <= loopback, addresses  # never 0.0.0.0 / ::


def test_block_clock_produces_blocks() -> None:
    with Emulator(block_time_s=0.05) as emu:
        started = emu.state.height
        deadline = time.monotonic() + 10  # a loaded machine may be slow, never stuck
        while emu.state.height < started + 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emu.state.height >= started + 4


def test_state_survives_a_restart(tmp_path) -> None:
    with Emulator(block_time_s=0, state_dir=tmp_path) as emu:
        net = Chain(emu)
        assert net.send(place(order(1, flags=64)))[1] == 0
        assert net.send(place(order(2, gtb=15)))[1] == 0
        assert net.send(cancel(2, gtb=15))[1] == 0
        assert net.send(place(order(3, gtb=30)))[1] == 0
        emu.advance(3)
        net.node.close()
    with Emulator(block_time_s=0, state_dir=tmp_path) as emu:
        assert emu.restored and emu.state.height == 4
        assert status_of(emu, 1, 64) == "OPEN" and status_of(emu, 2) == "404"
        assert status_of(emu, 3) == "BEST_EFFORT_OPENED"
        net = Chain(emu)
        assert len(emu.state.accounts[TEST_ADDRESS].timestamp_nonces) == 1
        assert net.send(place(order(1, flags=64)))[1] == 3005  # still in state
        assert net.send(cancel(2, gtb=15), sequence=7)[1] == 9  # the cancel is remembered
        net.node.close()


def test_emulator_command_runs_and_stops_on_sigterm(tmp_path) -> None:
    import signal
    import subprocess
    import sys

    from dydxctl.indexer import IndexerClient

    proc = subprocess.Popen(
        [sys.executable, "-m", "dydxctl", "--json", "emulator", "--grpc-port", "0",
         "--indexer-port", "0", "--rpc-port", "0", "--block-time", "50ms",
         "--state-dir", str(tmp_path), "--app-version", "9.4.0", "--rate-limits"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        started = json.loads(proc.stdout.readline())
        assert started["grpc"].startswith("127.0.0.1:")
        assert started["indexer"].startswith("http://127.0.0.1:")
        assert started["rpc"].startswith("http://127.0.0.1:")
        indexer = IndexerClient(started["indexer"])
        deadline = time.monotonic() + 10  # blocks every 50 ms: two come soon, even under load
        while indexer.height()[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert indexer.height()[0] >= 2
        node = NodeClient(started["grpc"])
        info = node.node_info()
        assert (info["chain_id"], info["app_version"]) == ("localdydxprotocol", "v9.4.0")
        node.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    assert (tmp_path / "emulator-state.json").exists()
