"""The command line: parse options, call a use case, render its result. Nothing else.

Heavy modules (gRPC stubs, crypto, the store) are imported inside the commands that use
them, so `dydxctl --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dydxctl import __version__
from dydxctl.chain import MAX_SUBACCOUNT_ID_NUMBER
from dydxctl.cli_base import (
    GlobalFlagsAnywhere,
    StrictCommand,
    handles_errors,
    render,
    runtime_of,
)
from dydxctl.errors import BadInput
from dydxctl.keys import keys_app

__all__ = ["app", "handles_errors", "main"]

# `orders --limit`: more rows than any terminal shows, far below SQLite's 64-bit LIMIT.
MAX_LIST_LIMIT = 1_000_000

app = typer.Typer(
    cls=GlobalFlagsAnywhere,
    name="dydxctl",
    help="Place, cancel and prune dYdX v4 orders, with durable local order metadata.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich cost ~2x the start-up
)
app.add_typer(keys_app, name="keys")


def _subaccount_option(help_text: str) -> Any:
    return typer.Option(min=0, max=MAX_SUBACCOUNT_ID_NUMBER, help=help_text)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dydxctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    network: Annotated[
        str | None, typer.Option(help="mainnet, testnet or local. (env DYDXCTL_NETWORK)")
    ] = None,
    grpc: Annotated[
        str | None, typer.Option(help="Full-node gRPC HOST:PORT. (env DYDXCTL_GRPC)")
    ] = None,
    indexer: Annotated[
        str | None, typer.Option(help="Indexer origin URL. (env DYDXCTL_INDEXER)")
    ] = None,
    chain_id: Annotated[str | None, typer.Option(help="Chain id. (env DYDXCTL_CHAIN_ID)")] = None,
    websocket: Annotated[
        str | None,
        typer.Option(help="Indexer websocket URL, ws(s)://…/v4/ws. (env DYDXCTL_WEBSOCKET)"),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow plaintext gRPC and an http:// Indexer off loopback. (env DYDXCTL_INSECURE)",
        ),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(help="Store: a SQLite path or a postgresql:// URL. (env DYDXCTL_DB)"),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML config file. (env DYDXCTL_CONFIG)")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(help="Seconds each node/Indexer call may take. (env DYDXCTL_TIMEOUT)"),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON document on stdout. (env DYDXCTL_JSON)")
    ] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log progress.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Debug logs and tracebacks.")] = False,
    log_file: Annotated[
        Path | None, typer.Option(help="Append logs here. (env DYDXCTL_LOG_FILE)")
    ] = None,
    mnemonic_file: Annotated[
        Path | None,
        typer.Option(help="File holding the mnemonic (mode 0600). (env DYDXCTL_MNEMONIC_FILE)"),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="The owner account, when only a trading key signs or for reads. "
            "(env DYDXCTL_ADDRESS)"
        ),
    ] = None,
    trading_key_file: Annotated[
        Path | None,
        typer.Option(
            help="Sign with a permissioned trading key (hex private key or mnemonic, mode "
            "0600) for --address. (env DYDXCTL_TRADING_KEY_FILE)"
        ),
    ] = None,
    authenticator_id: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="The owner's authenticator that allows the trading key; looked up on the "
            "chain when omitted. (env DYDXCTL_AUTHENTICATOR_ID)",
        ),
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
        "mnemonic_file": str(mnemonic_file) if mnemonic_file else None, "timeout": timeout,
        "address": address, "authenticator_id": authenticator_id,
        "trading_key_file": str(trading_key_file) if trading_key_file else None,
        "websocket": websocket,
    }  # fmt: skip
    from dydxctl.config import environ, resolve
    from dydxctl.runtime import Runtime

    settings = resolve(flags, environ())  # a DydxctlError here is rendered by the group
    from dydxctl import logs

    try:
        logs.configure(verbose=settings.verbose, debug=settings.debug, log_file=settings.log_file)
    except OSError as exc:
        raise BadInput(
            f"Cannot open the log file {settings.log_file}: {exc.strerror}.",
            "Pass a writable file to --log-file / DYDXCTL_LOG_FILE.",
        ) from None
    runtime = Runtime(settings)
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


# --- commands on the store alone ---------------------------------------------------------
@app.command(cls=StrictCommand, name="orders")
@handles_errors
def orders_command(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="Only orders in this status, as shown (e.g. open, cancelled)."),
    ] = None,
    market: Annotated[str | None, typer.Option(help="Only this market, e.g. BTC-USD.")] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, max=MAX_LIST_LIMIT, help="At most this many rows.")
    ] = 50,
    all_chains: Annotated[
        bool, typer.Option("--all-chains", help="Every chain's orders, not only this network's.")
    ] = False,
) -> None:
    """List stored orders of the current chain, newest (by creation time) first."""
    from dydxctl.orders import parse_status

    runtime = runtime_of(ctx)
    if market is not None and not market.strip():
        raise BadInput("--market '' is empty.", "Give a ticker like BTC-USD, or leave it out.")
    rows = runtime.store().list_orders(
        status=parse_status(status) if status is not None else None,
        market=market.upper() if market else None,
        limit=limit,
        all_chains=all_chains,
    )
    if not rows and not runtime.settings.json:
        filters = ", ".join(
            f"{name} {value}" for name, value in (("status", status), ("market", market)) if value
        )
        render.note(
            f"No stored orders{f' with {filters}' if filters else ''} in {runtime.store().path}.",
            "Place one with `dydxctl place`, or record orders placed elsewhere with "
            "`dydxctl sync --import`.",
        )
        return
    render.output(
        runtime.settings.json,
        [render.order_object(r) for r in rows],
        lambda: render.orders_table(
            rows, title=f"Orders ({len(rows)}, newest first)", with_chain=all_chains
        ),
    )


@app.command(cls=StrictCommand, name="show")
@handles_errors
def show_command(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="Indexer order UUID, or a stored client id.")],
) -> None:
    """Show one stored order and its event history (reads the store only)."""
    from dydxctl.errors import OrderNotFound
    from dydxctl.orders import check_order_key

    check_order_key(order_id)
    runtime = runtime_of(ctx)
    store = runtime.store()
    row = store.resolve(order_id)
    if row is None:
        from dydxctl import scope

        scope.refuse_other_chain(runtime, order_id)
        raise OrderNotFound(
            f"No stored order has the id {order_id}.",
            "Check `dydxctl orders`, or `dydxctl sync --import` to record orders placed elsewhere.",
        )
    events = store.events(row["order_id"])
    render.output(
        runtime.settings.json,
        {**render.order_object(row), "events": events},
        lambda: render.order_detail(row),
        lambda: render.events_table(events),
    )


# --- wallet and chain -------------------------------------------------------------------
@app.command(cls=StrictCommand, name="address")
@handles_errors
def address_command(ctx: typer.Context) -> None:
    """Show the wallet's dYdX address (the mnemonic itself is never shown)."""
    runtime = runtime_of(ctx)
    wallet = runtime.wallet()
    data = {"address": wallet.address, "public_key": wallet.public_key.hex()}
    render.output(
        runtime.settings.json, data, lambda: render.key_value_table(data.items(), title="Wallet")
    )


