"""A permissioned trading key: read from a 0600 file, signing for the owner's account.

The file holds what the dYdX web app's "API Trading Keys" page exports — a hex private key
(64 hex digits, `0x` optional) — or a BIP-39 mnemonic (key path m/44'/118'/0'/0/0). The key
never leaves this module's objects; `repr` shows addresses only.

How the chain takes such a tx (protocol/v9.6.1): the CircuitBreakerDecorator
(x/accountplus/ante/circuit_breaker.go) sends a tx whose TxExtension selects authenticators
down the AuthenticatorDecorator path; each message's signer (the owner) must have the
selected authenticator, whose SignatureVerification checks our signature over the SignDoc
built with the *owner's* account number (lib/authentication_request.go getSignerData).
Replay protection (app/ante/replay_protection.go) uses the owner's sequence or timestamp
nonce, and short-term clob txs skip it, exactly as when the owner signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dydxctl import codes
from dydxctl.errors import BadInput, ChainRejected, WalletError

if TYPE_CHECKING:
    from dydxctl.authenticators import Node
    from dydxctl.node import NodeClient
    from dydxctl.wallet import Wallet

MAX_KEY_FILE_BYTES = 1024
PRIVATE_KEY_HEX_DIGITS = 64


def read_key_file(path: Path) -> str:
    """The file's text, refusing anything but an owner-only (0600) regular file."""
    from dydxctl.secret_file import read_secret_file

    hint = "Check --trading-key-file / DYDXCTL_TRADING_KEY_FILE."
    return read_secret_file(
        path, what="trading key file", hint=hint, not_regular_hint=hint,
        max_bytes=MAX_KEY_FILE_BYTES, too_large="too large for a key",
    )  # fmt: skip


def wallet_from_text(text: str) -> Wallet:
    """A hex private key (as the web app exports it) or a mnemonic → the key."""
    from dydxctl.chain import SECP256K1_ORDER
    from dydxctl.wallet import Wallet

    hex_text = text[2:] if text.lower().startswith("0x") else text
    is_hex = all(c in "0123456789abcdefABCDEF" for c in hex_text)
    if len(hex_text) == PRIVATE_KEY_HEX_DIGITS and is_hex:
        key = bytes.fromhex(hex_text)
        if not 0 < int.from_bytes(key, "big") < SECP256K1_ORDER:
            raise WalletError("The trading key is not a valid secp256k1 private key.", "")
        return Wallet(key)
    if len(text.split()) > 1:
        return Wallet.from_mnemonic(text)
    raise WalletError(
        "The trading key file holds neither a 64-digit hex private key nor a mnemonic.",
        "Save the private key the dYdX web app shows under API Trading Keys, alone, in the file.",
    )


@dataclass
class TradingSigner:
    """Signs for `address` (the owner) with the trader's key, through `authenticator_id`.

    It has the Wallet's face (`address`, `public_key`, `sign`), so the use cases sign with
    it unchanged; tx.sign_tx adds the TxExtension when it sees `authenticator_id`."""

    address: str  # the owner: orders, account number and sequence are the owner's
    signer_address: str  # the trading key's own address (never needs to exist on chain)
    public_key: bytes
    authenticator_id: int | None
    _wallet: Wallet
    # The authenticator as the chain returned it, when it was looked up (no extra query).
    authenticator: Node | None = None

    def __repr__(self) -> str:  # never show key material
        return (
            f"TradingSigner(owner={self.address!r}, key={self.signer_address!r}, "
            f"authenticator_id={self.authenticator_id!r})"
        )

    def sign(self, message: bytes) -> bytes:
        return self._wallet.sign(message)


def load_trading_signer(
    path: Path, owner: str | None, authenticator_id: int | None
) -> TradingSigner:
    from dydxctl.wallet import forbid_core_dumps, is_valid_address

    if not owner:
        raise BadInput(
            "A trading key signs for another account, and no owner address was given.",
            "Pass --address OWNER (or DYDXCTL_ADDRESS / `address` in the config file): the "
            "account whose API Trading Key this is (or the owner's mnemonic, if this host has it).",
        )
    if not is_valid_address(owner):
        raise BadInput(f"{owner} is not a dydx address.", "Check --address.")
    forbid_core_dumps()  # before the key is read into memory
    wallet = wallet_from_text(read_key_file(path))
    return TradingSigner(owner, wallet.address, wallet.public_key, authenticator_id, wallet)


def resolve_authenticator(node: NodeClient, signer: TradingSigner) -> None:
    """Set the owner's one authenticator that verifies this key (GetAuthenticators), when
    no --authenticator-id was given."""
    from dydxctl import authenticators as auth

    matches = {}
    for auth_id, kind, config in node.authenticators(signer.address):
        try:
            tree = auth.decode(kind, config)
        except BadInput:
            continue
        if signer.public_key in auth.public_keys(tree):
            matches[auth_id] = tree
    if len(matches) == 1:
        [(signer.authenticator_id, signer.authenticator)] = matches.items()
        return
    if not matches:
        raise ChainRejected(
            f"No authenticator of {signer.address} lets the trading key {signer.signer_address} "
            "sign (dydxaccountplus 1 ErrAuthenticatorNotFound on the chain). Nothing was sent.",
            "Add it with the owner's wallet: `dydxctl keys add --public-key HEX`, or pick the "
            "right key file; `dydxctl keys list --address OWNER` shows the account's keys.",
            codespace=codes.ACCOUNTPLUS,
            code=codes.AUTHENTICATOR_NOT_FOUND,
        )
    raise BadInput(
        f"Several authenticators of {signer.address} accept this key: "
        f"{', '.join(map(str, sorted(matches)))}.",
        "Choose one with --authenticator-id N (or DYDXCTL_AUTHENTICATOR_ID).",
    )


def refuse_locally(signer: object, messages: list[Any]) -> None:  # signer: Wallet or ours
    """When the signer's authenticator is known, refuse what its filters would refuse
    (x/accountplus/authenticator/*.go Authenticate) before anything is signed or sent."""
    from dydxctl import authenticators as auth

    if not isinstance(signer, TradingSigner) or signer.authenticator is None:
        return
    tree = signer.authenticator
    for message in messages:
        action = auth.action_of(message.type_url, message.value)
        refused = auth.refusal(tree, action, signer.public_key)
        if refused is None:
            continue
        code, reason = refused
        # The chain answers with the root's code: an AllOf/AnyOf wraps the failing check.
        outer = {
            auth.ALL_OF: codes.ALL_OF_VERIFICATION_FAILED,
            auth.ANY_OF: codes.ANY_OF_VERIFICATION_FAILED,
        }.get(tree.type, code)
        cause = codes.describe(codes.ACCOUNTPLUS, code)
        described = codes.describe(codes.ACCOUNTPLUS, outer)
        details: dict[str, Any] = {"name": described.name, "local": True}
        if outer != code:
            details["cause"] = {"codespace": codes.ACCOUNTPLUS, "code": code, "name": cause.name}
        raise ChainRejected(
            f"The trading key's authenticator {signer.authenticator_id} does not allow this: "
            f"{reason}. The chain would refuse it with {codes.ACCOUNTPLUS} {outer} "
            f"{described.name} ({cause.name}: {cause.meaning}). Nothing was sent.",
            cause.hint or described.hint,
            codespace=codes.ACCOUNTPLUS,
            code=outer,
            **details,
        )
