"""The six x/accountplus authenticator types as the chain runs them (the emulator's model).

Written from protocol/x/accountplus at tag protocol/v9.6.1, sharing nothing with the
product: authenticator/signature_authenticator.go, message_filter.go,
subaccount_filter.go, clob_pair_id_filter.go, all_of.go, any_of.go and composite.go (the
sub-authenticator configs); types/errors.go for codespace "dydxaccountplus" and its codes.

Errors are raised as the emulator's `Reject(codespace, code, log)`, the ABCI answer. Go
errors that are not registered (fmt.Errorf) answer ("undefined", 1) on the chain
(cosmossdk.io/errors abci.go: internalABCICodespace/Code).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from dydxctl.emulator.errors import Reject

# types/keys.go ModuleName.
CODESPACE: Final = "dydxaccountplus"
SDK: Final = "sdk"
UNDEFINED: Final = "undefined"  # unregistered Go errors (cosmossdk.io/errors abci.go)

# types/errors.go
ERR_AUTHENTICATOR_NOT_FOUND: Final = 1
ERR_INVALID_ACCOUNT_ADDRESS: Final = 2
ERR_AUTHENTICATOR_DATA_EXCEEDS_MAXIMUM_LENGTH: Final = 3
ERR_SMART_ACCOUNT_NOT_ACTIVE: Final = 4
ERR_INITIALIZING_AUTHENTICATOR: Final = 5
ERR_TXN_HAS_MULTIPLE_SIGNERS: Final = 6
ERR_SIGNATURE_VERIFICATION: Final = 100
ERR_MESSAGE_TYPE_VERIFICATION: Final = 101
ERR_CLOB_PAIR_ID_VERIFICATION: Final = 102
ERR_SUBACCOUNT_VERIFICATION: Final = 103
ERR_ALL_OF_VERIFICATION: Final = 104
ERR_ANY_OF_VERIFICATION: Final = 105
DESCRIPTIONS: Final = {
    ERR_AUTHENTICATOR_NOT_FOUND: "Authenticator is not found",
    ERR_INVALID_ACCOUNT_ADDRESS: "Invalid account address",
    ERR_AUTHENTICATOR_DATA_EXCEEDS_MAXIMUM_LENGTH: "Authenticator data exceeds maximum length",
    ERR_SMART_ACCOUNT_NOT_ACTIVE: "Smart account is not active",
    ERR_INITIALIZING_AUTHENTICATOR: "Error initializing authenticator",
    ERR_TXN_HAS_MULTIPLE_SIGNERS: "The transaction has multiple signers",
    ERR_SIGNATURE_VERIFICATION: "Signature verification failed",
    ERR_MESSAGE_TYPE_VERIFICATION: "Message type verification failed",
    ERR_CLOB_PAIR_ID_VERIFICATION: "Clob pair id verification failed",
    ERR_SUBACCOUNT_VERIFICATION: "Subaccount verification failed",
    ERR_ALL_OF_VERIFICATION: "AllOf verification failed",
    ERR_ANY_OF_VERIFICATION: "AnyOf verification failed",
}
# cosmos-sdk types/errors/errors.go
SDK_INVALID_REQUEST: Final = 18
SDK_UNAUTHORIZED: Final = 4

# types/message_add_authenticator.go AUTHENTICATOR_DATA_MAX_LENGTH.
AUTHENTICATOR_DATA_MAX_LENGTH: Final = 1024
# authenticator/constants.go SEPARATOR (filter configs are comma-separated lists).
SEPARATOR: Final = ","
# cosmos-sdk crypto/keys/secp256k1 PubKeySize.
SECP256K1_PUBKEY_SIZE: Final = 33

URL_TX_EXTENSION: Final = "/dydxprotocol.accountplus.TxExtension"
URL_ADD_AUTHENTICATOR: Final = "/dydxprotocol.accountplus.MsgAddAuthenticator"
URL_REMOVE_AUTHENTICATOR: Final = "/dydxprotocol.accountplus.MsgRemoveAuthenticator"
URL_PLACE: Final = "/dydxprotocol.clob.MsgPlaceOrder"
URL_CANCEL: Final = "/dydxprotocol.clob.MsgCancelOrder"
URL_BATCH_CANCEL: Final = "/dydxprotocol.clob.MsgBatchCancel"


AccountPlusError = Reject  # a refusal with the chain's (codespace, code) and log


def registered_error(code: int, context: str) -> AccountPlusError:
    """errorsmod.Wrapf(types.ErrX, context): the log reads "context: description"."""
    return AccountPlusError(CODESPACE, code, f"{context}: {DESCRIPTIONS[code]}")


def wrapped(error: AccountPlusError, context: str) -> AccountPlusError:
    """errorsmod.Wrapf keeps the inner code and prefixes the log."""
    return AccountPlusError(error.codespace, error.code, f"{context}: {error.log}")


@dataclass(frozen=True)
class AuthenticationRequest:
    """types/requests.go AuthenticationRequest, the parts the six authenticators read."""

    account: str
    msg_type_url: str
    msg: Any
    signature: bytes
    sign_bytes: bytes
    verify: Callable[[bytes, bytes, bytes], bool]
    simulate: bool = False


# --- the message fields the filters look at -----------------------------------------------
def _subaccount_numbers(url: str, msg: Any) -> list[int] | None:
    """subaccount_filter.go Authenticate: place/cancel/batch-cancel; other messages pass."""
    if url == URL_PLACE:
        return [msg.order.order_id.subaccount_id.number]
    if url == URL_CANCEL:
        return [msg.order_id.subaccount_id.number]
    if url == URL_BATCH_CANCEL:
        return [msg.subaccount_id.number]
    return None


def _clob_pair_ids(url: str, msg: Any) -> list[int] | None:
    """clob_pair_id_filter.go Authenticate: every batch of a MsgBatchCancel counts."""
    if url == URL_PLACE:
        return [msg.order.order_id.clob_pair_id]
    if url == URL_CANCEL:
        return [msg.order_id.clob_pair_id]
    if url == URL_BATCH_CANCEL:
        return [batch.clob_pair_id for batch in msg.short_term_cancels]
    return None


def _go_set(values: set[Any]) -> str:
    """How Go prints the whitelist map in the filters' error text (map[a:{} b:{}])."""
    return "map[" + " ".join(f"{v}:{{}}" for v in sorted(values)) + "]"


