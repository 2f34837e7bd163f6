"""What every command shares: error handling, global options anywhere, no repeated options.

`cli.py` (the commands) and `keys.py` (the `keys` sub-app) both build on this, so a
sub-app gets the same exit codes, JSON errors and parsing rules as the top-level commands.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import typer
import typer.core

from dydxctl.errors import BadInput, DydxctlError, InternalError, Interrupted

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime


def _lazy_module(name: str) -> ModuleType:
    """Import `name` on first attribute access (importlib.util.LazyLoader): rich tables,
    panels and the settings machinery cost tens of ms that `--help` never needs."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


render = _lazy_module("dydxctl.render")
F = TypeVar("F", bound=Callable[..., Any])
_TRUE = ("1", "true", "yes", "on")
# Options that keep their meaning wherever they are: never moved before the command.
_NOT_MOVABLE = {"--help", "--version", "--install-completion", "--show-completion"}
INTERRUPTED = Interrupted(
    "Stopped by Ctrl-C.",
    "Anything already broadcast stays broadcast: run `dydxctl sync` to see where orders stand.",
)


def json_requested(argv: Sequence[str]) -> bool:
    """--json anywhere before `--`, or DYDXCTL_JSON set: errors must be JSON too."""
    head = list(argv[: list(argv).index("--")] if "--" in argv else argv)
    env = os.environ.get("DYDXCTL_JSON", "").strip().lower() in _TRUE
    return "--json" in head or env


def _value_options(params: Sequence[Any]) -> dict[str, str]:
    """Every spelling of each option that takes one value → its main spelling."""
    out: dict[str, str] = {}
    for param in params:
        if getattr(param, "param_type_name", "") != "option" or param.is_flag or param.multiple:
            continue
        for spelling in param.opts:
            out[spelling] = param.opts[0]
    return out


def refuse_repeats(params: Sequence[Any], args: Sequence[str]) -> None:
    """`--side buy --side sell` is a mistake, not "sell": an option that takes one value
    may be given once."""
    spellings = _value_options(params)
    seen: dict[str, list[str]] = {}
    items = list(args[: list(args).index("--")] if "--" in args else args)
    i = 0
    while i < len(items):
        token = items[i]
        name, eq, value = token.partition("=")
        if name in spellings:
            if not eq:
                value = items[i + 1] if i + 1 < len(items) else ""
                i += 1
            seen.setdefault(spellings[name], []).append(value)
        i += 1
    for name, values in seen.items():
        if len(values) > 1:
            shown = ", ".join(repr(v) for v in values)
            raise BadInput(
                f"{name} was given {len(values)} times ({shown}); it takes one value.",
                f"Give {name} once.",
            )


class StrictCommand(typer.core.TyperCommand):
    """A command that refuses repeated single-valued options."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        refuse_repeats(self.params, args)
        return super().parse_args(ctx, args)


class StrictGroup(typer.core.TyperGroup):
    """A sub-app (`keys`): its own options once each, like every command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        refuse_repeats(self.params, args[: self._command_index(args)])
        return super().parse_args(ctx, args)

    def _command_index(self, args: Sequence[str]) -> int:
        return next((i for i, a in enumerate(args) if a in self.commands), len(args))


