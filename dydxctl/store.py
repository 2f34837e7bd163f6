"""The SQLite order-metadata store: schema, migrations and the repository API.

Why SQLite with WAL and BEGIN IMMEDIATE: several dydxctl processes (a bot, a shell, cron's
prune) share one file; WAL lets readers run beside a writer, and taking the write lock at
the start of each transaction makes writers queue instead of failing with "database is
locked" on a read-to-write upgrade.

Why a chain scope: one file serves every --network (the default path is the same), and
the Indexer UUID does not contain the chain id, so a Store opened for a chain reads,
changes and prunes that chain's rows only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dydxctl import logs
from dydxctl.chain import CLIENT_ID_MAX
from dydxctl.durations import iso_ms
from dydxctl.errors import BadInput, DuplicateOrder, InternalError, OrderNotFound, StoreError

log = logs.get("store")
BUSY_TIMEOUT_MS = 10_000
# A writer waiting for the lock retries this often (SQLite's own busy handler backs off to
# 100 ms sleeps, which lets a prune that re-takes the lock at once starve it).
WRITE_LOCK_POLL_S = 0.001
PRUNE_BATCH_SIZE = 5_000
# Each prune transaction is sized to last about this long, and the prune then pauses this
# long with the lock released, so a place or cancel never waits more than a fraction of a
# second for the store, whatever the prune's size.
PRUNE_TX_TARGET_S = 0.1
PRUNE_YIELD_S = 0.005
# A big prune dirties index pages keyed by the order UUID all over the file, so every batch
# rewrites many of the same pages. Automatic WAL checkpoints after each batch made that
# cost quadratic (1M rows: 423 s); during a prune the WAL is checkpointed (PASSIVE: never
# blocking a writer) only every PRUNE_CHECKPOINT_S, with a bigger page cache.
PRUNE_CHECKPOINT_S = 2.0
PRUNE_CACHE_KIB = 65_536
PRUNE_MIN_BATCH = 100
# Rows are pruned only once their good-til has passed by this much, so that a node a few
# blocks behind, or a wall clock a little fast, can never delete a live order's metadata.
PRUNE_MARGIN_BLOCKS = 5
PRUNE_MARGIN_SECONDS = 120

STATUSES = (
    "PENDING", "OPEN", "UNTRIGGERED", "REJECTED", "UNKNOWN",
    "CANCEL_PENDING", "CANCELED", "FILLED", "EXPIRED",
)  # fmt: skip
FINAL_STATUSES = frozenset({"REJECTED", "CANCELED", "FILLED", "EXPIRED"})
# Orders that may rest on the book: what `cancel --all` and `sync` look at.
LIVE_STATUSES = frozenset({"PENDING", "UNKNOWN", "OPEN", "UNTRIGGERED", "CANCEL_PENDING"})

_SETTLED = {"CANCELED", "FILLED", "EXPIRED"}
# The status machine. A broadcast with an unknown outcome (UNKNOWN) and a best-effort cancel
# (CANCEL_PENDING) can each turn out either way, so they may go back to OPEN/UNTRIGGERED.
TRANSITIONS: dict[str, frozenset[str]] = {
    "PENDING": frozenset({"OPEN", "UNTRIGGERED", "REJECTED", "UNKNOWN", *_SETTLED}),
    "UNKNOWN": frozenset({"OPEN", "UNTRIGGERED", "REJECTED", "CANCEL_PENDING", *_SETTLED}),
    # OPEN/UNTRIGGERED → REJECTED: a stateful place accepted by CheckTx that failed in its
    # block (GetTx shows the code) or can never be included was never on the book.
    "OPEN": frozenset({"CANCEL_PENDING", "REJECTED", *_SETTLED}),
    "UNTRIGGERED": frozenset({"OPEN", "CANCEL_PENDING", "REJECTED", *_SETTLED}),
    "CANCEL_PENDING": frozenset({"OPEN", "UNTRIGGERED", *_SETTLED}),
    "REJECTED": frozenset(),
    "CANCELED": frozenset(),
    "FILLED": frozenset(),
    "EXPIRED": frozenset(),
}

ORDER_COLUMNS = (
    "order_id", "chain_id", "address", "subaccount_number", "client_id", "clob_pair_id",
    "order_flags", "order_id_proto", "market", "side", "type", "time_in_force", "reduce_only",
    "quantums", "subticks", "size", "price", "good_til_block", "good_til_block_time",
    "trigger_subticks", "trigger_price", "client_metadata", "status", "source",
    "place_tx_hash", "cancel_tx_hash", "cancel_good_til_block", "cancel_good_til_block_time",
    "created_at", "updated_at", "last_error", "signer_address", "authenticator_id",
)  # fmt: skip
_UPDATABLE = frozenset(ORDER_COLUMNS) - {
    "order_id", "chain_id", "address", "subaccount_number", "client_id", "clob_pair_id",
    "order_flags", "order_id_proto", "status", "created_at", "updated_at",
}  # fmt: skip

SQL_GET_BY_ID = "SELECT * FROM orders WHERE order_id = ? AND chain_id = ?"


def order_listing_sql(
    *,
    chain_id: str | None,
    status: str | None = None,
    statuses: frozenset[str] | None = None,
    market: str | None = None,
    address: str | None = None,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """The query behind `orders`, `sync` and `cancel --all` (tests EXPLAIN this very SQL)."""
    clauses: list[str] = []
    params: list[Any] = []
    if chain_id:
        clauses.append("chain_id = ?")
        params.append(chain_id)
    if status:
        if status not in STATUSES:
            raise BadInput(f"Unknown status '{status}'.", f"Use one of: {', '.join(STATUSES)}.")
        clauses.append("status = ?")
        params.append(status)
    if statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(sorted(statuses))
    for column, value in (("market", market), ("address", address)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT * FROM orders{where} ORDER BY created_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


# The prune conditions, with named parameters; :chain is the store's chain.
_PRUNE_SHORT = "chain_id = :chain AND good_til_block IS NOT NULL AND good_til_block < :height"
_PRUNE_STATEFUL = (
    "chain_id = :chain AND good_til_block_time IS NOT NULL AND good_til_block_time < :time"
)
_PRUNE_FINAL = (
    "chain_id = :chain AND status IN ('CANCELED', 'EXPIRED', 'FILLED', 'REJECTED')"
    " AND updated_at < :cutoff"
)
# One prune batch of each kind: rowids first, so the delete itself is by rowid. The final
# kind runs once per final status, so that each uses the (chain_id, status, …) index.
SQL_PRUNE_SHORT_TERM = f"SELECT rowid FROM orders WHERE {_PRUNE_SHORT} LIMIT :limit"
SQL_PRUNE_STATEFUL = f"SELECT rowid FROM orders WHERE {_PRUNE_STATEFUL} LIMIT :limit"
SQL_PRUNE_FINAL = (
    "SELECT rowid FROM orders WHERE chain_id = :chain AND status = :status"
    " AND updated_at < :cutoff LIMIT :limit"
)

MIGRATION_SET = "dydxctl"
# Every migration of the set, in order (the functions are registered in migrations()).
MIGRATION_NAMES = (
    "m001_initial", "m002_chain_scoped_keys", "m003_trading_keys", "m004_chain_clock_cache",
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


def migrations() -> Migrations:
    """The sqlite-utils migration set. Built on demand: importing sqlite_utils costs ~40 ms,
    and an up-to-date store (nearly every open) is checked with one plain query instead."""
    from sqlite_utils.migrations import Migrations

    steps = Migrations(MIGRATION_SET)
    for fn in (m001_initial, m002_chain_scoped_keys, m003_trading_keys, m004_chain_clock_cache):
        steps(name=fn.__name__)(fn)
    assert tuple(m.name for m in steps._migrations) == MIGRATION_NAMES
    return steps


def now_iso(now: datetime | None = None) -> str:
    """UTC time as sortable ISO-8601 text with milliseconds."""
    return iso_ms((now or datetime.now(UTC)).timestamp())


class IllegalTransition(InternalError):
    """A status change the status machine forbids — e.g. because another process (a
    `watch` applying the websocket) settled the order first."""


@dataclass(frozen=True)
class PruneSummary:
    expired_short_term: int
    expired_stateful: int
    final_state: int
    kept: int
    dry_run: bool

    @property
    def deleted(self) -> int:
        return self.expired_short_term + self.expired_stateful + self.final_state

    @property
    def total(self) -> int:
        return self.deleted + self.kept


def _create_owner_only(path: Path) -> None:
    """Create the store file (and its directory) readable by the owner alone."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)


