"""The command line: parse options, call a use case, render its result. Nothing else.

Heavy modules (gRPC stubs, crypto, the store) are imported inside the commands that use
them, so `dydxctl --help` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from dydxctl import __version__, render
from dydxctl.config import environ, resolve
from dydxctl.errors import BadInput, DydxctlError, InternalError
from dydxctl.runtime import Runtime

app = typer.Typer(
    name="dydxctl",
    help="Place, cancel and prune dYdX v4 orders, with durable local order metadata.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

F = TypeVar("F", bound=Callable[..., Any])


def _wants_json(ctx: typer.Context | None) -> bool:
    runtime = getattr(ctx, "obj", None) if ctx else None
    if isinstance(runtime, Runtime):
        return runtime.settings.json
    return "--json" in sys.argv or os.environ.get("DYDXCTL_JSON", "") in ("1", "true")


def _fail(exc: DydxctlError, ctx: typer.Context | None, debug: bool) -> typer.Exit:
    render.error(exc, as_json=_wants_json(ctx), debug=debug)
    return typer.Exit(exc.exit_code)


def handles_errors(fn: F) -> F:
    """Turn DydxctlError into its panel/JSON and exit code; anything else is exit 1.

    Every command takes `ctx: typer.Context` first; the Runtime on it says --json/--debug.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs.get("ctx") or next((a for a in args if isinstance(a, typer.Context)), None)
        runtime = getattr(ctx, "obj", None)
        debug = isinstance(runtime, Runtime) and runtime.settings.debug
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except DydxctlError as exc:
            raise _fail(exc, ctx, debug) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: say so plainly, traceback only with --debug
            if debug:
                render.error(InternalError(repr(exc)), as_json=_wants_json(ctx), debug=False)
                raise
            raise _fail(
                InternalError(
                    f"dydxctl hit an unexpected error: {type(exc).__name__}: {exc}",
                    "Run again with --debug for the traceback, and report it.",
                ),
                ctx,
                debug,
            ) from None

    return wrapper  # type: ignore[return-value]


def runtime_of(ctx: typer.Context) -> Runtime:
    return ctx.obj


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dydxctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    network: Annotated[
        str | None, typer.Option(help="mainnet, testnet or local. [env: DYDXCTL_NETWORK]")
    ] = None,
    grpc: Annotated[
        str | None, typer.Option(help="Full-node gRPC HOST:PORT. [env: DYDXCTL_GRPC]")
    ] = None,
    indexer: Annotated[
        str | None, typer.Option(help="Indexer origin URL. [env: DYDXCTL_INDEXER]")
    ] = None,
    chain_id: Annotated[str | None, typer.Option(help="Chain id. [env: DYDXCTL_CHAIN_ID]")] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure", help="Plaintext gRPC to a non-loopback host. [env: DYDXCTL_INSECURE]"
        ),
    ] = False,
    db: Annotated[
        Path | None, typer.Option(help="SQLite metadata store. [env: DYDXCTL_DB]")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML config file. [env: DYDXCTL_CONFIG]")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON document on stdout. [env: DYDXCTL_JSON]")
    ] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log progress.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Debug logs and tracebacks.")] = False,
    log_file: Annotated[
        Path | None, typer.Option(help="Append logs here. [env: DYDXCTL_LOG_FILE]")
    ] = None,
    mnemonic_file: Annotated[
        Path | None,
        typer.Option(help="File holding the mnemonic (mode 0600). [env: DYDXCTL_MNEMONIC_FILE]"),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Place, cancel and prune dYdX v4 orders, with durable local order metadata."""
    flags = {
        "network": network, "grpc": grpc, "indexer": indexer, "chain_id": chain_id,
        "insecure": insecure or None, "db": str(db) if db else None,
        "config": str(config) if config else None, "json": json_output or None,
        "verbose": verbose, "debug": debug, "log_file": str(log_file) if log_file else None,
        "mnemonic_file": str(mnemonic_file) if mnemonic_file else None,
    }  # fmt: skip
    try:
        settings = resolve(flags, environ())
    except DydxctlError as exc:
        render.error(exc, as_json=json_output, debug=debug)
        raise typer.Exit(exc.exit_code) from None
    from dydxctl import logs

    logs.configure(verbose=settings.verbose, debug=settings.debug, log_file=settings.log_file)
    runtime = Runtime(settings)
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


# --- commands on the store alone ---------------------------------------------------------
@app.command("orders")
@handles_errors
def orders_command(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only orders in this status.")] = None,
    market: Annotated[str | None, typer.Option(help="Only this market, e.g. BTC-USD.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many rows.")] = 50,
) -> None:
    """List stored orders, newest first."""
    runtime = runtime_of(ctx)
    rows = runtime.store().list_orders(
        status=status.upper() if status else None,
        market=market.upper() if market else None,
        limit=limit,
    )
    if runtime.settings.json:
        render.emit_json([render.order_object(r) for r in rows])
    else:
        render.show(render.orders_table(rows, title=f"Orders ({len(rows)})"))


@app.command("show")
@handles_errors
def show_command(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="Indexer order UUID, or a stored client id.")],
) -> None:
    """Show one stored order and its event history (reads the store only)."""
    from dydxctl.errors import OrderNotFound

    runtime = runtime_of(ctx)
    store = runtime.store()
    row = store.resolve(order_id)
    if row is None:
        raise OrderNotFound(
            f"No stored order has the id {order_id}.",
            "Check `dydxctl orders`, or `dydxctl sync --import` to record orders placed elsewhere.",
        )
    events = store.events(row["order_id"])
    if runtime.settings.json:
        render.emit_json({**render.order_object(row), "events": events})
    else:
        render.show(render.order_detail(row), render.events_table(events))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BadInput as exc:  # raised before a command's own handler could take it
        render.error(exc, as_json=_wants_json(None))
        sys.exit(exc.exit_code)
