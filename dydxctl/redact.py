"""Keep a mnemonic (or a trading key) out of every message, log line and traceback,
wherever a user put it.

A phrase typed where it does not belong (as an option's value, a positional argument, a
config value, another environment variable) would otherwise be echoed back by the error
that refuses it. Everything dydxctl prints or logs passes through `scrub`: the value of
DYDX_MNEMONIC, and any run of MIN_RUN or more consecutive BIP-39 words, are replaced.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping

# Six BIP-39 words in a row do not occur in dydxctl's own messages; a phrase has ≥ 12.
MIN_RUN = 6
REDACTED = "[redacted: looks like a mnemonic]"
MNEMONIC_ENV = "DYDX_MNEMONIC"
_WORD = re.compile(r"[A-Za-z]+")  # any case: a ticker or a chain id is upper-cased
# A trading key: 64 hex digits, `0x` optional, in the case the web app exports (lower) or
# any other that trading_key.wallet_from_text accepts. dydxctl's own 64-digit values, tx
# hashes, are all upper-case without `0x` and stay readable; public keys have 66 digits.
PRIVATE_KEY_REDACTED = "[redacted: looks like a private key]"
_PRIVATE_KEY = re.compile(
    r"(?<![0-9A-Za-z])(?:0x[0-9A-Fa-f]{64}|(?=[0-9A-F]*[a-f])[0-9A-Fa-f]{64})(?![0-9A-Za-z])"
)


@functools.cache
def _wordlist() -> frozenset[str]:
    """The BIP-39 English list, read from the `mnemonic` package's data file (no import
    of the package's crypto)."""
    from importlib.resources import files

    text = files("mnemonic").joinpath("wordlist", "english.txt").read_text(encoding="utf-8")
    return frozenset(text.split())


def scrub(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` with any mnemonic-looking run of words replaced."""
    if not text:
        return text
    text = _PRIVATE_KEY.sub(PRIVATE_KEY_REDACTED, text)
    secret = (env if env is not None else os.environ).get(MNEMONIC_ENV, "").strip()
    if secret:
        text = text.replace(secret, REDACTED)
        normalized = " ".join(secret.split())
        if normalized != secret:
            text = text.replace(normalized, REDACTED)
    words = _wordlist()
    matches = list(_WORD.finditer(text))
    spans: list[tuple[int, int]] = []
    run: list[re.Match[str]] = []

    def close_run() -> None:
        if len(run) >= MIN_RUN:
            spans.append((run[0].start(), run[-1].end()))
        run.clear()

    for match in matches:
        joined = not run or _only_separators(text[run[-1].end() : match.start()])
        is_word = match.group().lower() in words and _whole_word(text, match)
        if is_word and joined:
            run.append(match)
            continue
        close_run()
        if is_word:
            run.append(match)
    close_run()
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


def _only_separators(gap: str) -> bool:
    return bool(gap) and gap.isspace()


def _whole_word(text: str, match: re.Match[str]) -> bool:
    """Not part of a longer token (an address, a hash, CamelCase)."""
    before = text[match.start() - 1] if match.start() else " "
    after = text[match.end()] if match.end() < len(text) else " "
    return not (before.isalnum() or after.isalnum())
