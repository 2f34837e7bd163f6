"""The library API is a product: its names and signatures are asserted, and the documented
example runs against the emulator."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

from dydxctl import api

ROOT = Path(__file__).resolve().parent.parent

# The public interface, as docs/library.md documents it. Changing this is a deliberate act.
PUBLIC_NAMES = ["CancelResult", "Client", "DydxctlError", "OrderRequest", "PlaceResult"]
SIGNATURES = {
    "open": "(*, network: 'str | None' = None, grpc: 'str | None' = None, "
    "indexer: 'str | None' = None, db: 'str | Path | None' = None, "
    "chain_id: 'str | None' = None, insecure: 'bool' = False, "
    "timeout_s: 'float | None' = None, mnemonic_file: 'str | Path | None' = None, "
    "config: 'str | Path | None' = None, env: 'Mapping[str, str] | None' = None) -> 'Client'",
    "place": "(self, market: 'str', side: 'str', size: 'Decimal | str', *, "
    "price: 'Decimal | str | None' = None, type: 'str' = 'limit', "
    "time_in_force: 'str | None' = None, good_til_blocks: 'int | None' = None, "
    "good_til: 'str | None' = None, trigger_price: 'Decimal | str | None' = None, "
    "reduce_only: 'bool' = False, client_id: 'int | None' = None, subaccount: 'int' = 0, "
    "dry_run: 'bool' = False) -> 'PlaceResult'",
    "cancel": "(self, order_id: 'str', *, wait: 'bool' = False, timeout_s: 'float' = 60.0, "
    "dry_run: 'bool' = False) -> 'CancelResult'",
    "cancel_all": "(self, *, market: 'str | None' = None, subaccount: 'int' = 0, "
    "dry_run: 'bool' = False) -> 'dict[str, Any]'",
    "sync": "(self, *, import_orders: 'bool' = False, subaccount: 'int' = 0) -> 'dict[str, Any]'",
    "wait": "(self, order_id: 'str', *, timeout_s: 'float' = 60.0) -> 'CancelResult'",
    "order": "(self, order_id: 'str') -> 'dict[str, Any] | None'",
    "close": "(self) -> 'None'",
}
RESULT_FIELDS = {
    "PlaceResult": ["order", "tx_hash", "dry_run", "tx_bytes", "latency_ms"],
    "CancelResult": ["order", "outcome", "message", "tx_hash", "good_til_block",
                     "good_til_block_time", "latency_ms", "source", "extra"],
}  # fmt: skip


def test_public_names_and_signatures_are_stable() -> None:
    assert sorted(api.__all__) == PUBLIC_NAMES
    public = sorted(n for n in vars(api.Client) if not n.startswith("_"))
    assert public == sorted([*SIGNATURES, "address"])
    for name, expected in SIGNATURES.items():
        assert str(inspect.signature(getattr(api.Client, name))) == expected, name
    for name, fields in RESULT_FIELDS.items():
        assert list(getattr(api, name).__dataclass_fields__) == fields


def test_documented_names_are_in_the_docs() -> None:
    text = (ROOT / "docs" / "library.md").read_text()
    for name in [*PUBLIC_NAMES, *SIGNATURES]:
        assert name in text, name


def test_the_documented_example_runs_against_the_emulator() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "examples" / "bot.py")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    steps = {s["step"]: s for s in map(json.loads, result.stdout.splitlines())}
    assert steps["cancel"]["outcome"] == "CANCEL_PENDING"
    assert steps["cancel_all"]["summary"].endswith("1 cancelled, 0 failed")
    assert steps["wait"]["outcome"] == "CANCELED"
    assert steps["cancel a bad id"] == {"step": "cancel a bad id", "error": "bad_input",
                                        "exit_code": 2}  # fmt: skip
