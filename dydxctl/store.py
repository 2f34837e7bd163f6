"""The SQLite order-metadata store: schema, migrations and the repository API.

Why SQLite with WAL and BEGIN IMMEDIATE: several dydxctl processes (a bot, a shell, cron's
prune) share one file; WAL lets readers run beside a writer, and taking the write lock at
the start of each transaction makes writers queue on the busy timeout instead of failing
with "database is locked" on a read-to-write upgrade.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import statistics
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dydxctl import logs
from dydxctl.chain import CLIENT_ID_MAX
from dydxctl.durations import iso_ms
from dydxctl.errors import BadInput, DuplicateOrder, InternalError, OrderNotFound, StoreError

log = logs.get("store")
BUSY_TIMEOUT_MS = 10_000
PRUNE_BATCH_SIZE = 5_000
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
    "created_at", "updated_at", "last_error",
)  # fmt: skip
_UPDATABLE = frozenset(ORDER_COLUMNS) - {
    "order_id", "chain_id", "address", "subaccount_number", "client_id", "clob_pair_id",
    "order_flags", "order_id_proto", "status", "created_at", "updated_at",
}  # fmt: skip

# The queries whose plans tests check with EXPLAIN QUERY PLAN.
SQL_GET_BY_ID = "SELECT * FROM orders WHERE order_id = ?"
SQL_LIST_BY_STATUS = "SELECT * FROM orders WHERE status = ? ORDER BY updated_at DESC LIMIT ?"
SQL_PRUNE_SHORT_TERM = (
    "SELECT order_id FROM orders WHERE good_til_block IS NOT NULL AND good_til_block < ? LIMIT ?"
)
SQL_PRUNE_STATEFUL = (
    "SELECT order_id FROM orders WHERE good_til_block_time IS NOT NULL"
    " AND good_til_block_time < ? LIMIT ?"
)
SQL_PRUNE_FINAL = "SELECT order_id FROM orders WHERE status = ? AND updated_at < ? LIMIT ?"

# The same conditions as the SQL_PRUNE_* queries, with named parameters.
_PRUNE_SHORT = "good_til_block IS NOT NULL AND good_til_block < :height"
_PRUNE_STATEFUL = "good_til_block_time IS NOT NULL AND good_til_block_time < :time"
_PRUNE_FINAL = "status IN ('CANCELED', 'EXPIRED', 'FILLED', 'REJECTED') AND updated_at < :cutoff"
# A prune that dooms at least this many rows, and at least half the store, rewrites the
# survivors instead of deleting row by row.
BULK_PRUNE_MIN_ROWS = 20_000

MIGRATION_SET = "dydxctl"
# Every migration of the set, in order (the functions are registered in migrations()).
MIGRATION_NAMES = ("m001_initial",)

if TYPE_CHECKING:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations


def schema_sql() -> str:
    """schema.sql as shipped inside the package (the repo root links to the same file)."""
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


def migrations() -> Migrations:
    """The sqlite-utils migration set. Built on demand: importing sqlite_utils costs ~40 ms,
    and an up-to-date store (nearly every open) is checked with one plain query instead."""
    from sqlite_utils.migrations import Migrations

    steps = Migrations(MIGRATION_SET)
    for fn in (m001_initial,):
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
    """The repository over one SQLite file. Not thread-safe: one per thread or process."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._db: sqlite_utils.Database | None = None

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
    def open(cls, path: Path | str, *, create: bool = True) -> Store:
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
        store = cls(conn, path)
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
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._check_not_newer()
            if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            if set(MIGRATION_NAMES) - set(self._applied_migrations()):
                with self.write():
                    self._check_not_newer()
                    migrations().apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise _store_error(exc, self.path) from exc

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
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction that holds the write lock from its start."""
        if self.conn.in_transaction:
            yield
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise _store_error(exc, self.path) from exc
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
    def insert_order(self, row: Mapping[str, Any], *, detail: str = "") -> dict[str, Any]:
        """Insert a new order (normally PENDING, before its broadcast) with its first event."""
        record = {name: row.get(name) for name in ORDER_COLUMNS}
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
        with self.write():
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
            self._event(record["order_id"], None, record["status"], record["place_tx_hash"], detail)
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
        **fields: Any,
    ) -> dict[str, Any]:
        """Move an order to a new status (allowed moves only) and record the event."""
        if to_status not in STATUSES:
            raise InternalError(f"Unknown order status {to_status!r}.")
        with self.write():
            current = self.get(order_id)
            if current is None:
                raise OrderNotFound(f"Order {order_id} is not in the store.")
            from_status = current["status"]
            if from_status != to_status and to_status not in TRANSITIONS[from_status]:
                raise IllegalTransition(
                    f"Illegal status change {from_status} → {to_status} for order {order_id}."
                )
            self._update(order_id, {**fields, "status": to_status})
            self._event(order_id, from_status, to_status, tx_hash, detail)
            current.update(fields, status=to_status)
        log.info(
            "store order=%s %s -> %s tx=%s %s", order_id, from_status, to_status, tx_hash or "-",
            detail,
        )  # fmt: skip
        return current

    def update_fields(self, order_id: str, **fields: Any) -> None:
        """Change metadata that is not the status (e.g. last_error, cancel tx hash)."""
        with self.write():
            self._update(order_id, fields)

    def _update(self, order_id: str, fields: Mapping[str, Any]) -> None:
        bad = set(fields) - _UPDATABLE - {"status"}
        if bad:
            raise InternalError(f"Cannot update columns {sorted(bad)}.")
        values = {**fields, "updated_at": now_iso()}
        assignments = ", ".join(f"{name} = ?" for name in values)
        self._execute(
            f"UPDATE orders SET {assignments} WHERE order_id = ?", [*values.values(), order_id]
        )

    def _event(
        self, order_id: str, from_status: str | None, to_status: str, tx_hash: str | None,
        detail: str,
    ) -> None:  # fmt: skip
        self._execute(
            "INSERT INTO order_events (order_id, at, from_status, to_status, tx_hash, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (order_id, now_iso(), from_status, to_status, tx_hash, detail or None),
        )

    def get(self, order_id: str) -> dict[str, Any] | None:
        rows = self._query(SQL_GET_BY_ID, (order_id,))
        return rows[0] if rows else None

    def find_by_client_id(
        self, client_id: int, *, chain_id: str | None = None, address: str | None = None
    ) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM orders WHERE client_id = ?", [client_id]
        if chain_id:
            sql, params = sql + " AND chain_id = ?", [*params, chain_id]
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
        return self.get(key.lower())

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
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        if status:
            if status not in STATUSES:
                raise BadInput(f"Unknown status '{status}'.", f"Use one of: {', '.join(STATUSES)}.")
            clauses.append("status = ?")
            params.append(status)
        if statuses:
            clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(sorted(statuses))
        for column, value in (("market", market), ("chain_id", chain_id), ("address", address)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM orders{where} ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._query(sql, params)

    def events(self, order_id: str) -> list[dict[str, Any]]:
        return self._query(
            "SELECT at, from_status, to_status, tx_hash, detail FROM order_events"
            " WHERE order_id = ? ORDER BY id",
            (order_id,),
        )

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
    ) -> None:
        with self.write():
            self._execute(
                "INSERT INTO cancel_attempts (order_id, market, at, outcome, kind, codespace,"
                " code, latency_ms, tx_hash, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_id, market, now_iso(), "success" if success else "failure", kind,
                    codespace, code, latency_ms, tx_hash, detail or None,
                ),
            )  # fmt: skip

    def cancel_metrics(self) -> dict[str, Any]:
        """Attempts, successes, failures by kind, success rate and latency p50/p95, per market."""
        rows = self._query("SELECT market, outcome, kind, latency_ms FROM cancel_attempts")

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
    ) -> PruneSummary:
        """Delete metadata that can no longer matter; never a possibly live order.

        With height None (offline) short-term rows are left alone: only the chain knows
        whether their block has passed. Small prunes delete in batches (short write locks);
        when most of a large store is doomed, the survivors are copied aside and the tables
        refilled in one transaction, since deleting a million rows index entry by index
        entry takes minutes.
        """
        cutoff = now_iso(datetime.fromtimestamp(now_unix, UTC) - timedelta(seconds=keep_seconds))
        params = {
            # Offline no height can be trusted: compare with a value below every GTB.
            "height": (height - PRUNE_MARGIN_BLOCKS) if height is not None else -(2**62),
            "time": now_unix - PRUNE_MARGIN_SECONDS,
            "cutoff": cutoff,
        }
        planned = self._prune_counts(params)
        if dry_run:
            return planned
        if planned.deleted >= BULK_PRUNE_MIN_ROWS and planned.deleted * 2 >= planned.total:
            return self._bulk_purge(params, progress)
        plans: list[tuple[str, str, tuple]] = []
        if height is not None:
            plans.append(("short", SQL_PRUNE_SHORT_TERM, (params["height"],)))
        plans.append(("stateful", SQL_PRUNE_STATEFUL, (params["time"],)))
        plans.extend(("final", SQL_PRUNE_FINAL, (s, cutoff)) for s in sorted(FINAL_STATUSES))
        counts = {"short": 0, "stateful": 0, "final": 0}
        for label, select_sql, args in plans:
            while True:
                with self.write():
                    cursor = self._execute(
                        f"DELETE FROM orders WHERE order_id IN ({select_sql})",
                        (*args, batch_size),
                    )
                deleted = cursor.rowcount
                counts[label] += deleted
                if progress and deleted:
                    progress(deleted)
                if deleted < batch_size:
                    break
        return PruneSummary(
            counts["short"], counts["stateful"], counts["final"], self.count(), dry_run=False
        )

    def _bulk_purge(
        self, params: dict[str, Any], progress: Callable[[int], None] | None
    ) -> PruneSummary:
        """Keep the survivors aside, empty both tables (SQLite's truncate), refill them."""
        doomed = f"({_PRUNE_SHORT}) OR ({_PRUNE_STATEFUL}) OR ({_PRUNE_FINAL})"
        # Foreign-key enforcement can change only outside a transaction. The events of
        # every kept order are kept and all others go with their orders: none dangles.
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.write():
                summary = self._prune_counts(params)
                self._execute(
                    "CREATE TEMP TABLE prune_keep_orders AS SELECT * FROM orders"
                    f" WHERE NOT ({doomed})",
                    params,
                )
                self._execute(
                    "CREATE TEMP TABLE prune_keep_events AS SELECT * FROM order_events"
                    " WHERE order_id IN (SELECT order_id FROM temp.prune_keep_orders)"
                )
                self._execute("DELETE FROM order_events")
                self._execute("DELETE FROM orders")
                self._execute("INSERT INTO orders SELECT * FROM temp.prune_keep_orders")
                self._execute("INSERT INTO order_events SELECT * FROM temp.prune_keep_events")
                self._execute("DROP TABLE temp.prune_keep_orders")
                self._execute("DROP TABLE temp.prune_keep_events")
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")
        if progress:
            progress(summary.deleted)
        return PruneSummary(
            summary.expired_short_term, summary.expired_stateful, summary.final_state,
            summary.kept, dry_run=False,
        )  # fmt: skip

    def _prune_counts(self, params: dict[str, Any]) -> PruneSummary:
        """What prune would delete, each row counted once, in the order prune deletes."""
        row = self._query(
            f"SELECT coalesce(sum({_PRUNE_SHORT}), 0) AS short,"
            f" coalesce(sum(({_PRUNE_STATEFUL}) AND NOT ({_PRUNE_SHORT})), 0) AS stateful,"
            f" coalesce(sum(({_PRUNE_FINAL}) AND NOT ({_PRUNE_SHORT})"
            f" AND NOT ({_PRUNE_STATEFUL})), 0) AS final,"
            " count(*) AS total FROM orders",
            params,
        )[0]
        doomed = row["short"] + row["stateful"] + row["final"]
        return PruneSummary(
            row["short"], row["stateful"], row["final"], row["total"] - doomed, dry_run=True
        )

    def count(self) -> int:
        return self._query("SELECT count(*) AS n FROM orders")[0]["n"]

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
        """The last observed block of this chain via this node (height_estimate.py). A
        store made before the table existed has none yet (it is created on first write)."""
        try:
            cursor = self.conn.execute(
                "SELECT height, time_ms, observed_mono, boot_id, block_ms FROM"
                " chain_clock_cache WHERE chain_id = ? AND grpc = ?", (chain_id, grpc)
            )  # fmt: skip
        except sqlite3.OperationalError:
            return None
        row = cursor.fetchone()
        names = ("height", "time_ms", "observed_mono", "boot_id", "block_ms")
        return dict(zip(names, row, strict=True)) if row else None

    def cache_chain_clock(self, chain_id: str, grpc: str, **fields: Any) -> None:
        with self.write():
            if self.cached_chain_clock(chain_id, grpc) is None:
                for statement in _statements(schema_sql()):
                    if "chain_clock_cache" in statement:
                        self._execute(statement)
            self._execute(
                "INSERT OR REPLACE INTO chain_clock_cache (chain_id, grpc, height, time_ms,"
                " observed_mono, boot_id, block_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chain_id, grpc, fields["height"], fields["time_ms"], fields["observed_mono"],
                    fields["boot_id"], fields["block_ms"],
                ),
            )  # fmt: skip


def _percentile(sorted_values: list[float], pct: int) -> float | None:
    """Nearest-rank-interpolated percentile (statistics.quantiles) of sorted values."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
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
