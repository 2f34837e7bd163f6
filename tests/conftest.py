"""Shared fixtures: real stores (SQLite files in tmp dirs, or a PostgreSQL schema of
their own on the local server), and a CliRunner wired to them.

The store suite and the lifecycle tests run on both backends: `db_target` (and so `store`,
`cli`, `chain_cli`) is parametrised over sqlite and postgresql in BOTH_BACKENDS modules,
except for tests marked `sqlite_only` (they read SQLite's own PRAGMAs or files).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dydxctl.chain import indexer_order_uuid

TEST_ADDRESS = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
LOCAL_CHAIN = "localdydxprotocol"  # the emulator's chain id (--network local)
_client_ids = itertools.count(1000)


def order_row(**overrides: Any) -> dict[str, Any]:
    """A complete order row as `place` would store it."""
    from v4_proto.dydxprotocol.clob.order_pb2 import OrderId
    from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

    row: dict[str, Any] = {
        "chain_id": LOCAL_CHAIN,
        "address": TEST_ADDRESS,
        "subaccount_number": 0,
        "client_id": next(_client_ids),
        "clob_pair_id": 0,
        "order_flags": 0,
        "market": "BTC-USD",
        "side": "BUY",
        "type": "LIMIT",
        "time_in_force": "GTT",
        "reduce_only": False,
        "quantums": 1_000_000,
        "subticks": 5_000_000_000,
        "size": "0.0001",
        "price": "50000",
        "good_til_block": 120,
        "good_til_block_time": None,
        "status": "PENDING",
        "place_tx_hash": "AB" * 32,
    }
    row.update(overrides)
    if row["order_flags"]:
        row["good_til_block"] = overrides.get("good_til_block")
        row["good_til_block_time"] = overrides.get("good_til_block_time", 1_900_000_000)
    oid = OrderId(
        subaccount_id=SubaccountId(owner=row["address"], number=row["subaccount_number"]),
        client_id=row["client_id"],
        order_flags=row["order_flags"],
        clob_pair_id=row["clob_pair_id"],
    )
    row.setdefault("order_id_proto", base64.b64encode(oid.SerializeToString()).decode())
    row.setdefault(
        "order_id",
        indexer_order_uuid(
            row["address"], row["subaccount_number"], row["client_id"], row["clob_pair_id"],
            row["order_flags"],
        ),
    )  # fmt: skip
    return row


# The server .ci/run checks for: trust auth on loopback, database `test`, user `postgres`.
PG_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
BOTH_BACKENDS = frozenset({"tests.test_store", "tests.test_lifecycle", "tests.test_store_pg"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: reads SQLite internals; one backend only")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run BOTH_BACKENDS modules' store-using tests once per backend."""
    if "backend" not in metafunc.fixturenames or metafunc.module.__name__ not in BOTH_BACKENDS:
        return
    if metafunc.definition.get_closest_marker("sqlite_only") is None:
        metafunc.parametrize("backend", ["sqlite", "postgresql"])


@pytest.fixture
def backend() -> str:
    """The store backend of tests outside BOTH_BACKENDS modules."""
    return "sqlite"


