"""Results and errors as rich tables/panels, or as one JSON document from the same data.

Commands build plain data (dicts, lists) and hand it here; nothing else formats output.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dydxctl.chain import order_kind
from dydxctl.durations import format_unix
from dydxctl.errors import DydxctlError
from dydxctl.redact import scrub

if TYPE_CHECKING:  # rich costs ~50 ms to import: only human output loads it
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

# Keys of an order object in every JSON output (SPEC §2: `orders --json`).
ORDER_JSON_KEYS = (
    "order_id", "client_id", "market", "side", "type", "status", "order_flags", "kind",
    "size", "price", "trigger_price", "time_in_force", "reduce_only", "good_til_block",
    "good_til_block_time", "subaccount_number", "address", "chain_id", "clob_pair_id",
    "place_tx_hash", "cancel_tx_hash", "created_at", "updated_at", "last_error",
    "signer_address", "authenticator_id",
)  # fmt: skip

STATUS_STYLES = {
    "OPEN": "green", "UNTRIGGERED": "cyan", "PENDING": "yellow", "UNKNOWN": "magenta",
    "CANCEL_PENDING": "yellow", "CANCELED": "dim", "FILLED": "blue", "EXPIRED": "dim",
    "REJECTED": "red",
}  # fmt: skip


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

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


# A streaming command (`watch --json`) writes NDJSON: anything else it prints, an error
# included, must then be one line too.
ONE_LINE_JSON = False


def emit_json(data: Any) -> None:
    """Exactly one JSON document on stdout (one line while a command streams NDJSON)."""
    indent = None if ONE_LINE_JSON else 2
    sys.stdout.write(json.dumps(_jsonable(data), indent=indent, ensure_ascii=False) + "\n")
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
    from rich.text import Text

    return Text(status or "", style=STATUS_STYLES.get(status or "", ""))


def orders_table(
    rows: Sequence[Mapping[str, Any]], title: str | None = "Orders", *, with_chain: bool = False
) -> Table:
    """The orders listing; with_chain adds the CHAIN column (`orders --all-chains`)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    names = ("ORDER ID", "CLIENT ID", "MARKET", "SIDE", "TYPE", "SIZE", "PRICE", "KIND",
             "GOOD TIL", "STATUS")  # fmt: skip
    for name in (*names, "CHAIN") if with_chain else names:
        table.add_column(name, no_wrap=True)
    for row in rows:
        cells = [
            row["order_id"], str(row["client_id"]), row["market"], row["side"], row["type"],
            row["size"], row["price"], order_kind(row["order_flags"]), _good_til(row),
            _status(row["status"]),
        ]  # fmt: skip
        table.add_row(*cells, *([row["chain_id"]] if with_chain else []))
    return table


