"""The chain's error codes we can meet, keyed by (codespace, code) — never by code alone.

clob: protocol/x/clob/types/errors.go; sdk: cosmos-sdk types/errors/errors.go.
`clob 32` (stateful cancel already exists) and `sdk 32` (wrong sequence) are different.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class ChainCode(NamedTuple):
    name: str
    meaning: str
    hint: str = ""  # what to do, where the generic "check the order" would mislead


CLOB: Final = "clob"
SDK: Final = "sdk"
# x/accountplus/types/keys.go ModuleName (permissioned keys / authenticators).
ACCOUNTPLUS: Final = "dydxaccountplus"
# Go errors never registered with a code (fmt.Errorf) reach ABCI as ("undefined", 1)
# (cosmossdk.io/errors abci.go): e.g. MsgAddAuthenticator's "unsafe" tree refusal.
UNDEFINED: Final = "undefined"

_KEYS_HINT = "Run `dydxctl keys list` (with the owner's wallet) to see what each key may do"

# (codespace, code) -> name as registered in the chain, and a one-line meaning.
CHAIN_CODES: Final[dict[tuple[str, int], ChainCode]] = {
    (CLOB, 4): ChainCode("ErrInvalidOrderQuantums", "quantums is zero or invalid"),
    (CLOB, 5): ChainCode("ErrInvalidOrderGoodTilBlock", "good_til_block is zero or invalid"),
    (CLOB, 6): ChainCode("ErrInvalidOrderSubticks", "subticks is zero or invalid"),
    (CLOB, 7): ChainCode("ErrOrderIsCanceled", "this OrderId was cancelled until a later block"),
    (CLOB, 8): ChainCode("ErrInvalidClob", "the clob pair id names no market"),
    (CLOB, 9): ChainCode(
        "ErrCancelAlreadyExists", "a cancel with an equal or later good_til_block already exists"
    ),
    (CLOB, 10): ChainCode(
        "ErrHeightExceedsGoodTilBlock", "the current height is past good_til_block"
    ),
    (CLOB, 11): ChainCode(
        "ErrGoodTilBlockExceedsShortBlockWindow", "good_til_block is beyond the short-block window"
    ),
    (CLOB, 12): ChainCode(
        "ErrInvalidPlaceOrder",
        "MsgPlaceOrder is invalid (e.g. size off the step, price off the tick)",
    ),
    (CLOB, 24): ChainCode("ErrOrderFullyFilled", "the order is already fully filled"),
    (CLOB, 27): ChainCode("ErrInvalidClobPairParameter", "invalid or unknown clob pair"),
    (CLOB, 29): ChainCode(
        "ErrInvalidStatefulOrderCancellation",
        "the cancel's good_til_block_time is before the order's",
    ),
    (CLOB, 32): ChainCode(
        "ErrStatefulOrderCancellationAlreadyExists", "a cancel for this stateful order is pending"
    ),
    (CLOB, 45): ChainCode("ErrInvalidBatchCancel", "malformed MsgBatchCancel"),
    (CLOB, 46): ChainCode("ErrBatchCancelFailed", "no order of the batch could be cancelled"),
    (CLOB, 2003): ChainCode("ErrPostOnlyWouldCrossMakerOrder", "a post-only order would cross"),
    (CLOB, 2004): ChainCode(
        "ErrImmediateExecutionOrderAlreadyFilled", "IOC/FOK order already filled; rest cancelled"
    ),
    (CLOB, 3000): ChainCode("ErrInvalidOrderFlag", "order_flags is not a valid value"),
    (CLOB, 3001): ChainCode("ErrInvalidStatefulOrderGoodTilBlockTime", "good_til_block_time is 0"),
    (CLOB, 3002): ChainCode(
        "ErrLongTermOrdersCannotRequireImmediateExecution", "a long-term order cannot be IOC/FOK"
    ),
    (CLOB, 3003): ChainCode(
        "ErrTimeExceedsGoodTilBlockTime", "the block time is past good_til_block_time"
    ),
    (CLOB, 3004): ChainCode(
        "ErrGoodTilBlockTimeExceedsStatefulOrderTimeWindow",
        "good_til_block_time is beyond the 95-day stateful window",
    ),
    (CLOB, 3005): ChainCode("ErrStatefulOrderAlreadyExists", "this stateful order already exists"),
    (CLOB, 3006): ChainCode(
        "ErrStatefulOrderDoesNotExist", "the stateful order is not in state (filled, expired, …)"
    ),
    (CLOB, 3008): ChainCode(
        "ErrStatefulOrderPreviouslyCancelled", "this stateful order was already cancelled"
    ),
    (CLOB, 3009): ChainCode(
        "ErrStatefulOrderPreviouslyRemoved", "this stateful order was already removed"
    ),
    (CLOB, 3010): ChainCode(
        "ErrStatefulOrderCancellationFailedForAlreadyRemovedOrder",
        "the order was removed earlier in this block",
    ),
    (CLOB, 6000): ChainCode("ErrInvalidConditionType", "invalid condition type"),
    (CLOB, 6001): ChainCode("ErrInvalidConditionalOrderTriggerSubticks", "invalid trigger price"),
    (CLOB, 10001): ChainCode(
        "ErrOrderWouldExceedMaxOpenOrdersEquityTierLimit", "too many open orders"
    ),
    # x/accountplus/types/errors.go
    (ACCOUNTPLUS, 1): ChainCode(
        "ErrAuthenticatorNotFound",
        "the account has no authenticator with this id (never added, or removed)",
        f"{_KEYS_HINT}; pass an existing --authenticator-id, or `dydxctl keys add` the key.",
    ),
    (ACCOUNTPLUS, 2): ChainCode("ErrInvalidAccountAddress", "the sender is not a valid address"),
    (ACCOUNTPLUS, 3): ChainCode(
        "ErrAuthenticatorDataExceedsMaximumLength", "the authenticator config exceeds 1024 bytes"
    ),
    (ACCOUNTPLUS, 4): ChainCode(
        "ErrSmartAccountNotActive",
        "permissioned keys are switched off on this chain",
        "Sign with the owner's mnemonic instead of a trading key.",
    ),
    (ACCOUNTPLUS, 5): ChainCode("ErrInitializingAuthenticator", "the authenticator is broken"),
    (ACCOUNTPLUS, 6): ChainCode(
        "ErrTxnHasMultipleSigners", "a tx with authenticators must have one signer"
    ),
    (ACCOUNTPLUS, 100): ChainCode(
        "ErrSignatureVerification",
        "the trading key is not the key this authenticator allows (or a wrong account "
        "number / chain id)",
        f"{_KEYS_HINT}; use the key file that belongs to --authenticator-id.",
    ),
    (ACCOUNTPLUS, 101): ChainCode(
        "ErrMessageTypeVerification",
        "this message type is outside the key's message filter",
        f"{_KEYS_HINT}; do this with the owner's mnemonic, or add a key that allows it.",
    ),
    (ACCOUNTPLUS, 102): ChainCode(
        "ErrClobPairIdVerification",
        "this market is outside the key's market filter",
        f"{_KEYS_HINT}; trade an allowed market, or add a key for this one (--market).",
    ),
    (ACCOUNTPLUS, 103): ChainCode(
        "ErrSubaccountVerification",
        "this subaccount is outside the key's subaccount filter",
        f"{_KEYS_HINT}; use an allowed --subaccount, or add a key for it.",
    ),
    (ACCOUNTPLUS, 104): ChainCode(
        "ErrAllOfVerification", "one of the key's AllOf conditions failed", _KEYS_HINT + "."
    ),
    (ACCOUNTPLUS, 105): ChainCode(
        "ErrAnyOfVerification", "none of the key's AnyOf branches allowed this", _KEYS_HINT + "."
    ),
    (UNDEFINED, 1): ChainCode("internal", "the chain refused it with an unregistered error"),
    (SDK, 2): ChainCode("ErrTxDecode", "the transaction bytes could not be decoded"),
    (SDK, 3): ChainCode("ErrInvalidSequence", "invalid sequence"),
    (SDK, 4): ChainCode("ErrUnauthorized", "the signature does not verify"),
    (SDK, 8): ChainCode("ErrInvalidPubKey", "invalid public key"),
    (SDK, 9): ChainCode("ErrUnknownAddress", "the account does not exist on this chain"),
    (SDK, 18): ChainCode("ErrInvalidRequest", "invalid request"),
    (SDK, 30): ChainCode("ErrTxTimeoutHeight", "the tx timeout height has passed"),
    (SDK, 32): ChainCode("ErrWrongSequence", "wrong account sequence or timestamp nonce"),
}

# Answers to a cancel that mean "the order is already gone" — resolve them, don't just fail.
ORDER_GONE_CODES: Final = frozenset({(CLOB, 3006), (CLOB, 3009), (CLOB, 3010), (CLOB, 24)})
# Answers meaning a cancel for the order is already in flight.
CANCEL_ALREADY_PENDING_CODES: Final = frozenset({(CLOB, 9), (CLOB, 32)})
# Answers meaning the order's good-til has passed.
EXPIRED_CODES: Final = frozenset({(CLOB, 10), (CLOB, 3003)})


def describe(codespace: str, code: int) -> ChainCode:
    """The chain's name and meaning for a code, or a neutral description if unknown."""
    return CHAIN_CODES.get(
        (codespace, code),
        ChainCode("unknown", f"{codespace} error {code} (not in dydxctl's table)"),
    )


# The registered descriptions of the accountplus checks an AllOf/AnyOf wraps: their text is
# in the node's log (errorsmod keeps it), and says which condition actually failed.
_INNER_ACCOUNTPLUS = (
    ("Signature verification failed", 100), ("Message type verification failed", 101),
    ("Clob pair id verification failed", 102), ("Subaccount verification failed", 103),
)  # fmt: skip


def inner_cause(codespace: str, code: int, log: str) -> tuple[str, int] | None:
    """For an AllOf/AnyOf refusal (accountplus 104/105), the wrapped check that failed."""
    if codespace != ACCOUNTPLUS or code not in (104, 105):
        return None
    found = [(log.find(text), inner) for text, inner in _INNER_ACCOUNTPLUS if text in log]
    return (ACCOUNTPLUS, min(found)[1]) if found else None
