"""`dydxctl watch` against the emulator's websocket, in a real subprocess."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dydxctl.store import Store
from tests.conftest import TEST_MNEMONIC, ChainCli, clean_env, dydxctl_argv

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]


class WatchProcess:
    """`dydxctl --json watch …` whose NDJSON lines are read by a thread."""

    def __init__(self, emu: Any, db: Path, *args: str) -> None:
        argv = dydxctl_argv(emu, db, "--json", "watch", *args)
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=clean_env(DYDX_MNEMONIC=TEST_MNEMONIC),
        )  # fmt: skip
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except json.JSONDecodeError:  # --json promises NDJSON: tests assert on this
                self.lines.put({"event": "not-json", "line": line})

    def wait_for(self, timeout: float = 10, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(event)
            if all(event.get(k) == v for k, v in match.items()):
                return event
        raise AssertionError(f"no event {match} in {self.seen}; stderr: {self.stderr()}")

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read() if self.proc.stderr else ""

    def exit_code(self, timeout: float = 10) -> int:
        """Wait for the process to end by itself."""
        return self.proc.wait(timeout=timeout)

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=10)


@pytest.fixture
def watch(chain_cli: ChainCli) -> Iterator[Any]:
    started: list[WatchProcess] = []

    def start(*args: str) -> WatchProcess:
        process = WatchProcess(chain_cli.emu, chain_cli.db_path, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


def test_short_term_cancel_shows_canceled_within_one_block(chain_cli: ChainCli, watch) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    height = chain_cli.emu.state.height
    w = watch("--count", "1")
    snapshot = w.wait_for(event="snapshot", order_id=order["order_id"])
    assert snapshot["indexer_status"] == "BEST_EFFORT_OPENED" and snapshot["status"] == "OPEN"
    w.wait_for(event="reconciled")
    cancel = chain_cli.json("cancel", order["order_id"])
    assert cancel["outcome"] == "CANCEL_PENDING"
    update = w.wait_for(event="order", order_id=order["order_id"])
    assert chain_cli.emu.state.height == height  # no block was needed
    assert update["indexer_status"] == "BEST_EFFORT_CANCELED"
    assert update["removal_reason"] == "ORDER_REMOVAL_REASON_USER_CANCELED"
    assert update["status"] == "CANCELED"
    assert w.exit_code() == 0  # --count 1 ends it
    with Store.open(chain_cli.db_path) as store:
        assert store.get(order["order_id"])["status"] == "CANCELED"
        last = store.events(order["order_id"])[-1]
        assert last["detail"].startswith("websocket:")


def test_fills_arrive_with_amounts(chain_cli: ChainCli, watch) -> None:
    order = chain_cli.place(*LIMIT, "--good-til", "1h")
    chain_cli.emu.advance(1)  # the stateful placement's block
    w = watch("--count", "2")
    w.wait_for(event="reconciled")
    chain_cli.emu.fill(order["order_id"], quantums=4_000_000)
    partial = w.wait_for(event="order", order_id=order["order_id"])
    assert partial["filled"] == "0.0004" and partial["fills"][0]["size"] == "0.0004"
    assert partial["status"] == "OPEN"
    chain_cli.emu.fill(order["order_id"])
    full = w.wait_for(event="order", order_id=order["order_id"])
    assert (full["status"], full["filled"]) == ("FILLED", "0.001")
    assert w.exit_code() == 0


def test_reconnect_loses_no_update(chain_cli: ChainCli, watch) -> None:
    order = chain_cli.place(*LIMIT, "--good-til", "1h")
    chain_cli.emu.advance(1)
    w = watch()
    w.wait_for(event="reconciled")
    socks = chain_cli.emu.socks
    assert socks.drop_connections(refuse=True) == 1
    w.wait_for(event="disconnected")
    # While the watcher is away the order fills: no message can reach it, and the
    # snapshot after the reconnect lists open orders only.
    chain_cli.emu.fill(order["order_id"])
    socks.accept_connections()
    w.wait_for(event="subscribed", resumed=True)
    reconciled = w.wait_for(event="reconciled", why="resubscribed")
    assert [c["status"] for c in reconciled["changed"]] == ["FILLED"]
    with Store.open(chain_cli.db_path) as store:
        assert store.get(order["order_id"])["status"] == "FILLED"


def test_watch_needs_an_address_or_wallet(chain_cli: ChainCli) -> None:
    result = chain_cli("--json", "watch", "--duration", "0.5", env={"DYDX_MNEMONIC": ""})
    assert result.exit_code == 10, result.output


def test_unreachable_websocket_is_shown_not_hidden(chain_cli: ChainCli) -> None:
    result = chain_cli(
        "--websocket", "ws://127.0.0.1:1/v4/ws", "--json", "watch", "--duration", "1"
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events and events[0]["event"] == "disconnected"
    assert "reconnecting" in events[0]["detail"]


def test_cancel_wait_short_term_is_confirmed_by_the_websocket(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    height = chain_cli.emu.state.height
    started = time.monotonic()
    result = chain_cli.json("cancel", order["order_id"], "--wait", "--wait-timeout", "10")
    elapsed = time.monotonic() - started
    assert chain_cli.emu.state.height == height  # no block: only the websocket could say
    assert result["outcome"] == "CANCELED" and result["status"] == "CANCELED"
    assert result["evidence"].startswith("websocket: Indexer says BEST_EFFORT_CANCELED")
    assert elapsed < 5


def test_cancel_all_wait_confirms_each_order(chain_cli: ChainCli) -> None:
    short = [chain_cli.place(*LIMIT, "--good-til-blocks", "20") for _ in range(3)]
    filled = short.pop()
    chain_cli.emu.fill(filled["order_id"])  # the store does not know: cancelled, found FILLED
    stateful = chain_cli.place(*LIMIT, "--good-til", "1h")
    chain_cli.emu.advance(1)
    threading.Timer(0.5, chain_cli.emu.advance, args=(1,)).start()  # the stateful cancel's block
    result = chain_cli.json("cancel", "--all", "--wait", "--wait-timeout", "10")
    outcomes = {r["order_id"]: r for r in result["orders"]}
    for order in short:
        assert outcomes[order["order_id"]]["outcome"] == "CANCELED"
        assert outcomes[order["order_id"]]["evidence"].startswith("websocket:")
    assert outcomes[stateful["order_id"]]["outcome"] == "CANCELED"
    assert outcomes[filled["order_id"]]["outcome"] == "FILLED"
    assert "after --wait: 3 CANCELED, 1 FILLED" in result["summary"]


def test_place_wait_reports_the_book_or_the_removal(chain_cli: ChainCli) -> None:
    resting = chain_cli.place(*LIMIT, "--good-til-blocks", "20", "--wait")
    assert resting["status"] == "OPEN"
    assert resting["evidence"].startswith("websocket: Indexer says BEST_EFFORT_OPENED")
    ioc = chain_cli.place(*LIMIT, "--good-til-blocks", "20", "--time-in-force", "ioc", "--wait")
    assert ioc["status"] == "CANCELED"
    assert "IMMEDIATE_OR_CANCEL_WOULD_REST_ON_BOOK" in ioc["evidence"]


def test_a_lost_message_is_a_gap_reconciled_from_rest(chain_cli: ChainCli, watch) -> None:
    order = chain_cli.place(*LIMIT, "--good-til", "1h")
    chain_cli.emu.advance(1)
    w = watch()
    w.wait_for(event="reconciled")
    chain_cli.emu.socks.lose_next()
    chain_cli.emu.fill(order["order_id"])  # its message is lost on the way
    chain_cli.emu.socks.inject("this is not JSON")  # logged and skipped, never fatal
    other = chain_cli.place(*LIMIT, "--good-til-blocks", "20")  # the next message: a gap
    gap = w.wait_for(event="gap")
    assert "jumped" in gap["detail"]
    reconciled = w.wait_for(event="reconciled", why="gap")
    changed = {c["order_id"]: c["status"] for c in reconciled["changed"]}
    assert changed[order["order_id"]] == "FILLED"
    assert any(e["event"] == "malformed" for e in w.seen)
    w.wait_for(event="order", order_id=other["order_id"])  # the stream goes on
    with Store.open(chain_cli.db_path) as store:
        assert store.get(order["order_id"])["status"] == "FILLED"


def test_ctrl_c_exits_130_cleanly(chain_cli: ChainCli, watch) -> None:
    import signal

    w = watch()
    w.wait_for(event="subscribed")
    w.proc.send_signal(signal.SIGINT)
    assert w.exit_code() == 130, w.stderr()
    assert "Traceback" not in w.stderr()
    # --json stays NDJSON to the end: the interruption is the last line, one object.
    w.reader.join(timeout=10)  # stdout is closed: the reader has queued every line
    lines = list(w.seen)
    while not w.lines.empty():
        lines.append(w.lines.get())
    assert [e for e in lines if e.get("event") == "not-json"] == []
    assert lines[-1]["error"]["code"] == 130 and lines[-1]["error"]["kind"] == "interrupted"


def test_a_cancel_sent_elsewhere_is_final_at_its_good_til_block(
    chain_cli: ChainCli, watch, tmp_path: Path
) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "3")
    w = watch()
    w.wait_for(event="reconciled")
    elsewhere = ChainCli(tmp_path / "other-host.db", chain_cli.emu)  # no metadata there
    assert elsewhere.json("cancel", order["order_id"])["outcome"] == "CANCEL_PENDING"
    pending = w.wait_for(event="order", order_id=order["order_id"])
    assert pending["status"] == "CANCEL_PENDING"  # best-effort: not ours, not final yet
    chain_cli.emu.advance(3)
    settled = w.wait_for(event="settled", order_id=order["order_id"])
    assert settled["status"] == "CANCELED"
    with Store.open(chain_cli.db_path) as store:
        assert store.get(order["order_id"])["status"] == "CANCELED"
