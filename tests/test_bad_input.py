"""Bad input, table-driven, through the CLI: each case exits with its documented code and a
clear message naming the value (and the valid range), prints no traceback, answers JSON
under --json and under DYDXCTL_JSON=1, never echoes a mnemonic (not even with --debug),
and leaves the store as it was.

CASES are the original table; HARDENING_CASES are issue 13's 177-input sweep findings
(config types, exit-1 crashes, secrets in wrong places, newcomer paths); PROMPT_CASES need
a real terminal (Ctrl-D / Ctrl-C at the mnemonic prompt)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mnemonic import Mnemonic

from dydxctl.store import Store
from tests.conftest import TEST_MNEMONIC, ChainCli, read_pty

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
    also: tuple[str, ...] = ()  # further fragments: the valid range, the file, the key
    secret: bool = False  # a phrase in a wrong place: also run with --debug


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


def _config_bytes(data: bytes) -> Callable[[ChainCli, Path], dict[str, Any]]:
    def setup(cli: ChainCli, tmp: Path) -> dict[str, Any]:
        path = tmp / "bad.toml"
        path.write_bytes(data)
        return {"global": ["--config", str(path)]}

    return setup


def _special_mnemonic_file(kind: str) -> Callable[[ChainCli, Path], dict[str, Any]]:
    """A mnemonic "file" that is not a regular file: opening a FIFO for reading would block."""

    def setup(cli: ChainCli, tmp: Path) -> dict[str, Any]:
        if kind == "fifo":
            path = tmp / "key.fifo"
            if not path.exists():
                os.mkfifo(path, 0o600)
        elif kind == "directory":
            path = tmp / "key.d"
            path.mkdir(mode=0o700, exist_ok=True)
        else:
            path = Path("/dev/null")
        return {"global": ["--mnemonic-file", str(path)], "env": {"DYDX_MNEMONIC": ""}}

    return setup


def _markets_body(**btc: Any) -> str:
    """An Indexer /v4/perpetualMarkets answer whose BTC-USD differs from the node's ClobPair."""
    market = {
        "ticker": "BTC-USD", "clobPairId": "0", "atomicResolution": -10,
        "quantumConversionExponent": -9, "stepBaseQuantums": 1_000_000,
        "subticksPerTick": 100_000, "oraclePrice": "65000", "status": "ACTIVE",
    }  # fmt: skip
    market.update(btc)
    return json.dumps({"markets": {"BTC-USD": market}})


# A second valid phrase, put where a phrase never belongs; the wallet's own is in the env.
OTHER_PHRASE = Mnemonic("english").to_mnemonic(bytes(range(32)))
PHRASE_FRAGMENTS = [
    " ".join(p.split()[i : i + 3])
    for p in (TEST_MNEMONIC, OTHER_PHRASE)
    for i in range(len(p.split()) - 2)
]
PLACE_OK = ["place", *BTC, *OK_SIZE, *OK_PRICE]


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

