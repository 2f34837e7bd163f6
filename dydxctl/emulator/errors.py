"""A refusal with the chain's (codespace, code)."""

from __future__ import annotations


class Reject(Exception):
    def __init__(self, codespace: str, code: int, log: str) -> None:
        super().__init__(log)
        self.codespace, self.code, self.log = codespace, code, log
