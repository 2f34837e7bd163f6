"""Permissioned trading keys: x/accountplus authenticator configs, built, decoded and checked.

An authenticator is (type, config bytes). The chain (protocol/x/accountplus/authenticator,
tag protocol/v9.6.1) defines six types:

- SignatureVerification  config = the 33-byte compressed secp256k1 public key
- MessageFilter          config = comma-separated message type URLs
- SubaccountFilter       config = comma-separated subaccount numbers (uint32)
- ClobPairIdFilter       config = comma-separated clob pair ids (uint32)
- AllOf / AnyOf          config = JSON [{"type": T, "config": base64(bytes)}, …], ≥ 2 items

`validate` refuses locally what the chain would refuse when adding (keeper/authenticators.go
AddAuthenticator, composite.go onSubAuthenticatorsAdded) or when using (Initialize).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Final

from dydxctl import chain
from dydxctl.errors import BadInput

SIGNATURE_VERIFICATION: Final = "SignatureVerification"
MESSAGE_FILTER: Final = "MessageFilter"
SUBACCOUNT_FILTER: Final = "SubaccountFilter"
CLOB_PAIR_ID_FILTER: Final = "ClobPairIdFilter"
ALL_OF: Final = "AllOf"
ANY_OF: Final = "AnyOf"
# app/app.go registers these with the AuthenticatorManager; nothing else can be added.
TYPES: Final = (
    SIGNATURE_VERIFICATION, MESSAGE_FILTER, SUBACCOUNT_FILTER, CLOB_PAIR_ID_FILTER, ALL_OF, ANY_OF
)  # fmt: skip
COMPOSITES: Final = frozenset({ALL_OF, ANY_OF})
# authenticator/constants.go SEPARATOR.
SEPARATOR: Final = ","
# types/message_add_authenticator.go AUTHENTICATOR_DATA_MAX_LENGTH (ValidateBasic, accountplus 3).
AUTHENTICATOR_DATA_MAX_LENGTH: Final = 1024
UINT32_MAX: Final = 2**32 - 1
# What a trading key may do: place and cancel orders, one by one or in batches.
TRADING_MESSAGES: Final = (
    chain.MSG_PLACE_ORDER_URL, chain.MSG_CANCEL_ORDER_URL, chain.MSG_BATCH_CANCEL_URL
)  # fmt: skip
MESSAGE_WORDS: Final = {
    chain.MSG_PLACE_ORDER_URL: "place",
    chain.MSG_CANCEL_ORDER_URL: "cancel",
    chain.MSG_BATCH_CANCEL_URL: "batch-cancel",
}


@dataclass(frozen=True)
class Node:
    """A decoded authenticator tree: a leaf's `value` is the parsed config, a composite's
    `children` its sub-authenticators."""

    type: str
    config: bytes
    value: Any = None
    children: tuple[Node, ...] = ()


def _refuse(message: str) -> BadInput:
    return BadInput(f"The chain would refuse this authenticator: {message}.", _HINT)


_HINT = (
    "A trading key is `dydxctl keys add --public-key HEX` (a 33-byte compressed key), "
    "optionally limited with --subaccount N and --market TICKER."
)


# --- building --------------------------------------------------------------------------------
def signature_verification(public_key: bytes) -> tuple[str, bytes]:
    return SIGNATURE_VERIFICATION, bytes(public_key)


def message_filter(type_urls: list[str] | tuple[str, ...]) -> tuple[str, bytes]:
    return MESSAGE_FILTER, SEPARATOR.join(type_urls).encode()


def subaccount_filter(numbers: list[int]) -> tuple[str, bytes]:
    return SUBACCOUNT_FILTER, SEPARATOR.join(str(n) for n in sorted(set(numbers))).encode()


def clob_pair_id_filter(ids: list[int]) -> tuple[str, bytes]:
    return CLOB_PAIR_ID_FILTER, SEPARATOR.join(str(i) for i in sorted(set(ids))).encode()


def composite(kind: str, subs: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """AllOf/AnyOf config: SubAuthenticatorInitData JSON; Go's encoding/json reads a []byte
    from base64 text (types/iface.go), which is also what the official clients send."""
    items = [{"type": t, "config": base64.b64encode(c).decode()} for t, c in subs]
    return kind, json.dumps(items, separators=(",", ":")).encode()


def trading_key(
    public_key: bytes,
    *,
    subaccounts: list[int] | None = None,
    clob_pair_ids: list[int] | None = None,
) -> tuple[str, bytes]:
    """AllOf(signature by the trader's key, place/cancel/batch-cancel only, [subaccounts],
    [markets]): every condition must hold, and the tree verifies a signature on every path,
    which AddAuthenticator demands."""
    subs = [signature_verification(public_key), message_filter(TRADING_MESSAGES)]
    if subaccounts:
        subs.append(subaccount_filter(subaccounts))
    if clob_pair_ids:
        subs.append(clob_pair_id_filter(clob_pair_ids))
    return composite(ALL_OF, subs)


# --- decoding and checking -------------------------------------------------------------------
def _uint32_list(config: bytes, what: str) -> tuple[int, ...]:
    """strconv.ParseUint(item, 10, 32) for each comma-separated item (the filters' Initialize)."""
    items = config.decode("utf-8", "replace").split(SEPARATOR)
    if not all(i.isascii() and i.isdigit() and int(i) <= UINT32_MAX for i in items):
        raise _refuse(f"the {what} filter {config!r} is not a comma-separated list of uint32")
    return tuple(sorted({int(i) for i in items}))


def _sub_configs(config: bytes) -> list[tuple[str, bytes]]:
    try:
        items = json.loads(config.decode("utf-8"))
        if not isinstance(items, list):
            raise ValueError
        out = []
        for item in items:
            lowered = {str(k).lower(): v for k, v in item.items()}
            raw = lowered.get("config")
            if isinstance(raw, list):
                data = bytes(raw)
            else:
                data = base64.b64decode(raw or "", validate=True)
            out.append((str(lowered.get("type", "")), data))
        return out
    except (ValueError, AttributeError, TypeError, UnicodeDecodeError, binascii.Error):
        raise _refuse("a composite config is not a JSON list of {type, config}") from None


def decode(kind: str, config: bytes) -> Node:
    """Parse a (type, config) as the chain's Initialize would; BadInput when it could not."""
    if kind == SIGNATURE_VERIFICATION:
        if len(config) != chain.SECP256K1_PUBKEY_SIZE:
            raise _refuse(
                f"a public key has {chain.SECP256K1_PUBKEY_SIZE} bytes, this one {len(config)} "
                "(signature_authenticator.go OnAuthenticatorAdded)"
            )
        return Node(kind, config, bytes(config))
    if kind == MESSAGE_FILTER:
        return Node(kind, config, tuple(config.decode("utf-8", "replace").split(SEPARATOR)))
    if kind == SUBACCOUNT_FILTER:
        return Node(kind, config, _uint32_list(config, "subaccount"))
    if kind == CLOB_PAIR_ID_FILTER:
        return Node(kind, config, _uint32_list(config, "clob pair id"))
    if kind in COMPOSITES:
        subs = _sub_configs(config)
        if len(subs) <= 1:
            raise _refuse(f"{kind} needs at least 2 sub-authenticators (composite.go)")
        return Node(kind, config, None, tuple(decode(t, c) for t, c in subs))
    raise _refuse(f"unknown authenticator type {kind!r}; the chain registers {', '.join(TYPES)}")


def requires_signature(node: Node) -> bool:
    """composite.go onSubAuthenticatorsAdded: AnyOf needs a signature on every branch, AllOf
    on one; AddAuthenticator refuses a tree without ("unsafe")."""
    if node.type == SIGNATURE_VERIFICATION:
        return True
    if node.type == ANY_OF:
        return all(requires_signature(c) for c in node.children)
    if node.type == ALL_OF:
        return any(requires_signature(c) for c in node.children)
    return False


def validate(kind: str, config: bytes) -> Node:
    """Everything the chain checks before or when adding it, refused here with the reason."""
    if len(config) > AUTHENTICATOR_DATA_MAX_LENGTH:
        raise _refuse(
            f"its config has {len(config)} bytes, more than {AUTHENTICATOR_DATA_MAX_LENGTH} "
            "(MsgAddAuthenticator ValidateBasic, dydxaccountplus 3)"
        )
    node = decode(kind, config)
    if not requires_signature(node):
        raise _refuse(
            "it does not require a signature on every path, so anyone could use it "
            "(keeper/authenticators.go AddAuthenticator: unsafe)"
        )
    return node


def public_keys(node: Node) -> set[bytes]:
    if node.type == SIGNATURE_VERIFICATION:
        return {node.value}
    return set().union(*(public_keys(c) for c in node.children)) if node.children else set()


@dataclass(frozen=True)
class Action:
    """What a tx asks for, as the filters see it."""

    type_url: str
    subaccounts: tuple[int, ...]
    clob_pair_ids: tuple[int, ...]


def action_of(type_url: str, value: bytes) -> Action:
    """The fields the filters read from a packed clob message (other messages pass them)."""
    from v4_proto.dydxprotocol.clob import tx_pb2

    if type_url == chain.MSG_PLACE_ORDER_URL:
        oid = tx_pb2.MsgPlaceOrder.FromString(value).order.order_id
        return Action(type_url, (oid.subaccount_id.number,), (oid.clob_pair_id,))
    if type_url == chain.MSG_CANCEL_ORDER_URL:
        oid = tx_pb2.MsgCancelOrder.FromString(value).order_id
        return Action(type_url, (oid.subaccount_id.number,), (oid.clob_pair_id,))
    if type_url == chain.MSG_BATCH_CANCEL_URL:
        batch = tx_pb2.MsgBatchCancel.FromString(value)
        pairs = tuple(b.clob_pair_id for b in batch.short_term_cancels)
        return Action(type_url, (batch.subaccount_id.number,), pairs)
    return Action(type_url, (), ())


def refusal(node: Node, action: Action, public_key: bytes) -> tuple[int, str] | None:
    """Why the chain's Authenticate would refuse `action` signed by `public_key`, as
    (accountplus code, reason) of the failing check; None when it would allow it."""
    if node.type == SIGNATURE_VERIFICATION:
        return None if node.value == public_key else (100, "the key is not this authenticator's")
    if node.type == MESSAGE_FILTER:
        if action.type_url in node.value:
            return None
        return 101, f"{action.type_url} is not among {', '.join(node.value)}"
    if node.type == SUBACCOUNT_FILTER:
        outside = [n for n in action.subaccounts if n not in node.value]
        if outside:
            return 103, f"subaccount {outside[0]} is not among {list(node.value)}"
        return None
    if node.type == CLOB_PAIR_ID_FILTER:
        outside = [n for n in action.clob_pair_ids if n not in node.value]
        if outside:
            return 102, f"clob pair {outside[0]} is not among {list(node.value)}"
        return None
    results = [refusal(c, action, public_key) for c in node.children]
    if node.type == ALL_OF:
        return next((r for r in results if r is not None), None)
    return None if any(r is None for r in results) else results[0]


# --- words -----------------------------------------------------------------------------------
def describe(node: Node, markets_by_id: dict[int, str] | None = None) -> str:
    """One line a person can check: who signs, and what, where."""
    from dydxctl.wallet import address_from_public_key

    markets_by_id = markets_by_id or {}
    if node.type == SIGNATURE_VERIFICATION:
        return f"signed by {address_from_public_key(node.value)}"
    if node.type == MESSAGE_FILTER:
        words = [MESSAGE_WORDS.get(u, u) for u in node.value]
        return "messages: " + ", ".join(words)
    if node.type == SUBACCOUNT_FILTER:
        return "subaccounts: " + ", ".join(str(n) for n in node.value)
    if node.type == CLOB_PAIR_ID_FILTER:
        return "markets: " + ", ".join(
            f"{markets_by_id[i]} ({i})" if i in markets_by_id else str(i) for i in node.value
        )
    joiner = " AND " if node.type == ALL_OF else " OR "
    return "(" + joiner.join(describe(c, markets_by_id) for c in node.children) + ")"


def to_json(node: Node) -> dict[str, Any]:
    """The tree for --json: leaves with their parsed values, public keys in hex."""
    out: dict[str, Any] = {"type": node.type}
    if node.type == SIGNATURE_VERIFICATION:
        from dydxctl.wallet import address_from_public_key

        out["public_key"] = node.value.hex()
        out["address"] = address_from_public_key(node.value)
    elif node.children:
        out["sub_authenticators"] = [to_json(c) for c in node.children]
    else:
        out["values"] = list(node.value)
    return out
