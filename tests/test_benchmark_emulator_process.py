"""benchmarks/emulator_process.py: the emulator in a process of its own, driven through
its HTTP admin hooks (latency, call log) as physical_limit uses it."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import runtime_for
from benchmarks.emulator_process import EmulatorProcess


def test_the_emulator_process_takes_latency_and_keeps_the_call_log(tmp_path: Path) -> None:
    with EmulatorProcess(block_time_s=0) as emu:
        emu.latency_ms = 5
        assert emu.latency_ms == 5.0
        rt = runtime_for(emu, tmp_path / "orders.db")
        emu.reset_calls()
        assert emu.call_log() == []
        assert rt.node().latest_block().height >= 0
        assert [c["name"] for c in emu.call_log()] == ["GetLatestBlock"]
        rt.close()
        child = emu._child
    assert child is not None and child.returncode is not None  # stopped with the block
