"""The SQLite store's schema and its named migrations (sqlite-utils), applied in order,
each once, by Store._migrate."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dydxctl.store_sql import ORDER_COLUMNS

MIGRATION_SET = "dydxctl"
# Every migration of the set, in order (the functions are registered in migrations()).
MIGRATION_NAMES = (
    "m001_initial", "m002_chain_scoped_keys", "m003_trading_keys", "m004_chain_clock_cache",
    "m005_event_order_seq",
)  # fmt: skip

if TYPE_CHECKING:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations


def schema_sql() -> str:
    """schema.sql as shipped inside the package (the repo root links to the same file)."""
    from importlib import resources

    return resources.files("dydxctl").joinpath("schema.sql").read_text(encoding="utf-8")


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer
            buffer = ""


def m001_initial(db: sqlite_utils.Database) -> None:
    """Create every table and index of schema.sql (each statement is idempotent)."""
    for statement in _statements(schema_sql()):
        db.execute(statement)


def m002_chain_scoped_keys(db: sqlite_utils.Database) -> None:
    """Key orders by (order_id, chain_id) instead of order_id, give events and cancel
    attempts the chain id, and index by chain. A store made by m001 of 0.1.0 has the old
    key; one made by today's m001 already has the new one and is left as it is.

    SQLite cannot change a primary key in place: the old tables are renamed aside, the
    new ones made from schema.sql and filled, the old ones dropped (foreign keys are off
    meanwhile: Store._migrate turns them off and checks them before committing).
    """
    info = sorted(db.execute("PRAGMA table_info(orders)").fetchall(), key=lambda r: r[5])
    pk = [r[1] for r in info if r[5]]
    if pk == ["order_id", "chain_id"]:
        return
    indexes = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('orders', 'order_events')"
    ).fetchall()
    for (name,) in indexes:
        db.execute(f'DROP INDEX "{name}"')
    db.execute("ALTER TABLE order_events RENAME TO m002_old_order_events")
    db.execute("ALTER TABLE orders RENAME TO m002_old_orders")
    if "chain_id" not in {r[1] for r in db.execute("PRAGMA table_info(cancel_attempts)")}:
        db.execute("ALTER TABLE cancel_attempts ADD COLUMN chain_id TEXT")
    m001_initial(db)
    # Only the columns the old table has: later migrations' columns start out NULL.
    old_columns = {row[1] for row in db.execute("PRAGMA table_info(m002_old_orders)")}
    columns = ", ".join(name for name in ORDER_COLUMNS if name in old_columns)
    db.execute(f"INSERT INTO orders ({columns}) SELECT {columns} FROM m002_old_orders")
    db.execute(
        "INSERT INTO order_events (id, order_id, chain_id, at, from_status, to_status,"
        " tx_hash, detail) SELECT e.id, e.order_id, o.chain_id, e.at, e.from_status,"
        " e.to_status, e.tx_hash, e.detail FROM m002_old_order_events AS e"
        " JOIN m002_old_orders AS o ON o.order_id = e.order_id"
    )
    db.execute(
        "UPDATE cancel_attempts SET chain_id = (SELECT chain_id FROM m002_old_orders AS o"
        " WHERE o.order_id = cancel_attempts.order_id) WHERE chain_id IS NULL"
    )
    db.execute("DROP TABLE m002_old_order_events")
    db.execute("DROP TABLE m002_old_orders")


# Columns added after m001, in the order schema.sql lists them last: (name, SQL type).
TRADING_KEY_COLUMNS = (("signer_address", "TEXT"), ("authenticator_id", "INTEGER"))


def m003_trading_keys(db: sqlite_utils.Database) -> None:
    """Which trading key and authenticator placed an order (issue 16). A store created by
    m001 from the current schema.sql has them already."""
    present = {row[1] for row in db.execute("PRAGMA table_info(orders)").fetchall()}
    for name, sql_type in TRADING_KEY_COLUMNS:
        if name not in present:
            db.execute(f"ALTER TABLE orders ADD COLUMN {name} {sql_type}")


def m004_chain_clock_cache(db: sqlite_utils.Database) -> None:
    """The last observed block per chain and node, for height_estimate.py (issue 14). A
    store created by m001 from the current schema.sql has it already."""
    for statement in _statements(schema_sql()):
        if "chain_clock_cache" in statement:
            db.execute(statement)


def m005_event_order_seq(db: sqlite_utils.Database) -> None:
    """Events refer to their order by orders.seq (insertion order) instead of the UUID, so
    that a prune batch's events are neighbours in their index (see schema.sql). Numbers
    the existing orders in rowid order; an old-shape order_events (foreign key on the
    UUID) is rebuilt, as SQLite cannot change a foreign key in place. A store created by
    m001 from the current schema.sql has the shape already; m002 leaves the numbers NULL."""
    if "seq" not in {row[1] for row in db.execute("PRAGMA table_info(orders)")}:
        db.execute("ALTER TABLE orders ADD COLUMN seq INTEGER")
    db.execute(
        "UPDATE orders SET seq = rowid + (SELECT coalesce(max(seq), 0) FROM orders)"
        " WHERE seq IS NULL"
    )
    events_sql = [s for s in _statements(schema_sql()) if _EVENTS_DDL.search(s)]
    for statement in _statements(schema_sql()):
        if "orders_by_seq" in statement:
            db.execute(statement)
    if "order_seq" in {row[1] for row in db.execute("PRAGMA table_info(order_events)")}:
        db.execute(
            "UPDATE order_events SET order_seq = (SELECT seq FROM orders AS o WHERE"
            " o.order_id = order_events.order_id AND o.chain_id = order_events.chain_id)"
            " WHERE order_seq IS NULL"
        )
        return
    db.execute("ALTER TABLE order_events RENAME TO m005_old_order_events")
    for statement in events_sql:
        db.execute(statement)
    db.execute(
        "INSERT INTO order_events (id, order_id, chain_id, order_seq, at, from_status,"
        " to_status, tx_hash, detail) SELECT e.id, e.order_id, e.chain_id, o.seq, e.at,"
        " e.from_status, e.to_status, e.tx_hash, e.detail FROM m005_old_order_events AS e"
        " LEFT JOIN orders AS o ON o.order_id = e.order_id AND o.chain_id = e.chain_id"
    )
    db.execute("DROP TABLE m005_old_order_events")


_EVENTS_DDL = re.compile(r"(TABLE IF NOT EXISTS|\bON) order_events\b")
MIGRATION_STEPS = (
    m001_initial, m002_chain_scoped_keys, m003_trading_keys, m004_chain_clock_cache,
    m005_event_order_seq,
)  # fmt: skip


def migrations() -> Migrations:
    """The sqlite-utils migration set. Built on demand: importing sqlite_utils costs ~40 ms,
    and an up-to-date store (nearly every open) is checked with one plain query instead."""
    from sqlite_utils.migrations import Migrations

    steps = Migrations(MIGRATION_SET)
    for fn in MIGRATION_STEPS:
        steps(name=fn.__name__)(fn)
    assert tuple(m.name for m in steps._migrations) == MIGRATION_NAMES
    return steps