def pg_schema_url(schema: str) -> str:
    """The test server's URL with search_path set to one schema (libpq's options)."""
    return f"{PG_SERVER_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema of this test's own on the local server, dropped afterwards."""
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_SERVER_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield pg_schema_url(schema)
    finally:
        with psycopg.connect(PG_SERVER_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "orders.db"


@pytest.fixture
def db_target(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """What --db names: a SQLite path, or a PostgreSQL URL with a schema of its own."""
    if backend == "postgresql":
        return request.getfixturevalue("pg_url")
    return db_path


@pytest.fixture
def store(db_target: Path | str) -> Iterator[Any]:
    from dydxctl.store_open import open_store

    with open_store(db_target, chain_id=LOCAL_CHAIN) as s:
        yield s


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No DYDX* variable leaks in from the machine; XDG dirs point into tmp."""
    import os

    for name in list(os.environ):
        if name.startswith(("DYDXCTL_", "DYDX_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return tmp_path


class Cli:
    """Runs the real Typer app in-process against a given store (a path or a URL)."""

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = db_path
        self.runner = CliRunner()

    def open_store(self) -> Any:
        from dydxctl.store_open import open_store

        return open_store(self.db_path)

    def nothing_stored(self) -> bool:
        """No SQLite file was created; on PostgreSQL, no order row was written."""
        if isinstance(self.db_path, Path):
            return not self.db_path.exists()
        with self.open_store() as s:
            return s.count() == 0

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Any:
        from dydxctl.cli import app

        return self.runner.invoke(app, ["--db", str(self.db_path), *args], env=env)

    def json(self, *args: str, expect_exit: int = 0, env: dict[str, str] | None = None) -> Any:
        result = self("--json", *args, env=env)
        assert result.exit_code == expect_exit, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli(db_target: Path | str, isolated_env: Path) -> Cli:
    return Cli(db_target)


TEST_MNEMONIC = (
    "mirror actor skill push coach wait confirm orchard lunch mobile athlete gossip awake "
    "miracle matter bus reopen team ladder lazy list timber render wait"
)


@pytest.fixture
def emulator() -> Iterator[Any]:
    """A real emulator on 127.0.0.1, ports 0, blocks advanced by hand."""
    from dydxctl.emulator import Emulator

    with Emulator(block_time_s=0) as emu:
        yield emu


class ChainCli(Cli):
    """The CLI pointed at the emulator, with the published test wallet."""

    def __init__(self, db_path: Path | str, emu: Any) -> None:
        super().__init__(db_path)
        self.emu = emu

    def __call__(self, *args: str, env: dict[str, str] | None = None, strip: Any = ()) -> Any:
        """`strip`: default endpoint options to leave out (a test sets them by env)."""
        from dydxctl.cli import app

        base = {"DYDX_MNEMONIC": TEST_MNEMONIC}
        return self.runner.invoke(
            app,
            [*self.global_args(overridden=[*args, *strip]), *args],
            env={**base, **(env or {})},
        )

    def global_args(self, overridden: tuple[str, ...] | list[str] = ()) -> list[str]:
        """The emulator's endpoints, except those a test passes itself (an option given
        twice is refused)."""
        defaults = {
            "--network": "local", "--grpc": self.emu.grpc_target,
            "--indexer": self.emu.indexer_url, "--websocket": self.emu.ws_url,
            "--db": str(self.db_path),
        }  # fmt: skip
        given = {a.partition("=")[0] for a in overridden}
        return [x for k, v in defaults.items() if k not in given for x in (k, v)]

    def broadcasts(self) -> int:
        return sum(1 for c in self.emu.call_log() if c["name"] == "BroadcastTx")

    def place(self, *args: str) -> dict[str, Any]:
        return self.json("place", *args)


@pytest.fixture
def chain_cli(db_target: Path | str, isolated_env: Path, emulator: Any) -> ChainCli:
    return ChainCli(db_target, emulator)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any DYDX*/DYDXCTL_* setting, plus `extra`."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DYDX")}
    env.update(extra)
    return env


def dydxctl_argv(emu: Any, db: Path | str, *args: str) -> list[str]:
    """`python -m dydxctl` against an emulator and a store, for real subprocesses."""
    import sys

    return [
        sys.executable, "-m", "dydxctl", "--network", "local", "--grpc", emu.grpc_target,
        "--indexer", emu.indexer_url, "--websocket", emu.ws_url, "--db", str(db), *args,
    ]  # fmt: skip


def read_pty(fd: int, until: bytes | None, timeout: float = 20) -> bytes:
    """What a pty child printed, until `until` appears (None: until EOF) or the timeout."""
    import select
    import time

    seen = b""
    deadline = time.monotonic() + timeout
    while (until is None or until not in seen) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """(api.Client, Emulator): a library client on a fresh store, against an emulator whose
    blocks move by hand (the library-level mutation tests share it)."""
    from dydxctl.api import Client
    from dydxctl.emulator import Emulator

    with Emulator(block_time_s=0) as emu:
        client = Client.open(
            network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
            db=tmp_path / "orders.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
        )  # fmt: skip
        yield client, emu
        client.close()
