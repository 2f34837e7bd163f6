"""Reading a secret (mnemonic or trading key) from a file: one set of refusals for both.

Only an owner-only (0600) regular file is read. A FIFO, a directory or a device is refused
before it is opened for reading (a FIFO would block), and the descriptor is checked again
after opening, so a path swapped for a FIFO since stat() cannot hang the command.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dydxctl.errors import WalletError


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words for an error message."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a plain file"


def read_secret_file(path: Path, *, what: str, hint: str, not_regular_hint: str,
                     max_bytes: int, too_large: str) -> str:  # fmt: skip
    """The file's stripped UTF-8 text. `what` names it ("mnemonic file"), `hint` is the
    option to check; the secret itself never appears in an error."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise WalletError(f"Cannot read the {what} '{path}': {exc.strerror}.", hint) from None
    if not stat.S_ISREG(mode):
        raise WalletError(
            f"The {what} {path} is not a regular file ({file_kind(mode)}).", not_regular_hint
        )
    if stat.S_IMODE(mode) & 0o077:
        raise WalletError(
            f"The {what} {path} can be read by others (mode {stat.S_IMODE(mode):04o}).",
            f"Run: chmod 600 {path}",
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise WalletError(f"Cannot read the {what} '{path}': {exc.strerror}.", hint) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WalletError(f"The {what} {path} is not a regular file.", hint)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise WalletError(f"The {what} {path} is {too_large} ({max_bytes} bytes at most).", hint)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise WalletError(f"The {what} {path} is not text.", hint) from None