def _parse_uint32_list(config: bytes) -> set[int]:
    """strconv.ParseUint(str, 10, 32) of each comma-separated item (an unregistered error)."""
    numbers = set()
    for item in config.decode("utf-8", "replace").split(SEPARATOR):
        if not item.isascii() or not item.isdigit() or int(item) >= 2**32:
            raise AccountPlusError(
                UNDEFINED, 1, f'strconv.ParseUint: parsing "{item}": invalid syntax'
            )
        numbers.add(int(item))
    return numbers


# --- the six authenticators ----------------------------------------------------------------
class Authenticator:
    type_name: str = ""

    def on_added(self, config: bytes) -> bool:
        """OnAuthenticatorAdded: may refuse the config; says if it verifies a signature."""
        return False

    def initialize(self, config: bytes) -> Authenticator:
        raise NotImplementedError

    def authenticate(self, request: AuthenticationRequest) -> None:
        raise NotImplementedError


class SignatureVerification(Authenticator):
    """signature_authenticator.go: the 33-byte compressed secp256k1 key in the config."""

    type_name = "SignatureVerification"

    def __init__(self, public_key: bytes = b"") -> None:
        self.public_key = public_key

    def on_added(self, config: bytes) -> bool:
        if len(config) != SECP256K1_PUBKEY_SIZE:
            raise AccountPlusError(
                UNDEFINED, 1, "invalid secp256k1 public key size, expected "
                f"{SECP256K1_PUBKEY_SIZE}, got {len(config)}",
            )  # fmt: skip
        return True

    def initialize(self, config: bytes) -> Authenticator:
        # Initialize keeps any config; a wrong length simply never verifies.
        return SignatureVerification(bytes(config))

    def authenticate(self, request: AuthenticationRequest) -> None:
        if request.simulate:
            return
        if not request.verify(self.public_key, request.sign_bytes, request.signature):
            raise registered_error(
                ERR_SIGNATURE_VERIFICATION,
                "signature verification failed; please verify account number, sequence and "
                "chain-id",
            )


class MessageFilter(Authenticator):
    """message_filter.go: the config is a comma-separated list of message type URLs."""

    type_name = "MessageFilter"

    def __init__(self, whitelist: frozenset[str] = frozenset()) -> None:
        self.whitelist = whitelist

    def initialize(self, config: bytes) -> Authenticator:
        return MessageFilter(frozenset(config.decode("utf-8", "replace").split(SEPARATOR)))

    def authenticate(self, request: AuthenticationRequest) -> None:
        if request.msg_type_url not in self.whitelist:
            raise registered_error(
                ERR_MESSAGE_TYPE_VERIFICATION,
                f"message types do not match. Got {request.msg_type_url}, Expected "
                f"{_go_set(set(self.whitelist))}",
            )


class SubaccountFilter(Authenticator):
    """subaccount_filter.go: comma-separated subaccount numbers."""

    type_name = "SubaccountFilter"

    def __init__(self, whitelist: frozenset[int] = frozenset()) -> None:
        self.whitelist = whitelist

    def initialize(self, config: bytes) -> Authenticator:
        return SubaccountFilter(frozenset(_parse_uint32_list(config)))

    def authenticate(self, request: AuthenticationRequest) -> None:
        for number in _subaccount_numbers(request.msg_type_url, request.msg) or []:
            if number not in self.whitelist:
                raise registered_error(
                    ERR_SUBACCOUNT_VERIFICATION,
                    f"subaccount number {number} not in whitelist {_go_set(set(self.whitelist))}",
                )