class GlobalFlagsAnywhere(StrictGroup):
    """Global options work before or after the command (`dydxctl orders --debug`,
    `dydxctl place … --network local`), and every error — usage errors included — is one
    short panel, or JSON with --json / DYDXCTL_JSON=1, never a traceback."""

    def _global_options(self) -> dict[str, bool]:
        """Each global option's spellings → whether it takes a value."""
        out: dict[str, bool] = {}
        for param in self.params:
            if getattr(param, "param_type_name", "") != "option":
                continue
            for spelling in [*param.opts, *param.secondary_opts]:
                if spelling not in _NOT_MOVABLE:
                    out[spelling] = not param.is_flag
        return out

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._globals_first(args))

    def _globals_first(self, args: list[str]) -> list[str]:
        """Move global options found after the command name to before it."""
        split = args.index("--") if "--" in args else len(args)
        head, tail = args[:split], args[split:]
        options = self._global_options()
        command_at = None
        i = 0
        while i < len(head):  # find the command: the first token that is not a global option
            token = head[i]
            name = token.partition("=")[0]
            if name in options:
                i += 2 if options[name] and "=" not in token else 1
                continue
            if not token.startswith("-"):
                command_at = i
                break
            i += 1
        if command_at is None:
            return args
        before, after = head[: command_at + 1], head[command_at + 1 :]
        moved, rest = [], []
        i = 0
        while i < len(after):
            token = after[i]
            name = token.partition("=")[0]
            if name in options:
                takes_value = options[name] and "=" not in token
                moved.extend(after[i : i + (2 if takes_value else 1)])
                i += 2 if takes_value else 1
                continue
            rest.append(token)
            i += 1
        return before[:command_at] + moved + before[command_at:] + rest + tail

    def main(self, args: Any = None, *pos: Any, standalone_mode: bool = True, **kw: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:
            return super().main(args, *pos, standalone_mode=standalone_mode, **kw)
        from typer._click.exceptions import ClickException  # typer 0.26–0.28 vendor click

        as_json = json_requested(argv)
        debug = "--debug" in argv
        try:
            code = super().main(args, *pos, standalone_mode=False, **kw)
        except ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError" and not as_json:
                exc.show()
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            path = getattr(ctx, "command_path", "") or "dydxctl <command>"
            error = BadInput(exc.format_message(), f"Run `{path} --help` for its usage.")
            render.error(error, as_json=as_json)
            sys.exit(error.exit_code)
        except DydxctlError as exc:  # settings, repeated options: before any command runs
            render.error(exc, as_json=as_json, debug=debug)
            sys.exit(exc.exit_code)
        except (typer.Abort, KeyboardInterrupt, EOFError):
            render.error(INTERRUPTED, as_json=as_json)
            sys.exit(INTERRUPTED.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


def _wants_json(ctx: typer.Context | None) -> bool:
    settings = getattr(getattr(ctx, "obj", None), "settings", None) if ctx else None
    if settings is not None:
        return bool(settings.json)
    return json_requested(sys.argv[1:])


def _fail(exc: DydxctlError, ctx: typer.Context | None, debug: bool) -> typer.Exit:
    render.error(exc, as_json=_wants_json(ctx), debug=debug)
    return typer.Exit(exc.exit_code)


def handles_errors(fn: F) -> F:
    """Turn DydxctlError into its panel/JSON and exit code; Ctrl-C is 130; anything else
    is exit 1 (a bug), with the traceback only under --debug.

    Every command takes `ctx: typer.Context` first; the Runtime on it says --json/--debug.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs.get("ctx") or next((a for a in args if isinstance(a, typer.Context)), None)
        runtime = getattr(ctx, "obj", None)
        debug = bool(getattr(getattr(runtime, "settings", None), "debug", False))
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except DydxctlError as exc:
            raise _fail(exc, ctx, debug) from None
        except KeyboardInterrupt:
            raise _fail(INTERRUPTED, ctx, False) from None
        except Exception as exc:  # a bug: say so plainly, traceback only with --debug
            if debug:
                from dydxctl.redact import scrub

                sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
            raise _fail(
                InternalError(
                    f"dydxctl hit an unexpected error: {type(exc).__name__}: {exc}",
                    "Run again with --debug for the traceback, and report it.",
                ),
                ctx,
                False,
            ) from None

    return wrapper  # type: ignore[return-value]


def runtime_of(ctx: typer.Context) -> Runtime:
    return ctx.obj


def subaccount_option(help_text: str) -> Any:
    """A subaccount number option, bounded as the chain bounds it."""
    from dydxctl.chain import MAX_SUBACCOUNT_ID_NUMBER

    return typer.Option(min=0, max=MAX_SUBACCOUNT_ID_NUMBER, help=help_text)
