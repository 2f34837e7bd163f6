"""Cancellation metrics in the Prometheus textfile-collector format, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

PREFIX = "dydxctl_cancel"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(metrics: dict[str, Any]) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, Any]]) -> None:
        lines.append(f"# HELP {PREFIX}_{name} {help_text}")
        lines.append(f"# TYPE {PREFIX}_{name} {kind}")
        for labels, value in samples:
            if value is not None:
                lines.append(f"{PREFIX}_{name}{labels} {value}")

    markets = metrics["by_market"]
    metric("attempts_total", "counter", "Cancel attempts.",
           [(f'{{market="{_label(m)}"}}', v["attempts"]) for m, v in markets.items()])  # fmt: skip
    metric("successes_total", "counter", "Cancels accepted by the chain.",
           [(f'{{market="{_label(m)}"}}', v["successes"]) for m, v in markets.items()])  # fmt: skip
    metric(
        "failures_total", "counter", "Failed cancel attempts by kind.",
        [
            (f'{{market="{_label(m)}",kind="{_label(k)}"}}', n)
            for m, v in markets.items()
            for k, n in v["failures_by_kind"].items()
        ],
    )  # fmt: skip
    metric("success_ratio", "gauge", "Share of cancel attempts that succeeded.",
           [("", metrics["success_rate"])])  # fmt: skip
    metric(
        "latency_milliseconds", "gauge", "Cancel latency percentiles.",
        [('{quantile="0.5"}', metrics["latency_ms_p50"]),
         ('{quantile="0.95"}', metrics["latency_ms_p95"])],
    )  # fmt: skip
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename, so the collector never reads a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
