"""The benchmarks run (quick sizes), and the round-trip budgets of SPEC §8 hold.

Round trips are counts of node and Indexer calls from the emulator's log, not timings:
they are exact, so the budgets are asserted here. Timings live in benchmarks/ only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_round_trip_budgets() -> None:
    from benchmarks import round_trips

    figures = {name: f["round_trips"] for name, f in round_trips.run().items()}
    # Warm store: the chain's clock is estimated from the last observed block
    # (height_estimate.py), so each operation is its broadcast alone.
    assert figures["place short-term, warm store"] == 1
    assert figures["cancel short-term, warm store"] == 1
    assert figures["place long-term, warm store"] == 1
    assert figures["cancel long-term, warm store"] == 1
    # Cold: Indexer markets + ClobPair check + account + latest block + broadcast.
    assert figures["place short-term, cold store"] <= 5


def test_quick_benchmark_run(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "startup", "signing", "store",
         "store_pg", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["store"]["prune_deleted"] == 4950 and figures["store"]["prune_kept"] == 50
    pg = figures["store_pg"]
    assert (pg["scale"]["prune_deleted"], pg["scale"]["prune_kept"]) == (4950, 50)
    assert set(pg["place"]) == set(pg["per_operation"]) == {"sqlite", "postgresql"}
    assert figures["signing"]["signed_tx_us"] > 0
    assert figures["startup"]["place_imports_ms"] > 0
