"""Pruning: deleting a chain's metadata that can no longer matter, in short transactions
so that a place or cancel in another process waits a fraction of a second at most."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dydxctl.errors import InternalError
from dydxctl.store_sql import (
    _PRUNE_FINAL,
    _PRUNE_SHORT,
    _PRUNE_STATEFUL,
    FINAL_STATUSES,
    SQL_PRUNE_FINAL,
    SQL_PRUNE_SHORT_TERM,
    SQL_PRUNE_STATEFUL,
    PruneSummary,
    now_iso,
)

if TYPE_CHECKING:
    from dydxctl.store import Store

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


class PruneMixin:
    """Store's prune (a mixin: PgStore overrides the batch and the session)."""

    # How long one prune transaction should last (a backend without a global write lock,
    # like PostgreSQL, can afford longer ones).
    prune_tx_target_s = PRUNE_TX_TARGET_S

    def prune(
        self: Store,
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
        if dry_run:
            return self._prune_counts(params)
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
    def _bulk_delete_session(self: Store) -> Iterator[Callable[[], None]]:
        """SQLite: defer WAL checkpoints to a PASSIVE one every PRUNE_CHECKPOINT_S (see
        there) and widen the page cache; both are restored at the end. Yields the step to
        run between batches (outside any transaction)."""
        autocheckpoint = self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        cache = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        secure = self.conn.execute("PRAGMA secure_delete").fetchone()[0]
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        self.conn.execute(f"PRAGMA cache_size = -{PRUNE_CACHE_KIB}")
        # Builds with SECURE_DELETE (Debian's) zero every freed page, writing it to the WAL
        # once more; FAST still zeroes deleted rows on the pages written anyway.
        self.conn.execute("PRAGMA secure_delete = FAST")
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
                self.conn.execute(f"PRAGMA secure_delete = {('OFF', 'ON', 'FAST')[secure]}")
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _prune_batch(self: Store, select_sql: str, params: dict[str, Any]) -> int:
        """Delete one batch of orders (their events go with them) in one short transaction."""
        with self.write():
            cursor = self._execute(f"DELETE FROM orders WHERE rowid IN ({select_sql})", params)
        return cursor.rowcount

    def _prune_counts(self: Store, params: dict[str, Any]) -> PruneSummary:
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
