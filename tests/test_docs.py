"""The CLI reference in docs/cli.md is generated from the Typer app and never drifts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "python -m typer dydxctl.cli utils docs --name dydxctl --output docs/cli.md"


def test_cli_reference_matches_the_code(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "dydxctl.cli", "utils", "docs", "--name", "dydxctl",
         "--output", str(fresh)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert fresh.read_text() == committed, f"docs/cli.md is stale; run: {REGENERATE}"


def test_every_command_is_documented() -> None:
    from dydxctl.cli import COMMANDS

    text = (ROOT / "docs" / "cli.md").read_text()
    names = list(COMMANDS)
    assert len(names) >= 12
    for name in names:
        assert f"## `dydxctl {name}`" in text


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```sh\n")[1:3]]
    assert blocks[0].endswith("pip install . && dydxctl demo")
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = blocks[1].split("&& ")[-1]
    assert test_command in ci, "README's test command must be the one .ci/run runs"


# Each command driven into an error through the CLI: (args, setup, env, exit code).
# Setups: "corrupt" replaces the store with garbage, "dead-node"/"dead-indexer" point at a
# closed port, "busy-port" holds the port the emulator wants, "existing-key" makes --out exist.
COMMAND_ERRORS: dict[str, tuple[list[str], str, dict[str, str], int]] = {
    "orders": (["orders"], "corrupt", {}, 8),
    "show": (["show", "6b2c0e8e-0000-5000-8000-000000000000"], "corrupt", {}, 8),
    "address": (["address"], "", {"DYDX_MNEMONIC": ""}, 10),
    "markets": (["markets"], "dead-indexer", {}, 7),
    "doctor": (["doctor"], "dead-node", {}, 7),
    "place": (["place", "--market", "BTC-USD", "--side", "buy", "--size", "0.001",
               "--price", "50000", "--good-til-blocks", "5"], "dead-node", {}, 7),
    "cancel": (["cancel", "--all"], "corrupt", {}, 8),
    "prune-expired": (["prune-expired"], "corrupt", {}, 8),
    "sync": (["sync"], "corrupt", {}, 8),
    "stats": (["stats"], "corrupt", {}, 8),
    "demo": (["demo"], "", {"DYDXCTL_FEATURE_CANCEL": "0"}, 9),
    "emulator": (["emulator", "--grpc-port", "0", "--indexer-port", "PORT"], "busy-port", {}, 2),
    "keys new": (["keys", "new", "--out", "KEY"], "existing-key", {}, 2),
    "keys add": (["keys", "add", "--public-key", "02" + "ab" * 32], "dead-node", {}, 7),
    "keys list": (["keys", "list"], "dead-node", {}, 7),
    "keys remove": (["keys", "remove", "3"], "dead-node", {}, 7),
    "watch": (["watch", "--replay", "KEY"], "", {}, 2),  # a replay file that does not exist
}  # fmt: skip


def _all_command_names() -> list[str]:
    from dydxctl.cli import command_names

    return command_names()


def test_every_command_is_in_the_error_table() -> None:
    assert sorted(_all_command_names()) == sorted(COMMAND_ERRORS)


@pytest.mark.parametrize("name", sorted(COMMAND_ERRORS))
def test_every_command_turns_errors_into_exit_codes(name: str, tmp_path: Path) -> None:
    """Each command, driven into an error, exits with the documented code, one JSON error
    under --json, and no traceback (cli_base.handles_errors and the group's main)."""
    import socket

    from tests.conftest import TEST_MNEMONIC, clean_env

    args, setup, env, code = COMMAND_ERRORS[name]
    db = tmp_path / "orders.db"
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    grpc, indexer = "127.0.0.1:1", "http://127.0.0.1:1"
    if setup == "corrupt":
        db.write_bytes(b"not a database" * 100)
    elif setup == "dead-node":
        grpc = dead
    elif setup == "dead-indexer":
        indexer = f"http://{dead}"
    elif setup == "existing-key":
        (tmp_path / "key.txt").write_text("keep me")
    args = [a.replace("PORT", str(busy)).replace("KEY", str(tmp_path / "key.txt")) for a in args]
    full_env = clean_env(
        **{"DYDX_MNEMONIC": TEST_MNEMONIC, "XDG_CONFIG_HOME": str(tmp_path),
           "DYDXCTL_TIMEOUT": "2", **env}
    )  # fmt: skip
    endpoints = ["--network", "local", "--grpc", grpc, "--indexer", indexer, "--db", str(db)]
    try:
        for json_flag in ([], ["--json"]):
            result = subprocess.run(
                [sys.executable, "-m", "dydxctl", *endpoints, *json_flag, *args],
                capture_output=True, text=True, timeout=120, env=full_env,
            )  # fmt: skip
            output = result.stdout + result.stderr
            assert result.returncode == code, output
            assert "Traceback" not in output
            if json_flag and name != "doctor":  # doctor's answer is its table of checks
                assert json.loads(result.stdout)["error"]["code"] == code
            elif json_flag:
                assert json.loads(result.stdout)["ok"] is False
    finally:
        holder.close()
    if setup == "existing-key":
        assert (tmp_path / "key.txt").read_text() == "keep me"
