"""One store, several chains and wallets: real `python -m dydxctl` processes against the
emulator. An order of another chain or wallet is refused (exit 2, the right --network or
wallet named) and never broadcast; prune and `orders` see the current chain only."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dydxctl.emulator import Emulator
from dydxctl.store import Store
from tests.conftest import LOCAL_CHAIN, TEST_MNEMONIC, clean_env, dydxctl_argv, order_row

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]
TESTNET = "dydx-testnet-4"
OTHER_ADDRESS = "dydx1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du"


def run(emu: Emulator, db: Path, *args: str, network: str = "local") -> subprocess.CompletedProcess:
    """dydxctl in its own process; every endpoint is the emulator whatever --network says."""
    argv = dydxctl_argv(emu, db, "--json", *args)
    argv[argv.index("--network") + 1] = network
    return subprocess.run(
        argv, env=clean_env(DYDX_MNEMONIC=TEST_MNEMONIC), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def ok(proc: subprocess.CompletedProcess) -> Any:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def broadcasts(emu: Emulator) -> int:
    return sum(1 for c in emu.call_log() if c["name"] == "BroadcastTx")


def stored(db: Path, order_id: str, chain_id: str = LOCAL_CHAIN) -> dict[str, Any] | None:
    with Store.open(db, chain_id=chain_id) as s:
        return s.get(order_id)


def copy_to_chain(db: Path, row: dict[str, Any], chain_id: str, **changes: Any) -> None:
    """The same OrderId (hence UUID) stored for another chain."""
    with Store.open(db, chain_id=chain_id) as s:
        s.insert_order({**row, "chain_id": chain_id, **changes})


@pytest.fixture
def placed(emulator: Emulator, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    db = tmp_path / "orders.db"
    return db, ok(run(emulator, db, "place", *LIMIT))


@pytest.mark.parametrize(
    ("command", "network", "names"),
    [
        (["cancel"], "testnet", "--network local"),
        (["show"], "testnet", "--network local"),
        (["cancel", "--dry-run"], "mainnet", "--network local"),
    ],
)
def test_an_order_of_another_chain_is_refused_naming_its_network(
    emulator: Emulator, placed: tuple[Path, dict], command: list[str], network: str, names: str
) -> None:
    db, order = placed
    sent = broadcasts(emulator)
    proc = run(emulator, db, *command, order["order_id"], network=network)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = json.loads(proc.stdout)["error"]
    assert names in error["hint"] and LOCAL_CHAIN in error["message"]
    assert broadcasts(emulator) == sent
    assert stored(db, order["order_id"])["status"] == "OPEN"  # not marked EXPIRED


def test_an_order_of_another_wallet_is_refused_naming_the_wallet(
    emulator: Emulator, tmp_path: Path
) -> None:
    db = tmp_path / "orders.db"
    foreign = order_row(address=OTHER_ADDRESS, status="OPEN", good_til_block=10_000)
    with Store.open(db, chain_id=LOCAL_CHAIN) as s:
        s.insert_order(foreign)
    proc = run(emulator, db, "cancel", foreign["order_id"])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = json.loads(proc.stdout)["error"]
    assert OTHER_ADDRESS in error["message"] and OTHER_ADDRESS in error["hint"]
    assert broadcasts(emulator) == 0
    assert stored(db, foreign["order_id"])["status"] == "OPEN"


def test_the_same_uuid_on_two_chains_finds_each_chains_row(
    emulator: Emulator, placed: tuple[Path, dict]
) -> None:
    db, order = placed
    row = stored(db, order["order_id"])
    copy_to_chain(db, row, TESTNET, status="CANCELED")
    assert ok(run(emulator, db, "show", order["order_id"]))["status"] == "OPEN"
    on_testnet = ok(run(emulator, db, "show", order["order_id"], network="testnet"))
    assert (on_testnet["status"], on_testnet["chain_id"]) == ("CANCELED", TESTNET)
    # The local order is cancelled; the testnet row's CANCELED does not stop it.
    cancelled = ok(run(emulator, db, "cancel", order["order_id"]))
    assert cancelled["outcome"] == "CANCEL_PENDING"
    assert stored(db, order["order_id"], TESTNET)["status"] == "CANCELED"


def test_prune_and_orders_see_the_current_chain_only(
    emulator: Emulator, placed: tuple[Path, dict]
) -> None:
    db, order = placed
    emulator.advance(30)
    # Live orders of another chain whose good-til-block is below this chain's height.
    others = [order_row(chain_id=TESTNET, status="OPEN", good_til_block=3) for _ in range(3)]
    dead_local = order_row(status="OPEN", good_til_block=2)
    with Store.open(db, chain_id=TESTNET) as s:
        for row in others:
            s.insert_order(row)
    with Store.open(db, chain_id=LOCAL_CHAIN) as s:
        s.insert_order(dead_local)
    listed = ok(run(emulator, db, "orders"))
    assert {o["order_id"] for o in listed} == {order["order_id"], dead_local["order_id"]}
    everywhere = ok(run(emulator, db, "orders", "--all-chains"))
    assert len(everywhere) == 5

    summary = ok(run(emulator, db, "prune-expired"))
    assert (summary["deleted"], summary["kept"]) == (1, 1)
    with Store.open(db) as s:
        chains = s.conn.execute("SELECT chain_id, count(*) FROM orders GROUP BY 1").fetchall()
    assert dict(chains) == {LOCAL_CHAIN: 1, TESTNET: 3}


def test_sync_leaves_other_chains_rows_alone(emulator: Emulator, placed: tuple[Path, dict]) -> None:
    db, _ = placed
    emulator.advance(30)
    other = order_row(chain_id=TESTNET, status="OPEN", good_til_block=3)
    with Store.open(db, chain_id=TESTNET) as s:
        s.insert_order(other)
    result = ok(run(emulator, db, "sync"))
    assert result["checked"] == 1
    assert stored(db, other["order_id"], TESTNET)["status"] == "OPEN"


PRUNE_ROWS = 25_000


def _fill_expired(db: Path, count: int) -> None:
    """Many long-expired short-term rows of this chain, with an event each, in bulk."""
    from dydxctl.store import ORDER_COLUMNS

    template = order_row(status="OPEN", good_til_block=1)
    cols = ", ".join(ORDER_COLUMNS)
    marks = ", ".join("?" for _ in ORDER_COLUMNS)
    with Store.open(db, chain_id=LOCAL_CHAIN) as s, s.write():
        rows, events = [], []
        for i in range(count):
            rec = {c: template.get(c) for c in ORDER_COLUMNS}
            rec.update(order_id=f"00000000-0000-5000-8000-{i:012d}", client_id=10_000_000 + i,
                       created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z",
                       reduce_only=0, client_metadata=0, source="place")  # fmt: skip
            seq = 1_000_000 + i  # above the rows insert_order numbered
            rows.append([*(rec[c] for c in ORDER_COLUMNS), seq])
            events.append((rec["order_id"], LOCAL_CHAIN, seq, rec["created_at"], "OPEN"))
        s.conn.executemany(f"INSERT INTO orders ({cols}, seq) VALUES ({marks}, ?)", rows)
        s.conn.executemany(
            "INSERT INTO order_events (order_id, chain_id, order_seq, at, to_status)"
            " VALUES (?, ?, ?, ?, ?)",
            events,
        )


def test_a_cancel_during_a_large_prune_waits_a_fraction_of_a_second(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A real `cancel` process, and a probe writing every 10 ms, while a real
    `prune-expired` process deletes PRUNE_ROWS rows: the cancel succeeds and no write
    waits more than a fraction of a second for the lock."""
    import time

    db = tmp_path / "orders.db"
    order = ok(run(emulator, db, "place", *LIMIT))
    probe = order_row(status="OPEN", good_til_block=10_000)
    with Store.open(db, chain_id=LOCAL_CHAIN) as s:
        s.insert_order(probe)
    _fill_expired(db, PRUNE_ROWS)
    emulator.advance(10)
    log = tmp_path / "cancel.log"
    prune = subprocess.Popen(
        dydxctl_argv(emulator, db, "--json", "prune-expired"), env=clean_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    cancel = None
    waits: list[float] = []
    try:
        with Store.open(db, chain_id=LOCAL_CHAIN) as writer:
            while writer.count() >= PRUNE_ROWS + 2 and prune.poll() is None:
                time.sleep(0.005)  # until the prune is deleting
            cancel = subprocess.Popen(
                dydxctl_argv(emulator, db, "--json", "--log-file", str(log), "cancel",
                             order["order_id"]),
                env=clean_env(DYDX_MNEMONIC=TEST_MNEMONIC), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            while prune.poll() is None:
                started = time.perf_counter()
                writer.update_fields(probe["order_id"], last_error="probe", durable=True)
                waits.append(time.perf_counter() - started)
                time.sleep(0.01)
    finally:
        out, err = prune.communicate(timeout=300)
        cancelled = cancel.communicate(timeout=120) if cancel else ("", "")
    assert prune.returncode == 0, out + err
    assert json.loads(out)["deleted"] == PRUNE_ROWS
    assert cancel.returncode == 0, cancelled
    assert json.loads(cancelled[0])["outcome"] == "CANCEL_PENDING"
    assert len(waits) >= 5, "the prune ended too soon: no overlap was tested"
    assert max(waits) < 1.0, sorted(waits)[-5:]
    cancel_waits = [
        float(line.split("waited ")[1].split(" ms")[0])
        for line in log.read_text().splitlines()
        if "for the write lock" in line
    ]
    assert max(cancel_waits, default=0.0) < 1000, cancel_waits


def test_prune_transactions_stay_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound the concurrent-cancel test relies on, asserted per transaction."""
    import time

    from dydxctl import store as store_module

    db = tmp_path / "orders.db"
    _fill_expired(db, 20_000)
    durations: list[float] = []
    original = store_module.Store._prune_batch

    def timed(self: Store, sql: str, params: dict) -> int:
        started = time.perf_counter()
        try:
            return original(self, sql, params)
        finally:
            durations.append(time.perf_counter() - started)

    monkeypatch.setattr(store_module.Store, "_prune_batch", timed)
    with Store.open(db, chain_id=LOCAL_CHAIN) as s:
        summary = s.prune(height=100, now_unix=int(time.time()), keep_seconds=0)
    assert summary.deleted == 20_000
    assert len(durations) > 5
    assert max(durations) < 10 * store_module.PRUNE_TX_TARGET_S, durations
