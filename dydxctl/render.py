"""Results and errors as rich tables/panels, or as one JSON document from the same data.

Commands build plain data (dicts, lists) and hand it here; nothing else formats output.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dydxctl.chain import order_kind
from dydxctl.durations import format_unix
from dydxctl.errors import DydxctlError

# Keys of an order object in every JSON output (SPEC §2: `orders --json`).
ORDER_JSON_KEYS = (
    "order_id", "client_id", "market", "side", "type", "status", "order_flags", "kind",
    "size", "price", "trigger_price", "time_in_force", "reduce_only", "good_til_block",
    "good_til_block_time", "subaccount_number", "address", "chain_id", "clob_pair_id",
    "place_tx_hash", "cancel_tx_hash", "created_at", "updated_at", "last_error",
)  # fmt: skip

STATUS_STYLES = {
    "OPEN": "green", "UNTRIGGERED": "cyan", "PENDING": "yellow", "UNKNOWN": "magenta",
    "CANCEL_PENDING": "yellow", "CANCELED": "dim", "FILLED": "blue", "EXPIRED": "dim",
    "REJECTED": "red",
}  # fmt: skip


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Off a terminal (pipes, tests) keep lines long enough that UUIDs never wrap.
    width = None if stream.isatty() else 200
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def order_object(row: Mapping[str, Any]) -> dict[str, Any]:
    """The public shape of a stored order (JSON and tables share it)."""
    out = {key: row.get(key) for key in ORDER_JSON_KEYS}
    out["kind"] = order_kind(row["order_flags"])
    out["reduce_only"] = bool(row.get("reduce_only"))
    return out


def _good_til(row: Mapping[str, Any]) -> str:
    if row.get("good_til_block"):
        return f"block {row['good_til_block']}"
    return format_unix(row.get("good_til_block_time"))


def _status(status: str | None) -> Text:
    return Text(status or "", style=STATUS_STYLES.get(status or "", ""))


def orders_table(rows: Sequence[Mapping[str, Any]], title: str = "Orders") -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("ORDER ID", "CLIENT ID", "MARKET", "SIDE", "TYPE", "SIZE", "PRICE", "KIND",
                 "GOOD TIL", "STATUS"):  # fmt: skip
        table.add_column(name, no_wrap=True)
    for row in rows:
        table.add_row(
            row["order_id"], str(row["client_id"]), row["market"], row["side"], row["type"],
            row["size"], row["price"], order_kind(row["order_flags"]), _good_til(row),
            _status(row["status"]),
        )  # fmt: skip
    return table


def key_value_table(pairs: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in pairs:
        table.add_row(key, value if isinstance(value, Text) else Text(_plain(value)))
    return table


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def order_detail(row: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Table:
    obj = order_object(row)
    pairs: list[tuple[str, Any]] = [
        ("ORDER ID", obj["order_id"]),
        ("client id", obj["client_id"]),
        ("market", obj["market"]),
        ("side", obj["side"]),
        ("type", obj["type"]),
        ("size", obj["size"]),
        ("price", obj["price"]),
        ("kind", f"{obj['kind']} (flags {obj['order_flags']})"),
        ("time in force", obj["time_in_force"]),
        ("reduce only", obj["reduce_only"]),
        ("good til", _good_til(row)),
        ("status", _status(obj["status"])),
        ("subaccount", f"{obj['address']}/{obj['subaccount_number']}"),
        ("chain", obj["chain_id"]),
    ]
    if obj["trigger_price"]:
        pairs.insert(7, ("trigger price", obj["trigger_price"]))
    for key in ("place_tx_hash", "cancel_tx_hash", "last_error"):
        if obj.get(key):
            pairs.append((key.replace("_", " "), obj[key]))
    pairs.extend((extra or {}).items())
    return key_value_table(pairs, title="Order")


def events_table(events: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Events", title_justify="left")
    for name in ("AT", "FROM", "TO", "TX HASH", "DETAIL"):
        table.add_column(name, overflow="fold")
    for e in events:
        table.add_row(
            e["at"], e["from_status"] or "", _status(e["to_status"]), e["tx_hash"] or "",
            e["detail"] or "",
        )  # fmt: skip
    return table


def show(*renderables: Any) -> None:
    console = _console()
    for item in renderables:
        console.print(item)


def error(exc: DydxctlError, *, as_json: bool, debug: bool = False) -> None:
    """An error as a panel on stderr, or as {"error": {...}} on stdout with --json."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if as_json:
        emit_json({"error": exc.to_dict()})
        return
    body = Text(exc.message)
    if exc.hint:
        body.append("\n")
        body.append(exc.hint, style="italic")
    panel = Panel(
        body, title=f"[bold]{exc.title}[/bold] (exit {exc.exit_code})", border_style="red",
        title_align="left", expand=False,
    )  # fmt: skip
    _console(stderr=True).print(panel)
