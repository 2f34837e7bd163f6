"""Every operation at its physical limit, counted from the emulator's call log (counts,
not timings: they are exact). Timings live in benchmarks/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dydxctl import chain, height_estimate
from dydxctl.api import Client
from dydxctl.emulator import Emulator
from dydxctl.expiry import ChainClock
from tests.conftest import TEST_MNEMONIC

LIMIT = {"price": "50000", "size": "0.001", "market": "BTC-USD", "side": "buy"}


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[tuple[Client, Emulator]]:
    with Emulator(block_time_s=0) as emu:
        client = Client.open(
            network="local",
            grpc=emu.grpc_target,
            indexer=emu.indexer_url,
            db=tmp_path / "orders.db",
            env={"DYDX_MNEMONIC": TEST_MNEMONIC},
        )
        client.place(**LIMIT, good_til_blocks=5)  # warm: market, account number, a block
        emu.reset_calls()
        yield client, emu
        client.close()


def _calls(emu: Emulator) -> list[str]:
    return [c["name"] for c in emu.call_log()]


def test_warm_place_and_cancel_are_one_broadcast_each(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    for good_til in ({"good_til_blocks": 10}, {"good_til": "1h"}):
        placed = client.place(**LIMIT, **good_til)
        client.cancel(placed.order["order_id"])
    assert _calls(emu) == ["BroadcastTx"] * 4


def test_an_estimate_the_chain_refuses_is_refreshed_once_and_resigned(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    emu.advance(30)  # the estimate (no block observed since) is 30 blocks behind
    placed = client.place(**LIMIT, good_til_blocks=5)
    assert _calls(emu) == ["BroadcastTx", "GetLatestBlock", "BroadcastTx"]
    assert placed.order["good_til_block"] == emu.state.height + 5
    assert placed.order["status"] == "OPEN"
    stored = client.order(placed.order["order_id"])
    assert stored["place_tx_hash"] == placed.tx_hash
    assert stored["good_til_block"] == placed.order["good_til_block"]
    emu.reset_calls()
    client.place(**LIMIT, good_til_blocks=5)  # the fresh read is remembered
    assert _calls(emu) == ["BroadcastTx"]


def test_dry_run_place_uses_the_same_caches(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    client.place(**LIMIT, good_til_blocks=5, dry_run=True)
    client.place(**LIMIT, good_til="1h", dry_run=True)
    assert _calls(emu) == []


def test_cancel_all_lists_in_parallel_then_sends_every_tx_together(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    for i in range(3):
        client.place(**LIMIT, good_til_blocks=10 + i)
        client.place(**LIMIT, good_til=f"{i + 1}h")
    emu.latency_ms = 300  # sequential calls would arrive ≥ 300 ms apart
    emu.reset_calls()
    outcome = client.cancel_all()
    emu.latency_ms = 0
    log = emu.call_log()
    reads = [c for c in log if c["name"] != "BroadcastTx"]
    sends = [c for c in log if c["name"] == "BroadcastTx"]
    assert sorted(c["name"] for c in reads) == ["/v4/orders", "GetLatestBlock"]
    assert len(sends) == 1 + 3  # one batch for the 4 short-term orders, 3 stateful cancels
    assert max(c["at"] for c in reads) - min(c["at"] for c in reads) < 0.25
    assert max(c["at"] for c in sends) - min(c["at"] for c in sends) < 0.25
    assert min(c["at"] for c in sends) >= max(c["at"] for c in reads)
    assert outcome["failed"] == 0 and len(outcome["orders"]) == 7
    assert {o["outcome"] for o in outcome["orders"]} == {"CANCEL_PENDING"}


def test_estimate_caps_are_valid_at_every_later_height() -> None:
    observed = height_estimate.Observation(100, 1_800_000_000_000, 0.0, "boot", 1000)
    guess = height_estimate.Estimate(ChainClock(130, 1_800_000_030, 1_800_000_030_000), observed)
    _low, high = chain.good_til_block_bounds(100, 40)
    assert guess.cap_good_til_block(130 + 40, 40) == high == 141
    assert guess.cap_good_til_block(135, 40) == 135
    window = chain.STATEFUL_ORDER_TIME_WINDOW_SECONDS
    assert guess.stateful_time_safe(1_800_000_000 + window)
    assert not guess.stateful_time_safe(1_800_000_001 + window)