HARDENING_CASES = [
    # --- the config file is typed: a string is not a boolean, a scalar is not a table ---
    Case("config: cancel = \"false\"", ["cancel", "4242"], 2,
         "`features.cancel` must be true or false",
         setup=_config('[features]\ncancel = "false"\n'), also=("bad.toml", "'false'")),
    Case("config: json = \"false\"", ["orders"], 2, "`json` must be true or false",
         setup=_config('json = "false"\n'), also=("bad.toml",)),
    Case("config: features = \"yes\"", ["orders"], 2, "`features` must be a table",
         setup=_config('features = "yes"\n'), also=("'yes'",)),
    Case("config: prune = 5", ["orders"], 2, "`prune` must be a table",
         setup=_config("prune = 5\n")),
    Case("config: db = 5", ["orders"], 2, "`db` must be a string", setup=_config("db = 5\n")),
    Case("config: [[features]]", ["orders"], 2, "`features` must be a table",
         setup=_config("[[features]]\ncancel = true\n"), also=("an array",)),
    Case("config: unknown feature", ["orders"], 2, "[features] has unknown keys: cancle",
         setup=_config("[features]\ncancle = false\n")),
    Case("config: prune keep not a duration", ["orders"], 2, "'forever' is not a duration",
         setup=_config('[prune]\nkeep = "forever"\n')),
    Case("config: window 0", ["orders"], 2, "between 1 and 40",
         setup=_config("short_block_window = 0\n"), also=("not 0",)),
    Case("config: not UTF-8", ["orders"], 2, "is not UTF-8 text",
         setup=_config_bytes(b'network = "\xff\xfe"\n'), also=("bad.toml",)),
    Case("config: a directory", ["orders"], 2, "is not a regular file",
         setup=lambda cli, tmp: {"global": ["--config", str(tmp)]}),
    Case("--log-file is a directory", ["orders"], 2, "is a directory",
         setup=lambda cli, tmp: {"global": ["--log-file", str(tmp)]}),
    # --- bad input that used to be exit 1 (an "internal error") ---
    Case("--limit 2^70", ["orders", "--limit", str(2**70)], 2, str(2**70), also=("1<=x<=1000000",)),
    Case("show ²", ["show", "²"], 2, "'²' is not an order id", also=("0..4294967295",)),
    Case("show a 25-digit client id", ["show", "1234567890123456789012345"], 2,
         "Client id 1234567890123456789012345 is out of range", also=("0..4294967295",)),
    Case("cancel a 25-digit client id", ["cancel", "1234567890123456789012345"], 2,
         "Client id 1234567890123456789012345 is out of range", also=("0..4294967295",)),
    Case("--good-til blanks", [*PLACE_OK, "--good-til", "   "], 2, "--good-til '   ' is empty"),
    Case("--good-til empty", [*PLACE_OK, "--good-til", ""], 2, "--good-til '' is empty"),
    Case("--subaccount 2^32", [*PLACE_OK, "--subaccount", "4294967296"], 2, "4294967296",
         also=("0<=x<=128000",)),
    Case("--subaccount above MaxSubaccountIdNumber", [*PLACE_OK, "--subaccount", "128001"], 2,
         "128001", also=("0<=x<=128000",)),
    Case("cancel --all --subaccount 128001", ["cancel", "--all", "--subaccount", "128001"], 2,
         "128001", also=("0<=x<=128000",)),
    Case("sync --subaccount -1", ["sync", "--import", "--subaccount", "-1"], 2, "-1",
         also=("0<=x<=128000",)),
    Case("--keep 999999999d", ["prune-expired", "--keep", "999999999d"], 2, "'999999999d'",
         also=("36500d",)),
    Case("--keep empty", ["prune-expired", "--keep", ""], 2, "The duration is empty"),
    Case("--side buy --side sell", ["place", *BTC, "--side", "sell", *OK_SIZE, *OK_PRICE], 2,
         "--side was given 2 times ('buy', 'sell')"),
    Case("--price twice", [*PLACE_OK, "--price=50001"], 2, "--price was given 2 times"),
    Case("--network before and after", ["orders", "--network", "local"], 2,
         "--network was given 2 times", setup=_global("--network", "testnet")),
    Case("price with 29 significant digits",
         ["place", *BTC, *OK_SIZE, "--price", "50000.000000000000000000000001"], 2,
         "Price 50000.000000000000000000000001 is not a multiple",
         also=("Nearest valid prices: 50000 or 50001",)),
    Case("size with 61 significant digits", ["place", *BTC, "--size", "0." + "1" * 61, *OK_PRICE],
         2, "has 61 significant digits", also=("at most 60",)),
    Case("stats --prometheus /", ["stats", "--prometheus", "/"], 2,
         "Cannot write the Prometheus file /"),
    Case("--chain-id ''", ["orders"], 2, "--chain-id '' is empty", setup=_global("--chain-id", "")),
    Case("--time-in-force ''", [*PLACE_OK, "--time-in-force", ""], 2,
         "--time-in-force '' is empty", also=("post-only",)),
    Case("markets --market NOPE-USD", ["markets", "--market", "NOPE-USD"], 2,
         "Unknown market 'NOPE-USD'", also=("BTC-USD",)),
    Case("orders --market ''", ["orders", "--market", ""], 2, "--market '' is empty"),
    Case("cancel --wait-timeout -1", ["cancel", "4242", "--wait", "--wait-timeout", "-1"], 2,
         "-1", also=("0.1<=x<=3600",)),
    Case("emulator --block-time nan", ["emulator", "--block-time", "nan"], 2,
         "Block time 'nan' is out of range", also=("between 0 and 3600s",)),
    Case("watch --replay of a missing file", ["watch", "--replay", "/nonexistent/ws.json"], 2,
         "/nonexistent/ws.json", also=("does not exist",)),
    Case("unknown status names the valid words", ["orders", "--status", "gone"], 2,
         "Unknown status 'gone'", also=("cancel_pending", "any case")),
    Case("Indexer rate limit (429)", ["cancel", "6b2c0e8e-0000-5000-8000-000000000000"], 7,
         "HTTP 429", setup=_fault("/v4/orders/{id}", repeat=1, http_status=429,
                                  body='{"errors":[{"msg":"Too many requests"}]}'),
         also=("rate-limiting",)),
    # --- transport and the parameters that decide what is signed ---
    Case("plaintext Indexer off loopback", ["orders"], 2, "http://indexer.example.com",
         setup=_global("--network", "mainnet", "--indexer", "http://indexer.example.com"),
         also=("--insecure",)),
    Case("Indexer's subticks per tick differ from the ClobPair", [*PLACE_OK, "--dry-run"], 2,
         "differ from the node's ClobPair 0",
         also=("subticks per tick: Indexer 1000, node 100000",),
         setup=_fault("/v4/perpetualMarkets", repeat=1, http_status=200,
                      body=_markets_body(subticksPerTick=1000))),
    Case("Indexer's step differs from the ClobPair", PLACE_OK, 2,
         "differ from the node's ClobPair 0",
         also=("step base quantums: Indexer 10000, node 1000000",),
         setup=_fault("/v4/perpetualMarkets", repeat=1, http_status=200,
                      body=_markets_body(stepBaseQuantums=10_000, quantumConversionExponent=-8))),
    # --- mnemonic files that are not regular files: refused at once, never opened ---
    Case("mnemonic file is a FIFO", ["address"], 10, "is not a regular file (a FIFO)",
         setup=_special_mnemonic_file("fifo")),
    Case("mnemonic file is a directory", ["address"], 10, "is not a regular file (a directory)",
         setup=_special_mnemonic_file("directory")),
    Case("mnemonic file is a device", ["address"], 10, "/dev/null is not a regular file",
         setup=_special_mnemonic_file("device"), also=("a character device",)),
    # --- a phrase in every wrong place: refused, never echoed (with --debug too) ---
    Case("phrase as --mnemonic-file's value", ["address"], 10, "Cannot read the mnemonic file",
         setup=lambda cli, tmp: {"global": ["--mnemonic-file", OTHER_PHRASE],
                                 "env": {"DYDX_MNEMONIC": ""}}, secret=True),
    Case("phrase as positional arguments", ["address", *OTHER_PHRASE.split()], 2,
         "unexpected extra argument", secret=True),
    Case("phrase as one positional argument", ["show", OTHER_PHRASE], 2, "is not an order id",
         secret=True),
    Case("phrase as an option value", ["place", "--market", OTHER_PHRASE, "--side", "buy",
                                       *OK_SIZE, *OK_PRICE], 2, "Unknown market", secret=True),
    Case("phrase as --indexer", ["markets"], 2, "is not an Indexer URL",
         setup=_global("--indexer", OTHER_PHRASE), secret=True),
    Case("phrase in the config file", ["orders"], 2, "Unknown network",
         setup=lambda cli, tmp: {**_config(f'network = "{OTHER_PHRASE}"\n')(cli, tmp),
                                 "strip_global": ["--network"]}, secret=True),
    Case("phrase in DYDXCTL_NETWORK", ["orders"], 2, "Unknown network",
         env={"DYDXCTL_NETWORK": OTHER_PHRASE}, secret=True,
         setup=lambda cli, tmp: {"strip_global": ["--network"]}),
    Case("phrase in DYDXCTL_MNEMONIC_FILE", ["address"], 10, "Cannot read the mnemonic file",
         env={"DYDXCTL_MNEMONIC_FILE": OTHER_PHRASE, "DYDX_MNEMONIC": ""}, secret=True),
    Case("phrase in DYDXCTL_CHAIN_ID (signed, refused by the chain)", PLACE_OK, 6,
         "sdk 4 ErrUnauthorized", env={"DYDXCTL_CHAIN_ID": OTHER_PHRASE}, secret=True,
         records_rejection=True),
]  # fmt: skip
ALL_CASES = CASES + HARDENING_CASES


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


