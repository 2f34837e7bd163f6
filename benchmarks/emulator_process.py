"""The emulator in a process of its own, as a real node is: the code under test does not
share its GIL with the emulator's gRPC threads, block thread and signature checks.

`EmulatorProcess` offers what the benchmarks use of an in-process `Emulator` (targets,
`latency_ms`, `call_log()`, `reset_calls()`), through the emulator's HTTP admin hooks
(dydxctl/emulator/admin_api.py: /admin/latency, /admin/calls, /admin/calls/reset).
Child: `python -m benchmarks.emulator_process BLOCK_TIME_S` prints the summary JSON line
and serves until its stdin closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from typing import Any


class EmulatorProcess:
    def __init__(self, block_time_s: float = 1.0) -> None:
        self.block_time_s = block_time_s
        self._child: subprocess.Popen[str] | None = None
        self._summary: dict[str, Any] = {}
        self._latency_ms = 0.0

    def __enter__(self) -> EmulatorProcess:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.emulator_process", str(self.block_time_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._child.stdout is not None
        line = self._child.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process did not start")
        self._summary = json.loads(line)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._child is not None:
            assert self._child.stdin is not None
            self._child.stdin.close()
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()

    @property
    def grpc_target(self) -> str:
        return str(self._summary["grpc"])

    @property
    def indexer_url(self) -> str:
        return str(self._summary["indexer"])

    @property
    def ws_url(self) -> str:
        return str(self._summary["websocket"])

    def _admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode() if body is not None else None
        request = urllib.request.Request(self.indexer_url + path, data=data, method=(
            "POST" if data is not None else "GET"))  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    @property
    def latency_ms(self) -> float:
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self._latency_ms = float(self._admin("/admin/latency", {"ms": value})["latency_ms"])

    def call_log(self) -> list[dict[str, Any]]:
        return list(self._admin("/admin/calls"))

    def reset_calls(self) -> None:
        self._admin("/admin/calls/reset", {})


def _serve(block_time_s: float) -> None:
    from dydxctl.emulator import Emulator

    with Emulator(block_time_s=block_time_s) as emu:
        print(json.dumps(emu.summary()), flush=True)
        sys.stdin.read()  # until the parent closes it (or dies)


if __name__ == "__main__":
    _serve(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
