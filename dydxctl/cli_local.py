"""`dydxctl demo|emulator`: the throwaway local chain, narrated or in the foreground."""

from pathlib import Path
from typing import Annotated, Any

import typer

from dydxctl.cli_base import StrictCommand, handles_errors, render, runtime_of
from dydxctl.errors import BadInput

# Registered here, built by dydxctl.cli only when invoked (or listed by --help).
commands = typer.Typer()


@commands.command(cls=StrictCommand, name="demo")
@handles_errors
def demo_command(ctx: typer.Context) -> None:
    """Place, list, cancel, sync, stats and prune on a throwaway local emulator."""
    from dydxctl.demo import run_demo

    runtime = runtime_of(ctx)

    def narrate(name: str, line: str, data: Any) -> None:
        if runtime.settings.json:
            return
        render.note(line)
        if name in ("place short-term", "place long-term"):
            render.show(render.order_detail(data, title=None))
        elif name == "orders":
            render.show(render.orders_table(data, title=None))
        elif name == "cancel":
            render.show(render.rows_table(data, title=None))
        elif name == "sync" and data["changed"]:
            render.show(render.rows_table(data["changed"], title=None))

    from dydxctl.demo import NEXT_STEPS

    steps = run_demo(runtime.settings, narrate)
    if runtime.settings.json:
        render.emit_json(steps)
    else:
        render.note("Done: the chain, the wallet and the store were thrown away.", NEXT_STEPS)


@commands.command(cls=StrictCommand, name="emulator")
@handles_errors
def emulator_command(
    ctx: typer.Context,
    grpc_port: Annotated[
        int, typer.Option(min=0, max=65535, help="gRPC port (0: any free).")
    ] = 9090,
    indexer_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Indexer port (0: any free).")
    ] = 3002,
    ws_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Indexer websocket port (0: any free). Default: the Indexer port + 1, as in "
            "dYdX's localnet (3003), or any free one with --indexer-port 0.",
        ),
    ] = None,
    rpc_port: Annotated[
        int, typer.Option(min=0, max=65535, help="CometBFT JSON-RPC port (0: any free).")
    ] = 26657,
    block_time: Annotated[
        str, typer.Option(help="Time per block, e.g. 1s or 500ms; 0 stops the clock.")
    ] = "1s",
    latency_ms: Annotated[float, typer.Option(min=0, help="Delay added to every response.")] = 0.0,
    state_dir: Annotated[
        Path | None, typer.Option(help="Keep the chain's state here across restarts.")
    ] = None,
    app_version: Annotated[
        str,
        typer.Option(help="Protocol version to emulate (9.4.0 and older: ShortBlockWindow 20)."),
    ] = "9.6.1",
    rate_limits: Annotated[
        bool,
        typer.Option("--rate-limits", help="Enforce the genesis block rate limits (clob 5001)."),
    ] = False,
) -> None:
    """Run a local dYdX v4 chain + Indexer on 127.0.0.1 until Ctrl-C or SIGTERM."""
    from dydxctl.emulator.foreground import EmulatorStartError, run_foreground

    runtime = runtime_of(ctx)
    try:
        run_foreground(
            grpc_port=grpc_port,
            indexer_port=indexer_port,
            ws_port=ws_port if ws_port is not None else (indexer_port + 1 if indexer_port else 0),
            rpc_port=rpc_port,
            block_time_s=_seconds(block_time),
            latency_ms=latency_ms,
            chain_id=runtime.settings.chain_id
            if runtime.settings.network.name == "local"
            else None,
            as_json=runtime.settings.json,
            state_dir=state_dir,
            app_version=app_version,
            rate_limits=rate_limits,
        )
    except EmulatorStartError as exc:
        raise BadInput(str(exc), "Check the emulator options.") from None


# The emulator's block time: 0 (clock stopped) up to an hour.
MAX_BLOCK_TIME_S = 3600.0


def _seconds(text: str) -> float:
    cleaned = text.strip().lower()
    hint = f"Use e.g. 1s, 500ms or 0 (between 0 and {MAX_BLOCK_TIME_S:g}s)."
    try:
        if cleaned.endswith("ms"):
            value = float(cleaned[:-2]) / 1000
        else:
            value = float(cleaned[:-1]) if cleaned.endswith("s") else float(cleaned)
    except ValueError:
        raise BadInput(f"'{text}' is not a block time.", hint) from None
    if not 0 <= value <= MAX_BLOCK_TIME_S:  # also refuses nan and inf
        raise BadInput(f"Block time '{text}' is out of range.", hint)
    return value
