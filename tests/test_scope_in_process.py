"""The scope and prune rules through the library and the in-process CLI (the subprocess
tests in test_scoping.py prove the same end to end; these pin each rule's details)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dydxctl import reconcile
from dydxctl.config import resolve
from dydxctl.runtime import Runtime
from dydxctl.store import Store
from tests.conftest import LOCAL_CHAIN, TEST_MNEMONIC, ChainCli, order_row

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]
TESTNET = "dydx-testnet-4"


def _runtime(cli: ChainCli) -> Runtime:
    settings = resolve(
        {"network": "local", "grpc": cli.emu.grpc_target, "indexer": cli.emu.indexer_url,
         "db": str(cli.db_path)},
        {},
    )  # fmt: skip
    return Runtime(settings, env={"DYDX_MNEMONIC": TEST_MNEMONIC})


@pytest.mark.parametrize(
    ("key", "command"),
    [("order_id", "cancel"), ("client_id", "cancel"), ("order_id", "show")],
)
def test_another_chains_order_is_refused_naming_its_network(
    chain_cli: ChainCli, key: str, command: str
) -> None:
    row = order_row(chain_id=TESTNET, status="OPEN", good_til_block=10_000)
    with Store.open(chain_cli.db_path, chain_id=TESTNET) as s:
        s.insert_order(row)
    err = chain_cli.json(command, str(row[key]), expect_exit=2)["error"]
    assert "--network testnet" in err["hint"] and TESTNET in err["message"]
    assert LOCAL_CHAIN in err["message"]
    assert err["details"] == {"order_id": row["order_id"], "chain_id": TESTNET}
    assert chain_cli.broadcasts() == 0


def test_an_unknown_chain_is_named_by_chain_id(chain_cli: ChainCli) -> None:
    row = order_row(chain_id="my-private-chain", status="OPEN")
    with Store.open(chain_cli.db_path, chain_id="my-private-chain") as s:
        s.insert_order(row)
    err = chain_cli.json("cancel", row["order_id"], expect_exit=2)["error"]
    assert "--chain-id my-private-chain" in err["hint"]


def test_a_uuid_on_no_chain_is_not_found(chain_cli: ChainCli) -> None:
    err = chain_cli.json("show", "6b2c0e8e-0000-5000-8000-000000000000", expect_exit=3)
    assert err["error"]["kind"] == "not_found"


def test_library_prune_deletes_by_default_and_counts_on_dry_run(chain_cli: ChainCli) -> None:
    chain_cli.emu.advance(30)
    dead = order_row(status="OPEN", good_til_block=1)
    live = order_row(status="OPEN", good_til_block=chain_cli.emu.state.height + 10)
    with Store.open(chain_cli.db_path, chain_id=LOCAL_CHAIN) as s:
        s.insert_order(dead)
        s.insert_order(live)
    rt = _runtime(chain_cli)
    try:
        dry = reconcile.prune(rt, dry_run=True)
        assert (dry.dry_run, dry.expired_short_term, dry.kept) == (True, 1, 1)
        assert rt.store().count() == 2
        progressed: list[int] = []
        done = reconcile.prune(rt, progress=progressed.append)
        assert (done.dry_run, done.expired_short_term, done.kept) == (False, 1, 1)
        assert progressed == [1]
        assert rt.store().get(dead["order_id"]) is None
        assert rt.store().get(live["order_id"]) is not None
    finally:
        rt.close()


def test_prune_keeps_final_rows_for_keep_then_deletes_them(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT)
    chain_cli.json("cancel", order["order_id"])
    rt = _runtime(chain_cli)
    try:
        rt.store().transition(order["order_id"], "CANCELED")
        assert reconcile.prune(rt, keep="7d").final_state == 0
        time.sleep(1.1)  # block times are whole seconds: let one pass the row's update
        chain_cli.emu.advance(1)
        assert reconcile.prune(rt, keep="0s").final_state == 1
        assert rt.store().count() == 0
    finally:
        rt.close()


def test_prune_offline_uses_no_node(chain_cli: ChainCli) -> None:
    row = order_row(order_flags=64, good_til_block_time=1_000_000, status="OPEN")
    with Store.open(chain_cli.db_path, chain_id=LOCAL_CHAIN) as s:
        s.insert_order(row)
    chain_cli.emu.reset_calls()
    rt = _runtime(chain_cli)
    try:
        summary = reconcile.prune(rt, offline=True)
    finally:
        rt.close()
    assert summary.expired_stateful == 1
    assert chain_cli.emu.call_log() == []


def _failed_outcomes(data: dict[str, Any]) -> list[str]:
    return [o["outcome"] for o in data["orders"] if o["exit_code"]]


def test_cancel_all_failed_rows_say_failed_and_why(chain_cli: ChainCli) -> None:
    chain_cli.place(*LIMIT)
    chain_cli.emu.fail_next("BroadcastTx", codespace="clob", code=12)
    data = chain_cli.json("cancel", "--all", expect_exit=6)
    assert _failed_outcomes(data) == ["FAILED (chain_rejected)"]
    assert data["failed"] == 1 and "1 failed" in data["summary"]
    [row] = data["orders"]
    assert row["detail"] and row["kind"] == "long-term" and row["market"] == "BTC-USD"
    assert row["tx_hash"]  # the rejected transaction, to look up