# Each case runs in these modes: tables, --json, DYDXCTL_JSON=1 (and --debug for secrets).
MODES = ("tables", "--json", "DYDXCTL_JSON=1")


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
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
    runs = 0
    for mode in MODES + (("--debug",) if case.secret else ()):
        flags = {"--json": ["--json"], "--debug": ["--debug"]}.get(mode, [])
        args = [*extra.get("global", []), *flags, *case.args]
        mode_env = {**env, **({"DYDXCTL_JSON": "1"} if mode == "DYDXCTL_JSON=1" else {})}
        result = chain_cli(*args, env=mode_env, strip=extra.get("strip_global", ()))
        runs += 1
        output = result.stdout + result.stderr
        assert result.exit_code == case.code, output
        if mode != "--debug":
            assert "Traceback" not in output
        for fragment in (case.fragment, *case.also):
            assert fragment in output, output
        for words in PHRASE_FRAGMENTS:  # in any case: tickers are upper-cased
            assert words not in output.lower(), f"mnemonic words {words!r} leaked ({mode})"
        if mode in ("--json", "DYDXCTL_JSON=1"):  # usage and settings errors are JSON too
            error = json.loads(result.stdout)["error"]
            assert error["code"] == case.code and error["message"]
            assert set(error) >= {"code", "kind", "message", "hint"}
        if getattr(case.setup, "rearm", False):
            case.setup(chain_cli, tmp_path)  # re-arm the fault for the next run
    if case.store_file_untouched:
        assert chain_cli.db_path.read_bytes() == before_bytes
    elif not case.records_rejection:
        assert _content_digest(chain_cli.db_path) == before
    else:
        with Store.open(chain_cli.db_path) as store:
            rejected = store.list_orders(status="REJECTED")
        assert len(rejected) == runs  # one per run, each recorded