@app.command(cls=StrictCommand, name="markets")
@handles_errors
def markets_command(
    ctx: typer.Context,
    market: Annotated[str | None, typer.Option(help="Only this ticker.")] = None,
) -> None:
    """List perpetual markets with the parameters orders are converted with."""
    from dydxctl.markets import Market

    runtime = runtime_of(ctx)
    if market is not None and not market.strip():
        raise BadInput("--market '' is empty.", "Give a ticker like BTC-USD, or leave it out.")
    raw = runtime.indexer().perpetual_markets(market.upper() if market else None)
    if market and market.upper() not in raw:
        known = ", ".join(sorted(runtime.indexer().perpetual_markets()))
        raise BadInput(f"Unknown market '{market}'.", f"Markets on this network: {known}.")
    markets = [Market.from_indexer(t, d) for t, d in sorted(raw.items())]
    rows = [
        {
            "ticker": m.ticker, "clob_pair_id": m.clob_pair_id, "status": m.status,
            "oracle_price": str(m.oracle_price) if m.oracle_price is not None else None,
            "step_size": str(m.step_size), "tick_size": str(m.tick_size),
            "atomic_resolution": m.atomic_resolution,
            "quantum_conversion_exponent": m.quantum_conversion_exponent,
            "step_base_quantums": m.step_base_quantums, "subticks_per_tick": m.subticks_per_tick,
        }
        for m in markets
    ]  # fmt: skip
    render.output(
        runtime.settings.json, rows, lambda: render.rows_table(rows, title=f"Markets ({len(rows)})")
    )


