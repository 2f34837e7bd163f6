"""Which store a --db value names: a PostgreSQL URL, or a path to a SQLite file.

The runtime opens every store through open_store, so the use cases never learn which backend
they talk to. psycopg is imported only when a URL names PostgreSQL: SQLite users do not pay
for it at start-up.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from dydxctl.store import Store
    from dydxctl.store_pg import PgStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target: str | Path) -> bool:
    """True for postgresql:// and postgres:// URLs (libpq's two spellings)."""
    return isinstance(target, str) and target.lower().startswith(POSTGRES_SCHEMES)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, safe to print or log."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{parts.username or ''}:***@{host}{port}"
        parts = parts._replace(netloc=netloc)
    # libpq also accepts the password as a query parameter.
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", r"\1\2=***", parts.query)
    return urlunsplit(parts._replace(query=query))


def open_store(
    target: str | Path, *, create: bool = True, chain_id: str | None = None
) -> Store | PgStore:
    """Open the store a --db value names (a PostgreSQL URL, else a SQLite path), scoped to
    chain_id's rows when given (store.Store's chain scope)."""
    if is_postgres_url(target):
        from dydxctl.store_pg import PgStore

        return PgStore.open(str(target), create=create, chain_id=chain_id)
    from dydxctl.store import Store

    return Store.open(Path(target).expanduser(), create=create, chain_id=chain_id)


def store_exists(target: str | Path) -> bool:
    """Whether opening without create could succeed (a server may always hold the store)."""
    return is_postgres_url(target) or Path(target).expanduser().exists()
