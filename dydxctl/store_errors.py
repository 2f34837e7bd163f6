"""Store errors: SQLite's exceptions as the user's StoreError (exit 8), and the wording of
a store error after a broadcast (never "try again")."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from dydxctl.errors import StoreError

BUSY_TIMEOUT_MS = 10_000


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