@app.command(cls=StrictCommand, name="doctor")
@handles_errors
def doctor_command(ctx: typer.Context) -> None:
    """Check config, key, store, node, chain id and Indexer, in one table."""
    from dydxctl.doctor import run_checks

    runtime = runtime_of(ctx)
    checks = run_checks(runtime)
    ok = all(c["ok"] for c in checks)
    render.output(
        runtime.settings.json, {"ok": ok, "checks": checks}, lambda: render.checks_table(checks)
    )
    if not ok:
        raise typer.Exit(next(c["exit_code"] for c in checks if not c["ok"]))


# --- the order lifecycle ------------------------------------------------------------------
@app.command(cls=StrictCommand, name="place")
@handles_errors
def place_command(
    ctx: typer.Context,
    market: Annotated[str, typer.Option(help="Ticker, e.g. BTC-USD.")],
    side: Annotated[str, typer.Option(help="buy or sell.")],
    size: Annotated[str, typer.Option(help="Size in base units, e.g. 0.001.")],
    price: Annotated[
        str | None, typer.Option(help="Limit price (market orders: the worst price).")
    ] = None,
    order_type: Annotated[
        str,
        typer.Option(
            "--type",
            help="limit, market, stop-limit, stop-market, take-profit-limit, take-profit-market.",
        ),
    ] = "limit",
    time_in_force: Annotated[
        str | None, typer.Option(help="gtt, ioc or post-only (fok is refused by the chain).")
    ] = None,
    good_til_blocks: Annotated[
        int | None,
        typer.Option(help="Short-term order living N blocks (1..ShortBlockWindow: 40 on v9.5+)."),
    ] = None,
    good_til: Annotated[
        str | None,
        typer.Option(help="Stateful order until a duration (90s, 12h, 28d) or ISO time."),
    ] = None,
    trigger_price: Annotated[str | None, typer.Option(help="Trigger for stop/take-profit.")] = None,
    reduce_only: Annotated[
        bool, typer.Option("--reduce-only", help="Only reduce a position (IOC orders only).")
    ] = False,
    client_id: Annotated[
        int | None, typer.Option(help="uint32 client id (default: random unused).")
    ] = None,
    subaccount: Annotated[
        int, _subaccount_option(f"Subaccount number (0..{MAX_SUBACCOUNT_ID_NUMBER}).")
    ] = 0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build and sign; store and send nothing.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait until the Indexer has it on the book (or removed)."),
    ] = False,
    wait_timeout: Annotated[float, typer.Option(help="Seconds --wait may take.")] = 30.0,
) -> None:
    """Sign and broadcast an order; its metadata is stored before the broadcast."""
    from dydxctl import lifecycle
    from dydxctl.markets import parse_decimal
    from dydxctl.orders import OrderRequest

    runtime = runtime_of(ctx)
    if good_til is not None and not good_til.strip():
        raise BadInput(
            f"--good-til {good_til!r} is empty.",
            "Give a duration (90s, 12h, 28d, at most 95d) or an ISO time, or leave --good-til "
            "out for the default of 28d.",
        )
    request = OrderRequest(
        market=market,
        side=side,
        size=parse_decimal(size, "size"),
        type=order_type,
        price=parse_decimal(price, "price") if price is not None else None,
        time_in_force=time_in_force,
        good_til_blocks=good_til_blocks,
        good_til=good_til,
        trigger_price=parse_decimal(trigger_price, "trigger price") if trigger_price else None,
        reduce_only=reduce_only,
        client_id=client_id,
        subaccount=subaccount,
    )
    placed: dict[str, Any] = {}
    if wait and not dry_run:  # listen before sending, so nothing slips past
        from dydxctl import ws_wait

        ws_wait.follow(runtime, runtime.wallet().address, subaccount)
    result = lifecycle.place(runtime, request, dry_run=dry_run)
    if wait and not dry_run:
        placed = ws_wait.wait_placed(runtime, result.order, wait_timeout)
        result.order = runtime.store().get(result.order["order_id"]) or result.order
    if runtime.settings.json:
        data = {**render.order_object(result.order), "tx_hash": result.tx_hash}
        if placed:
            data["evidence"] = placed["evidence"]
        if result.dry_run:
            data["dry_run"] = True
            data["tx_bytes"] = result.tx_bytes
        render.emit_json(data)
    else:
        title = "Dry run: signed, not sent" if result.dry_run else "Order placed"
        if placed:
            title += f" — {placed['evidence']}"
        render.show(render.order_detail(result.order, title=title))


