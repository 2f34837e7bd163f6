"""Shared helpers: a warm dydxctl Runtime against an emulator, and the official client."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dydxctl.config import resolve
from dydxctl.emulator import Emulator
from dydxctl.runtime import Runtime

# The mnemonic published in dYdX's own client tests; only ever used against the emulator.
BENCH_MNEMONIC = (
    "mirror actor skill push coach wait confirm orchard lunch mobile athlete gossip awake "
    "miracle matter bus reopen team ladder lazy list timber render wait"
)
OFFICIAL_CLIENT = "dydx-v4-client==1.1.5"
OFFICIAL_FLOW = Path(__file__).resolve().parent.parent / "tests" / "compat" / "official_flow.py"


def runtime_for(emulator: Emulator, db: Path, *, websocket: str | None = None) -> Runtime:
    settings = resolve(
        {"network": "local", "grpc": emulator.grpc_target, "indexer": emulator.indexer_url,
         "db": str(db), "websocket": websocket or emulator.ws_url},
        {},
    )  # fmt: skip
    return Runtime(settings, env={"DYDX_MNEMONIC": BENCH_MNEMONIC})


def official_python() -> Path | None:
    """A python with the official client, in its own venv (it pins v4-proto 8.x)."""
    given = os.environ.get("DYDXCTL_OFFICIAL_CLIENT_PYTHON")
    if given:
        return Path(given)
    venv = Path.home() / ".cache" / "dydxctl" / "official-client-venv"
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import dydx_v4_client"], capture_output=True) \
        if python.exists() else None  # fmt: skip
    if probe is not None and probe.returncode == 0:
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", OFFICIAL_CLIENT],
                       check=True, capture_output=True, timeout=600)  # fmt: skip
    except (subprocess.SubprocessError, OSError):
        return None
    return python


def temp_db() -> Path:
    return Path(tempfile.mkdtemp(prefix="dydxctl-bench-")) / "orders.db"
