"""BroadcastTx's request and answer in protobuf wire format, without `service_pb2`.

`cosmos.tx.v1beta1.service_pb2` defines BroadcastTxRequest/Response, and importing it
loads 27 more modules (TxResponse's ABCI events, tendermint's block and validator types):
~7 ms of every `place` and `cancel` process (issue 14). A broadcast sends two fields and
reads four back, so they are written and read here, by the protobuf encoding rules
(protobuf.dev/programming-guides/encoding). tests/test_broadcast_wire.py holds both
directions against the generated messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

# The field numbers below are those of the cosmos-sdk messages v4-chain serves (its
# cosmos-sdk fork's proto files); tests/test_broadcast_wire.py checks each against the
# generated v4_proto classes.
# proto/cosmos/tx/v1beta1/service.proto BroadcastMode: SYNC returns CheckTx's answer.
BROADCAST_MODE_SYNC = 2
# Wire types (protobuf encoding spec).
VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
# service.proto: BroadcastTxRequest{tx_bytes = 1, mode = 2}; BroadcastTxResponse{tx_response = 1}.
TX_BYTES, MODE = 1, 2
TX_RESPONSE = 1
# proto/cosmos/base/abci/v1beta1/abci.proto TxResponse: txhash 2, codespace 3, code 4, raw_log 6.
TXHASH, CODESPACE, CODE, RAW_LOG = 2, 3, 4, 6
UINT32_MASK = 0xFFFFFFFF
UINT64_MASK = 0xFFFFFFFFFFFFFFFF


class TxAnswer(NamedTuple):
    """The node's CheckTx answer (cosmos.base.abci.v1beta1.TxResponse, four fields). A
    NamedTuple: a dataclass costs a start-up ~4M instructions more to define."""

    txhash: str = ""
    codespace: str = ""
    code: int = 0
    raw_log: str = ""


def encode_request(tx_bytes: bytes, mode: int = BROADCAST_MODE_SYNC) -> bytes:
    """BroadcastTxRequest{tx_bytes = 1, mode = 2}, as SerializeToString writes it (fields
    in number order, proto3 defaults left out)."""
    out = bytearray()
    if tx_bytes:
        out += _varint(TX_BYTES << 3 | LEN) + _varint(len(tx_bytes)) + tx_bytes
    if mode:
        out += _varint(MODE << 3 | VARINT) + _varint(mode)
    return bytes(out)


def decode_response(data: bytes) -> TxAnswer:
    """BroadcastTxResponse → its tx_response's four fields. As protobuf does: a repeated
    message field merges, the last value of a scalar wins, unknown fields and fields of an
    unexpected wire type are skipped; malformed bytes or a non-UTF-8 string raise (gRPC
    reports a deserializer's error as INTERNAL, as it does protobuf's DecodeError)."""
    found: dict[str, str | int] = {}
    names = {TXHASH: "txhash", CODESPACE: "codespace", RAW_LOG: "raw_log"}
    for number, wire_type, value in _fields(data):
        if number != TX_RESPONSE or wire_type != LEN:
            continue
        assert isinstance(value, bytes)
        for inner, inner_type, item in _fields(value):
            if inner in names and inner_type == LEN:
                assert isinstance(item, bytes)
                found[names[inner]] = item.decode("utf-8")
            elif inner == CODE and inner_type == VARINT:
                assert isinstance(item, int)
                found["code"] = item & UINT32_MASK
    return TxAnswer(**found)  # type: ignore[arg-type]


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(at, min(at + 10, len(data))):
        value |= (data[i] & 0x7F) << shift
        if not data[i] & 0x80:
            return value & UINT64_MASK, i + 1
        shift += 7
    raise ValueError("truncated or over-long varint")


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes | None]]:
    """(field number, wire type, value) of each top-level field: an int for a varint,
    bytes for a length-delimited field, None for a fixed-width one; groups are skipped."""
    at = 0
    groups: list[int] = []  # the field numbers of the groups being skipped
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        value: int | bytes | None = None
        if wire_type == VARINT:
            value, at = _read_varint(data, at)
        elif wire_type == LEN:
            size, at = _read_varint(data, at)
            value, at = data[at : at + size], at + size
        elif wire_type in (I64, I32):
            at += 8 if wire_type == I64 else 4
        elif wire_type == SGROUP:
            groups.append(number)
            continue
        elif wire_type == EGROUP:
            if not groups or groups.pop() != number:
                raise ValueError("end of a group that was not started")
            continue
        else:
            raise ValueError(f"wire type {wire_type}")
        if at > len(data):
            raise ValueError("truncated field")
        if not groups:
            yield number, wire_type, value
    if groups:
        raise ValueError("unterminated group")
