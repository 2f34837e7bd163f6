"""The PostgreSQL store against the real local server: migrations, refusals, errors, and the
fleet guarantees (write-ahead, one broadcast per double cancel, no client-id collision, crash).

Every test gets a schema of its own (conftest.pg_url); processes started here stand for the
hosts of a fleet: they share nothing but the URL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from dydxctl.emulator import Emulator
from dydxctl.errors import DuplicateOrder, StoreError
from dydxctl.store_open import is_postgres_url, open_store, redact_url
from dydxctl.store_pg import PG_MIGRATION_NAMES, PgStore
from tests.conftest import (
    TEST_MNEMONIC,
    ChainCli,
    clean_env,
    dydxctl_argv,
    order_row,
)

SHORT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000",
         "--good-til-blocks", "15"]  # fmt: skip
# Orders each of 4 placing processes sends in CI; the full figure (250: 1,000 rows) is
# measured with DYDXCTL_PG_PLACES=250 and reported in benchmarks/README.md.
PLACES_PER_PROCESS = int(os.environ.get("DYDXCTL_PG_PLACES", "25"))


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(emu: Emulator, db: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    command = dydxctl_argv(emu, db, "--json", *args)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120,
        env=clean_env(DYDX_MNEMONIC=TEST_MNEMONIC, **env),
    )  # fmt: skip


# --- URLs and opening -------------------------------------------------------------------------
def test_urls_select_postgresql_and_paths_sqlite(tmp_path: Path) -> None:
    assert is_postgres_url("postgresql://u@h:5432/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url(str(tmp_path / "orders.db")) and not is_postgres_url(tmp_path)
    assert redact_url("postgresql://bob:hunter2@db.example:5433/x?sslmode=require") == (
        "postgresql://bob:***@db.example:5433/x?sslmode=require"
    )
    assert "hunter2" not in redact_url("postgresql://h/x?user=bob&password=hunter2")
    with open_store(tmp_path / "orders.db") as sqlite_store:
        assert type(sqlite_store).__name__ == "Store"


def test_psycopg_is_not_imported_for_sqlite(tmp_path: Path) -> None:
    code = (
        "import sys; from dydxctl.store_open import open_store;"
        f" open_store({str(tmp_path / 'o.db')!r}).close();"
        " print('psycopg' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- migrations ---------------------------------------------------------------------------------
def test_migrations_are_recorded_once(pg_url: str) -> None:
    PgStore.open(pg_url).close()
    with PgStore.open(pg_url) as again:
        rows = again.conn.execute("SELECT name, applied_at FROM _dydxctl_migrations").fetchall()
    assert [r["name"] for r in rows] == list(PG_MIGRATION_NAMES) == ["m001_initial"]
    assert rows[0]["applied_at"] is not None


def _open_and_count(url: str) -> int:
    with PgStore.open(url) as s:
        return len(s.applied_migrations())


def test_hosts_starting_at_once_migrate_once(pg_url: str) -> None:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert pool.map(_open_and_count, [pg_url] * 8) == [1] * 8
    with PgStore.open(pg_url) as s:
        assert s.conn.execute("SELECT count(*) AS n FROM _dydxctl_migrations").fetchone()["n"] == 1


def test_newer_schema_is_refused_untouched(pg_url: str) -> None:
    with PgStore.open(pg_url) as s:
        s.insert_order(order_row())
        s.conn.execute("INSERT INTO _dydxctl_migrations (name) VALUES ('m999_from_the_future')")
    with pytest.raises(StoreError, match="newer dydxctl") as info:
        PgStore.open(pg_url)
    assert info.value.exit_code == 8
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1


def test_schema_keeps_the_scoped_order_identity(pg_url: str) -> None:
    with PgStore.open(pg_url) as s:
        keys = s.conn.execute(
            "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint"
            " WHERE conrelid = 'orders'::regclass AND contype IN ('p', 'u') ORDER BY contype"
        ).fetchall()
    assert [k["d"] for k in keys] == [
        "PRIMARY KEY (chain_id, order_id)",
        "UNIQUE (chain_id, address, subaccount_number, client_id, clob_pair_id, order_flags)",
    ]


def test_same_order_on_two_chains_is_two_rows(pg_url: str) -> None:
    row = order_row()
    with PgStore.open(pg_url) as s:
        s.insert_order(row)
        s.insert_order({**row, "chain_id": "dydx-mainnet-1"})
        assert s.count() == 2


# --- errors: exit 8, never the password -----------------------------------------------------------
SECRET = "s3cr3t-Pa55"


def _assert_store_error(url: str, fragment: str) -> None:
    with pytest.raises(StoreError, match=fragment) as info:
        PgStore.open(url)
    assert info.value.exit_code == 8
    assert SECRET not in info.value.message + info.value.hint


def test_server_down_is_a_store_error() -> None:
    _assert_store_error(f"postgresql://postgres:{SECRET}@127.0.0.1:{_dead_port()}/test",
                        "Cannot reach the PostgreSQL store")  # fmt: skip


def test_wrong_credentials_are_a_store_error() -> None:
    _assert_store_error(f"postgresql://no_such_role:{SECRET}@127.0.0.1:5432/test",
                        "refused the credentials")  # fmt: skip


def test_missing_database_is_a_store_error() -> None:
    _assert_store_error(f"postgresql://postgres:{SECRET}@127.0.0.1:5432/no_such_db_dydxctl",
                        "does not exist")  # fmt: skip


def test_statement_timeout_is_a_store_error(pg_url: str) -> None:
    PgStore.open(pg_url).close()
    with psycopg.connect(pg_url) as holder:
        holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")  # held until the end
        with (
            PgStore.open(pg_url + "%20-cstatement_timeout%3D300") as s,
            pytest.raises(StoreError, match="statement_timeout") as info,
        ):
            s.insert_order(order_row())
    assert info.value.exit_code == 8


def test_cli_store_error_prints_no_password(emulator: Emulator) -> None:
    url = f"postgresql://no_such_role:{SECRET}@127.0.0.1:5432/test"
    result = _run(emulator, url, "orders")
    assert result.returncode == 8, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "store" and "no_such_role:***@" in error["message"]
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


# --- fleet semantics -----------------------------------------------------------------------
def test_the_unique_key_decides_between_hosts(pg_url: str) -> None:
    row = order_row()
    with PgStore.open(pg_url) as host_a, PgStore.open(pg_url) as host_b:
        host_a.insert_order(row)
        twin = order_row(client_id=row["client_id"], order_id="other-uuid-same-identity")
        with pytest.raises(DuplicateOrder):
            host_b.insert_order(twin)
        assert host_b.get(row["order_id"])["status"] == "PENDING"


def _wait_until_blocked(pg_url: str, host: PgStore, timeout_s: float = 10.0) -> None:
    """Until the server reports the host's session blocked on a lock (pg_locks, not
    granted): the second host is really waiting, rather than merely late to start."""
    pid = host.conn.info.backend_pid
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(pg_url.split("?")[0], autocommit=True) as watcher:
        while time.monotonic() < deadline:
            query = "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %s"
            if watcher.execute(query, (pid,)).fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second host never waited on the first one's lock")


def test_order_lock_serialises_two_hosts(pg_url: str) -> None:
    seen: list[str] = []
    with PgStore.open(pg_url) as host_a, PgStore.open(pg_url) as host_b:

        def second() -> None:
            with host_b.order_lock("order-x"):
                seen.append("b")

        with host_a.order_lock("order-x"):
            worker = threading.Thread(target=second)
            worker.start()
            _wait_until_blocked(pg_url, host_b)
            seen.append("a done")
        worker.join(timeout=10)
        with host_b.order_lock("order-y"), host_a.order_lock("order-z"):
            seen.append("other orders do not wait")
    assert seen == ["a done", "b", "other orders do not wait"]


def test_status_changes_of_two_hosts_serialise_on_the_row(pg_url: str) -> None:
    row = order_row()
    finished: list[str] = []
    with PgStore.open(pg_url) as host_a, PgStore.open(pg_url) as host_b:
        host_a.insert_order(row)

        def second() -> None:
            host_b.transition(row["order_id"], "CANCEL_PENDING")
            finished.append("b")

        with host_a.write():
            host_a.transition(row["order_id"], "OPEN")  # row locked until this commits
            worker = threading.Thread(target=second)
            worker.start()
            _wait_until_blocked(pg_url, host_b)
            finished.append("a")
        worker.join(timeout=10)
        # b waited for a's commit, then saw OPEN (PENDING → CANCEL_PENDING is illegal).
        assert finished == ["a", "b"]
        assert [e["to_status"] for e in host_b.events(row["order_id"])] == [
            "PENDING", "OPEN", "CANCEL_PENDING",
        ]  # fmt: skip


def test_write_ahead_row_is_visible_to_another_host_before_the_broadcast(
    emulator: Emulator, pg_url: str
) -> None:
    emulator.fail_next("BroadcastTx", delay_s=1.5)
    proc = subprocess.Popen(
        dydxctl_argv(emulator, pg_url, "--json", "place", *SHORT), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=clean_env(DYDX_MNEMONIC=TEST_MNEMONIC),
    )  # fmt: skip
    deadline = time.monotonic() + 20
    seen: list[dict] = []
    with PgStore.open(pg_url) as other_host:
        while not seen and time.monotonic() < deadline:
            seen = other_host.list_orders()
            time.sleep(0.02)
        on_chain_then = set(emulator.state.by_uuid)  # the broadcast is still in flight
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [r["status"] for r in seen] == ["PENDING"]
    assert seen[0]["order_id"] not in on_chain_then
    assert json.loads(out)["order_id"] == seen[0]["order_id"]
    assert emulator.state.by_uuid[seen[0]["order_id"]].live


def test_two_hosts_cancelling_one_order_broadcast_once(
    emulator: Emulator, db_target: Path | str
) -> None:
    placed = _run(emulator, str(db_target), "place", *SHORT)
    assert placed.returncode == 0, placed.stderr
    order_id = json.loads(placed.stdout)["order_id"]
    emulator.reset_calls()
    # The first broadcast is slow, so the second canceller arrives while it is in flight.
    emulator.fail_next("BroadcastTx", delay_s=1.0)
    argv = dydxctl_argv(emulator, str(db_target), "--json", "cancel", order_id)
    env = clean_env(DYDX_MNEMONIC=TEST_MNEMONIC)
    procs = [subprocess.Popen(argv, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env) for _ in range(2)]  # fmt: skip
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], results
    outcomes = [json.loads(out) for _, out, _ in results]
    assert [o["outcome"] for o in outcomes] == ["CANCEL_PENDING", "CANCEL_PENDING"]
    broadcasts = [c for c in emulator.call_log() if c["name"] == "BroadcastTx"]
    assert len(broadcasts) == 1, broadcasts
    # The second reports the first's cancel: the same transaction hash.
    assert outcomes[0]["cancel_tx_hash"] == outcomes[1]["cancel_tx_hash"]
    with open_store(db_target) as s:
        assert s.get(order_id)["status"] == "CANCEL_PENDING"
        assert s.cancel_metrics()["attempts"] == 1


def test_two_hosts_cancelling_an_order_neither_stored_broadcast_once(
    emulator: Emulator, pg_url: str, tmp_path: Path
) -> None:
    """Placed from a laptop's own SQLite store; two fleet hosts rebuild it from the Indexer
    at once: one records it, the other uses that row, and one cancel is broadcast."""
    placed = _run(emulator, str(tmp_path / "laptop.db"), "place", *SHORT)
    assert placed.returncode == 0, placed.stderr
    order_id = json.loads(placed.stdout)["order_id"]
    emulator.reset_calls()
    emulator.fail_next("BroadcastTx", delay_s=1.0)
    argv = dydxctl_argv(emulator, pg_url, "--json", "cancel", order_id)
    env = clean_env(DYDX_MNEMONIC=TEST_MNEMONIC)
    procs = [subprocess.Popen(argv, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env) for _ in range(2)]  # fmt: skip
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], results
    assert [json.loads(out)["outcome"] for _, out, _ in results] == ["CANCEL_PENDING"] * 2
    assert sum(1 for c in emulator.call_log() if c["name"] == "BroadcastTx") == 1
    with PgStore.open(pg_url) as s:
        assert s.get(order_id)["status"] == "CANCEL_PENDING"


PLACER = """
import sys
from decimal import Decimal
from dydxctl.config import resolve
from dydxctl.lifecycle import place
from dydxctl.orders import OrderRequest
from dydxctl.runtime import Runtime

