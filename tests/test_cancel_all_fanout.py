"""`cancel --all`'s fan-out against the emulator: a wave of stateful cancels whose
timestamp nonces the chain refuses is re-sent with counted sequences, a refused batch
reuses the one clock read, a dry run signs exactly the batches a real run sends and looks
each market up once, and the batch good-til-block is chain.py's rule."""

from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest

from dydxctl import chain, lifecycle
from dydxctl.store import Store
from tests.conftest import ChainCli

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]
SHORT = [*LIMIT, "--good-til-blocks", "15"]


def _calls(cli: ChainCli) -> Counter[str]:
    return Counter(c["name"] for c in cli.emu.call_log())


def test_refused_timestamp_nonces_are_resent_with_one_counted_sequence(
    chain_cli: ChainCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = [chain_cli.place(*LIMIT) for _ in range(3)]
    chain_cli.emu.advance(1)  # the stateful orders in state
    # This host's clock 60 s behind the chain's: every timestamp nonce is refused (sdk 32,
    # "too far in the past"), so each cancel must go with the account's sequence instead.
    skewed = itertools.count(int(time.time() * 1000) - 60_000)
    monkeypatch.setattr(lifecycle, "_sequence_for", lambda flags: next(skewed) if flags else 0)
    chain_cli.emu.reset_calls()
    data = chain_cli.json("cancel", "--all")
    assert [o["outcome"] for o in data["orders"]] == ["CANCEL_PENDING"] * 3, data
    calls = _calls(chain_cli)
    # One account read for the whole wave; 3 refused nonces + 3 sequences N, N+1, N+2.
    assert (calls["Account"], calls["BroadcastTx"]) == (1, 6)
    with Store.open(chain_cli.db_path) as s:
        rows = {o["order_id"]: s.get(o["order_id"]) for o in orders}
    # the write-ahead hash is the re-signed tx's, the one the chain accepted
    assert {o["order_id"]: o["tx_hash"] for o in data["orders"]} == {
        k: r["cancel_tx_hash"] for k, r in rows.items()
    }
    chain_cli.emu.advance(1)  # stateful cancels take effect in a block
    assert chain_cli.emu.state.open_order_count() == 0


def test_a_refused_batch_reuses_the_clock_read_once(chain_cli: ChainCli) -> None:
    for _ in range(3):
        chain_cli.place(*SHORT)
    chain_cli.emu.reset_calls()
    chain_cli.emu.fail_next("BroadcastTx", codespace="clob", code=3006)
    data = chain_cli.json("cancel", "--all", expect_exit=6)
    assert len(data["orders"]) == 3 and data["failed"] == 3
    assert _calls(chain_cli)["GetLatestBlock"] == 1  # not one more per order


def test_a_dry_run_signs_the_batch_a_real_run_sends(chain_cli: ChainCli) -> None:
    for _ in range(2):
        chain_cli.place(*SHORT)
    dry = chain_cli.json("cancel", "--all", "--dry-run")
    real = chain_cli.json("cancel", "--all")  # the clock is stopped: same height, same GTB
    assert {o["outcome"] for o in dry["orders"]} == {"DRY_RUN"}
    assert {o["tx_hash"] for o in dry["orders"]} == {o["tx_hash"] for o in real["orders"]}
    assert len({o["tx_hash"] for o in real["orders"]}) == 1


def test_a_dry_run_looks_each_market_up_once(chain_cli: ChainCli) -> None:
    orders = [chain_cli.place(*SHORT) for _ in range(4)]
    chain_cli.emu.advance(1)  # in a block, so the Indexer lists them
    with Store.open(chain_cli.db_path) as s:  # as if placed by another tool
        for o in orders:
            s.conn.execute("DELETE FROM orders WHERE order_id = ?", (o["order_id"],))
    chain_cli.emu.reset_calls()
    data = chain_cli.json("cancel", "--all", "--dry-run")
    assert {o["order_id"] for o in data["orders"]} == {o["order_id"] for o in orders}
    calls = _calls(chain_cli)
    assert calls["ClobPair"] <= 1, calls
    assert sum(n for name, n in calls.items() if "perpetualMarkets" in name) <= 1, calls


def test_batch_cancel_good_til_block_rule() -> None:
    assert chain.batch_cancel_good_til_block([120, 130], 100) == 130
    assert chain.batch_cancel_good_til_block([101, 102], 100) == 102
    assert chain.batch_cancel_good_til_block([120], 119) == 120  # ≥ latest + 1
    assert chain.batch_cancel_good_til_block([120, 100], 100) is None  # one has expired
    assert chain.batch_cancel_good_til_block([], 100) is None


def test_the_emulator_serves_a_whole_fan_out_at_once(emulator) -> None:  # type: ignore[no-untyped-def]
    """A node serves every call at once: 40 calls in flight together take one injected
    latency, not two (16 server threads made the 17th wait for a free one)."""
    import grpc
    from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2, query_pb2_grpc

    emulator.latency_ms = 1000
    with grpc.insecure_channel(emulator.grpc_target) as channel:
        stub = query_pb2_grpc.ServiceStub(channel)
        started = time.perf_counter()
        futures = [stub.GetLatestBlock.future(query_pb2.GetLatestBlockRequest(), timeout=30)
                   for _ in range(40)]  # fmt: skip
        assert all(f.result().sdk_block.header.height >= 0 for f in futures)
        elapsed = time.perf_counter() - started
    assert 1.0 <= elapsed < 2.0, elapsed
