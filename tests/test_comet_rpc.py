"""The emulator's CometBFT JSON-RPC: shapes and errors as CometBFT v0.38 + the Cosmos SDK
answer them (dydxctl/emulator/comet_*.py cite the sources), over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

from v4_proto.cosmos.auth.v1beta1 import query_pb2 as auth_query
from v4_proto.dydxprotocol.clob import query_pb2 as clob_query
from v4_proto.dydxprotocol.clob.order_pb2 import Order

from dydxctl.emulator import Emulator
from dydxctl.node import NodeClient
from dydxctl.orders import make_order_id
from dydxctl.tx import place_order_msg, sign_tx
from dydxctl.wallet import Wallet
from tests.conftest import TEST_ADDRESS, TEST_MNEMONIC

HASH = re.compile(r"[0-9A-F]{64}")
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z")
EMPTY_MERKLE_ROOT = hashlib.sha256(b"").hexdigest().upper()


def post(emu: Emulator, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        emu.rpc_url + "/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    return _open(request)


def get(emu: Emulator, path: str) -> tuple[int, Any]:
    return _open(urllib.request.Request(emu.rpc_url + path))


def _open(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            status, raw, ctype = answer.status, answer.read(), answer.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        status, raw, ctype = exc.code, exc.read(), exc.headers["Content-Type"]
    return status, (json.loads(raw) if raw and ctype == "application/json" else raw)


def call(emu: Emulator, method: str, **params: Any) -> dict[str, Any]:
    status, answer = post(emu, {"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    assert status == 200 and answer["id"] == 7, answer
    return answer


def query(emu: Emulator, path: str, request: bytes, **extra: Any) -> dict[str, Any]:
    return call(emu, "abci_query", path=path, data=request.hex(), **extra)["result"]["response"]


def long_term_tx(emu: Emulator, client_id: int) -> bytes:
    node = NodeClient(emu.grpc_target, timeout_s=5)
    account = node.account(TEST_ADDRESS)
    node.close()
    order = Order(
        order_id=make_order_id(TEST_ADDRESS, 0, client_id, 0, 64), side=1,
        quantums=10_000_000, subticks=5_000_000_000, good_til_block_time=int(time.time()) + 600,
    )  # fmt: skip
    signed = sign_tx(
        Wallet.from_mnemonic(TEST_MNEMONIC), [place_order_msg(order)], chain_id=emu.state.chain_id,
        account_number=account.account_number, sequence=account.sequence,
    )  # fmt: skip
    return signed.tx_bytes


def test_status_block_and_abci_info_are_cometbft_shaped(emulator: Emulator) -> None:
    emulator.advance(3)
    height = str(emulator.state.height)
    status = call(emulator, "status")["result"]
    assert status["node_info"]["network"] == "localdydxprotocol"
    assert status["node_info"]["version"] == "0.38.5"
    assert status["node_info"]["protocol_version"] == {"p2p": "8", "block": "11", "app": "0"}
    sync = status["sync_info"]
    assert sync["latest_block_height"] == height and sync["catching_up"] is False
    assert HASH.fullmatch(sync["latest_block_hash"]) and RFC3339_UTC.fullmatch(
        sync["latest_block_time"]
    )

    block = call(emulator, "block")["result"]
    header = block["block"]["header"]
    assert header["height"] == height and header["chain_id"] == "localdydxprotocol"
    assert block["block_id"]["hash"] == sync["latest_block_hash"]
    assert header["last_block_id"]["hash"] and HASH.fullmatch(header["app_hash"])
    assert header["data_hash"] == EMPTY_MERKLE_ROOT and block["block"]["data"]["txs"] is None
    assert block["block"]["last_commit"]["height"] == str(int(height) - 1)
    assert RFC3339_UTC.fullmatch(header["time"])

    node = NodeClient(emulator.grpc_target, timeout_s=5)
    app_version = node.node_info()["app_version"]
    node.close()
    info = call(emulator, "abci_info")["result"]["response"]
    assert info == {
        "data": "dydxprotocol", "version": app_version, "last_block_height": height,
        "last_block_app_hash": info["last_block_app_hash"],
    }  # fmt: skip
    assert len(base64.b64decode(info["last_block_app_hash"])) == 32
    # Only the latest block is kept; later and earlier heights are CometBFT's errors.
    for asked, message in ((int(height) + 1, "must be less than or equal to the current"),
                           (1, "is not available, lowest height is"), (0, "must be greater than 0")):  # fmt: skip  # noqa: E501
        error = call(emulator, "block", height=str(asked))["error"]
        assert (error["code"], error["message"]) == (-32603, "Internal error")
        assert message in error["data"]


def test_abci_query_routes_grpc_paths_and_answers_with_sdk_codes(emulator: Emulator) -> None:
    clob = "/dydxprotocol.clob.Query/ClobPair"
    found = query(emulator, clob, clob_query.QueryGetClobPairRequest(id=1).SerializeToString())
    assert (found["code"], found["codespace"], found["height"]) == (
        0,
        "",
        str(emulator.state.height),
    )
    assert (
        clob_query.QueryClobPairResponse.FromString(base64.b64decode(found["value"])).clob_pair.id
        == 1
    )
    assert list(found) == [
        "code",
        "log",
        "info",
        "index",
        "key",
        "value",
        "proofOps",
        "height",
        "codespace",
    ]

    missing = query(emulator, clob, clob_query.QueryGetClobPairRequest(id=77).SerializeToString())
    assert (missing["code"], missing["codespace"], missing["value"]) == (22, "sdk", None)
    assert missing["log"].startswith("rpc error: code = NotFound desc = ")
    assert missing["log"].endswith(": key not found")

    cases = {
        "/dydxprotocol.feetiers.Query/PerpetualFeeParams": (b"", {}, 6, "unknown query path"),
        "/cosmos.tx.v1beta1.Service/BroadcastTx": (b"", {}, 18, "can't route a broadcast tx"),
        clob: (b"\xff\xff", {}, 18, "invalid request"),
    }
    for path, (data, extra, code, log) in cases.items():
        answer = query(emulator, path, data, **extra)
        assert (answer["code"], answer["codespace"]) == (code, "sdk") and log in answer["log"], (
            answer
        )
    future = query(emulator, clob, b"", height=str(emulator.state.height + 5))
    assert (future["code"], future["height"]) == (26, "0")

    # The URI form: "quoted" strings, 0x hex bytes, id -1.
    account = auth_query.QueryAccountRequest(address=TEST_ADDRESS).SerializeToString().hex()
    status, answer = get(
        emulator, f'/abci_query?path="/cosmos.auth.v1beta1.Query/Account"&data=0x{account}'
    )
    assert status == 200 and answer["id"] == -1 and answer["result"]["response"]["code"] == 0
    assert TEST_ADDRESS.encode() in base64.b64decode(answer["result"]["response"]["value"])


def test_broadcast_tx_sync_and_tx_reach_the_chain(emulator: Emulator) -> None:
    tx = long_term_tx(emulator, client_id=31)
    sent = call(emulator, "broadcast_tx_sync", tx=base64.b64encode(tx).decode())["result"]
    assert sent == {"code": 0, "data": "", "log": sent["log"], "codespace": "",
                    "hash": hashlib.sha256(tx).hexdigest().upper()}  # fmt: skip
    hash_b64 = base64.b64encode(hashlib.sha256(tx).digest()).decode()
    not_yet = call(emulator, "tx", hash=hash_b64)["error"]
    assert not_yet == {"code": -32603, "message": "Internal error",
                       "data": f"tx ({sent['hash']}) not found"}  # fmt: skip

    emulator.advance(1)  # the block that delivers it
    found = call(emulator, "tx", hash=hash_b64)["result"]
    assert found["hash"] == sent["hash"] and found["height"] == str(emulator.state.height)
    assert base64.b64decode(found["tx"]) == tx and found["index"] == 0
    assert found["tx_result"]["code"] == 0 and found["tx_result"]["gas_wanted"].isdigit()
    with urllib.request.urlopen(
        f"{emulator.indexer_url}/v4/orders?address={TEST_ADDRESS}&subaccountNumber=0", timeout=5
    ) as answer:
        assert [(o["clientId"], o["status"]) for o in json.load(answer)] == [("31", "OPEN")]

    again = call(emulator, "broadcast_tx_sync", tx=base64.b64encode(tx).decode())["result"]
    assert again["code"] != 0 and again["codespace"]  # the sequence is used: CheckTx refuses
    emulator.fail_next("broadcast_tx_sync", codespace="clob", code=3006)
    injected = call(emulator, "broadcast_tx_sync", tx=base64.b64encode(tx).decode())["result"]
    assert (injected["code"], injected["codespace"], injected["log"]) == (3006, "clob", "injected")
    garbage = call(emulator, "broadcast_tx_sync", tx=base64.b64encode(b"\x01\x02").decode())[
        "result"
    ]
    assert (garbage["code"], garbage["codespace"]) == (2, "sdk")


def test_json_rpc_transport_follows_cometbft(emulator: Emulator) -> None:
    status, answer = post(emulator, {"jsonrpc": "2.0", "id": "a", "method": "net_info"})
    assert status == 200 and answer["error"] == {"code": -32601, "message": "Method not found"}
    status, answer = post(
        emulator, {"jsonrpc": "2.0", "id": 1, "method": "block", "params": {"height": 1}}
    )
    assert status == 200 and answer["error"]["code"] == -32602  # 64-bit integers are strings
    status, answer = post(
        emulator,
        {"jsonrpc": "2.0", "id": 2, "method": "block", "params": [str(emulator.state.height)]},
    )
    assert status == 200 and "result" in answer  # params may be an array in route order
    status, answer = _open(urllib.request.Request(emulator.rpc_url, data=b"{nope"))
    assert status == 500 and answer["error"]["code"] == -32700 and answer["id"] is None

    batch = [{"jsonrpc": "2.0", "id": 1, "method": "health"},
             {"jsonrpc": "2.0", "method": "health"},  # a notification: no answer
             {"jsonrpc": "2.0", "id": 2, "method": "abci_info"}]  # fmt: skip
    status, answer = post(emulator, batch)
    assert status == 200 and [a["id"] for a in answer] == [1, 2] and answer[0]["result"] == {}

    status, answer = get(emulator, "/block?height=999999")
    assert status == 500 and answer["id"] == -1 and answer["error"]["code"] == -32603
    status, answer = get(emulator, "/no_such_route")
    assert status == 404 and answer == b"404 page not found\n"
    status, answer = get(emulator, "/")
    assert status == 200 and b"/abci_query?path=_&data=_&height=_&prove=_" in answer

    emulator.fail_next("status", http_status=503)
    assert get(emulator, "/status")[0] == 503
    assert get(emulator, "/status")[0] == 200
    logged = [c["name"] for c in emulator.call_log() if c["kind"] == "rpc"]
    assert {"net_info", "health", "abci_info", "status"} - set(logged) == {"net_info"}


def test_emulator_command_serves_json_rpc_on_rpc_port() -> None:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "dydxctl", "--json", "emulator", "--grpc-port", "0",
         "--indexer-port", "0", "--rpc-port", "0", "--block-time", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        started = json.loads(proc.stdout.readline())
        with urllib.request.urlopen(started["rpc"] + "/health", timeout=5) as answer:
            assert json.load(answer) == {"jsonrpc": "2.0", "id": -1, "result": {}}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
