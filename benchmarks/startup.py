"""Start-up: `dydxctl --help` against a bare three-command Typer app, and what `place` loads."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BARE_APP = """
import typer
app = typer.Typer()
@app.command()
def one() -> None: ...
@app.command()
def two() -> None: ...
@app.command()
def three() -> None: ...
app()
"""
# Everything `dydxctl place` imports on its way to a broadcast.
PLACE_IMPORTS = (
    "import dydxctl.cli, dydxctl.lifecycle, dydxctl.store, dydxctl.node, dydxctl.indexer, "
    "dydxctl.tx, dydxctl.wallet, dydxctl.orders, grpc, coincurve, bip32, mnemonic, bech32; "
    "from v4_proto.cosmos.tx.v1beta1 import service_pb2_grpc, tx_pb2; "
    "from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2_grpc; "
    "from v4_proto.cosmos.auth.v1beta1 import query_pb2_grpc as a; "
    "from v4_proto.dydxprotocol.clob import tx_pb2 as c"
)


def _time_ms(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def _interleaved_medians(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Run the commands in turn, `runs` times, so machine noise hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(_time_ms(command))
    return {name: statistics.median(values) for name, values in times.items()}


def _top_imports(code: str, count: int = 8) -> list[tuple[str, float]]:
    """Top-level imports by cumulative time (python -X importtime)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, check=True)  # fmt: skip
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative_us, name = line[len("import time:") :].split("|")
        if not name.startswith("  "):  # top level only (nested names are indented)
            rows.append((name.strip(), int(cumulative_us) / 1000))
    return sorted(rows, key=lambda r: -r[1])[:count]


def run(runs: int = 20) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        medians = _interleaved_medians(
            {
                "bare": [sys.executable, str(bare), "--help"],
                "help": [sys.executable, "-m", "dydxctl", "--help"],
                "interpreter": [sys.executable, "-c", "pass"],
                "place": [sys.executable, "-c", PLACE_IMPORTS],
            },
            runs,
        )
    return {
        "bare_typer_help_ms": medians["bare"],
        "dydxctl_help_ms": medians["help"],
        "help_over_bare": medians["help"] / medians["bare"],
        "interpreter_ms": medians["interpreter"],
        "place_imports_ms": medians["place"] - medians["interpreter"],
        "place_top_imports_ms": _top_imports(PLACE_IMPORTS),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
