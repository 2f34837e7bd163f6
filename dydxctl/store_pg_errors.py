"""PostgreSQL errors as one-paragraph store errors (exit 8) that never show the password."""

from __future__ import annotations

import re

from dydxctl.errors import StoreError
from dydxctl.store_open import redact_url


def pg_store_error(exc: Exception, url: str) -> StoreError:
    """A one-paragraph StoreError (exit 8) for a psycopg error; the password never appears."""
    from psycopg import errors

    shown = redact_url(url)
    text = _scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url)
    lowered = text.lower()
    if isinstance(exc, errors.QueryCanceled):
        return StoreError(
            f"A statement on the store {shown} ran past its statement_timeout ({text}).",
            "The server or another host may be holding a lock; try again, or raise "
            "statement_timeout (e.g. ?options=-cstatement_timeout%3D60s in the URL).",
        )
    if isinstance(exc, errors.InsufficientPrivilege):
        return StoreError(
            f"The PostgreSQL user of {shown} may not use the store ({text}).",
            "Grant it rights on the database (or schema), or pass another --db.",
        )
    if "password authentication failed" in lowered or (
        "role" in lowered and "does not exist" in lowered
    ) or "no pg_hba.conf entry" in lowered or "authentication" in lowered:  # fmt: skip
        return StoreError(
            f"PostgreSQL refused the credentials for {shown} ({text}).",
            "Check the user and password in --db / DYDXCTL_DB (or ~/.pgpass).",
        )
    if "database" in lowered and "does not exist" in lowered:
        return StoreError(
            f"The database named in {shown} does not exist ({text}).",
            "Create it first (e.g. `createdb`), or fix the name in --db.",
        )
    if isinstance(exc, errors.OperationalError) and (
        "connect" in lowered or "timeout expired" in lowered or "server closed" in lowered
    ):
        return StoreError(
            f"Cannot reach the PostgreSQL store at {shown} ({text}).",
            "Check that the server is running and reachable, or pass another --db.",
        )
    return StoreError(f"Store error on {shown}: {text}.", "Pass another --db, or run with --debug.")


def _scrub(text: str, url: str) -> str:
    """Remove the URL's password from a server or libpq message, whatever its quoting."""
    from urllib.parse import unquote, urlsplit

    password = urlsplit(url).password
    for secret in {password, unquote(password or "")} - {None, ""}:
        text = text.replace(secret, "***")
    return re.sub(r"(?i)password=\S+", "password=***", text)
