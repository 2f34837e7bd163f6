"""Shared fixtures: real SQLite files in tmp dirs, and a CliRunner wired to them."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dydxctl.chain import indexer_order_uuid

TEST_ADDRESS = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
_client_ids = itertools.count(1000)


def order_row(**overrides: Any) -> dict[str, Any]:
    """A complete order row as `place` would store it."""
    from v4_proto.dydxprotocol.clob.order_pb2 import OrderId
    from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

    row: dict[str, Any] = {
        "chain_id": "localdydxprotocol",
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


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "orders.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Any]:
    from dydxctl.store import Store

    with Store.open(db_path) as s:
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
    """Runs the real Typer app in-process against a given store."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Any:
        from dydxctl.cli import app

        return self.runner.invoke(app, ["--db", str(self.db_path), *args], env=env)

    def json(self, *args: str, expect_exit: int = 0, env: dict[str, str] | None = None) -> Any:
        result = self("--json", *args, env=env)
        assert result.exit_code == expect_exit, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli(db_path: Path, isolated_env: Path) -> Cli:
    return Cli(db_path)


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

    def __init__(self, db_path: Path, emu: Any) -> None:
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
def chain_cli(db_path: Path, isolated_env: Path, emulator: Any) -> ChainCli:
    return ChainCli(db_path, emulator)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any DYDX*/DYDXCTL_* setting, plus `extra`."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DYDX")}
    env.update(extra)
    return env


def dydxctl_argv(emu: Any, db: Path, *args: str) -> list[str]:
    """`python -m dydxctl` against an emulator and a store, for real subprocesses."""
    import sys

    return [
        sys.executable, "-m", "dydxctl", "--network", "local", "--grpc", emu.grpc_target,
        "--indexer", emu.indexer_url, "--websocket", emu.ws_url, "--db", str(db), *args,
    ]  # fmt: skip
