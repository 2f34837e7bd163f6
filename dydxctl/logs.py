"""Logging setup: warnings to stderr by default, more with -v/--debug, a 0600 --log-file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

LOGGER_NAME = "dydxctl"
_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _Scrub(logging.Filter):
    """Last line of defence: no log record carries a mnemonic-looking run of words."""

    def filter(self, record: logging.LogRecord) -> bool:
        from dydxctl.redact import scrub

        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(*, verbose: bool, debug: bool, log_file: Path | None) -> None:
    """Configure the `dydxctl` logger once per process (idempotent for tests)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    console.addFilter(_Scrub())
    logger.addHandler(console)
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created owner-only before the handler opens it: logs name orders and addresses.
        fd = os.open(log_file, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        os.close(fd)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG if debug else logging.INFO)
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        file_handler.addFilter(_Scrub())
        logger.addHandler(file_handler)


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")
