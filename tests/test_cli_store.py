"""`orders` and `show` through the real CLI on a real store file; errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from dydxctl.config import DEFAULT_NETWORK, NETWORKS
from dydxctl.render import ORDER_JSON_KEYS
from dydxctl.store import Store
from tests.conftest import Cli, order_row

SPEC_KEYS = {
    "order_id", "client_id", "market", "status", "order_flags", "good_til_block",
    "good_til_block_time",
}  # fmt: skip


# The chain of the default network (testnet): `cli` passes no --network.
DEFAULT_CHAIN = NETWORKS[DEFAULT_NETWORK].chain_id


def _seed(db_path: Path) -> list[dict]:
    rows = [
        order_row(chain_id=DEFAULT_CHAIN),
        order_row(chain_id=DEFAULT_CHAIN, market="ETH-USD", clob_pair_id=1, order_flags=64),
    ]
    with Store.open(db_path) as s:
        for r in rows:
            s.insert_order(r)
        s.transition(rows[1]["order_id"], "OPEN", tx_hash="EE" * 32)
    return rows


def test_orders_json_has_documented_keys(cli: Cli) -> None:
    _seed(cli.db_path)
    data = cli.json("orders")
    assert isinstance(data, list) and len(data) == 2
    for obj in data:
        assert set(obj) >= SPEC_KEYS
        assert set(obj) == set(ORDER_JSON_KEYS)
    assert {o["kind"] for o in data} == {"short-term", "long-term"}


def test_orders_filters(cli: Cli) -> None:
    _seed(cli.db_path)
    assert [o["market"] for o in cli.json("orders", "--status", "open")] == ["ETH-USD"]
    assert [o["market"] for o in cli.json("orders", "--market", "btc-usd")] == ["BTC-USD"]
    assert len(cli.json("orders", "--limit", "1")) == 1


def test_orders_table(cli: Cli) -> None:
    rows = _seed(cli.db_path)
    result = cli("orders")
    assert result.exit_code == 0
    assert rows[0]["order_id"] in result.stdout and "ETH-USD" in result.stdout


def test_show_with_events(cli: Cli) -> None:
    rows = _seed(cli.db_path)
    data = cli.json("show", rows[1]["order_id"])
    assert data["order_id"] == rows[1]["order_id"]
    assert [e["to_status"] for e in data["events"]] == ["PENDING", "OPEN"]
    by_client_id = cli.json("show", str(rows[0]["client_id"]))
    assert by_client_id["order_id"] == rows[0]["order_id"]
    table = cli("show", rows[1]["order_id"])
    assert table.exit_code == 0 and "Events" in table.stdout and "EE" * 32 in table.stdout


def test_unknown_order_id_exits_3(cli: Cli) -> None:
    result = cli("show", "6b2c0e8e-0000-5000-8000-000000000000")
    assert result.exit_code == 3
    assert "Order not found" in result.stderr and "Traceback" not in result.output
    err = cli.json("show", "6b2c0e8e-0000-5000-8000-000000000000", expect_exit=3)
    assert err["error"]["code"] == 3 and err["error"]["kind"] == "not_found"
    assert err["error"]["message"] and err["error"]["hint"]


def test_corrupt_store_exits_8_untouched(cli: Cli) -> None:
    cli.db_path.parent.mkdir(parents=True)
    cli.db_path.write_bytes(b"garbage" * 1000)
    err = cli.json("orders", expect_exit=8)
    assert err["error"]["kind"] == "store"
    assert cli.db_path.read_bytes() == b"garbage" * 1000


def test_bad_network_exits_2_as_json(cli: Cli) -> None:
    result = cli("--json", "--network", "moon", "orders")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["kind"] == "bad_input"


def test_bad_status_exits_2(cli: Cli) -> None:
    result = cli("orders", "--status", "SLEEPING")
    assert result.exit_code == 2 and "Unknown status" in result.stderr


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("dydxctl ")


def test_error_classes_are_the_exit_code_table() -> None:
    """errors.py maps 1:1 onto SPEC §3: codes 1..11 and 130 (Ctrl-C), one class each,
    distinct kinds."""
    from dydxctl.errors import ALL_ERRORS

    assert sorted(e.exit_code for e in ALL_ERRORS) == [*range(1, 12), 130]
    assert len({e.kind for e in ALL_ERRORS}) == len(ALL_ERRORS)
    assert all(e.title for e in ALL_ERRORS)


def test_orders_lists_the_current_chain_and_all_chains_on_request(cli: Cli) -> None:
    _seed(cli.db_path)
    other = order_row(chain_id="dydx-mainnet-1")
    with Store.open(cli.db_path) as s:
        s.insert_order(other)
    assert other["order_id"] not in {o["order_id"] for o in cli.json("orders")}
    everywhere = cli.json("orders", "--all-chains")
    assert {o["chain_id"] for o in everywhere} == {DEFAULT_CHAIN, "dydx-mainnet-1"}
    table = cli("orders", "--all-chains")
    assert table.exit_code == 0 and "CHAIN" in table.stdout and "dydx-mainnet-1" in table.stdout
    assert "CHAIN" not in cli("orders").stdout
