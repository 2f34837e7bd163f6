"""x/accountplus as the chain runs it: the keeper, the messages and the ante path.

The emulator's own model, written from the v4-chain source (paths relative to protocol/ at
tag protocol/v9.6.1) and sharing nothing with the product; the six authenticator types
are in authenticator_types.py.

- keeper/authenticators.go   AddAuthenticator, RemoveAuthenticator, the per-account store
                             and GetInitializedAuthenticatorForAccount
- keeper/msg_server.go       the messages run in DeliverTx
- ante/ante.go               AuthenticatorDecorator: one selected authenticator per message
- lib/lib.go                 the TxExtension in the body's non_critical_extension_options
- lib/authentication_request.go  the sign bytes: SIGN_MODE_DIRECT over the *account's*
                             (the message signer's) number and the chain id
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dydxctl.emulator.authenticator_types import (
    AUTHENTICATOR_DATA_MAX_LENGTH,
    CODESPACE,
    DESCRIPTIONS,
    ERR_AUTHENTICATOR_DATA_EXCEEDS_MAXIMUM_LENGTH,
    ERR_AUTHENTICATOR_NOT_FOUND,
    ERR_INVALID_ACCOUNT_ADDRESS,
    ERR_SMART_ACCOUNT_NOT_ACTIVE,
    REGISTERED,
    SDK,
    SDK_INVALID_REQUEST,
    SDK_UNAUTHORIZED,
    UNDEFINED,
    URL_ADD_AUTHENTICATOR,
    URL_REMOVE_AUTHENTICATOR,
    URL_TX_EXTENSION,
    AccountPlusError,
    AuthenticationRequest,
    Authenticator,
    registered_error,
    wrapped,
)

__all__ = [
    "URL_ADD_AUTHENTICATOR", "URL_REMOVE_AUTHENTICATOR", "AccountPlusKeeper",
    "StoredAuthenticator", "authenticate_tx", "deliver", "is_bech32_account",
    "selected_authenticators", "validate_basic",
]  # fmt: skip


# --- the keeper ------------------------------------------------------------------------------
@dataclass
class StoredAuthenticator:
    """models.proto AccountAuthenticator."""

    id: int
    type: str
    config: bytes


@dataclass
class AccountPlusKeeper:
    """The module's state: one global id counter, authenticators per account."""

    smart_account_active: bool = True  # params: mainnet turned it on in v6
    next_id: int = 0
    by_account: dict[str, dict[int, StoredAuthenticator]] = field(default_factory=dict)
    # Resting short-term orders placed through authenticators: order key → (owner, ids),
    # for the memclob's check when such an order is matched as a maker.
    maker_authenticators: dict[tuple, tuple[str, tuple[int, ...]]] = field(default_factory=dict)

    # keeper/authenticators.go AddAuthenticator (run by msg_server.go in DeliverTx).
    def add(self, account: str, authenticator_type: str, config: bytes) -> int:
        if not self.smart_account_active:
            raise AccountPlusError(
                SDK, SDK_UNAUTHORIZED, "smart account authentication flow is not active: "
                "unauthorized",
            )  # fmt: skip
        code = REGISTERED.get(authenticator_type)
        if code is None:
            raise AccountPlusError(
                UNDEFINED, 1, f"authenticator type {authenticator_type} is not registered"
            )
        new_id = self.next_id
        try:
            requires_signature = code().on_added(config)
        except AccountPlusError as exc:
            raise wrapped(
                exc, f"`OnAuthenticatorAdded` failed on authenticator type {authenticator_type}"
            ) from None
        if not requires_signature:
            raise AccountPlusError(
                UNDEFINED, 1, "unsafe: authenticator tree does not require signature "
                f"verification all possible paths, type = {authenticator_type}",
            )  # fmt: skip
        self.next_id = new_id + 1
        self.by_account.setdefault(account, {})[new_id] = StoredAuthenticator(
            new_id, authenticator_type, bytes(config)
        )
        return new_id

    def remove(self, account: str, authenticator_id: int) -> None:
        if not self.smart_account_active:
            raise AccountPlusError(
                SDK, SDK_UNAUTHORIZED, "smart account authentication flow is not active: "
                "unauthorized",
            )  # fmt: skip
        if authenticator_id not in self.by_account.get(account, {}):
            raise registered_error(
                ERR_AUTHENTICATOR_NOT_FOUND,
                f"RemoveAuthenticator: failed to get authenticator {authenticator_id} for "
                f"address {account}",
            )
        del self.by_account[account][authenticator_id]

    def still_valid(self, key: tuple) -> bool:
        """keeper/authenticators.go MaybeValidateAuthenticators, as memclob.go runs it for a
        short-term maker order before matching it: every selected authenticator must still
        exist and initialize; else the order is removed (PERMISSIONED_KEY_EXPIRED)."""
        entry = self.maker_authenticators.get(key)
        if entry is None:
            return True
        owner, ids = entry
        try:
            for authenticator_id in ids:
                self.initialized(owner, authenticator_id)
        except AccountPlusError:
            return False
        return True

    def list(self, account: str) -> list[StoredAuthenticator]:
        """GetAuthenticatorDataForAccount: a prefix scan over keys "account/id/", so the
        order is the ids' *decimal text* order (10 before 2), as the chain returns them."""
        stored = self.by_account.get(account, {})
        return [stored[i] for i in sorted(stored, key=lambda i: f"{i}/")]

    def initialized(self, account: str, authenticator_id: int) -> Authenticator:
        """GetInitializedAuthenticatorForAccount."""
        stored = self.by_account.get(account, {}).get(authenticator_id)
        if stored is None:
            raise registered_error(
                ERR_AUTHENTICATOR_NOT_FOUND,
                f"authenticator {authenticator_id} not found for account {account}",
            )
        try:
            return REGISTERED[stored.type]().initialize(stored.config)
        except AccountPlusError as exc:
            raise wrapped(
                exc, f"authenticator {authenticator_id} with type {stored.type} failed to "
                f"initialize for account {account}",
            ) from None  # fmt: skip