class Store:
    """The repository over one SQLite file. Not thread-safe: one per thread or process.

    chain_id is the scope: with it, every lookup, listing, change and prune sees that
    chain's rows only. Without it (tests, benchmarks) a UUID must name one row.
    """

    # How long one prune transaction should last (a backend without a global write lock,
    # like PostgreSQL, can afford longer ones).
    prune_tx_target_s = PRUNE_TX_TARGET_S

    def __init__(self, conn: sqlite3.Connection, path: Path, chain_id: str | None = None) -> None:
        self.conn = conn
        self.path = path
        self.chain_id = chain_id
        self._db: sqlite_utils.Database | None = None
        self._lock_fd: int | None = None  # the sidecar file of order_lock, opened on demand

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils view of the connection (migrations use it)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(
                self.conn, execute_plugins=False, recursive_triggers=False
            )
        return self._db

    # --- opening ---
    @classmethod
    def open(cls, path: Path | str, *, create: bool = True, chain_id: str | None = None) -> Store:
        """Open (and create or upgrade) a store; refuse newer, corrupt or unusable files."""
        path = Path(path)
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    _create_owner_only(path)
            elif not path.exists():
                raise StoreError(f"No store at {path}.", "Place an order first, or pass --db.")
            conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
        except OSError as exc:
            raise StoreError(
                f"Cannot create the store at {path}: {exc.strerror}.",
                "Check the directory's permissions or pass another --db.",
            ) from exc
        except sqlite3.Error as exc:
            raise StoreError(
                f"Cannot open the store at {path}: {exc}.", "Pass another --db."
            ) from exc
        store = cls(conn, path, chain_id)
        try:
            store._prepare()
        except BaseException:
            conn.close()
            raise
        return store

    def _prepare(self) -> None:
        try:
            # A read first: on a file that is not SQLite this fails before anything is written.
            self.conn.execute("PRAGMA schema_version").fetchone()
            self._refuse_foreign()
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._check_not_newer()
            if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                self.conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL: a commit may be lost on power failure; the rows that must not be (the
            # write-ahead row before a broadcast) are written with write(durable=True).
            self.conn.execute("PRAGMA synchronous = NORMAL")
            if set(MIGRATION_NAMES) - set(self._applied_migrations()):
                self._migrate()
            self.conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise _store_error(exc, self.path) from exc

    def _migrate(self) -> None:
        """Apply pending migrations in one transaction, foreign keys off (a table rebuild
        would cascade-delete the events) and checked before the commit."""
        self.conn.execute("PRAGMA foreign_keys = OFF")
        with self.write():
            self._check_not_newer()
            migrations().apply(self.db)
            broken = self.conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise InternalError(f"Migration left {len(broken)} dangling rows; not applied.")

    def _refuse_foreign(self) -> None:
        """Another application's SQLite file: it has tables, none of them ours. Checked
        with reads only, before WAL mode or any table could change the file."""
        tables = {
            name
            for (name,) in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if not tables or self._applied_migrations():
            return
        listed = ", ".join(sorted(tables)[:5])
        raise StoreError(
            f"{self.path} is not a dydxctl store: it has tables ({listed}) and no dydxctl "
            "migration record. It was left untouched.",
            "Pass another --db (or remove --db / DYDXCTL_DB to use the default store).",
        )

    def _check_not_newer(self) -> None:
        unknown = [name for name in self._applied_migrations() if name not in MIGRATION_NAMES]
        if unknown:
            raise StoreError(
                f"The store {self.path} was written by a newer dydxctl "
                f"(migrations {', '.join(unknown)}); this version will not change it.",
                "Upgrade dydxctl, or pass another --db.",
            )

    def _applied_migrations(self) -> list[str]:
        """Names recorded in sqlite-utils' _sqlite_migrations table for our set."""
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
        ).fetchone()
        if not exists:
            return []
        rows = self.conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid",
            (MIGRATION_SET,),
        )
        return [name for (name,) in rows]

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[None]:
        """One write transaction that holds the write lock from its start.

        durable: the commit is fsync'd (synchronous = FULL) and survives a power loss —
        for rows written before a broadcast.
        """
        if self.conn.in_transaction:
            yield
            return
        if durable:
            self.conn.execute("PRAGMA synchronous = FULL")
        try:
            self._begin_immediate()
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise _store_error(exc, self.path) from exc
        finally:
            if durable:
                self.conn.execute("PRAGMA synchronous = NORMAL")

    def _begin_immediate(self) -> None:
        """Take the write lock, polling every WRITE_LOCK_POLL_S up to BUSY_TIMEOUT_MS."""
        started = time.monotonic()
        deadline = started + BUSY_TIMEOUT_MS / 1000
        self.conn.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    waited_ms = (time.monotonic() - started) * 1000
                    if waited_ms >= 1:
                        log.info("store: waited %.1f ms for the write lock", waited_ms)
                    return
                except sqlite3.OperationalError as exc:
                    busy = "locked" in str(exc) or "busy" in str(exc)
                    if not busy or time.monotonic() >= deadline:
                        raise _store_error(exc, self.path) from exc
                time.sleep(WRITE_LOCK_POLL_S)
        except sqlite3.DatabaseError as exc:
            raise _store_error(exc, self.path) from exc
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def _query(self, sql: str, params: tuple | list | dict = ()) -> list[dict[str, Any]]:
        try:
            cursor = self.conn.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise _store_error(exc, self.path) from exc
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise _store_error(exc, self.path) from exc

    # --- orders ---
    def _scope(self, chain_id: str | None) -> str | None:
        """The chain a read or write is about: the store's own, never another one's (a
        store opened for one chain cannot touch another chain's rows); an unscoped store
        (tools, tests) takes whatever the caller names."""
        if chain_id and self.chain_id and chain_id != self.chain_id:
            raise InternalError(
                f"A store opened for chain {self.chain_id} was asked about chain {chain_id}."
            )
        return chain_id or self.chain_id

    def insert_order(
        self, row: Mapping[str, Any], *, detail: str = "", durable: bool = False
    ) -> dict[str, Any]:
        """Insert a new order (normally PENDING, before its broadcast) with its first event.

        durable: fsync the commit — the write-ahead row of an order about to be broadcast.
        """
        record = {name: row.get(name) for name in ORDER_COLUMNS}
        if self.chain_id and record["chain_id"] != self.chain_id:
            raise InternalError(
                f"Order for chain {record['chain_id']} written to a store of {self.chain_id}."
            )
        record["status"] = row.get("status") or "PENDING"
        if record["status"] not in STATUSES:
            raise InternalError(f"Unknown order status {record['status']!r}.")
        stamp = now_iso()
        record["created_at"] = record["created_at"] or stamp
        record["updated_at"] = stamp
        record["reduce_only"] = int(bool(record["reduce_only"]))
        record["client_metadata"] = record["client_metadata"] or 0
        record["source"] = record["source"] or "place"
        columns = ", ".join(ORDER_COLUMNS)
        marks = ", ".join("?" for _ in ORDER_COLUMNS)
        with self.write(durable=durable):
            try:
                self._execute(
                    f"INSERT INTO orders ({columns}) VALUES ({marks})",
                    [record[c] for c in ORDER_COLUMNS],
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateOrder(
                    f"An order with this OrderId is already stored (client id "
                    f"{record['client_id']}, clob pair {record['clob_pair_id']}, flags "
                    f"{record['order_flags']}, subaccount {record['subaccount_number']}).",
                    "Use another --client-id, or omit it to get a fresh one.",
                    order_id=record["order_id"],
                ) from exc
            self._event(
                record["order_id"], record["chain_id"], None, record["status"],
                record["place_tx_hash"], detail,
            )  # fmt: skip
        log.info(
            "store order=%s inserted %s client_id=%s tx=%s", record["order_id"], record["status"],
            record["client_id"], record["place_tx_hash"] or "-",
        )  # fmt: skip
        return record

    def transition(
        self,
        order_id: str,
        to_status: str,
        *,
        tx_hash: str | None = None,
        detail: str = "",
        chain_id: str | None = None,
        durable: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """Move an order to a new status (allowed moves only) and record the event.

        durable: fsync the commit — metadata written before a broadcast.
        """
        if to_status not in STATUSES:
            raise InternalError(f"Unknown order status {to_status!r}.")
        with self.write(durable=durable):
            current = self.get(order_id, chain_id=chain_id)
            if current is None:
                raise OrderNotFound(f"Order {order_id} is not in the store.")
            from_status = current["status"]
            if from_status != to_status and to_status not in TRANSITIONS[from_status]:
                raise IllegalTransition(
                    f"Illegal status change {from_status} → {to_status} for order {order_id}."
                )
            chain = current["chain_id"]
            self._update(order_id, chain, {**fields, "status": to_status})
            self._event(order_id, chain, from_status, to_status, tx_hash, detail)
            current.update(fields, status=to_status)
        log.info(
            "store order=%s %s -> %s tx=%s %s", order_id, from_status, to_status, tx_hash or "-",
            detail,
        )  # fmt: skip
        return current

    def update_fields(
        self, order_id: str, *, chain_id: str | None = None, durable: bool = False, **fields: Any
    ) -> None:
        """Change metadata that is not the status (e.g. last_error, cancel tx hash).

        durable: fsync the commit — a cancel's tx hash written before its broadcast.
        """
        with self.write(durable=durable):
            current = self.get(order_id, chain_id=chain_id)
            if current is not None:
                self._update(order_id, current["chain_id"], fields)

    def _update(self, order_id: str, chain_id: str, fields: Mapping[str, Any]) -> None:
        bad = set(fields) - _UPDATABLE - {"status"}
        if bad:
            raise InternalError(f"Cannot update columns {sorted(bad)}.")
        values = {**fields, "updated_at": now_iso()}
        assignments = ", ".join(f"{name} = ?" for name in values)
        self._execute(
            f"UPDATE orders SET {assignments} WHERE order_id = ? AND chain_id = ?",
            [*values.values(), order_id, chain_id],
        )

    def _event(
        self, order_id: str, chain_id: str, from_status: str | None, to_status: str,
        tx_hash: str | None, detail: str,
    ) -> None:  # fmt: skip
        self._execute(
            "INSERT INTO order_events (order_id, chain_id, at, from_status, to_status, tx_hash,"
            " detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (order_id, chain_id, now_iso(), from_status, to_status, tx_hash, detail or None),
        )

    def get(self, order_id: str, *, chain_id: str | None = None) -> dict[str, Any] | None:
        """The order with this UUID on the store's chain (or on chain_id)."""
        chain = self._scope(chain_id)
        if chain is not None:
            rows = self._query(SQL_GET_BY_ID, (order_id, chain))
            return rows[0] if rows else None
        rows = self._query("SELECT * FROM orders WHERE order_id = ?", (order_id,))
        if len(rows) > 1:
            chains = ", ".join(r["chain_id"] for r in rows)
            raise BadInput(
                f"Order {order_id} is stored for several chains ({chains}).",
                "Pass --network (or --chain-id) to say which.",
            )
        return rows[0] if rows else None

    def elsewhere(self, key: str) -> list[dict[str, Any]]:
        """Rows a UUID (or client id) names on chains other than the store's: for an error
        that names the right --network instead of "not found"."""
        key = key.strip()
        if key.isdigit():
            sql, params = "SELECT * FROM orders WHERE client_id = ?", [int(key)]
        else:
            sql, params = "SELECT * FROM orders WHERE order_id = ?", [key.lower()]
        if self.chain_id:
            sql, params = sql + " AND chain_id != ?", [*params, self.chain_id]
        return self._query(sql + " LIMIT 5", params)

    def find_by_client_id(
        self, client_id: int, *, chain_id: str | None = None, address: str | None = None
    ) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM orders WHERE client_id = ?", [client_id]
        chain = self._scope(chain_id)
        if chain:
            sql, params = sql + " AND chain_id = ?", [*params, chain]
        if address:
            sql, params = sql + " AND address = ?", [*params, address]
        return self._query(sql, params)

    def resolve(
        self, key: str, *, chain_id: str | None = None, address: str | None = None
    ) -> dict[str, Any] | None:
        """An order by Indexer UUID, or by a client id naming exactly one stored order."""
        key = key.strip()
        if key.isascii() and key.isdigit():
            if int(key) > CLIENT_ID_MAX:
                raise BadInput(
                    f"Client id {key} is out of range: client ids are 0..{CLIENT_ID_MAX}.",
                    "Pass the ORDER ID (the UUID), or a client id shown by `dydxctl orders`.",
                )
            matches = self.find_by_client_id(int(key), chain_id=chain_id, address=address)
            if len(matches) > 1:
                ids = ", ".join(m["order_id"] for m in matches[:5])
                raise BadInput(
                    f"Client id {key} names {len(matches)} stored orders ({ids}).",
                    "Pass the ORDER ID (the UUID) instead.",
                )
            return matches[0] if matches else None
        return self.get(key.lower(), chain_id=chain_id)

    def client_id_taken(
        self, chain_id: str, address: str, subaccount_number: int, client_id: int
    ) -> bool:
        rows = self._query(
            "SELECT 1 FROM orders WHERE chain_id = ? AND address = ? AND subaccount_number = ?"
            " AND client_id = ? LIMIT 1",
            (chain_id, address, subaccount_number, client_id),
        )
        return bool(rows)

    def list_orders(
        self,
        *,
        status: str | None = None,
        market: str | None = None,
        limit: int | None = None,
        chain_id: str | None = None,
        address: str | None = None,
        statuses: frozenset[str] | None = None,
        all_chains: bool = False,
    ) -> list[dict[str, Any]]:
        """Orders of the store's chain (or chain_id; every chain with all_chains)."""
        return self._query(
            *order_listing_sql(
                chain_id=None if all_chains else self._scope(chain_id), status=status,
                statuses=statuses, market=market, address=address, limit=limit,
            )
        )  # fmt: skip

    def events(self, order_id: str, *, chain_id: str | None = None) -> list[dict[str, Any]]:
        chain = self._scope(chain_id)
        if chain is None:
            row = self.get(order_id)
            chain = row["chain_id"] if row else ""
        return self._query(
            "SELECT at, from_status, to_status, tx_hash, detail FROM order_events"
            " WHERE order_id = ? AND chain_id = ? ORDER BY id",
            (order_id, chain),
        )

    @contextlib.contextmanager
    def order_lock(self, order_id: str) -> Iterator[None]:
        """Hold this host's lock on one order (e.g. across a cancel's broadcast).

        A POSIX byte-range lock in a sidecar file, one byte per order hash: it never touches
        the database's own locks, and the kernel releases it when a process dies.
        """
        import fcntl
        import zlib

        if self._lock_fd is None:
            lock_path = self.path.with_name(self.path.name + "-locks")
            try:
                self._lock_fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
            except OSError as exc:
                raise StoreError(
                    f"Cannot open the lock file {lock_path}: {exc.strerror}.",
                    "Check the directory's permissions or pass another --db.",
                ) from exc
        offset = zlib.crc32(order_id.encode())
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                fcntl.lockf(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"Order {order_id} stayed locked by another dydxctl for more than "
                        f"{BUSY_TIMEOUT_MS // 1000} s.",
                        "Another process is cancelling it; try again.",
                    ) from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.lockf(self._lock_fd, fcntl.LOCK_UN, 1, offset)

    # --- cancel attempts and metrics ---
    def record_cancel_attempt(
        self,
        order_id: str,
        *,
        market: str | None,
        success: bool,
        latency_ms: float,
        kind: str | None = None,
        codespace: str | None = None,
        code: int | None = None,
        tx_hash: str | None = None,
        detail: str = "",
        chain_id: str | None = None,
    ) -> None:
        with self.write():
            self._execute(
                "INSERT INTO cancel_attempts (order_id, chain_id, market, at, outcome, kind,"
                " codespace, code, latency_ms, tx_hash, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_id, self._scope(chain_id), market, now_iso(),
                    "success" if success else "failure", kind, codespace, code, latency_ms,
                    tx_hash, detail or None,
                ),
            )  # fmt: skip

    def cancel_metrics(self, *, chain_id: str | None = None) -> dict[str, Any]:
        """Attempts, successes, failures by kind, success rate and latency p50/p95, per
        market: of the store's chain (or chain_id), like every other read; an unscoped
        store (tools, tests) sees every chain's."""
        chain = self._scope(chain_id)
        sql = "SELECT market, outcome, kind, latency_ms FROM cancel_attempts"
        rows = self._query(f"{sql} WHERE chain_id = ?", (chain,)) if chain else self._query(sql)

        def summarize(subset: list[dict[str, Any]]) -> dict[str, Any]:
            attempts = len(subset)
            successes = sum(1 for r in subset if r["outcome"] == "success")
            failures: dict[str, int] = {}
            for r in subset:
                if r["outcome"] == "failure":
                    failures[r["kind"] or "unknown"] = failures.get(r["kind"] or "unknown", 0) + 1
            latencies = sorted(r["latency_ms"] for r in subset)
            return {
                "attempts": attempts,
                "successes": successes,
                "failures": attempts - successes,
                "failures_by_kind": dict(sorted(failures.items())),
                "success_rate": (successes / attempts) if attempts else None,
                "latency_ms_p50": _percentile(latencies, 50),
                "latency_ms_p95": _percentile(latencies, 95),
            }

        markets = sorted({r["market"] or "?" for r in rows})
        return {
            **summarize(rows),
            "by_market": {
                m: summarize([r for r in rows if (r["market"] or "?") == m]) for m in markets
            },
        }

    # --- pruning ---
    def prune(
        self,
        *,
        height: int | None,
        now_unix: int,
        keep_seconds: int,
        dry_run: bool = False,
        batch_size: int = PRUNE_BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
        chain_id: str | None = None,
    ) -> PruneSummary:
        """Delete this chain's metadata that can no longer matter; never a possibly live order.

        Heights and block times belong to one chain, so only the store's chain (or
        chain_id) is pruned. With height None (offline) short-term rows are left alone:
        only the chain knows whether their block has passed. Rows go in short transactions
        (about PRUNE_TX_TARGET_S each, then a pause of PRUNE_YIELD_S), so a place or cancel
        that needs the write lock gets it within a fraction of a second.
        """
        chain = self._scope(chain_id)
        if chain is None:
            raise InternalError("prune needs a chain: heights and times are per chain.")
        cutoff = now_iso(datetime.fromtimestamp(now_unix, UTC) - timedelta(seconds=keep_seconds))
        params = {
            "chain": chain,
            # Offline no height can be trusted: compare with a value below every GTB.
            "height": (height - PRUNE_MARGIN_BLOCKS) if height is not None else -(2**62),
            "time": now_unix - PRUNE_MARGIN_SECONDS,
            "cutoff": cutoff,
        }
        planned = self._prune_counts(params)
        if dry_run:
            return planned
        plans: list[tuple[str, str, dict[str, Any]]] = []
        if height is not None:
            plans.append(("short", SQL_PRUNE_SHORT_TERM, params))
        plans.append(("stateful", SQL_PRUNE_STATEFUL, params))
        plans.extend(
            ("final", SQL_PRUNE_FINAL, {**params, "status": s}) for s in sorted(FINAL_STATUSES)
        )
        counts = {"short": 0, "stateful": 0, "final": 0}
        batch = min(batch_size, PRUNE_MIN_BATCH * 10)
        with self._bulk_delete_session() as between_batches:
            for label, select_sql, args in plans:
                while True:
                    started = time.perf_counter()
                    deleted = self._prune_batch(select_sql, {**args, "limit": batch})
                    took = time.perf_counter() - started
                    counts[label] += deleted
                    if progress and deleted:
                        progress(deleted)
                    if deleted < batch:
                        break
                    # Size the next batch to the time target; let waiting writers in.
                    scaled = int(batch * self.prune_tx_target_s / max(took, 1e-3))
                    batch = max(PRUNE_MIN_BATCH, min(batch_size, scaled, batch * 2))
                    between_batches()
                    time.sleep(PRUNE_YIELD_S)
        return PruneSummary(
            counts["short"], counts["stateful"], counts["final"], self.count(chain),
            dry_run=False,
        )  # fmt: skip

    @contextlib.contextmanager
    def _bulk_delete_session(self) -> Iterator[Callable[[], None]]:
        """SQLite: defer WAL checkpoints to a PASSIVE one every PRUNE_CHECKPOINT_S (see
        there) and widen the page cache; both are restored at the end. Yields the step to
        run between batches (outside any transaction)."""
        autocheckpoint = self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        cache = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        self.conn.execute(f"PRAGMA cache_size = -{PRUNE_CACHE_KIB}")
        last = time.perf_counter()

        def between_batches() -> None:
            nonlocal last
            if time.perf_counter() - last >= PRUNE_CHECKPOINT_S:
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                last = time.perf_counter()

        try:
            yield between_batches
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
                self.conn.execute(f"PRAGMA cache_size = {int(cache)}")
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _prune_batch(self, select_sql: str, params: dict[str, Any]) -> int:
        """Delete one batch of orders (their events go with them) in one short transaction."""
        with self.write():
            cursor = self._execute(f"DELETE FROM orders WHERE rowid IN ({select_sql})", params)
        return cursor.rowcount

    def _prune_counts(self, params: dict[str, Any]) -> PruneSummary:
        """What prune would delete, each row counted once, in the order prune deletes."""
        row = self._query(
            f"SELECT coalesce(sum({_PRUNE_SHORT}), 0) AS short,"
            f" coalesce(sum(({_PRUNE_STATEFUL}) AND NOT ({_PRUNE_SHORT})), 0) AS stateful,"
            f" coalesce(sum(({_PRUNE_FINAL}) AND NOT ({_PRUNE_SHORT})"
            f" AND NOT ({_PRUNE_STATEFUL})), 0) AS final,"
            " count(*) AS total FROM orders WHERE chain_id = :chain",
            params,
        )[0]
        doomed = row["short"] + row["stateful"] + row["final"]
        return PruneSummary(
            row["short"], row["stateful"], row["final"], row["total"] - doomed, dry_run=True
        )

    def count(self, chain_id: str | None = None) -> int:
        """Orders of the store's chain (or chain_id); of every chain when unscoped."""
        chain = self._scope(chain_id)
        if chain is None:
            return self._query("SELECT count(*) AS n FROM orders")[0]["n"]
        return self._query("SELECT count(*) AS n FROM orders WHERE chain_id = ?", (chain,))[0]["n"]

    # --- caches ---
    def cached_market(
        self, chain_id: str, ticker: str, max_age_s: float, now: float
    ) -> dict | None:
        rows = self._query(
            "SELECT * FROM market_cache WHERE chain_id = ? AND ticker = ? AND fetched_at >= ?",
            (chain_id, ticker, now - max_age_s),
        )
        return rows[0] if rows else None

    def cache_markets(self, chain_id: str, markets: list[Mapping[str, Any]], now: float) -> None:
        with self.write():
            for m in markets:
                self._execute(
                    "INSERT OR REPLACE INTO market_cache (chain_id, ticker, clob_pair_id,"
                    " atomic_resolution, quantum_conversion_exponent, step_base_quantums,"
                    " subticks_per_tick, oracle_price, status, fetched_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        chain_id, m["ticker"], m["clob_pair_id"], m["atomic_resolution"],
                        m["quantum_conversion_exponent"], m["step_base_quantums"],
                        m["subticks_per_tick"], m.get("oracle_price"), m.get("status"), now,
                    ),
                )  # fmt: skip

    def cached_account_number(self, chain_id: str, address: str) -> int | None:
        rows = self._query(
            "SELECT account_number FROM account_cache WHERE chain_id = ? AND address = ?",
            (chain_id, address),
        )
        return rows[0]["account_number"] if rows else None

    def cache_account_number(self, chain_id: str, address: str, number: int, now: float) -> None:
        with self.write():
            self._execute(
                "INSERT OR REPLACE INTO account_cache (chain_id, address, account_number,"
                " fetched_at) VALUES (?, ?, ?, ?)",
                (chain_id, address, number, now),
            )

    def cached_chain_clock(self, chain_id: str, grpc: str) -> dict | None:
        """The last observed block of this chain via this node (height_estimate.py)."""
        row = self.conn.execute(
            "SELECT height, time_ms, observed_mono, boot_id, block_ms FROM"
            " chain_clock_cache WHERE chain_id = ? AND grpc = ?", (chain_id, grpc)
        ).fetchone()  # fmt: skip
        names = ("height", "time_ms", "observed_mono", "boot_id", "block_ms")
        return dict(zip(names, row, strict=True)) if row else None

    def cache_chain_clock(self, chain_id: str, grpc: str, **fields: Any) -> None:
        with self.write():
            self._execute(
                "INSERT OR REPLACE INTO chain_clock_cache (chain_id, grpc, height, time_ms,"
                " observed_mono, boot_id, block_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chain_id, grpc, fields["height"], fields["time_ms"], fields["observed_mono"],
                    fields["boot_id"], fields["block_ms"],
                ),
            )  # fmt: skip


