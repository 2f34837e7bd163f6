"""Start-up: `dydxctl --help` and whole `place` / `cancel` processes (0 ms latency) against
a bare three-command Typer app's --help, and what `place` loads. Wall-clock ratios are the
headline; CPU-time ratios (user+sys of each child) are reported beside them, being steadier
on a shared machine."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
# Everything a warm `dydxctl place` imports on its way to a broadcast (GetLatestBlock's
# messages only when the chain clock estimate is stale; no Indexer, no *_pb2_grpc stubs,
# no service_pb2: broadcast_wire writes and reads BroadcastTx).
PLACE_IMPORTS = (
    "import dydxctl.cli, dydxctl.cli_orders, dydxctl.lifecycle, dydxctl.store, dydxctl.node, "
    "dydxctl.tx, dydxctl.wallet, dydxctl.orders, coincurve, bip32, mnemonic, bech32; "
    "from dydxctl.grpc_sync import import_grpc; import_grpc(); "
    "from dydxctl import broadcast_wire; from v4_proto.cosmos.tx.v1beta1 import tx_pb2; "
    "from v4_proto.dydxprotocol.clob import tx_pb2 as c"
)


def _time_ms(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall-clock ms, CPU ms) of one process: CPU is the child's user+sys time (wait4),
    which the other jobs on a shared machine disturb far less than the wall clock."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert child.stderr is not None
    error = child.stderr.read()  # never more than a pipe's worth: these commands succeed
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stderr.close()
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, command, stderr=error)
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


Command = list[str] | Callable[[], list[str]]


def _interleaved_medians(
    commands: dict[str, Command], runs: int, env: dict[str, str] | None = None
) -> dict[str, tuple[float, float]]:
    """Run the commands in turn, `runs` times, so machine noise hits them alike (a
    callable makes its command afresh each time, e.g. a cancel of a new order).
    Each command's (median wall-clock ms, median CPU ms)."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            argv = command() if callable(command) else command
            times[name].append(_time_ms(argv, env))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in times.items()
    }


def _processes(runs: int, bare: Path) -> dict[str, Any]:
    """Whole `dydxctl place` and `dydxctl cancel` processes at 0 ms latency (warm store),
    interleaved with the bare Typer app's --help."""
    from decimal import Decimal

    from benchmarks.common import BENCH_MNEMONIC, runtime_for, temp_db
    from dydxctl import lifecycle
    from dydxctl.emulator import Emulator
    from dydxctl.orders import OrderRequest

    env = {**os.environ, "DYDX_MNEMONIC": BENCH_MNEMONIC}
    with Emulator(block_time_s=1.0) as emulator:
        db = temp_db()
        rt = runtime_for(emulator, db)
        request = OrderRequest("BTC-USD", "buy", Decimal("0.001"), price=Decimal("50000"),
                               good_til="1h")  # fmt: skip
        orders = [lifecycle.place(rt, request).order["order_id"] for _ in range(runs)]
        rt.close()
        base = [sys.executable, "-m", "dydxctl", "--json", "--network", "local",
                "--grpc", emulator.grpc_target, "--indexer", emulator.indexer_url,
                "--db", str(db)]  # fmt: skip
        place = [*base, "place", "--market", "BTC-USD", "--side", "buy", "--size", "0.001",
                 "--price", "50000", "--good-til-blocks", "10"]  # fmt: skip
        medians = _interleaved_medians(
            {"bare": [sys.executable, str(bare), "--help"], "place": place,
             "cancel": lambda: [*base, "cancel", orders.pop()]},
            runs, env,
        )  # fmt: skip
    (bare_wall, bare_cpu), (place_wall, place_cpu) = medians["bare"], medians["place"]
    cancel_wall, cancel_cpu = medians["cancel"]
    return {
        "bare_typer_help_ms": bare_wall,
        "place_process_ms": place_wall,
        "cancel_process_ms": cancel_wall,
        "place_over_bare_help": place_wall / bare_wall,
        "cancel_over_bare_help": cancel_wall / bare_wall,
        "cpu_ms": {"bare_typer_help": bare_cpu, "place": place_cpu, "cancel": cancel_cpu},
        "cpu_place_over_bare_help": place_cpu / bare_cpu,
        "cpu_cancel_over_bare_help": cancel_cpu / bare_cpu,
    }


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


def _compile_bytecode() -> None:
    """Byte-compile dydxctl as a wheel install does. Without it an editable install under
    PYTHONDONTWRITEBYTECODE=1 compiles every module from source on each start (~50 ms),
    while the bare Typer app's site-packages are compiled: the comparison would be unfair."""
    import dydxctl

    package = str(Path(dydxctl.__file__).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True,
                   capture_output=True)  # fmt: skip


def run(runs: int = 20) -> dict[str, Any]:
    _compile_bytecode()
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
        processes = _processes(runs, bare)
    wall = {name: w for name, (w, _) in medians.items()}
    cpu = {name: c for name, (_, c) in medians.items()}
    return {
        "load_average": os.getloadavg(),
        "bare_typer_help_ms": wall["bare"],
        "dydxctl_help_ms": wall["help"],
        "help_over_bare": wall["help"] / wall["bare"],
        "cpu_help_over_bare": cpu["help"] / cpu["bare"],
        "interpreter_ms": wall["interpreter"],
        "place_imports_ms": wall["place"] - wall["interpreter"],
        "place_imports_cpu_ms": cpu["place"] - cpu["interpreter"],
        "place_top_imports_ms": _top_imports(PLACE_IMPORTS),
        "processes_at_0_ms_latency": processes,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