@app.command(cls=StrictCommand, name="cancel")
@handles_errors
def cancel_command(
    ctx: typer.Context,
    order_id: Annotated[
        str | None, typer.Argument(help="Indexer order UUID, or a stored client id.")
    ] = None,
    all_orders: Annotated[bool, typer.Option("--all", help="Cancel every open order.")] = False,
    market: Annotated[str | None, typer.Option(help="With --all: only this market.")] = None,
    subaccount: Annotated[int, _subaccount_option("With --all: the subaccount.")] = 0,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the evidence that the order is final (the Indexer websocket, else "
            "polling): exit 0 CANCELED, 4 FILLED, 5 EXPIRED, 6 the cancel failed in its "
            "block, 11 timed out.",
        ),
    ] = False,
    wait_timeout: Annotated[
        float, typer.Option(min=0.1, max=3600, help="Seconds --wait may take.")
    ] = 60.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build and sign; send nothing.")
    ] = False,
) -> None:
    """Cancel an order by its id, with the good-til the chain requires."""
    from dydxctl import lifecycle

    runtime = runtime_of(ctx)
    if all_orders == (order_id is not None):
        raise BadInput("Give an ORDER_ID or --all (not both).", "e.g. dydxctl cancel <uuid>")
    if all_orders:
        from dydxctl.cancel_all import cancel_all

        if wait and not dry_run:  # listen before sending, so nothing slips past
            from dydxctl import ws_wait

            ws_wait.follow(runtime, runtime.wallet().address, subaccount)
        outcome = cancel_all(
            runtime, market=market.upper() if market else None, subaccount=subaccount,
            dry_run=dry_run,
        )  # fmt: skip
        if wait and not dry_run:
            ws_wait.wait_all(runtime, outcome["orders"], wait_timeout)
            outcome["summary"] += "; after --wait: " + ws_wait.outcome_counts(outcome["orders"])
        if not outcome["orders"] and not runtime.settings.json:
            where = f"subaccount {subaccount}" + (f", market {market.upper()}" if market else "")
            render.note(
                f"Nothing to cancel: no open orders ({where}) in the store or the Indexer.",
                "`dydxctl orders` lists what is stored.",
            )
            return
        render.output(
            runtime.settings.json,
            outcome,
            lambda: render.rows_table(outcome["orders"], title=outcome["summary"]),
        )
        if outcome["exit_code"]:
            raise typer.Exit(outcome["exit_code"])
        return
    assert order_id is not None
    result = lifecycle.cancel(
        runtime, order_id, dry_run=dry_run, wait=wait, wait_timeout_s=wait_timeout
    )
    data = {
        **render.order_object(result.order),
        "outcome": result.outcome,
        "message": result.message,
        "cancel_tx_hash": result.tx_hash,
        "cancel_good_til_block": result.good_til_block,
        "cancel_good_til_block_time": result.good_til_block_time,
        "latency_ms": result.latency_ms,
        "metadata_source": result.source,
        **result.extra,
    }
    render.output(runtime.settings.json, data, lambda: render.cancel_result(data))
    # FILLED / EXPIRED / timeouts after --wait are raised as their errors (exit 4 / 5 / 11);
    # only CANCELED and an accepted, not yet final cancel reach here (exit 0).