def key_value_table(pairs: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    from rich.table import Table
    from rich.text import Text

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


def order_detail(
    row: Mapping[str, Any], extra: Mapping[str, Any] | None = None, title: str | None = "Order"
) -> Table:
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
    if obj.get("signer_address"):  # placed by a permissioned trading key
        pairs.append(("placed by key", f"{obj['signer_address']} (authenticator "
                      f"{obj['authenticator_id']})"))  # fmt: skip
    for key in ("place_tx_hash", "cancel_tx_hash", "last_error"):
        if obj.get(key):
            pairs.append((key.replace("_", " "), obj[key]))
    pairs.extend((extra or {}).items())
    return key_value_table(pairs, title=title)


def cancel_result(data: Mapping[str, Any]) -> Table:
    """The outcome of a cancel: what was sent, with which good-til, and what it means."""
    pairs: list[tuple[str, Any]] = [
        ("ORDER ID", data["order_id"]),
        ("market", data["market"]),
        ("outcome", _status(data["outcome"])),
        ("", data["message"]),
        ("kind", data["kind"]),
    ]
    if data.get("cancel_good_til_block") is not None:
        pairs.append(("cancel good til", f"block {data['cancel_good_til_block']}"))
    if data.get("cancel_good_til_block_time") is not None:
        pairs.append(("cancel good til", format_unix(data["cancel_good_til_block_time"])))
    if data.get("cancel_tx_hash"):
        pairs.append(("cancel tx hash", data["cancel_tx_hash"]))
    if data.get("evidence"):  # --wait: what settled it (websocket, Indexer, block, height)
        pairs.append(("evidence", data["evidence"]))
    pairs.append(("metadata from", data.get("metadata_source", "store")))
    pairs.append(("latency", f"{data.get('latency_ms', 0):.1f} ms"))
    return key_value_table(pairs, title="Cancel")


def rows_table(rows: Sequence[Mapping[str, Any]], title: str | None) -> Table:
    """A table of uniform dicts, columns in key order (markets, cancel --all, prune)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    columns = list(rows[0]) if rows else []
    for name in columns:
        table.add_column(name.upper().replace("_", " "), no_wrap=True)
    for row in rows:
        cells = []
        for name in columns:
            value = row.get(name)
            cells.append(_status(value) if name in ("status", "outcome") else Text(_plain(value)))
        table.add_row(*cells)
    return table


def authenticators_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    """`keys list`: id and type stay whole; what the key may do wraps."""
    table = Table(title=title, title_justify="left")
    table.add_column("ID", no_wrap=True, justify="right")
    table.add_column("TYPE", no_wrap=True)
    table.add_column("ALLOWS", overflow="fold")
    for row in rows:
        table.add_row(str(row["id"]), Text(row["type"]), Text(row["allows"]))
    return table


def checks_table(checks: Sequence[Mapping[str, Any]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="dydxctl doctor", title_justify="left")
    for name in ("CHECK", "RESULT", "DETAIL"):
        table.add_column(name, overflow="fold")
    for check in checks:
        mark = Text("ok", style="green") if check["ok"] else Text("FAIL", style="bold red")
        table.add_row(check["name"], mark, check["detail"])
    return table


def events_table(events: Sequence[Mapping[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title="Events", title_justify="left")
    for name in ("AT", "FROM", "TO", "TX HASH", "DETAIL"):
        table.add_column(name, overflow="fold")
    for e in events:
        table.add_row(
            e["at"], e["from_status"] or "", _status(e["to_status"]), e["tx_hash"] or "",
            e["detail"] or "",
        )  # fmt: skip
    return table


def output(as_json: bool, data: Any, *tables: Callable[[], Any]) -> None:
    """A command's result: `data` as one JSON document, or the tables built from it."""
    if as_json:
        emit_json(data)
    else:
        show(*(build() for build in tables))


def note(message: str, hint: str = "") -> None:
    """A one-paragraph answer when there is nothing to tabulate (no rows, nothing to do)."""
    from rich.text import Text

    text = Text(message)
    if hint:
        text.append("\n")
        text.append(hint, style="italic")
    show(text)


def show(*renderables: Any) -> None:
    console = _console()
    for item in renderables:
        console.print(item)


def error(exc: DydxctlError, *, as_json: bool, debug: bool = False) -> None:
    """An error as a panel on stderr, or as {"error": {...}} on stdout with --json.
    Message, hint and traceback are scrubbed of anything that looks like a mnemonic."""
    from rich.panel import Panel
    from rich.text import Text

    if debug:
        sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
    if as_json:
        data = exc.to_dict()
        data["message"], data["hint"] = scrub(data["message"]), scrub(data["hint"])
        emit_json({"error": data})
        return
    body = Text(scrub(exc.message))
    if exc.hint:
        body.append("\n")
        body.append(scrub(exc.hint), style="italic")
    panel = Panel(
        body, title=f"[bold]{exc.title}[/bold] (exit {exc.exit_code})", border_style="red",
        title_align="left", expand=False,
    )  # fmt: skip
    _console(stderr=True).print(panel)


def stats_tables(data: Mapping[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title="Cancellation metrics", title_justify="left")
    for name in ("MARKET", "ATTEMPTS", "SUCCESSES", "FAILURES", "SUCCESS RATE", "P50 MS",
                 "P95 MS", "FAILURES BY KIND"):  # fmt: skip
        table.add_column(name, no_wrap=True)

    def add(label: str, m: Mapping[str, Any]) -> None:
        rate = m["success_rate"]
        table.add_row(
            label, str(m["attempts"]), str(m["successes"]), str(m["failures"]),
            "" if rate is None else f"{rate:.1%}", _plain(m["latency_ms_p50"]),
            _plain(m["latency_ms_p95"]),
            ", ".join(f"{k} {n}" for k, n in m["failures_by_kind"].items()),
        )  # fmt: skip

    for market, m in data["by_market"].items():
        add(market, m)
    add("all", data)
    return table


@contextlib.contextmanager
def progress(description: str, total: int, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long jobs; a no-op callback otherwise."""
    if not enabled:
        yield lambda _n: None
        return
    from rich.progress import Progress

    with Progress(console=_console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
