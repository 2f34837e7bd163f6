"""Compatibility proof: dYdX's own Python client places and cancels against the emulator.

The official client pins v4-proto 8.x, so it lives in its own virtualenv (made once under
~/.cache/dydxctl, or given by DYDXCTL_OFFICIAL_CLIENT_PYTHON) and runs as a subprocess.
Skipped, with the reason, when the package cannot be installed on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.common import OFFICIAL_CLIENT, OFFICIAL_FLOW
from benchmarks.common import official_python as benchmarks_official_python
from dydxctl import chain
from dydxctl.emulator import Emulator
from tests.conftest import TEST_ADDRESS, TEST_MNEMONIC


def official_python() -> Path:
    """A python with the official client (made once under ~/.cache/dydxctl). Failing to
    install it is a failure, not a skip: the official client is our reference (the machine
    and CI reach PyPI)."""
    python = benchmarks_official_python()
    if python is None:
        pytest.fail(f"{OFFICIAL_CLIENT} could not be installed from PyPI into ~/.cache/dydxctl; "
                    "the official-client tests need it")
    return python


def run_official_flow(python: Path, emulator: Emulator, cycles: int) -> dict:
    result = subprocess.run(
        [str(python), str(OFFICIAL_FLOW), emulator.grpc_target, emulator.indexer_url, str(cycles)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "DYDX_MNEMONIC": TEST_MNEMONIC},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_official_client_queries_places_and_cancels() -> None:
    python = official_python()
    with Emulator(block_time_s=0.5) as emulator:
        out = run_official_flow(python, emulator, cycles=2)
        assert out["address"] == TEST_ADDRESS
        kinds = [(c["kind"], c["place_code"], c["cancel_code"]) for c in out["cycles"]]
        assert kinds == [("short-term", 0, 0), ("long-term", 0, 0)], out
        # Both were cancelled: nothing rests, the unfilled short-term order left no trace in
        # the Indexer, the long-term one is CANCELED once its cancel's block is in.
        emulator.advance(1)
        assert emulator.state.open_order_count() == 0
        indexer = emulator.state.indexer
        assert not indexer.redis and len(indexer.postgres) == 1
        [row] = indexer.postgres.values()
        assert row.order.order_id.order_flags == chain.ORDER_FLAGS_LONG_TERM
        assert row.status == "CANCELED"
        names = [c["name"] for c in emulator.call_log()]
        assert {"Account", "GetLatestBlock", "BroadcastTx", "/v4/perpetualMarkets"} <= set(names)


TRADER_MNEMONIC = (
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
)
OFFICIAL_PERMISSIONED_FLOW = Path(__file__).parent / "compat" / "official_permissioned_flow.py"


def test_official_client_permissioned_key_flow() -> None:
    """dydx-v4-client's permissioned-keys example against the emulator's x/accountplus."""
    python = official_python()
    with Emulator(block_time_s=0.3) as emulator:
        result = subprocess.run(
            [str(python), str(OFFICIAL_PERMISSIONED_FLOW), emulator.grpc_target,
             emulator.indexer_url],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "DYDX_MNEMONIC": TEST_MNEMONIC, "TRADER_MNEMONIC": TRADER_MNEMONIC},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        out = json.loads(result.stdout)
        assert out["owner"] == TEST_ADDRESS and out["authenticator_type"] == "AllOf"
        for step in ("add", "place_short_term", "place_long_term", "remove"):
            assert out[step]["code"] == 0, (step, out)
        # A cancel is outside the key's MsgPlaceOrder filter: AllOf (104) wrapping 101.
        refused = out["cancel_outside_filter"]
        assert (refused["codespace"], refused["code"]) == ("dydxaccountplus", 104), out
        assert "Message type verification failed" in refused["log"]
        gone = out["place_after_remove"]
        assert (gone["codespace"], gone["code"]) == ("dydxaccountplus", 1), out
        owners = {b.order.order_id.subaccount_id.owner for b in emulator.state.book.values()}
        assert owners == {TEST_ADDRESS}
