"""Run every benchmark and print its figures: `python -m benchmarks [--quick] [--out F]`.

--quick shrinks each benchmark (the test suite's smoke run); figures are not budgets'
verdicts — compare them with SPEC §8 / benchmarks/README.md yourself.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--only",
        nargs="*",
        help="round_trips physical_limit latency startup signing store store_pg cancel_wait",
    )
    args = parser.parse_args(argv)

    from benchmarks import (
        cancel_wait,
        latency,
        physical_limit,
        round_trips,
        signing,
        startup,
        store_pg,
        store_scale,
    )

    quick = args.quick
    suite = {
        "round_trips": lambda: round_trips.run(),
        "physical_limit": lambda: physical_limit.run(
            rounds=1 if quick else 10,
            sustain_s=2 if quick else 60,
            cancel_all_rounds=1 if quick else 4,
            cancel_all_sizes=(20, 4) if quick else (200, 20),
        ),
        "latency": lambda: latency.run(
            rounds=1 if quick else 5, cycles_per_round=2 if quick else 4
        ),
        "startup": lambda: startup.run(runs=2 if quick else 20),
        "signing": lambda: signing.run(count=50 if quick else 2000),
        "store": lambda: store_scale.run(5_000 if quick else 1_000_000),
        "store_pg": lambda: store_pg.run(rows=5_000, ops=20, places=5) if quick else store_pg.run(),
        "cancel_wait": lambda: {
            "0ms": cancel_wait.run(rounds=1 if quick else 5),
            "25ms": cancel_wait.run(rounds=1 if quick else 5, latency_ms=25.0),
        },
    }
    results: dict[str, Any] = {"machine": machine()}
    for name, bench in suite.items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        try:
            results[name] = bench()
        except Exception as exc:  # one failed benchmark must not lose the others' figures
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        print(f"{name}: done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