def test_there_are_at_least_30_cases() -> None:
    assert len(CASES) >= 30 and len(HARDENING_CASES) >= 40


@dataclass
class PromptCase:
    """A key pressed at the hidden mnemonic prompt, on a real terminal (a pty)."""

    name: str
    keys: bytes
    code: int
    fragment: str


PROMPT_CASES = [
    PromptCase("Ctrl-D at the mnemonic prompt", b"\x04", 10, "No mnemonic was entered"),
    PromptCase("Enter at the mnemonic prompt", b"\n", 10, "No mnemonic was entered"),
    PromptCase("Ctrl-C at the mnemonic prompt", b"\x03", 130, "Stopped by Ctrl-C"),
]


@pytest.mark.parametrize("case", PROMPT_CASES, ids=[c.name for c in PROMPT_CASES])
def test_keys_at_the_mnemonic_prompt(tmp_path: Path, case: PromptCase) -> None:
    import pty
    import sys

    from tests.conftest import clean_env

    env = clean_env(DYDXCTL_DB=str(tmp_path / "orders.db"), XDG_CONFIG_HOME=str(tmp_path))
    pid, fd = pty.fork()
    if pid == 0:  # the child: dydxctl with the pty as its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "dydxctl", "address"], env)
    prompt = read_pty(fd, b"Mnemonic (hidden):")
    assert b"Mnemonic (hidden):" in prompt
    os.write(fd, case.keys)
    rest = read_pty(fd, None)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = (prompt + rest).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == case.code, text
    assert case.fragment in text and "Traceback" not in text, text
