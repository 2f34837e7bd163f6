"""`dydxctl address|markets|doctor`: the wallet, the markets and the endpoints."""

from typing import Annotated

import typer

from dydxctl.cli_base import StrictCommand, handles_errors, render, runtime_of
from dydxctl.errors import BadInput

# Registered here, built by dydxctl.cli only when invoked (or listed by --help).
commands = typer.Typer()


@commands.command(cls=StrictCommand, name="address")
@handles_errors
def address_command(ctx: typer.Context) -> None:
    """Show the wallet's dYdX address (the mnemonic itself is never shown)."""
    runtime = runtime_of(ctx)
    wallet = runtime.wallet()
    data = {"address": wallet.address, "public_key": wallet.public_key.hex()}
    render.output(
        runtime.settings.json, data, lambda: render.key_value_table(data.items(), title="Wallet")
    )


@commands.command(cls=StrictCommand, name="markets")
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


@commands.command(cls=StrictCommand, name="doctor")
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
