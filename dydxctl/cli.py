"""The command line: the global options, and the commands (in `cli_*.py` and `keys.py`).

A command is built (typer turns its signature into options) only when it is invoked or
listed, and its module is imported only then: `dydxctl place` builds and imports `place`
alone, not the other sixteen (issue 14, start-up). Heavy modules (gRPC, protobuf, crypto,
the store) are imported inside the commands that use them. The command modules do without
`from __future__ import annotations`: typer would compile every annotation string again to
build a command, ~5 % of a whole `place` process.
"""

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main

from dydxctl import __version__
from dydxctl.cli_base import GlobalFlagsAnywhere, handles_errors
from dydxctl.errors import BadInput

__all__ = ["COMMANDS", "app", "command_names", "handles_errors", "main"]

# Every command → the module that registers it, in the order `--help` lists them.
COMMANDS: dict[str, str] = {
    "orders": "dydxctl.cli_store", "show": "dydxctl.cli_store",
    "address": "dydxctl.cli_chain", "markets": "dydxctl.cli_chain",
    "doctor": "dydxctl.cli_chain",
    "place": "dydxctl.cli_orders", "cancel": "dydxctl.cli_orders",
    "prune-expired": "dydxctl.cli_store", "sync": "dydxctl.cli_store",
    "stats": "dydxctl.cli_store",
    "watch": "dydxctl.cli_watch",
    "demo": "dydxctl.cli_local", "emulator": "dydxctl.cli_local",
    "keys": "dydxctl.keys",
}  # fmt: skip


class LazyCommands(MutableMapping[str, Any]):
    """The group's commands: every name is known up front, each command is built on first
    use. Click and typer read a group's commands through this mapping (`get_command`,
    `list_commands`, the "did you mean" suggestions), so nothing else changes."""

    def __init__(self, names: list[str], build: Callable[[str], Any]) -> None:
        self._names = list(names)
        self._build = build
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._names:
                raise KeyError(name)
            self._built[name] = self._build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._names:
            self._names.append(name)
        self._built[name] = command

    def __contains__(self, name: object) -> bool:
        return name in self._names  # without building it (Mapping's would)

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class LazyGroup(GlobalFlagsAnywhere):
    """The top-level group, its commands built on demand (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(list(COMMANDS), self._build)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names only: no command is built to list them

    def _build(self, name: str) -> Any:
        """The click command typer would have built for `name` in the whole app."""
        registry: typer.Typer = importlib.import_module(COMMANDS[name]).commands
        for info in registry.registered_commands:
            if info.name == name:
                return typer.main.get_command_from_info(
                    info,
                    pretty_exceptions_short=app.pretty_exceptions_short,
                    rich_markup_mode=self.rich_markup_mode,
                )
        for group in registry.registered_groups:
            if group.name == name:
                return typer.main.get_group_from_info(
                    group,
                    pretty_exceptions_short=app.pretty_exceptions_short,
                    rich_markup_mode=self.rich_markup_mode,
                    suggest_commands=self.suggest_commands,
                )
        raise KeyError(f"{COMMANDS[name]} registers no command {name!r}")


def command_names() -> list[str]:
    """Every command, sub-commands as "keys new" (for the docs and error-table tests)."""
    names = []
    for name in COMMANDS:
        registry: typer.Typer = importlib.import_module(COMMANDS[name]).commands
        groups = [g for g in registry.registered_groups if g.name == name]
        if groups:
            assert groups[0].typer_instance is not None
            names += [f"{name} {c.name}" for c in groups[0].typer_instance.registered_commands]
        else:
            names.append(name)
    return names


app = typer.Typer(
    cls=LazyGroup,
    name="dydxctl",
    help="Place, cancel and prune dYdX v4 orders, with durable local order metadata.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich cost ~2x the start-up
)


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


def main() -> None:
    """Console-script entry point (errors are handled by `handles_errors` and the callback)."""
    app()