# --- the ante path ---------------------------------------------------------------------------
def selected_authenticators(non_critical_extension_options: Any) -> list[int]:
    """lib/lib.go GetAuthenticatorExtension: the first option that unpacks as a TxExtension;
    HasSelectedAuthenticatorTxExtensionSpecified needs at least one id."""
    from google.protobuf.message import DecodeError
    from v4_proto.dydxprotocol.accountplus.tx_pb2 import TxExtension

    for option in non_critical_extension_options:
        if option.type_url != URL_TX_EXTENSION:
            continue
        try:
            return list(TxExtension.FromString(option.value).selected_authenticators)
        except DecodeError:
            continue
    return []


def authenticate_tx(
    keeper: AccountPlusKeeper,
    *,
    selected: list[int],
    messages: list[tuple[str, Any, str]],
    signature: bytes,
    sign_bytes_for: Callable[[str], bytes],
    verify: Callable[[bytes, bytes, bytes], bool],
    simulate: bool = False,
) -> None:
    """ante/ante.go AuthenticatorDecorator.AnteHandle for a tx the CircuitBreakerDecorator
    sent down the authenticator flow. `messages` are (type URL, message, its one signer);
    `sign_bytes_for(account)` is the SIGN_MODE_DIRECT SignDoc over that account's number."""
    if not keeper.smart_account_active:
        raise AccountPlusError(
            CODESPACE, ERR_SMART_ACCOUNT_NOT_ACTIVE, DESCRIPTIONS[ERR_SMART_ACCOUNT_NOT_ACTIVE]
        )
    if not messages:
        raise AccountPlusError(SDK, SDK_INVALID_REQUEST, "no messages in transaction")
    if len(selected) != len(messages):
        raise AccountPlusError(
            SDK, SDK_INVALID_REQUEST, "Mismatch between the number of selected authenticators "
            f"and messages, msg count {len(messages)}, got {len(selected)} selected "
            "authenticators: invalid request",
        )  # fmt: skip
    for index, ((url, msg, signer), authenticator_id) in enumerate(
        zip(messages, selected, strict=True)
    ):
        try:
            authenticator = keeper.initialized(signer, authenticator_id)
        except AccountPlusError as exc:
            raise wrapped(
                exc, "failed to get initialized authenticator (account = "
                f"{signer}, authenticator id = {authenticator_id}, msg index = {index}, "
                f"msg type url = {url})",
            ) from None  # fmt: skip
        request = AuthenticationRequest(
            account=signer, msg_type_url=url, msg=msg, signature=signature,
            sign_bytes=sign_bytes_for(signer), verify=verify, simulate=simulate,
        )  # fmt: skip
        try:
            authenticator.authenticate(request)
        except AccountPlusError as exc:
            raise wrapped(
                exc, f"authentication failed for message {index}, authenticator id "
                f"{authenticator_id}, type {authenticator.type_name}",
            ) from None  # fmt: skip


def validate_basic(type_url: str, msg: Any) -> None:
    """types/message_add_authenticator.go ValidateBasic (baseapp runs it at CheckTx);
    MsgRemoveAuthenticator has none."""
    if type_url == URL_ADD_AUTHENTICATOR:
        _validate_add_basic(is_bech32_account(msg.sender), bytes(msg.data))


def is_bech32_account(address: str) -> bool:
    """sdk.AccAddressFromBech32 with the chain's "dydx" prefix."""
    from dydxctl.emulator.crypto import is_account_address

    return is_account_address(address)


def deliver(keeper: AccountPlusKeeper, type_url: str, msg: Any) -> None:
    """keeper/msg_server.go AddAuthenticator / RemoveAuthenticator (DeliverTx)."""
    if type_url == URL_ADD_AUTHENTICATOR:
        keeper.add(msg.sender, msg.authenticator_type, bytes(msg.data))
    elif type_url == URL_REMOVE_AUTHENTICATOR:
        keeper.remove(msg.sender, msg.id)


def _validate_add_basic(sender_is_valid: bool, data: bytes) -> None:
    if not sender_is_valid:
        raise AccountPlusError(
            CODESPACE, ERR_INVALID_ACCOUNT_ADDRESS, DESCRIPTIONS[ERR_INVALID_ACCOUNT_ADDRESS]
        )
    if len(data) > AUTHENTICATOR_DATA_MAX_LENGTH:
        raise AccountPlusError(
            CODESPACE,
            ERR_AUTHENTICATOR_DATA_EXCEEDS_MAXIMUM_LENGTH,
            DESCRIPTIONS[ERR_AUTHENTICATOR_DATA_EXCEEDS_MAXIMUM_LENGTH],
        )
