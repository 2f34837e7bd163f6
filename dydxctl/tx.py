"""Cosmos transactions for dYdX: messages, SIGN_MODE_DIRECT signing, TxRaw bytes and hash.

The hash is known before the broadcast, so the store can keep it with the PENDING row.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dydxctl import chain

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from v4_proto.dydxprotocol.clob.order_pb2 import Order, OrderId
    from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

    from dydxctl.wallet import Wallet

# Clob transactions pay no fee and meter no gas (protocol/app/ante/gas.go); a gas limit is
# still declared, as the official client does (v4-client-py-v2 node/builder.py DEFAULT_FEE).
CLOB_TX_GAS_LIMIT = 1_000_000


@dataclass(frozen=True)
class SignedTx:
    tx_bytes: bytes  # serialized TxRaw
    tx_hash: str  # uppercase hex SHA-256 of tx_bytes (what the node and explorers show)
    body_bytes: bytes
    auth_info_bytes: bytes
    sign_doc_bytes: bytes
    signature: bytes
    sequence: int
    account_number: int


def tx_hash(tx_bytes: bytes) -> str:
    """CometBFT tx hash: uppercase hex SHA-256 of the TxRaw bytes."""
    return hashlib.sha256(tx_bytes).hexdigest().upper()


def pack(message: Message, type_url: str) -> Any:
    from google.protobuf.any_pb2 import Any as AnyProto

    return AnyProto(type_url=type_url, value=message.SerializeToString(deterministic=True))


def place_order_msg(order: Order) -> Any:
    from v4_proto.dydxprotocol.clob.tx_pb2 import MsgPlaceOrder

    return pack(MsgPlaceOrder(order=order), chain.MSG_PLACE_ORDER_URL)


def cancel_order_msg(
    order_id: OrderId, *, good_til_block: int | None = None, good_til_block_time: int | None = None
) -> Any:
    """MsgCancelOrder with exactly one of GTB (short-term) or GTBT (stateful)."""
    from v4_proto.dydxprotocol.clob.tx_pb2 import MsgCancelOrder

    if (good_til_block is None) == (good_til_block_time is None):
        raise ValueError("a cancel takes exactly one of good_til_block / good_til_block_time")
    msg = MsgCancelOrder(order_id=order_id)
    if good_til_block is not None:
        msg.good_til_block = good_til_block
    else:
        msg.good_til_block_time = good_til_block_time or 0
    return pack(msg, chain.MSG_CANCEL_ORDER_URL)


def batch_cancel_msg(
    subaccount_id: SubaccountId, client_ids_by_clob_pair: dict[int, list[int]], good_til_block: int
) -> Any:
    """MsgBatchCancel (short-term only): one OrderBatch per clob pair, ids packed uint32."""
    from v4_proto.dydxprotocol.clob.tx_pb2 import MsgBatchCancel, OrderBatch

    batches = [
        OrderBatch(clob_pair_id=clob_pair_id, client_ids=ids)
        for clob_pair_id, ids in sorted(client_ids_by_clob_pair.items())
    ]
    msg = MsgBatchCancel(
        subaccount_id=subaccount_id, short_term_cancels=batches, good_til_block=good_til_block
    )
    return pack(msg, chain.MSG_BATCH_CANCEL_URL)


_nonce_lock = threading.Lock()
_last_nonce = 0


def timestamp_nonce(now_ms: int | None = None) -> int:
    """A unix-ms timestamp nonce (x/accountplus/keeper/timestampnonce.go), never the same
    twice in this process: the chain refuses a reused nonce (sdk 32)."""
    global _last_nonce
    value = now_ms if now_ms is not None else int(time.time() * 1000)
    with _nonce_lock:
        value = max(value, _last_nonce + 1)
        _last_nonce = value
    assert value >= chain.TIMESTAMP_NONCE_SEQUENCE_CUTOFF
    return value


def add_authenticator_msg(sender: str, authenticator_type: str, config: bytes) -> Any:
    """x/accountplus MsgAddAuthenticator (the owner signs it; checked in DeliverTx)."""
    from v4_proto.dydxprotocol.accountplus.tx_pb2 import MsgAddAuthenticator

    msg = MsgAddAuthenticator(sender=sender, authenticator_type=authenticator_type, data=config)
    return pack(msg, chain.MSG_ADD_AUTHENTICATOR_URL)


def remove_authenticator_msg(sender: str, authenticator_id: int) -> Any:
    from v4_proto.dydxprotocol.accountplus.tx_pb2 import MsgRemoveAuthenticator

    msg = MsgRemoveAuthenticator(sender=sender, id=authenticator_id)
    return pack(msg, chain.MSG_REMOVE_AUTHENTICATOR_URL)


def tx_extension(authenticator_id: int, message_count: int) -> Any:
    """The TxExtension a permissioned-key tx carries in non_critical_extension_options:
    x/accountplus/ante/ante.go GetSelectedAuthenticators wants exactly one id per message
    (else sdk 18), and lib/lib.go finds it by unpacking that list."""
    from v4_proto.dydxprotocol.accountplus.tx_pb2 import TxExtension

    extension = TxExtension(selected_authenticators=[authenticator_id] * message_count)
    return pack(extension, chain.TX_EXTENSION_URL)


def sign_tx(
    wallet: Wallet,
    messages: list[Any],
    *,
    chain_id: str,
    account_number: int,
    sequence: int,
    memo: str = "",
    timeout_height: int = 0,
    fee: tuple[int, str, int] | None = None,
) -> SignedTx:
    """Build TxBody/AuthInfo/SignDoc (SIGN_MODE_DIRECT), sign, and serialize TxRaw.

    A trading-key signer (dydxctl.trading_key.TradingSigner) carries an authenticator id:
    the tx then selects it in a TxExtension, and the chain's AuthenticatorDecorator checks
    the signature against the *owner's* account number and the owner's sequence/nonce
    (x/accountplus/lib/authentication_request.go getSignerData; app/ante replay_protection).
    `fee` is (amount, denom, gas limit) for messages that pay one (not clob messages).
    """
    from v4_proto.cosmos.base.v1beta1.coin_pb2 import Coin
    from v4_proto.cosmos.crypto.secp256k1.keys_pb2 import PubKey
    from v4_proto.cosmos.tx.signing.v1beta1.signing_pb2 import SignMode
    from v4_proto.cosmos.tx.v1beta1.tx_pb2 import (
        AuthInfo,
        Fee,
        ModeInfo,
        SignDoc,
        SignerInfo,
        TxBody,
        TxRaw,
    )

    authenticator_id = getattr(wallet, "authenticator_id", None)
    extensions = [] if authenticator_id is None else [tx_extension(authenticator_id, len(messages))]
    body = TxBody(
        messages=messages, memo=memo, timeout_height=timeout_height,
        non_critical_extension_options=extensions,
    )  # fmt: skip
    signer = SignerInfo(
        public_key=pack(PubKey(key=wallet.public_key), chain.SECP256K1_PUBKEY_URL),
        mode_info=ModeInfo(single=ModeInfo.Single(mode=SignMode.SIGN_MODE_DIRECT)),
        sequence=sequence,
    )
    if fee is None:
        tx_fee = Fee(amount=[], gas_limit=CLOB_TX_GAS_LIMIT)
    else:
        amount, denom, gas_limit = fee
        tx_fee = Fee(amount=[Coin(amount=str(amount), denom=denom)], gas_limit=gas_limit)
    auth_info = AuthInfo(signer_infos=[signer], fee=tx_fee)
    body_bytes = body.SerializeToString(deterministic=True)
    auth_info_bytes = auth_info.SerializeToString(deterministic=True)
    sign_doc_bytes = SignDoc(
        body_bytes=body_bytes,
        auth_info_bytes=auth_info_bytes,
        chain_id=chain_id,
        account_number=account_number,
    ).SerializeToString(deterministic=True)
    signature = wallet.sign(sign_doc_bytes)
    tx_bytes = TxRaw(
        body_bytes=body_bytes, auth_info_bytes=auth_info_bytes, signatures=[signature]
    ).SerializeToString(deterministic=True)
    return SignedTx(
        tx_bytes=tx_bytes,
        tx_hash=tx_hash(tx_bytes),
        body_bytes=body_bytes,
        auth_info_bytes=auth_info_bytes,
        sign_doc_bytes=sign_doc_bytes,
        signature=signature,
        sequence=sequence,
        account_number=account_number,
    )


@dataclass(frozen=True)
class DecodedTx:
    """A TxRaw taken apart: what the emulator and the tests check."""

    messages: list[tuple[str, Any]]  # (type_url, decoded message)
    public_key: bytes
    sequence: int
    signature: bytes
    body_bytes: bytes
    auth_info_bytes: bytes
    memo: str
    timeout_height: int
    selected_authenticators: tuple[int, ...] = ()


MESSAGE_TYPES = {
    chain.MSG_PLACE_ORDER_URL: "MsgPlaceOrder",
    chain.MSG_CANCEL_ORDER_URL: "MsgCancelOrder",
    chain.MSG_BATCH_CANCEL_URL: "MsgBatchCancel",
}


class TxDecodeError(ValueError):
    """The bytes are not a single-signer TxRaw of known messages (sdk 2 on the chain)."""


def decode_tx(tx_bytes: bytes) -> DecodedTx:
    from google.protobuf.message import DecodeError
    from v4_proto.cosmos.crypto.secp256k1.keys_pb2 import PubKey
    from v4_proto.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, TxBody, TxRaw
    from v4_proto.dydxprotocol.clob import tx_pb2

    try:
        raw = TxRaw.FromString(tx_bytes)
        body = TxBody.FromString(raw.body_bytes)
        auth = AuthInfo.FromString(raw.auth_info_bytes)
        if len(auth.signer_infos) != 1 or len(raw.signatures) != 1:
            raise TxDecodeError("expected exactly one signer and one signature")
        signer = auth.signer_infos[0]
        if signer.public_key.type_url != chain.SECP256K1_PUBKEY_URL:
            raise TxDecodeError(f"unsupported public key type {signer.public_key.type_url}")
        public_key = PubKey.FromString(signer.public_key.value).key
        messages = []
        for item in body.messages:
            name = MESSAGE_TYPES.get(item.type_url)
            if name is None:
                raise TxDecodeError(f"unknown message type {item.type_url}")
            messages.append((item.type_url, getattr(tx_pb2, name).FromString(item.value)))
    except DecodeError as exc:
        raise TxDecodeError(f"malformed transaction bytes: {exc}") from exc
    if not messages:
        raise TxDecodeError("the transaction has no messages")
    return DecodedTx(
        messages=messages,
        public_key=public_key,
        sequence=signer.sequence,
        signature=raw.signatures[0],
        body_bytes=raw.body_bytes,
        auth_info_bytes=raw.auth_info_bytes,
        memo=body.memo,
        timeout_height=body.timeout_height,
        selected_authenticators=_selected_authenticators(body),
    )


def _selected_authenticators(body: Any) -> tuple[int, ...]:
    from v4_proto.dydxprotocol.accountplus.tx_pb2 import TxExtension

    for option in body.non_critical_extension_options:
        if option.type_url == chain.TX_EXTENSION_URL:
            return tuple(TxExtension.FromString(option.value).selected_authenticators)
    return ()


def sign_doc_bytes(decoded: DecodedTx, chain_id: str, account_number: int) -> bytes:
    """The SignDoc a verifier rebuilds from a decoded tx and its own chain id/account."""
    from v4_proto.cosmos.tx.v1beta1.tx_pb2 import SignDoc

    return SignDoc(
        body_bytes=decoded.body_bytes,
        auth_info_bytes=decoded.auth_info_bytes,
        chain_id=chain_id,
        account_number=account_number,
    ).SerializeToString(deterministic=True)
