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
SHORT_TERM, LONG_TERM = 0, 64
CANCELLED = ("CANCELED", "BEST_EFFORT_CANCELED")
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
        books = {book.key[2]: book for book in emulator.state.by_uuid.values()}  # by client id
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

    # The emulator's chain holds every order the client placed, each cancelled afterwards.
    placed = [step for step in out["steps"] if step["name"].startswith("place")]
    assert {step["clientId"] for step in placed} == set(books)
    for step in placed:
        book = books[step["clientId"]]
        assert (book.key[0], book.key[3], book.key[4]) == (
            TEST_ADDRESS,
            step["clobPairId"],
            step["orderFlags"],
        )
        assert book.status in CANCELLED, (step, book.status)
        assert not book.live
    assert books[placed[1]["clientId"]].status == "CANCELED"  # the long-term one, in a block
    batch = out["steps"][-1]["clientIds"]
    assert {books[client_id].key[3] for client_id in batch} == {0, 1}  # both markets
    # Only the long-term place and cancel use (and advance) the sequence.
    assert out["account"]["sequence"] == 0 and sequence == 2

    # The client reached the node only over JSON-RPC (never gRPC), the Indexer over REST.
    assert {c["name"] for c in calls if c["kind"] == "rpc"} == JS_CLIENT_RPC_METHODS
    assert not [c for c in calls if c["kind"] == "grpc"]
    assert {c["name"] for c in calls if c["kind"] == "rest"} == {"/v4/perpetualMarkets"}
