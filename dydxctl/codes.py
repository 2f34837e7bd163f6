"""The chain's error codes a place, cancel or batch cancel can meet, keyed by
(codespace, code) — never by code alone (`clob 32` and `sdk 32` are different errors).

Checked at protocol v9.6.1 (mainnet): clob codes in protocol/x/clob/types/errors.go; sdk
codes in cosmos-sdk types/errors/errors.go at the fork v9.6.1 pins (dydxprotocol/cosmos-sdk
v0.50.6-…, the v0.50 registry). Names are the chain's variable names.
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

_RETRY = "Nothing changed on the chain; try again."
_GRID = "Run `dydxctl markets` for the step and tick sizes."

# (codespace, code) -> the chain's name, a one-line meaning, and what to do about it.
CHAIN_CODES: Final[dict[tuple[str, int], ChainCode]] = {
    (CLOB, 3): ChainCode("ErrInvalidOrderSide", "invalid order side", "Use --side buy or sell."),
    (CLOB, 4): ChainCode("ErrInvalidOrderQuantums", "the size is zero or invalid", _GRID),
    (CLOB, 5): ChainCode(
        "ErrInvalidOrderGoodTilBlock", "good_til_block is zero or invalid", "Use --good-til-blocks."
    ),
    (CLOB, 6): ChainCode("ErrInvalidOrderSubticks", "the price is zero or invalid", _GRID),
    (CLOB, 7): ChainCode(
        "ErrOrderIsCanceled",
        "this OrderId was cancelled until a later block",
        "Place with another --client-id, or a good-til-block after the cancel's.",
    ),
    (CLOB, 8): ChainCode("ErrInvalidClob", "the clob pair id names no market", _GRID),
    (CLOB, 9): ChainCode(
        "ErrMemClobCancelAlreadyExists",
        "a cancel with an equal or later good_til_block already exists",
        "A cancel is already on its way; wait for the order's good-til-block.",
    ),
    (CLOB, 10): ChainCode(
        "ErrHeightExceedsGoodTilBlock",
        "the next block is past good_til_block",
        "The order has expired; nothing to cancel.",
    ),
    (CLOB, 11): ChainCode(
        "ErrGoodTilBlockExceedsShortBlockWindow",
        "good_til_block is beyond the ShortBlockWindow",
        "Use fewer --good-til-blocks (`dydxctl doctor` shows the window).",
    ),
    (CLOB, 12): ChainCode(
        "ErrInvalidPlaceOrder",
        "MsgPlaceOrder is invalid (size off the step, price off the tick)",
        _GRID,
    ),
    (CLOB, 20): ChainCode(
        "ErrInvalidReplacement",
        "a replacement must keep side, time in force and reduce-only",
        "Use another --client-id for a different order.",
    ),
    (CLOB, 24): ChainCode(
        "ErrOrderFullyFilled", "the order is already fully filled", "Nothing to cancel."
    ),
    (CLOB, 27): ChainCode("ErrInvalidClobPairParameter", "invalid or unknown clob pair", _GRID),
    (CLOB, 29): ChainCode(
        "ErrInvalidStatefulOrderCancellation",
        "the cancel's good_til_block_time is before the order's",
        "dydxctl cancels with the order's own good-til time; run `dydxctl sync --import`.",
    ),
    (CLOB, 32): ChainCode(
        "ErrStatefulOrderCancellationAlreadyExists",
        "a cancel for this stateful order is already pending",
        "Wait for the next block; `dydxctl sync` confirms it.",
    ),
    (CLOB, 34): ChainCode(
        "ErrOrderConflictsWithClobPairStatus",
        "the market does not accept this order now (not active, or final settlement)",
        "Check the market's status with `dydxctl markets`.",
    ),
    (CLOB, 44): ChainCode(
        "ErrInvalidTimeInForce", "invalid time in force", "Use gtt, ioc or post-only."
    ),
    (CLOB, 45): ChainCode(
        "ErrInvalidBatchCancel", "malformed MsgBatchCancel", "Report this as a dydxctl bug."
    ),
    (CLOB, 46): ChainCode(
        "ErrBatchCancelFailed",
        "no order of the batch could be cancelled",
        "Run `dydxctl sync` to see which orders are still live.",
    ),
    (CLOB, 47): ChainCode(
        "ErrClobNotInitialized",
        "the node's order book is not ready (it just restarted)",
        "Retry after the next block.",
    ),
    (CLOB, 48): ChainCode(
        "ErrDeprecatedField",
        "a deprecated field is set (fill-or-kill orders are no longer accepted)",
        "Use --time-in-force ioc.",
    ),
    (CLOB, 49): ChainCode(
        "ErrInvalidTwapOrderPlacement", "invalid TWAP order", "Check the TWAP parameters."
    ),
    (CLOB, 50): ChainCode(
        "ErrInvalidBuilderCode", "invalid builder code", "Omit the builder code."
    ),
    (CLOB, 2000): ChainCode(
        "ErrFokOrderCouldNotBeFullyFilled",
        "a fill-or-kill order could not be fully filled",
        "Use --time-in-force ioc.",
    ),
    (CLOB, 2001): ChainCode(
        "ErrReduceOnlyWouldIncreasePositionSize",
        "a reduce-only order would increase the position",
        "Check your position and the side.",
    ),
    (CLOB, 2002): ChainCode(
        "ErrReduceOnlyWouldChangePositionSide",
        "a reduce-only order would flip the position's side",
        "Use a size no larger than your position.",
    ),
    (CLOB, 2003): ChainCode(
        "ErrPostOnlyWouldCrossMakerOrder",
        "a post-only order would cross the book",
        "Move the price away from the book, or drop post-only.",
    ),
    (CLOB, 2004): ChainCode(
        "ErrImmediateExecutionOrderAlreadyFilled",
        "an IOC order already filled; the rest was cancelled",
        "Nothing rests on the book.",
    ),
    (CLOB, 2005): ChainCode(
        "ErrWouldViolateIsolatedSubaccountConstraints",
        "the order would break the isolated subaccount's one-market rule",
        "Use the subaccount that holds this market.",
    ),
    (CLOB, 3000): ChainCode(
        "ErrInvalidOrderFlag", "order_flags is not a valid value", "Report this as a dydxctl bug."
    ),
    (CLOB, 3001): ChainCode(
        "ErrInvalidStatefulOrderGoodTilBlockTime", "good_til_block_time is zero", "Use --good-til."
    ),
    (CLOB, 3002): ChainCode(
        "ErrLongTermOrdersCannotRequireImmediateExecution",
        "a stateful order cannot be IOC/FOK",
        "Use --good-til-blocks N for an IOC order.",
    ),
    (CLOB, 3003): ChainCode(
        "ErrTimeExceedsGoodTilBlockTime",
        "the chain's block time is past good_til_block_time",
        "The order has expired; nothing to cancel.",
    ),
    (CLOB, 3004): ChainCode(
        "ErrGoodTilBlockTimeExceedsStatefulOrderTimeWindow",
        "good_til_block_time is beyond the 95-day stateful window (from the block time)",
        "Use a shorter --good-til.",
    ),
    (CLOB, 3005): ChainCode(
        "ErrStatefulOrderAlreadyExists",
        "this stateful order already exists",
        "Use another --client-id.",
    ),
    (CLOB, 3006): ChainCode(
        "ErrStatefulOrderDoesNotExist",
        "the stateful order is not in state (not yet placed, filled, expired or cancelled)",
        "Run `dydxctl sync`; a placement may still be on its way.",
    ),
    (CLOB, 3007): ChainCode(
        "ErrStatefulOrderCollateralizationCheckFailed",
        "not enough collateral for this stateful order",
        "Deposit collateral or reduce the size.",
    ),
    (CLOB, 3008): ChainCode(
        "ErrStatefulOrderPreviouslyCancelled",
        "this stateful order was cancelled and cannot be placed again",
        "Use another --client-id.",
    ),
    (CLOB, 3009): ChainCode(
        "ErrStatefulOrderPreviouslyRemoved",
        "this stateful order was removed and cannot be placed again",
        "Use another --client-id.",
    ),
    (CLOB, 3010): ChainCode(
        "ErrStatefulOrderCancellationFailedForAlreadyRemovedOrder",
        "the order was already removed from state (filled, expired or cancelled) in the block",
        "Nothing to cancel; `dydxctl sync` records how it ended.",
    ),
    (CLOB, 5001): ChainCode(
        "ErrBlockRateLimitExceeded",
        "too many orders from this account in recent blocks",
        "Wait a few blocks and retry.",
    ),
    (CLOB, 6000): ChainCode(
        "ErrInvalidConditionType", "invalid condition type", "Use a stop or take-profit --type."
    ),
    (CLOB, 6001): ChainCode(
        "ErrInvalidConditionalOrderTriggerSubticks", "invalid trigger price", _GRID
    ),
    (CLOB, 9003): ChainCode(
        "ErrReduceOnlyDisabled",
        "reduce-only is allowed on IOC orders only",
        "Use --time-in-force ioc with --reduce-only.",
    ),
    (CLOB, 10001): ChainCode(
        "ErrOrderWouldExceedMaxOpenOrdersEquityTierLimit",
        "too many open stateful orders for this subaccount's equity tier",
        "Cancel some orders or add equity.",
    ),
    (CLOB, 11000): ChainCode(
        "ErrInvalidOrderRouterAddress", "invalid order router address", "Omit the order router."
    ),
    (SDK, 2): ChainCode(
        "ErrTxDecode", "the transaction bytes could not be decoded", "Report this as a dydxctl bug."
    ),
    (SDK, 3): ChainCode("ErrInvalidSequence", "invalid sequence", _RETRY),
    (SDK, 4): ChainCode(
        "ErrUnauthorized", "the signature does not verify", "Check --chain-id and the key."
    ),
    (SDK, 8): ChainCode("ErrInvalidPubKey", "invalid public key", "Check the key."),
    (SDK, 9): ChainCode(
        "ErrUnknownAddress", "the account does not exist on this chain", "Fund the address first."
    ),
    (SDK, 18): ChainCode(
        "ErrInvalidRequest", "invalid request", "The node log says which field it refused."
    ),
    (SDK, 19): ChainCode(
        "ErrTxInMempoolCache",
        "these exact transaction bytes were already sent to this node",
        "The first send's answer counts; nothing new was sent.",
    ),
    (SDK, 20): ChainCode("ErrMempoolIsFull", "the node's mempool is full", _RETRY),
    (SDK, 21): ChainCode(
        "ErrTxTooLarge", "the transaction is too large", "Cancel fewer orders per batch."
    ),
    (SDK, 30): ChainCode("ErrTxTimeoutHeight", "the tx timeout height has passed", _RETRY),
    (SDK, 31): ChainCode(
        "ErrUnknownExtensionOptions",
        "the node does not accept the tx's extension options",
        "The node may not support permissioned keys.",
    ),
    (SDK, 32): ChainCode(
        "ErrWrongSequence", "wrong account sequence or timestamp nonce", "Check the local clock."
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
}

# Answers to a cancel that mean "the order is already gone" — resolve them, don't just fail.
# (3009/3010 come only from a block result, GetTx; 3006 at CheckTx.)
ORDER_GONE_CODES: Final = frozenset({(CLOB, 3006), (CLOB, 3009), (CLOB, 3010), (CLOB, 24)})
# Answers meaning a cancel for the order is already in flight.
CANCEL_ALREADY_PENDING_CODES: Final = frozenset({(CLOB, 9), (CLOB, 32)})
# Answers meaning the order's good-til has passed by the chain's own clock.
EXPIRED_CODES: Final = frozenset({(CLOB, 10), (CLOB, 3003)})
# The node's mempool cache answered: identical bytes were sent before
# (cometbft mempool `ErrTxInCache` → sdk 19); the first send's answer stands.
ALREADY_SENT: Final = (SDK, 19)
# The signature's sequence is not the account's (cosmos-sdk types/errors ErrWrongSequence);
# for a timestamp nonce, a nonce outside the chain's window
# (protocol/x/accountplus/keeper/timestampnonce.go).
WRONG_SEQUENCE: Final = (SDK, 32)
# protocol/x/accountplus/types/errors.go: no such authenticator for the account, and the
# codes an AllOf / AnyOf root answers with when a check it wraps fails.
AUTHENTICATOR_NOT_FOUND: Final = 1
ALL_OF_VERIFICATION_FAILED: Final = 104
ANY_OF_VERIFICATION_FAILED: Final = 105


def describe(codespace: str, code: int) -> ChainCode:
    """The chain's name, meaning and hint for a code; unknown ones shown raw."""
    return CHAIN_CODES.get(
        (codespace, code),
        ChainCode(
            "unknown",
            f"(codespace '{codespace}', code {code}) is not in dydxctl's table",
            "The node's log above says what the chain objected to.",
        ),
    )


# The registered descriptions of the accountplus checks an AllOf/AnyOf wraps: their text is
# in the node's log (errorsmod keeps it), and says which condition actually failed.
_INNER_ACCOUNTPLUS = (
    ("Signature verification failed", 100), ("Message type verification failed", 101),
    ("Clob pair id verification failed", 102), ("Subaccount verification failed", 103),
)  # fmt: skip


def inner_cause(codespace: str, code: int, log: str) -> tuple[str, int] | None:
    """For an AllOf/AnyOf refusal (accountplus 104/105), the wrapped check that failed."""
    if codespace != ACCOUNTPLUS or code not in (
        ALL_OF_VERIFICATION_FAILED,
        ANY_OF_VERIFICATION_FAILED,
    ):
        return None
    found = [(log.find(text), inner) for text, inner in _INNER_ACCOUNTPLUS if text in log]
    return (ACCOUNTPLUS, min(found)[1]) if found else None
