"""Signed transactions decode to the right messages and verify against the derived key."""

from __future__ import annotations

import hashlib

import pytest

from dydxctl import chain
from dydxctl.orders import make_order_id
from dydxctl.tx import (
    TxDecodeError,
    batch_cancel_msg,
    cancel_order_msg,
    decode_tx,
    sign_doc_bytes,
    sign_tx,
    timestamp_nonce,
)
from dydxctl.wallet import Wallet, address_from_public_key, is_low_s, verify
from tests.conftest import TEST_ADDRESS, TEST_MNEMONIC


@pytest.fixture(scope="module")
def wallet() -> Wallet:
    return Wallet.from_mnemonic(TEST_MNEMONIC)


def test_signed_tx_round_trip(wallet: Wallet) -> None:
    oid = make_order_id(TEST_ADDRESS, 0, 5, 0, 0)
    signed = sign_tx(
        wallet, [cancel_order_msg(oid, good_til_block=120)], chain_id="dydx-testnet-4",
        account_number=33, sequence=0,
    )  # fmt: skip
    assert signed.tx_hash == hashlib.sha256(signed.tx_bytes).hexdigest().upper()
    decoded = decode_tx(signed.tx_bytes)
    assert address_from_public_key(decoded.public_key) == TEST_ADDRESS
    [(url, msg)] = decoded.messages
    assert url == chain.MSG_CANCEL_ORDER_URL
    assert msg.order_id == oid and msg.good_til_block == 120
    doc = sign_doc_bytes(decoded, "dydx-testnet-4", 33)
    assert doc == signed.sign_doc_bytes
    assert verify(decoded.public_key, doc, decoded.signature) and is_low_s(decoded.signature)
    # The signature binds the chain id and the account number.
    assert not verify(decoded.public_key, sign_doc_bytes(decoded, "dydx-mainnet-1", 33),
                      decoded.signature)  # fmt: skip
    assert not verify(decoded.public_key, sign_doc_bytes(decoded, "dydx-testnet-4", 34),
                      decoded.signature)  # fmt: skip


def test_batch_cancel_packs_uint32_ids(wallet: Wallet) -> None:
    sub = make_order_id(TEST_ADDRESS, 0, 0, 0, 0).subaccount_id
    msg = batch_cancel_msg(sub, {1: [3, 4], 0: [2**32 - 1]}, 77)
    signed = sign_tx(wallet, [msg], chain_id="c", account_number=1, sequence=0)
    [(_, decoded)] = decode_tx(signed.tx_bytes).messages
    assert [b.clob_pair_id for b in decoded.short_term_cancels] == [0, 1]
    assert list(decoded.short_term_cancels[1].client_ids) == [3, 4]
    assert decoded.good_til_block == 77


def test_cancel_needs_exactly_one_good_til() -> None:
    oid = make_order_id(TEST_ADDRESS, 0, 5, 0, 64)
    with pytest.raises(ValueError):
        cancel_order_msg(oid)
    with pytest.raises(ValueError):
        cancel_order_msg(oid, good_til_block=1, good_til_block_time=2)


def test_timestamp_nonce_is_above_the_cutoff() -> None:
    assert timestamp_nonce() >= chain.TIMESTAMP_NONCE_SEQUENCE_CUTOFF


@pytest.mark.parametrize("garbage", [b"", b"\xff\x00garbage", b"\n\x02\x08\x01"])
def test_decode_refuses_garbage(garbage: bytes) -> None:
    with pytest.raises(TxDecodeError):
        decode_tx(garbage)


def test_timestamp_nonces_never_repeat_in_a_process() -> None:
    nonces = [timestamp_nonce(1_800_000_000_000) for _ in range(5)]
    assert len(set(nonces)) == 5 and nonces == sorted(nonces)
