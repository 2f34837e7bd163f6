"""Crash safety: SIGKILL dydxctl at every step of place and cancel; nothing is lost.

Each run is a real `python -m dydxctl` subprocess against the in-process emulator, killed
by DYDXCTL_CRASH_AT. After each kill the store is intact, every order the chain holds has a
row `cancel` can use, and `sync` settles every PENDING/UNKNOWN row.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from dydxctl import finality
from dydxctl.emulator import Emulator
from dydxctl.lifecycle import CRASH_POINTS
from dydxctl.store import Store
from tests.conftest import TEST_MNEMONIC, ChainCli, clean_env, dydxctl_argv

SHORT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000",
         "--good-til-blocks", "15"]  # fmt: skip
LONG = ["--market", "ETH-USD", "--side", "sell", "--size", "0.01", "--price", "4000",
        "--good-til", "1h"]  # fmt: skip


def run_dydxctl(
    emu: Emulator, db: Path, *args: str, crash_at: str = ""
) -> subprocess.CompletedProcess:
    env = clean_env(DYDX_MNEMONIC=TEST_MNEMONIC, DYDXCTL_CRASH_AT=crash_at)
    command = dydxctl_argv(emu, db, "--json", *args)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def chain_orders(emu: Emulator) -> dict[str, object]:
    """Orders on the book or in state, after one block (a stateful tx in the mempool)."""
    from dydxctl.emulator.state import uuid_of

    emu.advance(1)
    return {uuid_of(live.order.order_id): live for live in emu.state.book.values()}


def check_invariants(emu: Emulator, db: Path) -> dict[str, dict]:
    """The store is intact and every order the chain holds has a complete row."""
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {r["order_id"]: r for r in store.list_orders()}
    for uuid, live in chain_orders(emu).items():
        assert uuid in rows, f"orphan order {uuid} on the chain with no row"
        assert rows[uuid]["order_id_proto"]
        assert rows[uuid]["client_id"] == live.order.order_id.client_id  # type: ignore[attr-defined]
    return rows


PLACE_POINTS = [p for p in CRASH_POINTS if p.startswith("place:")]
CANCEL_POINTS = [p for p in CRASH_POINTS if p.startswith("cancel:")]


@pytest.mark.parametrize("kind", [SHORT, LONG], ids=["short-term", "long-term"])
@pytest.mark.parametrize("point", PLACE_POINTS)
def test_kill_during_place(emulator: Emulator, tmp_path: Path, point: str, kind: list[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    db = tmp_path / "orders.db"
    result = run_dydxctl(emulator, db, "place", *kind, crash_at=point)
    assert result.returncode == -signal.SIGKILL, result.stderr
    rows = check_invariants(emulator, db) if db.exists() else {}
    on_chain = set(chain_orders(emulator))
    if point == "place:after_signing":
        assert not rows and not on_chain  # nothing written, nothing sent
        return
    [row] = rows.values()
    # Every order on the chain can be cancelled from its row.
    if on_chain:
        cancelled = run_dydxctl(emulator, db, "cancel", row["order_id"])
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
        assert json.loads(cancelled.stdout)["outcome"] == "CANCEL_PENDING"
    # sync settles what is left PENDING/UNKNOWN: an order never sent can never land once its
    # timestamp nonce is out of the chain's window (shrunk here, so no 30 s wait).
    monkeypatch.setattr(finality, "NONCE_PAST_WINDOW_MS", -1000)
    emulator.advance(25)
    cli = ChainCli(db, emulator)
    cli.json("sync")
    with Store.open(db) as store:
        final = store.get(row["order_id"])["status"]
    assert final not in ("PENDING", "UNKNOWN"), final


@pytest.mark.parametrize("kind", [SHORT, LONG], ids=["short-term", "long-term"])
@pytest.mark.parametrize("point", CANCEL_POINTS)
def test_kill_during_cancel(
    emulator: Emulator, tmp_path: Path, point: str, kind: list[str]
) -> None:
    db = tmp_path / "orders.db"
    placed = run_dydxctl(emulator, db, "place", *kind)
    assert placed.returncode == 0, placed.stderr
    order_id = json.loads(placed.stdout)["order_id"]
    killed = run_dydxctl(emulator, db, "cancel", order_id, crash_at=point)
    assert killed.returncode == -signal.SIGKILL
    check_invariants(emulator, db)
    # Cancelling again is always safe and ends with the order off the book.
    again = run_dydxctl(emulator, db, "cancel", order_id)
    assert again.returncode in (0, 4), again.stdout + again.stderr
    emulator.advance(20)
    ChainCli(db, emulator).json("sync")
    with Store.open(db) as store:
        assert store.get(order_id)["status"] in ("CANCELED", "EXPIRED")
    assert emulator.state.find(order_id) is None
