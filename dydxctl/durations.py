"""Durations ("90s", "12h", "28d", "1h30m") and times ("2026-12-01T00:00:00Z") from users."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dydxctl.errors import BadInput

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(?:(\d+)(w|d|h|m|s))+$")
_PART = re.compile(r"(\d+)(w|d|h|m|s)")


def parse_duration(text: str) -> int:
    """Seconds in a duration like "90s", "12h", "28d" or "1h30m"; refuses anything else."""
    cleaned = text.strip().lower()
    if not _DURATION.match(cleaned):
        if not cleaned:
            raise BadInput(
                "The duration is empty.",
                "Write a number with a unit: s, m, h, d or w, e.g. 90s, 12h, 28d, 1h30m.",
            )
        raise BadInput(
            f"'{text}' is not a duration.",
            "Write a number with a unit: s, m, h, d or w, e.g. 90s, 12h, 28d, 1h30m.",
        )
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(cleaned))


# Longest --keep / [prune] keep: a century. Longer values overflow date arithmetic and mean
# "keep for ever", which is what not pruning already does.
MAX_KEEP_SECONDS = 36_500 * 86_400


def parse_keep(text: str, source: str = "--keep") -> int:
    """A prune retention like "7d", between 0 seconds and MAX_KEEP_SECONDS."""
    seconds = parse_duration(text)
    if seconds > MAX_KEEP_SECONDS:
        raise BadInput(
            f"{source} {text!r} is too long: at most {MAX_KEEP_SECONDS // 86_400}d.",
            "Use a duration between 0s and 36500d, e.g. 7d.",
        )
    return seconds


def parse_time(text: str) -> datetime:
    """An ISO-8601 time; without a zone it is taken as UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInput(
            f"'{text}' is not an ISO-8601 time.", "Use e.g. 2026-12-01T12:00:00Z."
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def good_til_to_unix(text: str, now_unix: int) -> int:
    """A --good-til value (duration from now, or an ISO time) as unix seconds."""
    if text and text.strip()[0].isdigit() and _DURATION.match(text.strip().lower()):
        return now_unix + parse_duration(text)
    return int(parse_time(text).timestamp())


def iso_ms(unix_seconds: float) -> str:
    """Sortable ISO-8601 UTC with milliseconds, as the Indexer writes times (…T12:00:00.000Z)."""
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def format_unix(seconds: int | None) -> str:
    """Unix seconds as an ISO time in UTC, for tables."""
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
