"""The PostgreSQL order-metadata store: the same repository as store.Store, for fleets.

Why: several hosts must share one store so whichever is alive can cancel any order any of
them placed, and a SQLite file cannot be shared across hosts (WAL needs shared memory, which
network filesystems do not give).

PgStore is store.Store with another connection underneath: the status machine, the chain
scope, the listing and prune rules are Store's own code, run through a translation of its
SQL (`?`/`:name` placeholders become psycopg's). Only what the dialect or the locking
changes is overridden here:

- every write is its own short transaction (autocommit otherwise), so the write-ahead row
  is committed before the broadcast exactly as on SQLite;
- `transition` locks the row (SELECT … FOR UPDATE) before reading it, so two hosts changing
  one order's status serialise on the row;
- `order_lock` is a session advisory lock keyed by the order: two hosts cancelling one
  order take turns, and the second sees the first's CANCEL_PENDING instead of broadcasting
  again. A session lock (not a transaction held open) keeps each write inside durable on
  its own, and the server drops it with a crashed process's connection;
- prune deletes by ctid in batches that skip rows another host holds locked;
- migrations are named, applied once, recorded in _dydxctl_migrations (name, applied_at),
  and run in one transaction under an advisory lock, so two hosts starting at once do not
  race.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from dydxctl import logs
from dydxctl.errors import DuplicateOrder, StoreError
from dydxctl.store import _PRUNE_FINAL, _PRUNE_SHORT, _PRUNE_STATEFUL, Store
from dydxctl.store_open import redact_url
from dydxctl.store_pg_errors import pg_store_error

if TYPE_CHECKING:
    import psycopg

log = logs.get("store")

# Applied in this order, each once; a name this version does not know means a newer dydxctl.
PG_MIGRATION_NAMES = ("m001_initial",)
# First key of the two-int advisory locks (pg_advisory_lock(int, int)): "dydx" and "dydy"
# in ASCII, so dydxctl's locks never meet another application's on the same database.
LOCK_SPACE_MIGRATIONS = 0x64796478
LOCK_SPACE_ORDERS = 0x64796479
CONNECT_TIMEOUT_S = 5
# Used only when neither the server nor the URL's options set a statement_timeout: a
# statement stuck behind another host's lock then fails (exit 8) instead of hanging.
DEFAULT_STATEMENT_TIMEOUT = "30s"
# Store.prune sizes each batch to a short transaction; this only caps it.
PG_PRUNE_BATCH_SIZE = 50_000

_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


_ROWID = re.compile(r"\browid\b")


@functools.lru_cache(maxsize=256)
def pg_sql(sql: str) -> str:
    """Store's SQLite SQL for psycopg: `?` → %s, `:name` → %(name)s, and SQLite's rowid
    → ctid, PostgreSQL's physical row id (a prune batch's handle)."""
    # Listings break created_at ties by the key, which the listing indexes carry (a ctid
    # tie-break cannot come from an index: 1M rows of one timestamp sorted in 1.8 s).
    sql = sql.replace(
        "ORDER BY created_at DESC, rowid DESC", "ORDER BY created_at DESC, order_id DESC"
    )
    sql = _ROWID.sub("ctid", sql.replace("%", "%%"))
    return _NAMED_PARAMETER.sub(r"%(\1)s", sql).replace("?", "%s")


def schema_pg_sql() -> str:
    """schema_pg.sql as shipped inside the package."""
    return resources.files("dydxctl").joinpath("schema_pg.sql").read_text(encoding="utf-8")


def m001_initial(conn: psycopg.Connection) -> None:
    """Create every table and index of schema_pg.sql (each statement is idempotent)."""
    conn.execute(schema_pg_sql())


PG_MIGRATIONS: tuple[Callable[[psycopg.Connection], None], ...] = (m001_initial,)
assert tuple(fn.__name__ for fn in PG_MIGRATIONS) == PG_MIGRATION_NAMES


class PgStore(Store):
    """The repository over one PostgreSQL database (and schema). One per thread or process."""

    backend = "postgresql"
    # A prune batch locks only its own (expired) rows: nobody waits on it, so it may run
    # longer than SQLite's, whose write lock stops every other writer.
    prune_tx_target_s = 0.5

    def __init__(self, conn: Any, url: str, chain_id: str | None = None) -> None:
        super().__init__(conn, redact_url(url), chain_id)  # type: ignore[arg-type]
        self.url = url  # self.path, what messages name, never holds the password

    # --- opening ---
    @classmethod
    def open(  # type: ignore[override]
        cls, url: str, *, create: bool = True, chain_id: str | None = None
    ) -> PgStore:
        """Connect, then create or upgrade the schema; refuse a newer one.

        `create` is accepted for symmetry with SQLite: the database itself must exist (its
        owner creates it), and creating dydxctl's tables in it is always safe.
        """
        import psycopg
        from psycopg.rows import dict_row

        try:
            conn = psycopg.connect(
                url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S,
                application_name="dydxctl",
            )  # fmt: skip
        except psycopg.Error as exc:
            raise pg_store_error(exc, url) from None
        store = cls(conn, url, chain_id)
        try:
            store._prepare()
        except BaseException:
            conn.close()
            raise
        return store

    def _prepare(self) -> None:
        import psycopg

        try:
            if self.conn.execute("SHOW statement_timeout").fetchone()["statement_timeout"] == "0":
                self.conn.execute(f"SET statement_timeout = '{DEFAULT_STATEMENT_TIMEOUT}'")
            applied = self._applied_migrations()
            self._check_not_newer_than(applied)
            if set(PG_MIGRATION_NAMES) - set(applied):
                self._migrate()
        except psycopg.Error as exc:
            raise pg_store_error(exc, self.url) from None

    def _migrate(self) -> None:
        """Apply the missing migrations in one transaction, one host at a time."""
        with self.conn.transaction():
            self.conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                (LOCK_SPACE_MIGRATIONS,),
            )
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS _dydxctl_migrations ("
                " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            applied = self._applied_migrations()  # another host may have just done it
            self._check_not_newer_than(applied)
            for step in PG_MIGRATIONS:
                if step.__name__ not in applied:
                    step(self.conn)
                    self.conn.execute(
                        "INSERT INTO _dydxctl_migrations (name) VALUES (%s)", (step.__name__,)
                    )
                    log.info("store %s: applied migration %s", self.path, step.__name__)

    def _check_not_newer_than(self, applied: list[str]) -> None:
        unknown = [name for name in applied if name not in PG_MIGRATION_NAMES]
        if unknown:
            raise StoreError(
                f"The store {self.path} was written by a newer dydxctl "
                f"(migrations {', '.join(unknown)}); this version will not change it.",
                "Upgrade dydxctl on this host, or pass another --db.",
            )

    def _applied_migrations(self) -> list[str]:
        if self.conn.execute("SELECT to_regclass('_dydxctl_migrations') AS t").fetchone()["t"]:
            rows = self.conn.execute("SELECT name FROM _dydxctl_migrations ORDER BY applied_at")
            return [r["name"] for r in rows]
        return []

    def applied_migrations(self) -> list[str]:
        """The migration names recorded in this store, oldest first."""
        return self._applied_migrations()

    # --- transactions and statements ---
    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[None]:
        """One transaction; nested calls join the outer one (as on SQLite).

        The same durability policy as SQLite's synchronous = NORMAL plus durable writes:
        durable=True (the write-ahead row before a broadcast) waits for the WAL flush;
        other commits do not (synchronous_commit off: a server crash may lose the last
        moments of status changes, which `sync` restores, and never corrupts anything).
        Other hosts see every commit at once either way."""
        import psycopg
        from psycopg.pq import TransactionStatus

        if self.conn.info.transaction_status != TransactionStatus.IDLE:
            yield
            return
        try:
            with self.conn.transaction():
                self.conn.execute(f"SET LOCAL synchronous_commit = {'on' if durable else 'off'}")
                yield
        except psycopg.errors.UniqueViolation:
            raise  # insert_order makes it a DuplicateOrder
        except psycopg.Error as exc:
            raise pg_store_error(exc, self.url) from None

    # Every statement is written in Store's style (? and :name) and translated here.
    def _query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        import psycopg

        try:
            return self.conn.execute(pg_sql(sql), params).fetchall()
        except psycopg.Error as exc:
            raise pg_store_error(exc, self.url) from None

    def _execute(self, sql: str, params: Any = ()) -> Any:
        import psycopg

        try:
            return self.conn.execute(pg_sql(sql), params)
        except psycopg.errors.UniqueViolation:
            raise
        except psycopg.Error as exc:
            raise pg_store_error(exc, self.url) from None

    # --- orders ---
    def insert_order(
        self, row: Mapping[str, Any], *, detail: str = "", durable: bool = False
    ) -> dict[str, Any]:
        """Store.insert_order; between hosts the UNIQUE OrderId key decides who wins."""
        import psycopg

        try:
            return super().insert_order(row, detail=detail, durable=durable)
        except psycopg.errors.UniqueViolation:
            raise DuplicateOrder(
                f"An order with this OrderId is already stored (client id "
                f"{row.get('client_id')}, clob pair {row.get('clob_pair_id')}, flags "
                f"{row.get('order_flags')}, subaccount {row.get('subaccount_number')}).",
                "Use another --client-id, or omit it to get a fresh one.",
                order_id=row.get("order_id"),
            ) from None

    def transition(self, order_id: str, to_status: str, **kwargs: Any) -> dict[str, Any]:
        """Store.transition with the row locked first: hosts serialise on the row."""
        chain = self._scope(kwargs.get("chain_id"))
        with self.write():
            sql = "SELECT 1 FROM orders WHERE order_id = ?"
            params: list[Any] = [order_id]
            if chain is not None:
                sql, params = sql + " AND chain_id = ?", [*params, chain]
            self._query(sql + " FOR UPDATE", params)
            return super().transition(order_id, to_status, **kwargs)

    @contextlib.contextmanager
    def order_lock(self, order_id: str) -> Iterator[None]:
        """Hold the fleet-wide lock on one order (e.g. across a cancel's broadcast)."""
        key = (LOCK_SPACE_ORDERS, order_id)
        self._query("SELECT pg_advisory_lock(?, hashtext(?))", key)
        try:
            yield
        finally:
            if not self.conn.closed:
                self._query("SELECT pg_advisory_unlock(?, hashtext(?))", key)

    # --- pruning ---
    def prune(self, *, batch_size: int = PG_PRUNE_BATCH_SIZE, **kwargs: Any) -> Any:
        """Store.prune (same rules, time-bounded batches), with a larger batch cap: under
        MVCC a batch blocks no reader and no writer of other rows."""
        return super().prune(batch_size=batch_size, **kwargs)

    @contextlib.contextmanager
    def _bulk_delete_session(self) -> Iterator[Callable[[], None]]:
        """PostgreSQL needs no tuning between prune batches (no WAL checkpoint to defer)."""
        yield lambda: None

    def _prune_batch(self, select_sql: str, params: dict[str, Any]) -> int:
        """One batch by ctid (PostgreSQL's rowid), skipping rows another host has locked;
        the orders' events go in the same statement (schema_pg.sql has no cascade)."""
        select = select_sql.replace("SELECT rowid FROM", "SELECT ctid, order_id FROM", 1)
        with self.write():
            # = ANY(ARRAY(...)): a TID scan and an index scan. A join here is planned as a
            # hash join over both whole tables, once per batch.
            cursor = self._execute(
                f"WITH doomed AS MATERIALIZED ({select} FOR UPDATE SKIP LOCKED),"
                " events AS (DELETE FROM order_events WHERE chain_id = :chain"
                " AND order_id = ANY(ARRAY(SELECT order_id FROM doomed)))"
                " DELETE FROM orders WHERE ctid = ANY(ARRAY(SELECT ctid FROM doomed))",
                params,
            )
        return cursor.rowcount

    def _prune_counts(self, params: dict[str, Any]) -> Any:
        """Store._prune_counts with PostgreSQL's FILTER (a boolean has no sum)."""
        short = f"coalesce({_PRUNE_SHORT}, false)"
        stateful = f"coalesce({_PRUNE_STATEFUL}, false)"
        row = self._query(
            f"SELECT count(*) FILTER (WHERE {short}) AS short,"
            f" count(*) FILTER (WHERE {stateful} AND NOT {short}) AS stateful,"
            f" count(*) FILTER (WHERE ({_PRUNE_FINAL}) AND NOT {short} AND NOT {stateful})"
            " AS final, count(*) AS total FROM orders WHERE chain_id = :chain",
            params,
        )[0]
        from dydxctl.store import PruneSummary

        doomed = row["short"] + row["stateful"] + row["final"]
        return PruneSummary(
            row["short"], row["stateful"], row["final"], row["total"] - doomed, dry_run=True
        )

    # --- caches ---
    def cache_markets(self, chain_id: str, markets: list[Mapping[str, Any]], now: float) -> None:
        columns = (
            "clob_pair_id", "atomic_resolution", "quantum_conversion_exponent",
            "step_base_quantums", "subticks_per_tick", "oracle_price", "status", "fetched_at",
        )  # fmt: skip
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
        with self.write():
            for m in markets:
                self._execute(
                    f"INSERT INTO market_cache (chain_id, ticker, {', '.join(columns)})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    f" ON CONFLICT (chain_id, ticker) DO UPDATE SET {updates}",
                    (
                        chain_id, m["ticker"], m["clob_pair_id"], m["atomic_resolution"],
                        m["quantum_conversion_exponent"], m["step_base_quantums"],
                        m["subticks_per_tick"], m.get("oracle_price"), m.get("status"), now,
                    ),
                )  # fmt: skip

    def cache_account_number(self, chain_id: str, address: str, number: int, now: float) -> None:
        self._execute(
            "INSERT INTO account_cache (chain_id, address, account_number, fetched_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (chain_id, address) DO UPDATE SET"
            " account_number = EXCLUDED.account_number, fetched_at = EXCLUDED.fetched_at",
            (chain_id, address, number, now),
        )
