"""Bad input, table-driven, through the CLI: each case exits with its documented code and a
clear message, prints no traceback, and leaves the store as it was."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dydxctl.store import Store
from tests.conftest import TEST_MNEMONIC, ChainCli

BTC = ["--market", "BTC-USD", "--side", "buy"]
OK_SIZE = ["--size", "0.001"]
OK_PRICE = ["--price", "50000"]


def _dead_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@dataclass
class Case:
    name: str
    args: list[str]
    code: int
    fragment: str
    setup: Callable[[ChainCli, Path], dict[str, Any]] | None = None
    env: dict[str, str] = field(default_factory=dict)
    store_file_untouched: bool = False  # compare raw bytes (store-level failures)
    records_rejection: bool = False  # a chain rejection is recorded, by design


def _mnemonic_file(mode: int) -> Callable[[ChainCli, Path], dict[str, Any]]:
    def setup(cli: ChainCli, tmp: Path) -> dict[str, Any]:
        path = tmp / "mnemonic.txt"
        path.write_text(TEST_MNEMONIC)
        path.chmod(mode)
        return {"global": ["--mnemonic-file", str(path)], "env": {"DYDX_MNEMONIC": ""}}

    return setup


def _fault(method: str, repeat: int = 3, **fault: Any) -> Callable[[ChainCli, Path], dict]:
    def setup(cli: ChainCli, tmp: Path) -> dict[str, Any]:
        for _ in range(repeat):
            cli.emu.fail_next(method, **fault)
        return {"global": extra_global}

    extra_global = list(fault.pop("global_args", []))
    setup.rearm = True  # type: ignore[attr-defined]  # faults are used up by each run
    return setup


def _store_replaced(content: bytes | None = None, newer: bool = False) -> Callable:
    def setup(cli: ChainCli, tmp: Path) -> dict[str, Any]:
        if newer:
            conn = sqlite3.connect(cli.db_path)
            conn.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                " VALUES ('dydxctl', 'm999_future', '2030-01-01')"
            )
            conn.commit()
            conn.close()
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(str(cli.db_path) + suffix).unlink(missing_ok=True)
            cli.db_path.write_bytes(content or b"")
        return {}

    return setup


def _immutable_store(cli: ChainCli, tmp: Path) -> dict[str, Any]:
    """Make the store file read-only even for root (ext4's immutable attribute)."""
    import shutil
    import subprocess

    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available to make a read-only store")
    with Store.open(cli.db_path) as store:  # fold the WAL into the file first
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    done = subprocess.run(["chattr", "+i", str(cli.db_path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make the store immutable here: {done.stderr.decode().strip()}")
    return {"cleanup": lambda: subprocess.run(["chattr", "-i", str(cli.db_path)], check=True)}


def _config(text: str) -> Callable[[ChainCli, Path], dict[str, Any]]:
    def setup(cli: ChainCli, tmp: Path) -> dict[str, Any]:
        path = tmp / "bad.toml"
        path.write_text(text)
        return {"global": ["--config", str(path)]}

    return setup


def _global(*args: str) -> Callable[[ChainCli, Path], dict[str, Any]]:
    return lambda cli, tmp: {"global": list(args)}


CASES = [
    Case("negative size", ["place", *BTC, "--size", "-1", *OK_PRICE], 2, "must be positive"),
    Case("zero size", ["place", *BTC, "--size", "0", *OK_PRICE], 2, "must be positive"),
    Case("non-numeric size", ["place", *BTC, "--size", "lots", *OK_PRICE], 2, "not a number"),
    Case("negative price", ["place", *BTC, *OK_SIZE, "--price", "-5"], 2, "must be positive"),
    Case("zero price", ["place", *BTC, *OK_SIZE, "--price", "0"], 2, "must be positive"),
    Case("non-numeric price", ["place", *BTC, *OK_SIZE, "--price", "cheap"], 2, "not a number"),
    Case("NaN price", ["place", *BTC, *OK_SIZE, "--price", "NaN"], 2, "not a finite number"),
    Case(
        "price off the tick",
        ["place", *BTC, *OK_SIZE, "--price", "50000.5"],
        2,
        "Nearest valid prices: 50000 or 50001",
    ),
    Case(
        "size off the step",
        ["place", *BTC, "--size", "0.00015", *OK_PRICE],
        2,
        "Nearest valid sizes: 0.0001 or 0.0002",
    ),
    Case(
        "unknown market",
        ["place", "--market", "DOGE-EUR", "--side", "buy", *OK_SIZE, *OK_PRICE],
        2,
        "Unknown market",
    ),
    Case(
        "unknown side",
        ["place", "--market", "BTC-USD", "--side", "long", *OK_SIZE, *OK_PRICE],
        2,
        "Unknown side",
    ),
    Case(
        "unknown type",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--type", "iceberg"],
        2,
        "Unknown order type",
    ),
    Case(
        "unknown time in force",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--time-in-force", "gtc"],
        2,
        "Unknown time in force",
    ),
    Case(
        "GTB 0",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--good-til-blocks", "0"],
        2,
        "between 1 and 40",  # the node's ShortBlockWindow (v9.6.1)
    ),
    Case(
        "GTB over the window",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--good-til-blocks", "41"],
        2,
        "between 1 and 40",
    ),
    Case(
        "good-til in the past",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--good-til", "2020-01-01T00:00:00Z"],
        2,
        "in the past",
    ),
    Case(
        "good-til beyond 95 days",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--good-til", "100d"],
        2,
        "more than 95 days",
    ),
    Case(
        "malformed good-til",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--good-til", "soon"],
        2,
        "not an ISO-8601 time",
    ),
    Case(
        "stop without trigger",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--type", "stop-limit"],
        2,
        "needs --trigger-price",
    ),
    Case(
        "client id too large",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--client-id", "4294967296"],
        2,
        "--client-id",
    ),
    Case("invalid order id", ["cancel", "not-a-uuid"], 2, "is not an order id"),
    Case(
        "unknown order id",
        ["cancel", "6b2c0e8e-0000-5000-8000-000000000000"],
        3,
        "neither in the store nor known",
    ),
    Case("ambiguous client id", ["cancel", "4242"], 2, "names 2 stored orders"),
    Case("cancel with neither id nor --all", ["cancel"], 2, "Give an ORDER_ID or --all"),
    Case(
        "invalid mnemonic checksum",
        ["address"],
        10,
        "bad checksum",
        env={"DYDX_MNEMONIC": TEST_MNEMONIC.rsplit(" ", 1)[0] + " abandon"},
    ),
    Case(
        "mnemonic with wrong word count",
        ["address"],
        10,
        "has 5 words",
        env={"DYDX_MNEMONIC": "mirror actor skill push coach"},
    ),
    Case(
        "no mnemonic at all",
        ["place", *BTC, *OK_SIZE, *OK_PRICE],
        10,
        "No wallet",
        env={"DYDX_MNEMONIC": ""},
    ),
    Case(
        "mnemonic file readable by others",
        ["address"],
        10,
        "can be read by others",
        setup=_mnemonic_file(0o644),
    ),
    Case(
        "corrupt store",
        ["orders"],
        8,
        "not a dydxctl store",
        setup=_store_replaced(b"this is not a database" * 200),
        store_file_untouched=True,
    ),
    Case(
        "newer-schema store",
        ["orders"],
        8,
        "newer dydxctl",
        setup=_store_replaced(newer=True),
        store_file_untouched=True,
    ),
    Case(
        "unreachable node",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--good-til-blocks", "5"],
        7,
        "unreachable",
        setup=lambda cli, tmp: {"global": ["--grpc", _dead_port()]},
    ),
    Case(
        "unreachable Indexer",
        ["markets"],
        7,
        "unreachable",
        setup=lambda cli, tmp: {"global": ["--indexer", f"http://{_dead_port()}"]},
    ),
    Case(
        "Indexer answers HTML",
        ["markets"],
        7,
        "not JSON",
        setup=_fault("/v4/perpetualMarkets", http_status=200, body="<html>hi</html>"),
    ),
    Case(
        "Indexer answers 500",
        ["markets"],
        7,
        "not JSON",
        setup=_fault("/v4/perpetualMarkets", http_status=500),
    ),
    Case(
        "node times out",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--good-til-blocks", "5"],
        7,
        "did not answer GetLatestBlock within 0.3 s",
        setup=_fault("GetLatestBlock", delay_s=0.6, global_args=["--timeout", "0.3"]),
    ),
    Case(
        "wrong chain id",
        ["place", *BTC, *OK_SIZE, *OK_PRICE, "--good-til-blocks", "5"],
        6,
        "sdk 4 ErrUnauthorized",
        setup=_global("--chain-id", "dydx-mainnet-1"),
        records_rejection=True,
    ),
    Case(
        "chain rejects the tx",
        ["place", *BTC, *OK_SIZE, *OK_PRICE],
        6,
        "clob 10001",
        setup=_fault("BroadcastTx", repeat=1, codespace="clob", code=10001),
        records_rejection=True,
    ),
    Case("unknown network", ["orders"], 2, "Unknown network", setup=_global("--network", "moon")),
    Case(
        "read-only store",
        ["place", *BTC, *OK_SIZE, *OK_PRICE],
        8,
        "read-only",
        setup=_immutable_store,
        store_file_untouched=True,
    ),
    Case("invalid config file", ["orders"], 2, "not valid TOML", setup=_config("network = [")),
    Case("unknown config key", ["orders"], 2, "unknown keys", setup=_config("netwrok = 'x'")),
    Case("negative --limit", ["orders", "--limit", "-1"], 2, "Invalid value for '--limit'"),
    Case("zero timeout", ["orders"], 2, "not a number of seconds", setup=_global("--timeout", "0")),
    Case("unknown status filter", ["orders", "--status", "DONE"], 2, "Unknown status"),
    Case("unknown option", ["place", "--mnemonic", "secret words"], 2, "No such option"),
]


def _content_digest(db: Path) -> str:
    """What a user relies on: orders, events and cancel attempts (not caches)."""
    with Store.open(db) as store:
        parts = [
            store.conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in ("orders", "order_events", "cancel_attempts")
        ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _seed(cli: ChainCli) -> None:
    from tests.conftest import order_row

    with Store.open(cli.db_path) as store:
        store.insert_order(order_row(client_id=4242, chain_id="localdydxprotocol"))
        store.insert_order(order_row(client_id=4242, clob_pair_id=1, market="ETH-USD",
                                     chain_id="localdydxprotocol"))  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(
    chain_cli: ChainCli, tmp_path: Path, case: Case, request: pytest.FixtureRequest
) -> None:
    _seed(chain_cli)
    extra = case.setup(chain_cli, tmp_path) if case.setup else {}
    if "cleanup" in extra:
        request.addfinalizer(extra["cleanup"])
    before_bytes = chain_cli.db_path.read_bytes() if case.store_file_untouched else None
    before = None if case.store_file_untouched else _content_digest(chain_cli.db_path)
    env = {**case.env, **extra.get("env", {})}
    for json_mode in (False, True):
        args = [*extra.get("global", []), *(["--json"] if json_mode else []), *case.args]
        result = chain_cli(*args, env=env)
        output = result.stdout + result.stderr
        assert result.exit_code == case.code, output
        assert "Traceback" not in output
        assert case.fragment in output, output
        if json_mode:  # usage errors from the option parser are JSON too
            error = json.loads(result.stdout)["error"]
            assert error["code"] == case.code and error["message"]
        if getattr(case.setup, "rearm", False):
            case.setup(chain_cli, tmp_path)  # re-arm the fault for the JSON run
    if case.store_file_untouched:
        assert chain_cli.db_path.read_bytes() == before_bytes
    elif not case.records_rejection:
        assert _content_digest(chain_cli.db_path) == before
    else:
        with Store.open(chain_cli.db_path) as store:
            rejected = store.list_orders(status="REJECTED")
        assert len(rejected) == 2  # one per run (tables and --json), each recorded


def test_there_are_at_least_30_cases() -> None:
    assert len(CASES) >= 30
