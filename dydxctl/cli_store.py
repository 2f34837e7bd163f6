"""`dydxctl orders|show|prune-expired|sync|stats`: the commands on the store (and its
reconciliation with the Indexer and the chain)."""

from pathlib import Path
from typing import Annotated

import typer

from dydxctl.cli_base import StrictCommand, handles_errors, render, runtime_of, subaccount_option
from dydxctl.errors import BadInput

# Registered here, built by dydxctl.cli only when invoked (or listed by --help).
commands = typer.Typer()

# `orders --limit`: more rows than any terminal shows, far below SQLite's 64-bit LIMIT.
MAX_LIST_LIMIT = 1_000_000


@commands.command(cls=StrictCommand, name="orders")
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


@commands.command(cls=StrictCommand, name="show")
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


@commands.command(cls=StrictCommand, name="prune-expired")
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


@commands.command(cls=StrictCommand, name="sync")
@handles_errors
def sync_command(
    ctx: typer.Context,
    import_orders: Annotated[
        bool, typer.Option("--import", help="Also record orders placed elsewhere.")
    ] = False,
    subaccount: Annotated[int, subaccount_option("Subaccount for --import.")] = 0,
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


@commands.command(cls=StrictCommand, name="stats")
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