@contextlib.contextmanager
def recorded_after_broadcast(order_id: str, tx_hash: str, accepted: bool | None) -> Iterator[None]:
    """After a broadcast, a store error must not say "try again": the order may rest on
    the book already, and placing it again makes a second one. Same exit code (8).
    accepted None: the broadcast's outcome is unknown."""
    try:
        yield
    except StoreError as exc:
        if accepted is None:
            state = "its outcome is unknown: it may be on the chain"
            hint = "Do NOT place it again. `dydxctl sync` finds out and records it."
        elif accepted:
            state = "accepted: it is on the chain"
            hint = "Do NOT place it again. `dydxctl sync` records it once the store is free."
        else:
            state = "rejected by the node"
            hint = "`dydxctl sync` records the rejection once the store is free."
        raise StoreError(
            f"Order {order_id} was broadcast and {state} (tx {tx_hash}), but the store "
            f"could not record that: {exc.message}",
            hint,
            order_id=order_id,
            tx_hash=tx_hash,
        ) from exc


def _percentile(sorted_values: list[float], pct: int) -> float | None:
    """Nearest-rank-interpolated percentile (statistics.quantiles) of sorted values."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    import statistics

    cuts = statistics.quantiles(sorted_values, n=100, method="inclusive")
    return round(cuts[pct - 1], 3)


def _store_error(exc: sqlite3.DatabaseError, path: Path) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(
            f"The store {path} stayed locked for more than {BUSY_TIMEOUT_MS // 1000} s.",
            "Another dydxctl is writing to it; try again, or check for a stuck process.",
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(
            f"The store {path} is read-only.", "Fix the file's permissions or pass another --db."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"{path} is not a dydxctl store, or it is corrupt ({text}). It was left untouched.",
            "Pass another --db, or restore the file from a backup.",
        )
    return StoreError(f"Store error on {path}: {text}.", "Pass another --db, or run with --debug.")
