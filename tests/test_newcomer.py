"""What a newcomer meets first: options where they type them, status words as printed,
empty results that say so, a demo that explains itself."""

from __future__ import annotations

import re

import pytest

from dydxctl.config import DEFAULT_NETWORK, NETWORKS
from dydxctl.store import Store
from tests.conftest import ChainCli, Cli, order_row

# The in-process `cli` runs on the default network: its rows are that chain's.
DEFAULT_CHAIN = NETWORKS[DEFAULT_NETWORK].chain_id
LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]


def test_global_options_work_after_the_command(cli: Cli) -> None:
    for args in (["orders", "--debug"], ["orders", "-v", "--json"], ["orders", "--timeout", "5"]):
        result = cli(*args)
        assert result.exit_code == 0, result.output
    assert cli("--json", "orders").stdout == cli("orders", "--json").stdout


def test_network_after_place(chain_cli: ChainCli) -> None:
    """`place … --network local`: the ChainCli leaves --network out before the command."""
    order = chain_cli.json("place", *LIMIT, "--network", "local")
    assert order["status"] == "OPEN" and order["chain_id"] == "localdydxprotocol"


@pytest.mark.parametrize("word", ["cancelled", "Canceled", "CANCELED", " canceled "])
def test_status_takes_the_words_the_tool_prints(cli: Cli, word: str) -> None:
    with Store.open(cli.db_path) as store:
        store.insert_order(order_row(chain_id=DEFAULT_CHAIN, status="CANCELED"))
        store.insert_order(order_row(chain_id=DEFAULT_CHAIN, status="OPEN"))
    rows = cli.json("orders", "--status", word)
    assert [r["status"] for r in rows] == ["CANCELED"]


def test_cancel_pending_spelled_with_a_dash_or_a_space(cli: Cli) -> None:
    with Store.open(cli.db_path) as store:
        store.insert_order(order_row(chain_id=DEFAULT_CHAIN, status="CANCEL_PENDING"))
    for word in ("cancel-pending", "Cancel Pending", "cancel_pending"):
        assert len(cli.json("orders", "--status", word)) == 1


def test_newest_first_means_by_creation_time(cli: Cli) -> None:
    with Store.open(cli.db_path) as store:
        older = order_row(
            chain_id=DEFAULT_CHAIN, client_id=1, created_at="2026-01-01T00:00:00.000Z"
        )
        newer = order_row(
            chain_id=DEFAULT_CHAIN, client_id=2, created_at="2026-01-02T00:00:00.000Z"
        )
        store.insert_order(older)
        store.insert_order(newer)
        store.transition(older["order_id"], "OPEN", detail="updated after the newer one")
    ids = [r["client_id"] for r in cli.json("orders")]
    assert ids == [2, 1]


def test_orders_with_no_rows_says_so(cli: Cli) -> None:
    result = cli("orders", "--status", "open", "--market", "ETH-USD")
    assert result.exit_code == 0
    assert "No stored orders with status open, market ETH-USD" in result.stdout
    assert cli.json("orders") == []


def test_cancel_all_and_sync_with_nothing_to_do_say_so(chain_cli: ChainCli) -> None:
    result = chain_cli("cancel", "--all")
    assert result.exit_code == 0 and "Nothing to cancel" in result.stdout, result.output
    result = chain_cli("sync")
    assert result.exit_code == 0 and "Nothing to change: 0 live orders checked" in result.stdout
    assert chain_cli.json("cancel", "--all")["orders"] == []
    assert chain_cli.json("sync")["changed"] == []


def test_demo_narrates_each_step_and_ends_with_what_to_try_next(cli: Cli) -> None:
    result = cli("demo")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    steps = [line for line in lines if re.match(r"^\d/8 ", line)]
    assert [s[:3] for s in steps] == [f"{i}/8" for i in range(1, 9)]
    assert "dydxctl keys new --out" in result.stdout and "dydxctl emulator" in result.stdout
    assert not re.search(r"\b1\d{9}\.\d+", result.stdout), "a raw epoch float"
    data = cli.json("demo")
    assert re.match(r"\d{4}-\d\d-\d\dT", data["emulator"]["block_time"])
    assert not re.search(r"\b1\d{9}\.\d+", str(data))
