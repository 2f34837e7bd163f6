"""Node and Indexer clients against real loopback servers: answers, errors, retries."""

from __future__ import annotations

import socket

import pytest

from dydxctl.emulator import Emulator
from dydxctl.errors import BadInput, ChainRejected, Unreachable
from dydxctl.indexer import IndexerClient
from dydxctl.node import NodeClient, chain_rejection, is_loopback, split_host_port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_is_unreachable() -> None:
    port = _free_port()
    with pytest.raises(Unreachable) as info:
        NodeClient(f"127.0.0.1:{port}", timeout_s=1).latest_block()
    assert info.value.exit_code == 7
    with pytest.raises(Unreachable, match="unreachable"):
        IndexerClient(f"http://127.0.0.1:{port}", timeout_s=1).height()


def test_node_timeout_is_unreachable(emulator: Emulator) -> None:
    for _ in range(3):
        emulator.fail_next("GetLatestBlock", delay_s=1.0)
    with pytest.raises(Unreachable, match=r"did not answer GetLatestBlock within 0\.3 s"):
        NodeClient(emulator.grpc_target, timeout_s=0.3).latest_block()


def test_transient_read_failure_is_retried(emulator: Emulator) -> None:
    emulator.fail_next("GetLatestBlock", grpc_status="UNAVAILABLE")
    assert NodeClient(emulator.grpc_target).latest_block().height == 1
    emulator.fail_next("/v4/height", http_status=502)
    assert IndexerClient(emulator.indexer_url).height()[0] == 1


def test_broadcast_is_never_retried(emulator: Emulator) -> None:
    emulator.fail_next("BroadcastTx", grpc_status="UNAVAILABLE")
    with pytest.raises(Unreachable):
        NodeClient(emulator.grpc_target).broadcast(b"x", "H")
    assert [c["name"] for c in emulator.call_log()].count("BroadcastTx") == 1


def test_checktx_rejection_maps_to_chain_rejected(emulator: Emulator) -> None:
    emulator.fail_next("BroadcastTx", codespace="clob", code=29)
    result = NodeClient(emulator.grpc_target).broadcast(b"x", "H")
    assert not result.accepted and (result.codespace, result.code) == ("clob", 29)
    error = result.rejection()
    assert isinstance(error, ChainRejected) and error.exit_code == 6
    assert "ErrInvalidStatefulOrderCancellation" in error.message
    assert error.details["codespace"] == "clob" and error.details["code"] == 29


def test_codespace_matters() -> None:
    clob = chain_rejection("clob", 32)
    sdk = chain_rejection("sdk", 32)
    assert "StatefulOrderCancellationAlreadyExists" in clob.message
    assert "ErrWrongSequence" in sdk.message
    assert "not in dydxctl's table" in chain_rejection("clob", 99999).message


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        ({"http_status": 500}, "not JSON"),
        ({"http_status": 200, "body": "<html>maintenance</html>"}, "not JSON"),
    ],
)
def test_indexer_bad_answers(emulator: Emulator, fault: dict, fragment: str) -> None:
    for _ in range(3):
        emulator.fail_next("/v4/perpetualMarkets", **fault)
    with pytest.raises(Unreachable, match=fragment):
        IndexerClient(emulator.indexer_url).perpetual_markets()


def test_indexer_404_and_400(emulator: Emulator) -> None:
    client = IndexerClient(emulator.indexer_url + "/v4/")  # a trailing /v4 is accepted
    assert client.order("6b2c0e8e-0000-5000-8000-000000000000") is None
    with pytest.raises(BadInput, match="HTTP 400"):
        client.order("not-a-uuid")


def test_indexer_keeps_one_connection(emulator: Emulator) -> None:
    client = IndexerClient(emulator.indexer_url)
    client.height()
    first = client._conn
    client.perpetual_markets()
    assert client._conn is first


def test_bad_endpoints() -> None:
    with pytest.raises(BadInput):
        split_host_port("no-port")
    with pytest.raises(BadInput):
        IndexerClient("ftp://x")


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("dydx-ops-grpc.kingnodes.com") and not is_loopback("10.0.0.1")


def test_remote_node_uses_tls_unless_insecure() -> None:
    # Channels connect lazily: nothing leaves the machine here.
    clients = {
        "remote": NodeClient("node.example.invalid:443"),
        "remote insecure": NodeClient("node.example.invalid:9090", insecure=True),
        "loopback": NodeClient("127.0.0.1:9090"),
    }
    assert {name: c.uses_tls for name, c in clients.items()} == {
        "remote": True, "remote insecure": False, "loopback": False,
    }  # fmt: skip
    for client in clients.values():
        client.close()


def test_simulate_and_indexer_time(emulator: Emulator) -> None:
    node = NodeClient(emulator.grpc_target)
    assert node.simulate(b"any").accepted
    emulator.fail_next("Simulate", grpc_status="INVALID_ARGUMENT")
    refused = node.simulate(b"any")
    assert not refused.accepted and "injected" in refused.log
    node.close()
    now = IndexerClient(emulator.indexer_url).time()
    assert now["iso"].endswith("Z") and abs(now["epoch"] - emulator.state.block_time) < 1
