"""broadcast_wire against the generated messages it stands in for (service_pb2): the
request bytes must be SerializeToString's, and the answer read as FromString reads it."""

from __future__ import annotations

import random

import pytest
from v4_proto.cosmos.base.abci.v1beta1.abci_pb2 import ABCIMessageLog, StringEvent, TxResponse
from v4_proto.cosmos.tx.v1beta1.service_pb2 import (
    BroadcastMode,
    BroadcastTxRequest,
    BroadcastTxResponse,
)
from v4_proto.tendermint.abci.types_pb2 import Event, EventAttribute

from dydxctl.broadcast_wire import BROADCAST_MODE_SYNC, TxAnswer, decode_response, encode_request


def _expected(data: bytes) -> TxAnswer:
    r = BroadcastTxResponse.FromString(data).tx_response
    return TxAnswer(r.txhash, r.codespace, int(r.code), r.raw_log)


def test_mode_sync_is_the_chains() -> None:
    assert BroadcastMode.BROADCAST_MODE_SYNC == BROADCAST_MODE_SYNC


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 16_384, 70_000])
def test_request_bytes_are_the_generated_messages(size: int) -> None:
    tx_bytes = random.Random(size).randbytes(size)
    for mode in (0, 1, BROADCAST_MODE_SYNC, 3):
        expected = BroadcastTxRequest(tx_bytes=tx_bytes, mode=mode).SerializeToString()  # type: ignore[arg-type]
        assert encode_request(tx_bytes, mode) == expected


def _full_response(seed: int) -> TxResponse:
    """A TxResponse with every field set, as a node fills it after DeliverTx."""
    rng = random.Random(seed)
    text = "".join(rng.choice("abcé—≠ 😀{}:\"'\n") for _ in range(rng.randrange(0, 300)))
    return TxResponse(
        height=rng.randrange(1 << 62), txhash=rng.randbytes(32).hex().upper(),
        codespace=rng.choice(["", "sdk", "clob", "accountplus"]),
        code=rng.choice([0, 1, 32, 2008, 3006, 0xFFFFFFFF]), data=text[:40], raw_log=text,
        logs=[ABCIMessageLog(msg_index=1, log=text,
                             events=[StringEvent(type="message")])],
        info="info", gas_wanted=rng.randrange(1 << 40), gas_used=rng.randrange(1 << 40),
        timestamp="2026-11-27T00:00:00Z",
        events=[Event(type="tx", attributes=[EventAttribute(key="fee", value="0")])],
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(30))
def test_answer_reads_as_the_generated_message(seed: int) -> None:
    data = BroadcastTxResponse(tx_response=_full_response(seed)).SerializeToString()
    assert decode_response(data) == _expected(data)


def test_answer_edge_cases_read_as_protobuf_reads_them() -> None:
    one = BroadcastTxResponse(tx_response=TxResponse(txhash="A", code=5)).SerializeToString()
    two = BroadcastTxResponse(
        tx_response=TxResponse(codespace="clob", raw_log="later")
    ).SerializeToString()
    unknown = bytes([0x98, 0x06, 0x07, 0x21, *range(8), 0x2D, 1, 2, 3, 4])  # fields 99, 4, 5
    group = bytes([0x1B, 0x08, 0x01, 0x1C])  # field 3 as a group: skipped, as unknown
    cases = [
        b"",  # no tx_response: every field its default
        one + two,  # a message field given twice merges; the last scalar wins
        two + one,
        unknown + one,
        group + one,
        bytes([0x0A, 11, 0x20, *[0xFF] * 9, 0x01]),  # code as a 10-byte varint: low 32 bits
        BroadcastTxResponse(tx_response=TxResponse(code=7)).SerializeToString()[:-1],  # cut
    ]
    for data in cases:
        try:
            expected = _expected(data)
        except Exception:
            with pytest.raises(ValueError):
                decode_response(data)
            continue
        assert decode_response(data) == expected, data


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\x05\x12\x03ab",  # tx_response says 5 bytes, 4 follow
        b"\x0a\x03\x12\x01\xff",  # txhash is not UTF-8
        b"\x08",  # a varint cut short
        b"\x00\x01",  # field number 0
        b"\x0b",  # a group never ended
        b"\x0c",  # a group ended, never started
        b"\x0f",  # wire type 7
    ],
)
def test_malformed_answers_raise_like_protobuf(data: bytes) -> None:
    """gRPC reports any deserializer error as INTERNAL: the caller sees Unreachable, as it
    did when protobuf raised DecodeError."""
    with pytest.raises(Exception):  # noqa: B017 - protobuf's own error, whatever it is
        BroadcastTxResponse.FromString(data)
    with pytest.raises(ValueError):
        decode_response(data)
