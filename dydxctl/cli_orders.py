"""`dydxctl place|cancel`: the order lifecycle. What they need beyond parsing (the
store, gRPC, protobuf, the key) is imported inside them, when they run."""

from typing import Annotated, Any

import typer

from dydxctl.chain import MAX_SUBACCOUNT_ID_NUMBER
from dydxctl.cli_base import StrictCommand, handles_errors, render, runtime_of, subaccount_option
from dydxctl.errors import BadInput

# Registered here, built by dydxctl.cli only when invoked (or listed by --help).
commands = typer.Typer()


@commands.command(cls=StrictCommand, name="place")
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
        int, subaccount_option(f"Subaccount number (0..{MAX_SUBACCOUNT_ID_NUMBER}).")
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


@commands.command(cls=StrictCommand, name="cancel")
@handles_errors
def cancel_command(
    ctx: typer.Context,
    order_id: Annotated[
        str | None, typer.Argument(help="Indexer order UUID, or a stored client id.")
    ] = None,
    all_orders: Annotated[bool, typer.Option("--all", help="Cancel every open order.")] = False,
    market: Annotated[str | None, typer.Option(help="With --all: only this market.")] = None,
    subaccount: Annotated[int, subaccount_option("With --all: the subaccount.")] = 0,
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
