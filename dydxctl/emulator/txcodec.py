"""TxRaw bytes taken apart the way the node's tx decoder does (cosmos-sdk x/auth/tx).

The emulator's own decoder: a tx it cannot decode is sdk 2 (ErrTxDecode), an unknown
message type too (the interface registry has no such type URL).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dydxctl.emulator import accountplus, rules


def tx_hash(tx_bytes: bytes) -> str:
    """CometBFT types/tx.go Tx.Hash: SHA-256 of the bytes, shown as uppercase hex."""
    return hashlib.sha256(tx_bytes).hexdigest().upper()


def pack(message: Any, type_url: str) -> Any:
    from google.protobuf.any_pb2 import Any as AnyProto

    return AnyProto(type_url=type_url, value=message.SerializeToString(deterministic=True))


class UndecodableTx(ValueError):
    pass


@dataclass(frozen=True)
class Tx:
    messages: list[tuple[str, Any]]  # (type URL, decoded message)
    public_key: bytes
    sequence: int
    signature: bytes
    body_bytes: bytes
    auth_info_bytes: bytes
    timeout_height: int
    # x/accountplus TxExtension in non_critical_extension_options (empty: none selected).
    selected_authenticators: tuple[int, ...] = ()


_MESSAGES = {
    rules.URL_PLACE: "MsgPlaceOrder",
    rules.URL_CANCEL: "MsgCancelOrder",
    rules.URL_BATCH_CANCEL: "MsgBatchCancel",
}
# x/accountplus messages (accountplus.py models them).
_ACCOUNTPLUS_MESSAGES = {
    accountplus.URL_ADD_AUTHENTICATOR: "MsgAddAuthenticator",
    accountplus.URL_REMOVE_AUTHENTICATOR: "MsgRemoveAuthenticator",
}


def decode(tx_bytes: bytes) -> Tx:
    from google.protobuf.message import DecodeError
    from v4_proto.cosmos.crypto.secp256k1.keys_pb2 import PubKey
    from v4_proto.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, TxBody, TxRaw
    from v4_proto.dydxprotocol.accountplus import tx_pb2 as accountplus_pb2
    from v4_proto.dydxprotocol.clob import tx_pb2

    try:
        raw = TxRaw.FromString(tx_bytes)
        body = TxBody.FromString(raw.body_bytes)
        auth = AuthInfo.FromString(raw.auth_info_bytes)
        if len(auth.signer_infos) != 1 or len(raw.signatures) != 1:
            raise UndecodableTx("expected exactly one signer and one signature")
        signer = auth.signer_infos[0]
        if signer.public_key.type_url != rules.URL_SECP256K1_PUBKEY:
            raise UndecodableTx(f"unsupported public key type {signer.public_key.type_url}")
        public_key = PubKey.FromString(signer.public_key.value).key
        messages = []
        for item in body.messages:
            name = _MESSAGES.get(item.type_url)
            module = tx_pb2
            if name is None:
                name = _ACCOUNTPLUS_MESSAGES.get(item.type_url)
                module = accountplus_pb2
            if name is None:
                raise UndecodableTx(f"unable to resolve type URL {item.type_url}")
            messages.append((item.type_url, getattr(module, name).FromString(item.value)))
        selected = accountplus.selected_authenticators(body.non_critical_extension_options)
    except DecodeError as exc:
        raise UndecodableTx(f"tx parse error: {exc}") from exc
    if not messages:
        raise UndecodableTx("must contain at least one message")
    return Tx(
        messages,
        public_key,
        signer.sequence,
        raw.signatures[0],
        raw.body_bytes,
        raw.auth_info_bytes,
        body.timeout_height,
        tuple(selected),
    )


def sign_doc(tx: Tx, chain_id: str, account_number: int) -> bytes:
    """x/auth/signing SIGN_MODE_DIRECT: the SignDoc the node rebuilds to verify."""
    from v4_proto.cosmos.tx.v1beta1.tx_pb2 import SignDoc

    return SignDoc(
        body_bytes=tx.body_bytes,
        auth_info_bytes=tx.auth_info_bytes,
        chain_id=chain_id,
        account_number=account_number,
    ).SerializeToString(deterministic=True)


def order_id_of(type_url: str, msg: Any) -> Any:
    """The OrderId a place/cancel message is about (None for a batch cancel)."""
    if type_url == rules.URL_PLACE:
        return msg.order.order_id
    if type_url == rules.URL_CANCEL:
        return msg.order_id
    return None


def is_clob_msg(type_url: str) -> bool:
    return type_url in _MESSAGES


def is_short_term_msg(type_url: str, msg: Any) -> bool:
    """app/ante/util.go IsShortTermClobMsgTx: short-term place/cancel, or MsgBatchCancel."""
    if not is_clob_msg(type_url):
        return False
    order_id = order_id_of(type_url, msg)
    return order_id is None or order_id.order_flags == rules.FLAGS_SHORT_TERM


def owner_of(type_url: str, msg: Any) -> str:
    """The message's one signer (its cosmos.msg.v1.signer field)."""
    if type_url in _ACCOUNTPLUS_MESSAGES:
        return msg.sender
    order_id = order_id_of(type_url, msg)
    return msg.subaccount_id.owner if order_id is None else order_id.subaccount_id.owner
