"""The PostgreSQL order-metadata store: the same repository as store.Store, for fleets.

Why: several hosts must share one store so whichever is alive can cancel any order any of
them placed, and a SQLite file cannot be shared across hosts (WAL needs shared memory, which
network filesystems do not give). The status machine, columns and prune rules are
store.py's; only the SQL dialect, the locking and the migrations table differ:

- every write is its own short transaction (autocommit otherwise), so the write-ahead row
  is committed before the broadcast exactly as on SQLite;
- `transition` reads the row FOR UPDATE, so concurrent status changes serialise on the row;
- `order_lock` is a session advisory lock keyed by the order: two hosts cancelling one order
  take turns, and the second sees the first's CANCEL_PENDING instead of broadcasting again.
  A session lock (not a transaction held open) keeps each write inside durable on its own,
  and dies with a crashed process's connection;
- migrations are named, applied once, recorded in _dydxctl_migrations, and run in one
  transaction under an advisory lock so two hosts starting at once do not race.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

from dydxctl import logs
from dydxctl.errors import BadInput, DuplicateOrder, InternalError, OrderNotFound, StoreError
from dydxctl.store import (
    _UPDATABLE,
    ORDER_COLUMNS,
    PRUNE_BATCH_SIZE,
    PRUNE_MARGIN_BLOCKS,
    PRUNE_MARGIN_SECONDS,
    STATUSES,
    TRANSITIONS,
    PruneSummary,
    _percentile,
    now_iso,
)
from dydxctl.store_open import redact_url
from dydxctl.store_pg_errors import pg_store_error

if TYPE_CHECKING:
    import psycopg

log = logs.get("store")

# Applied in this order, each once; a name this version does not know means a newer dydxctl.
PG_MIGRATION_NAMES = ("m001_initial",)
# First key of the two-int advisory locks (pg_advisory_lock(int, int)): "dydx" in ASCII,
# so dydxctl's locks never collide with another application's on the same database.
LOCK_SPACE_MIGRATIONS = 0x64796478
LOCK_SPACE_ORDERS = 0x64796479
CONNECT_TIMEOUT_S = 5
# Used only when the server or the URL's options set no statement_timeout of their own.
DEFAULT_STATEMENT_TIMEOUT = "30s"
# Deleting in batches keeps each transaction short; larger than SQLite's because each
# PostgreSQL statement is a network round trip.
PG_PRUNE_BATCH_SIZE = max(PRUNE_BATCH_SIZE, 20_000)

_PRUNE_SHORT = "good_til_block IS NOT NULL AND good_til_block < %(height)s"
_PRUNE_STATEFUL = "good_til_block_time IS NOT NULL AND good_til_block_time < %(time)s"
_PRUNE_FINAL = "status IN ('CANCELED', 'EXPIRED', 'FILLED', 'REJECTED') AND updated_at < %(cutoff)s"


def schema_pg_sql() -> str:
    """schema_pg.sql as shipped inside the package."""
    return resources.files("dydxctl").joinpath("schema_pg.sql").read_text(encoding="utf-8")


def m001_initial(conn: psycopg.Connection) -> None:
    """Create every table and index of schema_pg.sql (each statement is idempotent)."""
    conn.execute(schema_pg_sql())


PG_MIGRATIONS: tuple[Callable[[psycopg.Connection], None], ...] = (m001_initial,)
assert tuple(fn.__name__ for fn in PG_MIGRATIONS) == PG_MIGRATION_NAMES


class PgStore:
    """The repository over one PostgreSQL database (and schema). One per thread or process."""

    backend = "postgresql"

    def __init__(self, conn: psycopg.Connection, url: str) -> None:
        self.conn = conn
        self.url = url
        self.path = redact_url(url)  # what messages name: never the password

    # --- opening ---
    @classmethod
    def open(cls, url: str, *, create: bool = True) -> PgStore:
        """Connect, then create or upgrade the schema; refuse a newer one.

        `create` is accepted for symmetry with SQLite: the database itself must exist (the
        server's owner creates it), and creating the tables in it is always safe.
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
        store = cls(conn, url)
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
            if set(PG_MIGRATION_NAMES) - set(self._applied_migrations()):
                self._migrate()
            else:
                self._check_not_newer(self._applied_migrations())
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
            applied = self._applied_migrations()
            self._check_not_newer(applied)
            for step in PG_MIGRATIONS:
                if step.__name__ not in applied:
                    step(self.conn)
                    self.conn.execute(
                        "INSERT INTO _dydxctl_migrations (name) VALUES (%s)", (step.__name__,)
                    )
                    log.info("store %s: applied migration %s", self.path, step.__name__)

    def _check_not_newer(self, applied: list[str]) -> None:
        unknown = [name for name in applied if name not in PG_MIGRATION_NAMES]
        if unknown:
            raise StoreError(
                f"The store {self.path} was written by a newer dydxctl "
                f"(migrations {', '.join(unknown)}); this version will not change it.",
                "Upgrade dydxctl on this host, or pass another --db.",
            )

    def _applied_migrations(self) -> list[str]:
        row = self.conn.execute("SELECT to_regclass('_dydxctl_migrations') AS t").fetchone()
        if row["t"] is None:
            return []
        rows = self.conn.execute("SELECT name FROM _dydxctl_migrations ORDER BY applied_at, name")
        return [r["name"] for r in rows]

    def applied_migrations(self) -> list[str]:
        """The migration names recorded in this store, oldest first."""
        return self._applied_migrations()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One transaction; nested calls join the outer one (as on SQLite)."""
        import psycopg
        from psycopg.pq import TransactionStatus

        if self.conn.info.transaction_status != TransactionStatus.IDLE:
            yield
            return
        try:
            with self.conn.transaction():
                yield
        except psycopg.Error as exc:
            raise pg_store_error(exc, self.url) from None

    def _query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        import psycopg

        try:
            return self.conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise pg_store_error(exc, self.url) from None

    def _execute(self, sql: str, params: Any = ()) -> int:
        """Run one statement; the number of rows it changed."""
        import psycopg

        try:
            return self.conn.execute(sql, params).rowcount
        except psycopg.Error as exc:
            raise pg_store_error(exc, self.url) from None

    # --- orders ---
    def insert_order(self, row: Mapping[str, Any], *, detail: str = "") -> dict[str, Any]:
        """Insert a new order (normally PENDING, before its broadcast) with its first event.

        The UNIQUE OrderId key decides between hosts: the loser gets DuplicateOrder."""
        from psycopg import errors

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
        marks = ", ".join("%s" for _ in ORDER_COLUMNS)
        try:
            with self.conn.transaction():
                self.conn.execute(
                    f"INSERT INTO orders ({columns}) VALUES ({marks})",
                    [record[c] for c in ORDER_COLUMNS],
                )
                self._event(
                    record["chain_id"], record["order_id"], None, record["status"],
                    record["place_tx_hash"], detail,
                )  # fmt: skip
        except errors.UniqueViolation:
            raise DuplicateOrder(
                f"An order with this OrderId is already stored (client id "
                f"{record['client_id']}, clob pair {record['clob_pair_id']}, flags "
                f"{record['order_flags']}, subaccount {record['subaccount_number']}).",
                "Use another --client-id, or omit it to get a fresh one.",
                order_id=record["order_id"],
            ) from None
        except errors.Error as exc:
            raise pg_store_error(exc, self.url) from None
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
        """Move an order to a new status (allowed moves only); the row is locked meanwhile."""
        if to_status not in STATUSES:
            raise InternalError(f"Unknown order status {to_status!r}.")
        with self.write():
            rows = self._query(
                "SELECT * FROM orders WHERE order_id = %s ORDER BY chain_id LIMIT 1 FOR UPDATE",
                (order_id,),
            )
            if not rows:
                raise OrderNotFound(f"Order {order_id} is not in the store.")
            current = rows[0]
            from_status = current["status"]
            if from_status != to_status and to_status not in TRANSITIONS[from_status]:
                raise InternalError(
                    f"Illegal status change {from_status} → {to_status} for order {order_id}."
                )
            self._update(current["chain_id"], order_id, {**fields, "status": to_status})
            self._event(current["chain_id"], order_id, from_status, to_status, tx_hash, detail)
            current.update(fields, status=to_status)
        log.info(
            "store order=%s %s -> %s tx=%s %s", order_id, from_status, to_status, tx_hash or "-",
            detail,
        )  # fmt: skip
        return current

    def update_fields(self, order_id: str, **fields: Any) -> None:
        """Change metadata that is not the status (e.g. last_error, cancel tx hash)."""
        self._update(None, order_id, fields)

    def _update(self, chain_id: str | None, order_id: str, fields: Mapping[str, Any]) -> None:
        bad = set(fields) - _UPDATABLE - {"status"}
        if bad:
            raise InternalError(f"Cannot update columns {sorted(bad)}.")
        values = {**fields, "updated_at": now_iso()}
        assignments = ", ".join(f"{name} = %s" for name in values)
        where, params = "order_id = %s", [*values.values(), order_id]
        if chain_id is not None:
            where, params = where + " AND chain_id = %s", [*params, chain_id]
        self._execute(f"UPDATE orders SET {assignments} WHERE {where}", params)

    def _event(
        self, chain_id: str, order_id: str, from_status: str | None, to_status: str,
        tx_hash: str | None, detail: str,
    ) -> None:  # fmt: skip
        self._execute(
            "INSERT INTO order_events (chain_id, order_id, at, from_status, to_status, tx_hash,"
            " detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (chain_id, order_id, now_iso(), from_status, to_status, tx_hash, detail or None),
        )

    def get(self, order_id: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT * FROM orders WHERE order_id = %s ORDER BY chain_id LIMIT 1", (order_id,)
        )
        return rows[0] if rows else None

    def find_by_client_id(
        self, client_id: int, *, chain_id: str | None = None, address: str | None = None
    ) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM orders WHERE client_id = %s", [client_id]
        if chain_id:
            sql, params = sql + " AND chain_id = %s", [*params, chain_id]
        if address:
            sql, params = sql + " AND address = %s", [*params, address]
        return self._query(sql, params)

    def resolve(
        self, key: str, *, chain_id: str | None = None, address: str | None = None
    ) -> dict[str, Any] | None:
        """An order by Indexer UUID, or by a client id naming exactly one stored order."""
        key = key.strip()
        if key.isdigit():
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
        return bool(
            self._query(
                "SELECT 1 FROM orders WHERE chain_id = %s AND address = %s"
                " AND subaccount_number = %s AND client_id = %s LIMIT 1",
                (chain_id, address, subaccount_number, client_id),
            )
        )

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
            clauses.append("status = %s")
            params.append(status)
        if statuses:
            clauses.append("status = ANY(%s)")
            params.append(sorted(statuses))
        for column, value in (("market", market), ("chain_id", chain_id), ("address", address)):
            if value:
                clauses.append(f"{column} = %s")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM orders{where} ORDER BY updated_at DESC"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return self._query(sql, params)

    def events(self, order_id: str) -> list[dict[str, Any]]:
        return self._query(
            "SELECT at, from_status, to_status, tx_hash, detail FROM order_events"
            " WHERE order_id = %s ORDER BY id",
            (order_id,),
        )

    @contextlib.contextmanager
    def order_lock(self, order_id: str) -> Iterator[None]:
        """Hold the fleet-wide lock on one order (e.g. across a cancel's broadcast)."""
        self._query("SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_SPACE_ORDERS, order_id))
        try:
            yield
        finally:
            if not self.conn.closed:
                self._query(
                    "SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_SPACE_ORDERS, order_id)
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
        self._execute(
            "INSERT INTO cancel_attempts (order_id, market, at, outcome, kind, codespace,"
            " code, latency_ms, tx_hash, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                order_id, market, now_iso(), "success" if success else "failure", kind,
                codespace, code, latency_ms, tx_hash, detail or None,
            ),
        )  # fmt: skip

    def cancel_metrics(self) -> dict[str, Any]:
        """Attempts, successes, failures by kind, success rate and latency p50/p95, per market."""
        rows = self._query("SELECT market, outcome, kind, latency_ms FROM cancel_attempts")
        return cancel_metrics_of(rows)

    # --- pruning ---
    def prune(
        self,
        *,
        height: int | None,
        now_unix: int,
        keep_seconds: int,
        dry_run: bool = False,
        batch_size: int = PG_PRUNE_BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
    ) -> PruneSummary:
        """Delete metadata that can no longer matter, in short transactions (store.py rules).

        Rows another host holds locked (a transition in flight) are skipped this time round.
        """
        cutoff = now_iso(datetime.fromtimestamp(now_unix, UTC) - timedelta(seconds=keep_seconds))
        params = {
            "height": (height - PRUNE_MARGIN_BLOCKS) if height is not None else -(2**62),
            "time": now_unix - PRUNE_MARGIN_SECONDS,
            "cutoff": cutoff,
        }
        planned = self._prune_counts(params)
        if dry_run:
            return planned
        plans = [("short", _PRUNE_SHORT)] if height is not None else []
        plans += [("stateful", _PRUNE_STATEFUL), ("final", _PRUNE_FINAL)]
        counts = {"short": 0, "stateful": 0, "final": 0}
        for label, condition in plans:
            while True:
                deleted = self._execute(
                    "DELETE FROM orders WHERE (chain_id, order_id) IN (SELECT chain_id, order_id"
                    f" FROM orders WHERE {condition} LIMIT %(batch)s FOR UPDATE SKIP LOCKED)",
                    {**params, "batch": batch_size},
                )
                counts[label] += deleted
                if progress and deleted:
                    progress(deleted)
                if deleted < batch_size:
                    break
        return PruneSummary(
            counts["short"], counts["stateful"], counts["final"], self.count(), dry_run=False
        )

    def _prune_counts(self, params: dict[str, Any]) -> PruneSummary:
        """What prune would delete, each row counted once, in the order prune deletes."""
        row = self._query(
            f"SELECT count(*) FILTER (WHERE {_PRUNE_SHORT}) AS short,"
            f" count(*) FILTER (WHERE ({_PRUNE_STATEFUL}) AND NOT coalesce({_PRUNE_SHORT}, false))"
            " AS stateful,"
            f" count(*) FILTER (WHERE ({_PRUNE_FINAL})"
            f" AND NOT coalesce({_PRUNE_SHORT}, false)"
            f" AND NOT coalesce({_PRUNE_STATEFUL}, false)) AS final,"
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
            "SELECT * FROM market_cache WHERE chain_id = %s AND ticker = %s AND fetched_at >= %s",
            (chain_id, ticker, now - max_age_s),
        )
        return rows[0] if rows else None

    def cache_markets(self, chain_id: str, markets: list[Mapping[str, Any]], now: float) -> None:
        with self.write():
            for m in markets:
                self._execute(
                    "INSERT INTO market_cache (chain_id, ticker, clob_pair_id,"
                    " atomic_resolution, quantum_conversion_exponent, step_base_quantums,"
                    " subticks_per_tick, oracle_price, status, fetched_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (chain_id, ticker) DO UPDATE SET"
                    " clob_pair_id = EXCLUDED.clob_pair_id,"
                    " atomic_resolution = EXCLUDED.atomic_resolution,"
                    " quantum_conversion_exponent = EXCLUDED.quantum_conversion_exponent,"
                    " step_base_quantums = EXCLUDED.step_base_quantums,"
                    " subticks_per_tick = EXCLUDED.subticks_per_tick,"
                    " oracle_price = EXCLUDED.oracle_price, status = EXCLUDED.status,"
                    " fetched_at = EXCLUDED.fetched_at",
                    (
                        chain_id, m["ticker"], m["clob_pair_id"], m["atomic_resolution"],
                        m["quantum_conversion_exponent"], m["step_base_quantums"],
                        m["subticks_per_tick"], m.get("oracle_price"), m.get("status"), now,
                    ),
                )  # fmt: skip

    def cached_account_number(self, chain_id: str, address: str) -> int | None:
        rows = self._query(
            "SELECT account_number FROM account_cache WHERE chain_id = %s AND address = %s",
            (chain_id, address),
        )
        return rows[0]["account_number"] if rows else None

    def cache_account_number(self, chain_id: str, address: str, number: int, now: float) -> None:
        self._execute(
            "INSERT INTO account_cache (chain_id, address, account_number, fetched_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (chain_id, address) DO UPDATE SET"
            " account_number = EXCLUDED.account_number, fetched_at = EXCLUDED.fetched_at",
            (chain_id, address, number, now),
        )


def cancel_metrics_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """store.Store.cancel_metrics's figures from (market, outcome, kind, latency_ms) rows."""

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