class ClobPairIdFilter(Authenticator):
    """clob_pair_id_filter.go: comma-separated clob pair ids (markets)."""

    type_name = "ClobPairIdFilter"

    def __init__(self, whitelist: frozenset[int] = frozenset()) -> None:
        self.whitelist = whitelist

    def initialize(self, config: bytes) -> Authenticator:
        return ClobPairIdFilter(frozenset(_parse_uint32_list(config)))

    def authenticate(self, request: AuthenticationRequest) -> None:
        for clob_pair_id in _clob_pair_ids(request.msg_type_url, request.msg) or []:
            if clob_pair_id not in self.whitelist:
                raise registered_error(
                    ERR_CLOB_PAIR_ID_VERIFICATION,
                    f"order id {clob_pair_id} not in whitelist {_go_set(set(self.whitelist))}",
                )


def _sub_init_datas(config: bytes) -> list[tuple[str, bytes]]:
    """json.Unmarshal into []SubAuthenticatorInitData{Type string; Config []byte}: Go takes
    a []byte from a base64 string or from an array of numbers, and matches keys
    case-insensitively."""
    try:
        items = json.loads(config.decode("utf-8"))
        if not isinstance(items, list):
            raise ValueError("not an array")
        out = []
        for item in items:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            lowered = {str(k).lower(): v for k, v in item.items()}
            kind, raw = lowered.get("type", ""), lowered.get("config")
            if not isinstance(kind, str):
                raise ValueError("type is not a string")
            if raw is None:
                data = b""
            elif isinstance(raw, str):
                data = base64.b64decode(raw, validate=True)
            elif isinstance(raw, list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
                data = bytes(raw)
            else:
                raise ValueError("config is neither base64 nor a byte array")
            out.append((kind, data))
        return out
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise AccountPlusError(
            UNDEFINED, 1, f"failed to unmarshal sub-authenticator init data: {exc}"
        ) from None


class _Composite(Authenticator):
    """all_of.go / any_of.go / composite.go (single signature assignment)."""

    is_any_of = False

    def __init__(self, subs: list[Authenticator] | None = None) -> None:
        self.subs = subs or []

    def on_added(self, config: bytes) -> bool:
        datas = _sub_init_datas(config)
        if len(datas) <= 1:
            raise AccountPlusError(SDK, SDK_INVALID_REQUEST, "no sub-authenticators provided")
        # composite.go onSubAuthenticatorsAdded: AnyOf needs a signature on every branch,
        # AllOf on at least one.
        requires_signature = self.is_any_of
        for kind, data in datas:
            code = REGISTERED.get(kind)
            if code is None:
                raise AccountPlusError(
                    SDK, SDK_INVALID_REQUEST, "sub-authenticator failed to be added in function "
                    "`OnAuthenticatorAdded` as type is not registered in manager",
                )  # fmt: skip
            sub = code().on_added(data)
            if self.is_any_of:
                requires_signature = requires_signature and sub
            else:
                requires_signature = requires_signature or sub
        return requires_signature

    def initialize(self, config: bytes) -> Authenticator:
        datas = _sub_init_datas(config)
        if len(datas) <= 1:
            raise AccountPlusError(
                SDK, SDK_INVALID_REQUEST,
                f"{self.type_name[0].lower()}{self.type_name[1:]} must have at least 2 "
                "sub-authenticators",
            )  # fmt: skip
        subs = []
        for kind, data in datas:
            code = REGISTERED.get(kind)
            if code is None:  # the chain would dereference nil here; refuse instead
                raise AccountPlusError(SDK, SDK_INVALID_REQUEST, f"unknown type {kind}")
            subs.append(code().initialize(data))
        return type(self)(subs)


class AllOf(_Composite):
    type_name = "AllOf"

    def authenticate(self, request: AuthenticationRequest) -> None:
        for sub in self.subs:
            try:
                sub.authenticate(request)
            except AccountPlusError as exc:
                # all_of.go: errorsmod.Wrap(types.ErrAllOfVerification, err.Error()).
                raise AccountPlusError(
                    CODESPACE, ERR_ALL_OF_VERIFICATION,
                    f"{exc.log}: {DESCRIPTIONS[ERR_ALL_OF_VERIFICATION]}",
                ) from None  # fmt: skip


class AnyOf(_Composite):
    type_name = "AnyOf"
    is_any_of = True

    def authenticate(self, request: AuthenticationRequest) -> None:
        failures = []
        for index, sub in enumerate(self.subs):
            try:
                sub.authenticate(request)
                return
            except AccountPlusError as exc:
                failures.append(f"[{sub.type_name} (id = .{index})] {exc.log}; ")
        raise registered_error(
            ERR_ANY_OF_VERIFICATION,
            "all sub-authenticators failed to authenticate: " + "; ".join(failures),
        )


# app/app.go (line ~1120) registers exactly these six with the AuthenticatorManager;
# the Partitioned variants in the source are not registered.
REGISTERED: Final[dict[str, type[Authenticator]]] = {
    code.type_name: code
    for code in (
        SignatureVerification, MessageFilter, SubaccountFilter, ClobPairIdFilter, AllOf, AnyOf
    )
}  # fmt: skip