@app.command(cls=StrictCommand, name="prune-expired")
@handles_errors
def prune_command(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; delete nothing.")] = False,
    keep: Annotated[
        str | None, typer.Option(help="Keep final-state rows this long (default 7d).")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="No node: wall clock, stateful rows only.")
    ] = False,
) -> None:
    """Delete metadata of orders that can no longer be live."""
    from dydxctl import reconcile

    runtime = runtime_of(ctx)
    if keep is not None:
        from dydxctl.durations import parse_keep

        parse_keep(keep)
    total = runtime.store().count()
    with render.progress(f"pruning {total} rows", total, enabled=total >= 10_000) as advance:
        summary = reconcile.prune(
            runtime, dry_run=dry_run, keep=keep, offline=offline, progress=advance
        )
    data = {
        "dry_run": summary.dry_run,
        "expired_short_term": summary.expired_short_term,
        "expired_stateful": summary.expired_stateful,
        "final_state": summary.final_state,
        "deleted": 0 if summary.dry_run else summary.deleted,
        "would_delete": summary.deleted if summary.dry_run else 0,
        "kept": summary.kept,
    }
    if runtime.settings.json:
        render.emit_json(data)
    else:
        title = "prune-expired (dry run: nothing deleted)" if dry_run else "prune-expired"
        render.show(render.key_value_table(data.items(), title=title))


@app.command(cls=StrictCommand, name="sync")
@handles_errors
def sync_command(
    ctx: typer.Context,
    import_orders: Annotated[
        bool, typer.Option("--import", help="Also record orders placed elsewhere.")
    ] = False,
    subaccount: Annotated[int, _subaccount_option("Subaccount for --import.")] = 0,
) -> None:
    """Reconcile stored orders with the Indexer (and the chain for stateful placements)."""
    from dydxctl import reconcile

    runtime = runtime_of(ctx)
    outcome = reconcile.sync(runtime, import_orders=import_orders, subaccount=subaccount)
    if runtime.settings.json:
        render.emit_json(outcome)
    elif not outcome["changed"] and not outcome["imported"]:
        render.note(
            f"Nothing to change: {outcome['checked']} live "
            f"order{'' if outcome['checked'] == 1 else 's'} checked, all up to date"
            + (", nothing new to import." if import_orders else "."),
            ""
            if import_orders
            else "`dydxctl sync --import` also records orders placed elsewhere.",
        )
    else:
        rows = outcome["changed"] + outcome["imported"] + outcome["errors"] + outcome["skipped"]
        title = (
            f"sync: {outcome['checked']} checked, {len(outcome['changed'])} changed, "
            f"{len(outcome['imported'])} imported"
            + (f", {len(outcome['errors'])} not checked" if outcome["errors"] else "")
            + (f", {len(outcome['skipped'])} skipped" if outcome["skipped"] else "")
        )
        render.show(render.rows_table(rows, title=title))


@app.command(cls=StrictCommand, name="stats")
@handles_errors
def stats_command(
    ctx: typer.Context,
    prometheus: Annotated[
        Path | None, typer.Option(help="Also write a textfile-collector .prom file here.")
    ] = None,
) -> None:
    """Cancellation metrics: attempts, successes, failures by kind, latency p50/p95."""
    from dydxctl import metrics

    runtime = runtime_of(ctx)
    data = runtime.store().cancel_metrics()
    if prometheus is not None:
        try:
            metrics.write_atomically(prometheus, metrics.prometheus_text(data))
        except OSError as exc:
            raise BadInput(
                f"Cannot write the Prometheus file {prometheus}: {exc.strerror}.",
                "Pass a writable file path to --prometheus, e.g. /var/lib/node_exporter/x.prom.",
            ) from None
    render.output(runtime.settings.json, data, lambda: render.stats_tables(data))


@app.command(cls=StrictCommand, name="watch")
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


@app.command(cls=StrictCommand, name="demo")
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


@app.command(cls=StrictCommand, name="emulator")
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


def main() -> None:
    """Console-script entry point (errors are handled by `handles_errors` and the callback)."""
    app()
