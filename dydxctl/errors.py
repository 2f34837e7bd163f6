"""The error tree. Each class is one row of the exit-code table (SPEC §3).

    DydxctlError                 (base; never raised itself)
    ├── InternalError            1  a bug in dydxctl
    ├── BadInput                 2  bad input or usage
    │   ├── DuplicateOrder       2  the OrderId (client id …) is already stored
    │   └── EndpointMismatch     2  the Indexer's market parameters differ from the node's
    ├── OrderNotFound            3  no metadata and unknown to the Indexer
    ├── AlreadyFinal             4  filled or cancelled: nothing to cancel
    ├── OrderExpired             5  past its good-til: nothing to cancel
    ├── ChainRejected            6  the node answered with a non-zero code
    ├── Unreachable              7  node or Indexer down or timed out
    ├── StoreError               8  locked, corrupt, newer schema, read-only
    ├── Disabled                 9  switched off by a feature flag
    ├── WalletError             10  no/invalid mnemonic, unsafe file mode
    ├── WaitTimedOut            11  `cancel --wait` ended before the order was final
    └── Interrupted            130  Ctrl-C (SIGINT), as shells report it (128 + 2)

Every error carries a short title, what happened (message) and what to do (hint),
so the CLI can render it as a panel or as JSON without knowing the class.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DydxctlError(Exception):
    """Base of every error the CLI turns into an exit code."""

    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str, hint: str = "", **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.exit_code,
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
        }
        if self.details:
            out["details"] = self.details
        return out


class InternalError(DydxctlError):
    exit_code = 1
    kind = "internal"
    title = "Internal error"


class BadInput(DydxctlError):
    exit_code = 2
    kind = "bad_input"
    title = "Bad input"


class DuplicateOrder(BadInput):
    kind = "duplicate_order"
    title = "Order already stored"


class EndpointMismatch(BadInput):
    """--indexer and --grpc disagree on a market's ClobPair: what would be signed is not
    what the chain would read, so nothing is signed."""

    kind = "endpoint_mismatch"
    title = "Indexer and node disagree"


class OrderNotFound(DydxctlError):
    exit_code = 3
    kind = "not_found"
    title = "Order not found"


class AlreadyFinal(DydxctlError):
    exit_code = 4
    kind = "already_final"
    title = "Nothing to cancel"


class OrderExpired(DydxctlError):
    exit_code = 5
    kind = "expired"
    title = "Order expired"


class ChainRejected(DydxctlError):
    exit_code = 6
    kind = "chain_rejected"
    title = "Rejected by the chain"

    def __init__(
        self, message: str, hint: str = "", *, codespace: str, code: int, **details: Any
    ) -> None:
        super().__init__(message, hint, codespace=codespace, code=code, **details)
        self.codespace = codespace
        self.code = code


class Unreachable(DydxctlError):
    exit_code = 7
    kind = "unreachable"
    title = "Node or Indexer unreachable"


class StoreError(DydxctlError):
    exit_code = 8
    kind = "store"
    title = "Order store error"


class Disabled(DydxctlError):
    exit_code = 9
    kind = "disabled"
    title = "Disabled by a feature flag"


class WalletError(DydxctlError):
    exit_code = 10
    kind = "wallet"
    title = "Wallet error"


class WaitTimedOut(DydxctlError):
    exit_code = 11
    kind = "wait_timed_out"
    title = "Not final yet"


class Interrupted(DydxctlError):
    exit_code = 130
    kind = "interrupted"
    title = "Interrupted"


ALL_ERRORS: tuple[type[DydxctlError], ...] = (
    InternalError,
    BadInput,
    OrderNotFound,
    AlreadyFinal,
    OrderExpired,
    ChainRejected,
    Unreachable,
    StoreError,
    Disabled,
    WalletError,
    WaitTimedOut,
    Interrupted,
)
