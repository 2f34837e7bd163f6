"""`cancel --all`: from the store alone when the Indexer is down or hangs, asking it when
it is up, each failure's exit code (the highest wins), and a dry run that writes nothing."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from dydxctl.store import Store
from tests.conftest import ChainCli

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]
SHORT = [*LIMIT, "--good-til-blocks", "15"]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a hung Indexer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(cli: ChainCli, order_id: str) -> str:
    with Store.open(cli.db_path) as s:
        return s.get(order_id)["status"]


@pytest.mark.parametrize("indexer", ["refused", "hangs"])
def test_cancel_all_works_from_the_store_when_the_indexer_is_unreachable(
    chain_cli: ChainCli, silent_port: int, indexer: str
) -> None:
    short = chain_cli.place(*SHORT)
    long_term = chain_cli.place(*LIMIT)
    port = silent_port if indexer == "hangs" else _closed_port()
    result = chain_cli(
        "--indexer", f"http://127.0.0.1:{port}", "--timeout", "1", "--json", "cancel", "--all"
    )
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    assert data["source"] == "store" and "Indexer" in data["warning"]
    assert "Indexer" in result.stderr  # the warning line
    assert {o["order_id"]: o["outcome"] for o in data["orders"]} == {
        short["order_id"]: "CANCEL_PENDING",
        long_term["order_id"]: "CANCEL_PENDING",
    }
    chain_cli.emu.advance(1)  # stateful cancels take effect in a block
    assert chain_cli.emu.state.open_order_count() == 0


def test_cancel_all_asks_the_indexer_for_orders_placed_elsewhere(chain_cli: ChainCli) -> None:
    stored = chain_cli.place(*LIMIT)
    elsewhere = chain_cli.place(*LIMIT)
    with Store.open(chain_cli.db_path) as s:  # as if placed by another tool
        s.conn.execute("DELETE FROM orders WHERE order_id = ?", (elsewhere["order_id"],))
    data = chain_cli.json("cancel", "--all")
    assert (data["source"], data["warning"]) == ("store+indexer", None)
    assert {o["order_id"] for o in data["orders"]} == {stored["order_id"], elsewhere["order_id"]}
    assert _status(chain_cli, elsewhere["order_id"]) == "CANCEL_PENDING"
    chain_cli.emu.advance(1)  # stateful cancels take effect in a block
    assert chain_cli.emu.state.open_order_count() == 0


def _filled(cli: ChainCli) -> dict[str, Any]:
    order = cli.place(*LIMIT)
    cli.emu.fill(order["order_id"])
    cli.emu.advance(1)
    return order


def _expired(cli: ChainCli) -> dict[str, Any]:
    order = cli.place(*LIMIT[:8], "--good-til-blocks", "2")
    cli.emu.advance(4)
    return order


def _rejected(cli: ChainCli) -> dict[str, Any]:
    order = cli.place(*LIMIT)
    cli.emu.fail_next("BroadcastTx", codespace="clob", code=12)
    return order


def _node_down(cli: ChainCli) -> dict[str, Any]:
    order = cli.place(*LIMIT)
    cli.emu.fail_next("BroadcastTx", grpc_status="UNAVAILABLE")
    return order


@pytest.mark.parametrize(
    ("setups", "codes", "exit_code"),
    [
        ([_filled], [4], 4),
        ([_expired], [5], 5),
        ([_rejected], [6], 6),
        ([_node_down], [7], 7),
        ([_filled, _expired], [4, 5], 5),  # several: the highest code wins
    ],
    ids=["filled", "expired", "rejected", "unreachable", "filled+expired"],
)
def test_cancel_all_exit_code_follows_the_failures(
    chain_cli: ChainCli, setups: list[Any], codes: list[int], exit_code: int
) -> None:
    orders = [setup(chain_cli) for setup in setups]
    data = chain_cli.json("cancel", "--all", expect_exit=exit_code)
    by_id = {o["order_id"]: o["exit_code"] for o in data["orders"]}
    assert [by_id[o["order_id"]] for o in orders] == codes
    assert data["exit_code"] == exit_code


def test_cancel_all_dry_run_leaves_the_store_byte_identical(chain_cli: ChainCli) -> None:
    chain_cli.place(*SHORT)
    chain_cli.place(*LIMIT)
    expired = chain_cli.place(*LIMIT[:8], "--good-til-blocks", "2")
    elsewhere = chain_cli.place(*LIMIT)
    with Store.open(chain_cli.db_path) as s:
        s.conn.execute("DELETE FROM orders WHERE order_id = ?", (elsewhere["order_id"],))
        s.conn.execute("DELETE FROM account_cache")  # a dry run must not cache it either
    chain_cli.emu.advance(4)
    db = chain_cli.db_path
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    data = chain_cli.json("cancel", "--all", "--dry-run", expect_exit=5)
    outcomes = {o["order_id"]: o["outcome"] for o in data["orders"]}
    assert len(outcomes) == 4 and outcomes[expired["order_id"]] == "EXPIRED"
    assert outcomes[elsewhere["order_id"]] == "DRY_RUN"
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not db.with_name(db.name + "-wal").exists()
    assert chain_cli.emu.state.open_order_count() == 3
