"""Compatibility proof: dYdX's official JS client (@dydxprotocol/v4-client-js, pinned by
tests/compat/js/package-lock.json) queries, places, cancels and batch-cancels against the
emulator, over CometBFT JSON-RPC and the Indexer, as a real Node.js subprocess.

CI installs the client (`npm ci --prefix tests/compat/js`, in .ci/run and README's test
command); without Node.js or the installed client this test fails and says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from v4_proto.cosmos.auth.v1beta1 import query_pb2 as auth_query
from v4_proto.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from v4_proto.cosmos.auth.v1beta1.auth_pb2 import BaseAccount

from dydxctl.emulator import Emulator
from tests.conftest import TEST_ADDRESS, TEST_MNEMONIC, clean_env

JS_DIR = Path(__file__).resolve().parent / "compat" / "js"
JS_CLIENT = JS_DIR / "node_modules" / "@dydxprotocol" / "v4-client-js"
FLOW = JS_DIR / "flow.mjs"
PROXY_VARIABLES = {name.lower() for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")}
SHORT_TERM = 0  # OrderId.order_flags
# What the client sends over JSON-RPC (cosmjs Tendermint37Client: `status` to say hello,
# `block` for the height, `abci_query` for Account/ClobPair, `broadcast_tx_sync`, and `tx` to
# wait for a long-term order's block).
JS_CLIENT_RPC_METHODS = {"status", "block", "abci_query", "broadcast_tx_sync", "tx"}


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("Node.js is not on PATH: the official JS client test needs Node.js 20.")
    if not JS_CLIENT.is_dir():
        pytest.fail(
            f"{JS_CLIENT} is missing: run `npm ci --prefix tests/compat/js` (.ci/run does)."
        )
    return found


def run_flow(emulator: Emulator) -> dict:
    env = {
        k: v
        for k, v in clean_env(DYDX_MNEMONIC=TEST_MNEMONIC).items()
        if k.lower() not in PROXY_VARIABLES
    }
    result = subprocess.run(
        [node(), str(FLOW), emulator.rpc_url, emulator.indexer_url],
        capture_output=True, text=True, timeout=120, env=env, cwd=JS_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def account_sequence(emulator: Emulator) -> int:
    """The chain's sequence for the test wallet, asked over the emulator's gRPC."""
    with grpc.insecure_channel(emulator.grpc_target) as channel:
        answer = auth_grpc.QueryStub(channel).Account(
            auth_query.QueryAccountRequest(address=TEST_ADDRESS), timeout=5
        )
    account = BaseAccount()
    answer.account.Unpack(account)
    return account.sequence


def test_official_js_client_queries_places_and_cancels() -> None:
    with Emulator(block_time_s=0.5) as emulator:
        out = run_flow(emulator)
        open_orders = emulator.state.open_order_count()
        cancels = set(emulator.state.short_term_cancels)
        calls = emulator.call_log()
        sequence = account_sequence(emulator)

    assert out["address"] == TEST_ADDRESS
    assert out["clobPair"] == {"id": 0} and out["market"] == "BTC-USD"
    names = [step["name"] for step in out["steps"]]
    assert names == [
        "place short-term", "cancel short-term", "place long-term", "cancel long-term",
        "place short-term", "place short-term", "batch-cancel short-term",
    ]  # fmt: skip
    assert [step["code"] for step in out["steps"]] == [0] * 7, out["steps"]
    # Long-term txs were waited for until `tx` found them in a block.
    assert all(
        step["height"] > out["height"] for step in out["steps"] if "long-term" in step["name"]
    )

    # The Indexer saw each order placed, then cancelled: an unfilled short-term order lives
    # only in Redis (BEST_EFFORT_OPENED) and is gone once cancelled; a long-term one is OPEN
    # from its block and CANCELED from its cancel's block.
    seen = [(step["name"], list(step["indexer"].values())) for step in out["steps"]]
    assert seen == [
        ("place short-term", ["BEST_EFFORT_OPENED"]), ("cancel short-term", [None]),
        ("place long-term", ["OPEN"]), ("cancel long-term", ["CANCELED"]),
        ("place short-term", ["BEST_EFFORT_OPENED"]), ("place short-term", ["BEST_EFFORT_OPENED"]),
        ("batch-cancel short-term", [None, None]),
    ], out["steps"]  # fmt: skip
    # The chain: nothing rests, and the memclob remembers each short-term cancel (by OrderId).
    short_term = [s for s in out["steps"] if s["name"] == "place short-term"]
    assert open_orders == 0
    assert {
        (TEST_ADDRESS, 0, s["clientId"], s["clobPairId"], SHORT_TERM) for s in short_term
    } <= cancels
    assert {s["clobPairId"] for s in short_term[1:]} == {0, 1}  # the batch spans both markets
    # Only the long-term place and cancel use (and advance) the sequence.
    assert out["account"]["sequence"] == 0 and sequence == 2

    # The client reached the node only over JSON-RPC (never gRPC), the Indexer over REST.
    assert {c["name"] for c in calls if c["kind"] == "rpc"} == JS_CLIENT_RPC_METHODS
    assert not [c for c in calls if c["kind"] == "grpc"]
    assert {c["name"] for c in calls if c["kind"] == "rest"} == {
        "/v4/perpetualMarkets",
        "/v4/orders",
    }
