"""The SQLite order-metadata store: the repository API. By job, elsewhere: schema and
migrations (store_migrations.py), statuses and hot SQL (store_sql.py), pruning
(store_prune.py), cancel metrics (store_metrics.py), caches (store_caches.py), errors
(store_errors.py); every name is importable from here.

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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dydxctl import logs
from dydxctl.chain import CLIENT_ID_MAX
from dydxctl.errors import BadInput, DuplicateOrder, InternalError, OrderNotFound, StoreError

# The schema and migrations, the SQL and the prune live in modules of their own; every
# name is importable from here as before.
from dydxctl.store_caches import CachesMixin
from dydxctl.store_errors import BUSY_TIMEOUT_MS, _store_error, recorded_after_broadcast
from dydxctl.store_metrics import CancelMetricsMixin
from dydxctl.store_migrations import (
    _EVENTS_DDL,
    MIGRATION_NAMES,
    MIGRATION_SET,
    MIGRATION_STEPS,
    TRADING_KEY_COLUMNS,
    _statements,
    m001_initial,
    m002_chain_scoped_keys,
    m003_trading_keys,
    m004_chain_clock_cache,
    m005_event_order_seq,
    migrations,
    schema_sql,
)
from dydxctl.store_prune import (
    PRUNE_BATCH_SIZE,
    PRUNE_CACHE_KIB,
    PRUNE_CHECKPOINT_S,
    PRUNE_MARGIN_BLOCKS,
    PRUNE_MARGIN_SECONDS,
    PRUNE_MIN_BATCH,
    PRUNE_TX_TARGET_S,
    PRUNE_YIELD_S,
    PruneMixin,
)
from dydxctl.store_sql import (
    _PRUNE_FINAL,
    _PRUNE_SHORT,
    _PRUNE_STATEFUL,
    _SETTLED,
    _UPDATABLE,
    FINAL_STATUSES,
    LIVE_STATUSES,
    ORDER_COLUMNS,
    SQL_GET_BY_ID,
    SQL_PRUNE_FINAL,
    SQL_PRUNE_SHORT_TERM,
    SQL_PRUNE_STATEFUL,
    STATUSES,
    TRANSITIONS,
    IllegalTransition,
    PruneSummary,
    now_iso,
    order_listing_sql,
)

if TYPE_CHECKING:
    import sqlite_utils

__all__ = [
    "BUSY_TIMEOUT_MS",
    "FINAL_STATUSES",
    "LIVE_STATUSES",
    "MIGRATION_NAMES",
    "MIGRATION_SET",
    "MIGRATION_STEPS",
    "ORDER_COLUMNS",
    "PRUNE_BATCH_SIZE",
    "PRUNE_CACHE_KIB",
    "PRUNE_CHECKPOINT_S",
    "PRUNE_MARGIN_BLOCKS",
    "PRUNE_MARGIN_SECONDS",
    "PRUNE_MIN_BATCH",
    "PRUNE_TX_TARGET_S",
    "PRUNE_YIELD_S",
    "SQL_GET_BY_ID",
    "SQL_PRUNE_FINAL",
    "SQL_PRUNE_SHORT_TERM",
    "SQL_PRUNE_STATEFUL",
    "STATUSES",
    "TRADING_KEY_COLUMNS",
    "TRANSITIONS",
    "WRITE_LOCK_POLL_S",
    "_EVENTS_DDL",
    "_PRUNE_FINAL",
    "_PRUNE_SHORT",
    "_PRUNE_STATEFUL",
    "_SETTLED",
    "_UPDATABLE",
    "IllegalTransition",
    "PruneSummary",
    "Store",
    "_statements",
    "_store_error",
    "m001_initial",
    "m002_chain_scoped_keys",
    "m003_trading_keys",
    "m004_chain_clock_cache",
    "m005_event_order_seq",
    "migrations",
    "now_iso",
    "order_listing_sql",
    "recorded_after_broadcast",
    "schema_sql",
]

log = logs.get("store")
# A writer waiting for the lock retries this often (SQLite's own busy handler backs off to
# 100 ms sleeps, which lets a prune that re-takes the lock at once starve it).
WRITE_LOCK_POLL_S = 0.001


def _create_owner_only(path: Path) -> None:
    """Create the store file (and its directory) readable by the owner alone."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)


class Store(PruneMixin, CancelMetricsMixin, CachesMixin):
    """The repository over one SQLite file. Not thread-safe: one per thread or process.

    chain_id is the scope: with it, every lookup, listing, change and prune sees that
    chain's rows only. Without it (tests, benchmarks) a UUID must name one row.
    """

    # orders.seq of a new row: the next number, taken under the write lock (PostgreSQL:
    # its identity column's default).
    _next_seq = "(SELECT coalesce(max(seq), 0) + 1 FROM orders)"

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
                raise StoreError(  # a damaged store, not a bug: exit 8, file untouched
                    f"The store {self.path} has {len(broken)} row(s) that refer to an order it "
                    "does not hold; its schema upgrade was not applied and the file is "
                    "unchanged.",
                    f"Back it up and inspect it with: sqlite3 {self.path} "
                    "'PRAGMA foreign_key_check', or point --db at another store.",
                )

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
                    f"INSERT INTO orders ({columns}, seq) VALUES ({marks}, {self._next_seq})",
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
            "INSERT INTO order_events (order_id, chain_id, order_seq, at, from_status,"
            " to_status, tx_hash, detail) VALUES (?, ?, (SELECT seq FROM orders WHERE"
            " order_id = ? AND chain_id = ?), ?, ?, ?, ?, ?)",
            [order_id, chain_id, order_id, chain_id, now_iso(), from_status, to_status,
             tx_hash, detail or None],
        )  # fmt: skip

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
            " WHERE order_seq = (SELECT seq FROM orders WHERE order_id = ? AND chain_id = ?)"
            " ORDER BY id",
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

    def count(self, chain_id: str | None = None) -> int:
        """Orders of the store's chain (or chain_id); of every chain when unscoped."""
        chain = self._scope(chain_id)
        if chain is None:
            return self._query("SELECT count(*) AS n FROM orders")[0]["n"]
        return self._query("SELECT count(*) AS n FROM orders WHERE chain_id = ?", (chain,))[0]["n"]