grpc, indexer, db, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rt = Runtime(resolve({"network": "local", "grpc": grpc, "indexer": indexer, "db": db}, {}),
             env={"DYDX_MNEMONIC": sys.stdin.read()})
for _ in range(count):
    place(rt, OrderRequest("BTC-USD", "buy", Decimal("0.001"), price=Decimal("50000"),
                           good_til_blocks=20))
rt.close()
"""


def place_from_processes(emu: Emulator, db: str, processes: int, each: int) -> tuple[float, list]:
    """`processes` placing processes of `each` orders on one store: (seconds, failures)."""
    started = time.perf_counter()
    procs = []
    for _ in range(processes):
        proc = subprocess.Popen(
            [sys.executable, "-c", PLACER, emu.grpc_target, emu.indexer_url, db, str(each)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=clean_env(),
        )  # fmt: skip
        proc.stdin.write(TEST_MNEMONIC)
        proc.stdin.close()
        procs.append(proc)
    failures = []
    for proc in procs:
        proc.wait(timeout=600)
        if proc.returncode != 0:
            failures.append(proc.stderr.read()[-2000:])
    return time.perf_counter() - started, failures


def test_four_hosts_place_on_one_postgresql_store(emulator: Emulator, pg_url: str) -> None:
    seconds, failures = place_from_processes(emulator, pg_url, 4, PLACES_PER_PROCESS)
    assert not failures, failures[0]
    total = 4 * PLACES_PER_PROCESS
    with PgStore.open(pg_url) as s:
        figures = s.conn.execute(
            "SELECT count(*) AS n, count(DISTINCT client_id) AS ids,"
            " count(DISTINCT order_id) AS uuids, array_agg(DISTINCT status) AS statuses"
            " FROM orders"
        ).fetchone()
    assert (figures["n"], figures["ids"], figures["uuids"]) == (total, total, total)
    assert figures["statuses"] == ["OPEN"]
    assert len(emulator.state.by_uuid) == total
    print(f"\n{total} places from 4 processes on PostgreSQL in {seconds:.1f} s")


# --- crash and store errors after the broadcast ---------------------------------------------------
def test_sigkill_after_the_broadcast_leaves_a_row_sync_resolves(
    emulator: Emulator, pg_url: str
) -> None:
    killed = _run(emulator, pg_url, "place", *SHORT, DYDXCTL_CRASH_AT="place:after_broadcast")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with PgStore.open(pg_url) as s:
        [row] = s.list_orders()
    assert row["status"] == "PENDING" and row["order_id"] in emulator.state.by_uuid
    ChainCli(pg_url, emulator).json("sync")
    with PgStore.open(pg_url) as s:
        assert s.get(row["order_id"])["status"] == "OPEN"


def test_store_error_after_the_broadcast_leaves_the_order_for_sync(
    emulator: Emulator, pg_url: str
) -> None:
    """The server stops answering between broadcast and status update: exit 8, and the
    order (on the chain) keeps its PENDING row, which sync then records as OPEN."""
    PgStore.open(pg_url).close()
    emulator.fail_next("BroadcastTx", delay_s=1.5)
    impatient = pg_url + "%20-cstatement_timeout%3D400"
    proc = subprocess.Popen(
        dydxctl_argv(emulator, impatient, "--json", "place", *SHORT), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=clean_env(DYDX_MNEMONIC=TEST_MNEMONIC),
    )  # fmt: skip
    with psycopg.connect(pg_url, autocommit=True) as holder:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if holder.execute("SELECT count(*) FROM orders").fetchone()[0]:
                break
            time.sleep(0.02)
        with holder.transaction():  # blocks every write until the placer gives up
            holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 8, out + err
    assert "statement_timeout" in json.loads(out)["error"]["message"]
    with PgStore.open(pg_url) as s:
        [row] = s.list_orders()
    assert row["status"] == "PENDING" and emulator.state.by_uuid[row["order_id"]].live
    ChainCli(pg_url, emulator).json("sync")
    with PgStore.open(pg_url) as s:
        assert s.get(row["order_id"])["status"] == "OPEN"


def test_db_url_from_the_environment_and_the_config_file(
    pg_url: str, tmp_path: Path, isolated_env: Path
) -> None:
    from typer.testing import CliRunner

    from dydxctl.cli import app

    row = order_row()
    with PgStore.open(pg_url) as s:
        s.insert_order(row)
    runner = CliRunner()
    by_env = runner.invoke(app, ["--network", "local", "--json", "orders"],
                           env={"DYDXCTL_DB": pg_url})  # fmt: skip
    assert by_env.exit_code == 0, by_env.output
    assert [r["order_id"] for r in json.loads(by_env.stdout)] == [row["order_id"]]
    config = tmp_path / "config.toml"
    config.write_text(f'network = "local"\ndb = "{pg_url}"\n')
    by_file = runner.invoke(app, ["--config", str(config), "--json", "orders"])
    assert by_file.exit_code == 0, by_file.output
    assert [r["order_id"] for r in json.loads(by_file.stdout)] == [row["order_id"]]
    assert not list(tmp_path.rglob("*.db"))  # no SQLite file was made on the side
