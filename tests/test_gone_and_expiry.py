"""Boundaries that a one-character change would move: the block at which a short-term
order expires, and what an "order does not exist" answer (clob 3006) resolves to."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dydxctl.store import Store
from tests.conftest import ChainCli, order_row

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]


def _status(cli: ChainCli, order_id: str) -> str:
    with Store.open(cli.db_path) as s:
        return s.get(order_id)["status"]


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-1, "EXPIRED"), (0, "EXPIRED"), (1, "OPEN")],
    ids=["gtb below height", "gtb at height", "gtb above height"],
)
def test_sync_expires_a_short_term_row_once_the_height_reaches_its_gtb(
    chain_cli: ChainCli, offset: int, expected: str
) -> None:
    """A short-term order is valid through block GTB - 1's successor only while
    height < GTB (x/clob ante: ErrHeightExceedsGoodTilBlock once height >= GTB)."""
    chain_cli.emu.advance(20)
    height = chain_cli.emu.state.height
    row = order_row(status="OPEN", good_til_block=height + offset)
    with Store.open(chain_cli.db_path, chain_id=row["chain_id"]) as s:
        s.insert_order(row)
    chain_cli.json("sync")
    assert _status(chain_cli, row["order_id"]) == expected


def _filled(cli: ChainCli) -> dict[str, Any]:
    order = cli.place(*LIMIT)
    cli.emu.advance(1)  # in state once in a block
    cli.emu.fill(order["order_id"])
    cli.emu.advance(1)
    return order


def _cancelled_elsewhere(cli: ChainCli) -> dict[str, Any]:
    """Cancelled by another tool: the chain and Indexer know, this store still says OPEN."""
    order = cli.place(*LIMIT)
    with Store.open(cli.db_path) as s:
        saved = s.get(order["order_id"])
    cli.json("cancel", order["order_id"])
    cli.emu.advance(1)
    with Store.open(cli.db_path) as s:
        s.conn.execute(
            "UPDATE orders SET status = 'OPEN', cancel_tx_hash = NULL WHERE order_id = ?",
            (saved["order_id"],),
        )
    return order


def _never_reached_the_chain(cli: ChainCli) -> dict[str, Any]:
    row = order_row(order_flags=64, good_til_block_time=int(time.time()) + 3600, status="PENDING")
    with Store.open(cli.db_path, chain_id=row["chain_id"]) as s:
        s.insert_order(row)
    return row


@pytest.mark.parametrize(
    ("setup", "exit_code", "kind", "status"),
    [
        (_filled, 4, "already_final", "FILLED"),
        (_cancelled_elsewhere, 4, "already_final", "CANCELED"),
        # Its place tx is in no block yet: it may still land, so nothing is decided.
        (_never_reached_the_chain, 6, "chain_rejected", "PENDING"),
    ],
    ids=["filled", "cancelled elsewhere", "never reached the chain"],
)
def test_clob_3006_is_resolved_against_the_indexer(
    chain_cli: ChainCli, setup: Any, exit_code: int, kind: str, status: str
) -> None:
    order = setup(chain_cli)
    chain_cli.emu.reset_calls()
    err = chain_cli.json("cancel", order["order_id"], expect_exit=exit_code)["error"]
    assert err["kind"] == kind
    assert _status(chain_cli, order["order_id"]) == status
    names = [c["name"] for c in chain_cli.emu.call_log()]
    assert "BroadcastTx" in names and "/v4/orders/{id}" in names  # asked after the 3006


def test_sync_of_an_empty_store_asks_nobody(chain_cli: ChainCli) -> None:
    chain_cli.emu.reset_calls()
    result = chain_cli.json("sync")
    assert (result["checked"], result["changed"], result["imported"]) == (0, [], [])
    assert chain_cli.emu.call_log() == []
