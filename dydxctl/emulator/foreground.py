"""`dydxctl emulator`: the emulator in the foreground with a live status line."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from dydxctl.emulator import rules
from dydxctl.emulator.server import Emulator
from dydxctl.emulator.state import CHAIN_ID


class EmulatorStartError(OSError):
    """The emulator could not start (a port is taken, a bad option); the CLI words it."""


def run_foreground(
    *,
    grpc_port: int,
    indexer_port: int,
    rpc_port: int,
    block_time_s: float,
    ws_port: int = 0,
    latency_ms: float,
    chain_id: str | None,
    as_json: bool,
    state_dir: Path | None = None,
    app_version: str = rules.DEFAULT_APP_VERSION,
    rate_limits: bool = False,
) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    try:
        rules.parse_version(app_version)
    except ValueError as exc:
        raise EmulatorStartError(f"{exc}; use e.g. --app-version 9.6.1") from None
    emulator = Emulator(
        grpc_port=grpc_port,
        indexer_port=indexer_port,
        ws_port=ws_port,
        rpc_port=rpc_port,
        block_time_s=block_time_s,
        latency_ms=latency_ms,
        chain_id=chain_id or CHAIN_ID,
        state_dir=state_dir,
        app_version=app_version,
        rate_limits=rate_limits,
    )
    try:
        emulator.start()
    except (OSError, RuntimeError) as exc:
        raise EmulatorStartError(
            f"Cannot start the emulator on ports {grpc_port}/{indexer_port}/{ws_port}/"
            f"{rpc_port}: {exc}. Another process may hold the port; pick others with "
            "--grpc-port/--indexer-port/--ws-port/--rpc-port."
        ) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    console = Console(stderr=True)
    summary = emulator.summary()
    if as_json:
        import json

        print(json.dumps(summary), flush=True)
    else:
        console.print(
            f"[bold]dydxctl emulator[/bold] chain [cyan]{summary['chain_id']}[/cyan]  gRPC "
            f"[cyan]{emulator.grpc_target}[/cyan]  Indexer [cyan]{emulator.indexer_url}[/cyan]"
            f"  websocket [cyan]{emulator.ws_url}[/cyan]"
            f"  JSON-RPC [cyan]{emulator.rpc_url}[/cyan]\n"
            + (f"(state restored from {state_dir})\n" if emulator.restored else "")
            + f"Use: dydxctl --network local --grpc {emulator.grpc_target} --indexer "
            f"{emulator.indexer_url} --websocket {emulator.ws_url} …   (Ctrl-C stops)"
        )

    def status() -> Text:
        s = emulator.summary()
        return Text(
            f"height {s['height']}  open orders {s['open_orders']}  orders {s['orders']}  "
            f"accounts {s['accounts']}  latency {emulator.latency_ms:g} ms"
        )

    try:
        if as_json or not console.is_terminal:
            stop.wait()
        else:
            with Live(status(), console=console, refresh_per_second=4) as live:
                while not stop.wait(0.25):
                    live.update(status())
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not as_json:
            console.print("emulator stopped")
