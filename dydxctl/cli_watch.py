"""`dydxctl watch`: live orders from the Indexer websocket, or recorded messages."""

from pathlib import Path
from typing import Annotated

import typer

from dydxctl.chain import MAX_SUBACCOUNT_ID_NUMBER
from dydxctl.cli_base import StrictCommand, handles_errors, runtime_of

# Registered here, built by dydxctl.cli only when invoked (or listed by --help).
commands = typer.Typer()


@commands.command(cls=StrictCommand, name="watch")
@handles_errors
def watch_command(
    ctx: typer.Context,
    subaccount: Annotated[
        list[int] | None,
        typer.Option(
            min=0, max=MAX_SUBACCOUNT_ID_NUMBER, help="Subaccount(s) to follow (default 0)."
        ),
    ] = None,
    market: Annotated[str | None, typer.Option(help="Only this market, e.g. BTC-USD.")] = None,
    address: Annotated[
        str | None, typer.Option(help="Whose orders (default: the wallet's address).")
    ] = None,
    parent: Annotated[
        bool, typer.Option("--parent", help="Follow v4_parent_subaccounts (isolated children).")
    ] = False,
    count: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many order updates.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds.")
    ] = None,
    keep_final: Annotated[
        float, typer.Option(min=0, help="Seconds a final order stays on screen.")
    ] = 30.0,
    replay: Annotated[
        list[Path] | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Show recorded websocket messages instead (view only; no store).",
        ),
    ] = None,
) -> None:
    """Live orders from the Indexer websocket; with --json, one JSON object per event."""
    from dydxctl.watch import Watcher, WatchOptions, load_replay

    runtime = runtime_of(ctx)
    options = WatchOptions(
        subaccounts=subaccount or [0], market=market.upper() if market else None,
        parent=parent, as_json=runtime.settings.json, count=count, duration_s=duration,
        keep_final_s=keep_final,
    )  # fmt: skip
    if replay:
        from dydxctl.ws_client import replay as replay_events

        messages = [m for path in replay for m in load_replay(str(path))]
        Watcher(None, address or "replay", options).run_replay(replay_events(messages))
        return
    who = address or runtime.wallet().address
    Watcher(runtime, who, options).run_live(runtime.settings.websocket)
