"""Start-up (issue 14): a warm `dydxctl place` / `cancel` process loads only what it uses,
so the gain measured by benchmarks/startup.py cannot silently regress.

Real processes against the emulator; the modules a process loaded are read at its exit.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import TEST_MNEMONIC, clean_env, dydxctl_argv

# What a warm place/cancel must not load: other commands, the Indexer client (http.client),
# rich, the websocket, PostgreSQL, migrations, the TOML parser, grpc's asyncio API, the
# generated service stubs (which load every message of a service) and the tx service's
# messages with their ABCI types (broadcast_wire reads and writes BroadcastTx).
MUST_NOT_LOAD = (
    "rich", "http.client", "asyncio", "grpc.aio", "websockets", "psycopg", "sqlite_utils",
    "tomllib", "dydxctl.indexer", "dydxctl.keys", "dydxctl.authenticators", "dydxctl.ws_wait",
    "dydxctl.ws_client", "dydxctl.cli_store", "dydxctl.cli_chain", "dydxctl.cli_watch",
    "dydxctl.cli_local", "v4_proto.cosmos.tx.v1beta1.service_pb2", "v4_proto.cosmos.base.abci",
)  # fmt: skip

# Runs `python -m dydxctl ARGS` and writes the names in sys.modules at exit to $MODULES_OUT.
MODULES_AT_EXIT = (
    "import atexit, os, runpy, sys\n"
    "atexit.register(lambda: open(os.environ['MODULES_OUT'], 'w').write('\\n'.join(sys.modules)))\n"
    "sys.argv = ['dydxctl', *sys.argv[1:]]\n"
    "runpy.run_module('dydxctl', run_name='__main__')\n"
)


def _run_and_list_modules(argv: list[str], out: Path) -> tuple[dict[str, Any], set[str]]:
    env = clean_env(DYDX_MNEMONIC=TEST_MNEMONIC, MODULES_OUT=str(out))
    result = subprocess.run([sys.executable, "-c", MODULES_AT_EXIT, *argv[3:]],
                            capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), set(out.read_text().split("\n"))


def _offenders(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if m.endswith("_pb2_grpc") or any(m == n or m.startswith(n + ".") for n in MUST_NOT_LOAD)
    )


def test_warm_place_and_cancel_load_only_what_they_use(chain_cli: Any, tmp_path: Path) -> None:
    chain_cli.json("place", "--market", "BTC-USD", "--side", "buy", "--size", "0.001",
                   "--price", "50000", "--good-til-blocks", "10")  # warms the store  # fmt: skip
    place = dydxctl_argv(chain_cli.emu, chain_cli.db_path, "--json", "place", "--market",
                         "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000",
                         "--good-til-blocks", "10")  # fmt: skip
    placed, modules = _run_and_list_modules(place, tmp_path / "place.txt")
    assert placed["status"] == "OPEN"
    assert {"grpc", "sqlite3", "dydxctl.cli_orders", "dydxctl.lifecycle"} <= modules
    assert _offenders(modules) == []

    cancel = dydxctl_argv(chain_cli.emu, chain_cli.db_path, "--json", "cancel",
                          placed["order_id"])  # fmt: skip
    cancelled, modules = _run_and_list_modules(cancel, tmp_path / "cancel.txt")
    assert cancelled["order_id"] == placed["order_id"] and cancelled["cancel_tx_hash"]
    assert {"grpc", "dydxctl.cli_orders", "dydxctl.cancel_one"} <= modules
    assert _offenders(modules) == []


def test_grpc_imported_without_asyncio_still_serves_asyncio_users(emulator: Any) -> None:
    """grpc_sync defers asyncio and grpc.aio; whoever uses them later gets the real ones
    (an asyncio channel runs through grpc's Cython core, which holds the placeholder)."""
    code = f"""
import sys
from dydxctl.grpc_sync import import_grpc
grpc = import_grpc()
assert "asyncio" not in sys.modules and "grpc.aio" not in sys.modules, "loaded up front"
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2 as q
rpc = grpc.insecure_channel("{emulator.grpc_target}").unary_unary(
    "/cosmos.base.tendermint.v1beta1.Service/GetLatestBlock",
    request_serializer=q.GetLatestBlockRequest.SerializeToString,
    response_deserializer=q.GetLatestBlockResponse.FromString)
assert rpc(q.GetLatestBlockRequest(), timeout=10).sdk_block.header.height > 0
assert "asyncio" not in sys.modules, "a sync call loaded asyncio"
import asyncio
async def latest():
    async with grpc.aio.insecure_channel("{emulator.grpc_target}") as channel:
        call = channel.unary_unary("/cosmos.base.tendermint.v1beta1.Service/GetLatestBlock",
            request_serializer=q.GetLatestBlockRequest.SerializeToString,
            response_deserializer=q.GetLatestBlockResponse.FromString)
        return await call(q.GetLatestBlockRequest(), timeout=10)
assert asyncio.run(latest()).sdk_block.header.height > 0
assert grpc.aio.AioRpcError is sys.modules["grpc.aio"].AioRpcError
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env=clean_env())  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_every_command_module_registers_what_the_table_says() -> None:
    """cli.COMMANDS is the only list of commands: a command registered in a cli_* module
    but missing from it would never be reachable."""
    from dydxctl.cli import COMMANDS

    registered: dict[str, str] = {}
    for module_name in sorted(set(COMMANDS.values())):
        registry = importlib.import_module(module_name).commands
        for item in [*registry.registered_commands, *registry.registered_groups]:
            registered[item.name] = module_name
    assert registered == COMMANDS
