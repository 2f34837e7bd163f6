"""The store's vocabulary and its hot SQL: statuses and the status machine, the order
columns, the listing and prune queries (tests EXPLAIN these very strings), shared by the
SQLite and PostgreSQL stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dydxctl.durations import iso_ms
from dydxctl.errors import BadInput, InternalError

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
