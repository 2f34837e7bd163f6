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
    chain_cli.emu.advance(1)  # in a block, so the Indexer lists it
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
    cli.emu.advance(1)  # in state once in a block
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


def test_cancel_all_is_scoped_to_the_subaccount_and_market(chain_cli: ChainCli) -> None:
    btc = chain_cli.place(*LIMIT)
    eth = chain_cli.place("--market", "ETH-USD", "--side", "sell", "--size", "0.01",
                          "--price", "3000")  # fmt: skip
    other_sub = chain_cli.place(*LIMIT, "--subaccount", "1")
    data = chain_cli.json("cancel", "--all", "--market", "BTC-USD")
    assert [o["order_id"] for o in data["orders"]] == [btc["order_id"]]
    assert data["summary"] == "cancel --all: 1 orders, 1 cancelled, 0 failed"
    assert (data["failed"], data["exit_code"]) == (0, 0)
    rest = chain_cli.json("cancel", "--all")
    # The BTC order's stateful cancel is re-checked (still CANCEL_PENDING); no subaccount 1.
    assert eth["order_id"] in {o["order_id"] for o in rest["orders"]}
    assert other_sub["order_id"] not in {o["order_id"] for o in rest["orders"]}
    assert _status(chain_cli, other_sub["order_id"]) == "OPEN"
    sub1 = chain_cli.json("cancel", "--all", "--subaccount", "1")
    assert [o["order_id"] for o in sub1["orders"]] == [other_sub["order_id"]]


def test_cancel_all_disabled_by_the_feature_flag_exits_9(chain_cli: ChainCli) -> None:
    chain_cli.place(*LIMIT)
    sent = chain_cli.broadcasts()
    err = chain_cli.json("cancel", "--all", expect_exit=9,
                         env={"DYDXCTL_FEATURE_CANCEL": "0"})  # fmt: skip
    assert err["error"]["kind"] == "disabled"
    assert chain_cli.broadcasts() == sent


def test_cancel_all_takes_only_this_wallets_live_rows(chain_cli: ChainCli) -> None:
    from tests.conftest import order_row

    mine = chain_cli.place(*SHORT, "--subaccount", "1")
    theirs = order_row(address="dydx1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du", status="OPEN",
                       subaccount_number=1, good_til_block=10_000)  # fmt: skip
    done = order_row(status="OPEN", subaccount_number=1, good_til_block=10_000)
    with Store.open(chain_cli.db_path) as s:
        s.insert_order(theirs)
        s.insert_order(done)
        s.transition(done["order_id"], "FILLED")
    chain_cli.emu.reset_calls()
    data = chain_cli.json("cancel", "--all", "--subaccount", "1")
    assert [o["order_id"] for o in data["orders"]] == [mine["order_id"]]
    assert data["orders"][0]["outcome"] == "CANCEL_PENDING"  # MsgBatchCancel for subaccount 1
    assert _status(chain_cli, theirs["order_id"]) == "OPEN"
    calls = [c["name"] for c in chain_cli.emu.call_log()]
    assert "Account" not in calls  # the account number comes from the store's cache
    chain_cli.emu.advance(1)
    assert chain_cli.emu.state.open_order_count() == 0


def _attempts(cli: ChainCli) -> list[dict[str, Any]]:
    with Store.open(cli.db_path) as s:
        return s._query("SELECT * FROM cancel_attempts ORDER BY id")


def test_batch_cancel_records_its_good_til_block_and_attempts(chain_cli: ChainCli) -> None:
    first = chain_cli.place(*LIMIT[:8], "--good-til-blocks", "5")
    second = chain_cli.place(*LIMIT[:8], "--good-til-blocks", "12")
    height = chain_cli.emu.state.height
    data = chain_cli.json("cancel", "--all")
    assert {o["outcome"] for o in data["orders"]} == {"CANCEL_PENDING"}
    [tx_hash] = {o["tx_hash"] for o in data["orders"]}
    assert tx_hash and all(o["detail"] == "" for o in data["orders"])
    with Store.open(chain_cli.db_path) as s:
        rows = [s.get(first["order_id"]), s.get(second["order_id"])]
    # One GTB for the batch: the highest order GTB (≥ latest + 1).
    gtb = max(second["good_til_block"], height + 1)
    assert [r["cancel_good_til_block"] for r in rows] == [gtb, gtb]
    assert [r["cancel_tx_hash"] for r in rows] == [tx_hash, tx_hash]
    attempts = _attempts(chain_cli)
    assert [(a["outcome"], a["market"], a["tx_hash"], a["detail"]) for a in attempts] == [
        ("success", "BTC-USD", tx_hash, "batch cancel")] * 2  # fmt: skip
    assert all(a["latency_ms"] < 60_000 and a["chain_id"] == "localdydxprotocol"
               for a in attempts)  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "outcome", "code", "recorded"),
    [
        (
            {"codespace": "clob", "code": 12},
            "FAILED (chain_rejected)",
            6,
            ("failure", "chain_rejected", "clob", 12),
        ),
        ({"grpc_status": "UNAVAILABLE"}, "FAILED (unreachable)", 7, None),
    ],
    ids=["rejected", "unreachable"],
)
def test_a_failed_batch_fails_each_of_its_orders(
    chain_cli: ChainCli, fault: dict, outcome: str, code: int, recorded: tuple | None
) -> None:
    orders = [chain_cli.place(*SHORT) for _ in range(2)]
    chain_cli.emu.fail_next("BroadcastTx", **fault)
    data = chain_cli.json("cancel", "--all", expect_exit=code)
    assert [(o["outcome"], o["exit_code"]) for o in data["orders"]] == [(outcome, code)] * 2
    assert all(o["detail"] for o in data["orders"])
    assert data["failed"] == 2
    assert {_status(chain_cli, o["order_id"]) for o in orders} == {"OPEN"}
    attempts = _attempts(chain_cli)
    if recorded is None:
        assert attempts == []
    else:
        got = [(a["outcome"], a["kind"], a["codespace"], a["code"]) for a in attempts]
        assert got == [recorded] * 2
        assert all(o["tx_hash"] == attempts[0]["tx_hash"] for o in data["orders"])


def test_batch_dry_run_shows_the_signed_hash(chain_cli: ChainCli) -> None:
    chain_cli.place(*SHORT)
    data = chain_cli.json("cancel", "--all", "--dry-run")
    [row] = data["orders"]
    assert row["outcome"] == "DRY_RUN" and len(row["tx_hash"]) == 64 and row["exit_code"] == 0
    assert chain_cli.broadcasts() == 1  # the place only
