"""CometBFT v0.38's JSON shapes, written as CometBFT writes them.

dYdX v9.6.1 pins github.com/dydxprotocol/cometbft (protocol/go.mod replace directive), a fork
based on v0.38.5; the files cited here are read at its branch dydx-fork-v0.38.5. Two encoders
meet in one response (rpc/jsonrpc/types/types.go NewRPCSuccessResponse):
- libs/json (cmtjson), for the rpc/core/types/responses.go structs: 64-bit integers as
  strings, []byte as base64, HexBytes as upper-case hex, time.Time as RFC 3339 with trimmed
  nanoseconds in UTC, nil slices as null, and `omitempty` tags honoured (libs/json/encoder.go);
- gogoproto jsonpb with EmitDefaults and EnumsAsInts for the ABCI results that define
  MarshalJSON (abci/types/types.go: ResponseQuery, ResponseCheckTx, ExecTxResult,
  EventAttribute): every field present, camelCase JSON names, int64 as strings, nil bytes null.

The emulator keeps no real block hashes; block, app and validator hashes are stable stand-ins
derived from the chain id and height (sha256), the data hash is the real RFC 6962 Merkle
root of the block's txs (crypto/merkle/tree.go HashFromByteSlices over types/tx.go Tx.Hash).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

# version/version.go at the fork's base tag v0.38.5.
TM_CORE_SEMVER = "0.38.5"
P2P_PROTOCOL = 8
BLOCK_PROTOCOL = 11
# node/node.go makeNodeInfo: blocksync 0x40, consensus 0x20-0x23, mempool 0x30, evidence 0x38,
# statesync 0x60-0x61, pex 0x00 (p2p.pex on by default).
NODE_CHANNELS = "40202122233038606100"
# types/block.go BlockIDFlagCommit: the validator signed for the block.
BLOCK_ID_FLAG_COMMIT = 2
MONIKER = "dydxctl-emulator"


def go_json(value: Any) -> bytes:
    """encoding/json.Marshal's bytes: compact, UTF-8, with <, >, & and U+2028/9 escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def hex_upper(data: bytes) -> str:
    """libs/bytes/bytes.go HexBytes.MarshalJSON."""
    return data.hex().upper()


def rfc3339(seconds: int, nanos: int = 0) -> str:
    """Go's time.Time JSON (RFC3339Nano, UTC): fractional seconds without trailing zeros."""
    import datetime

    stamp = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    fraction = f"{nanos:09d}".rstrip("0")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def stand_in_hash(chain_id: str, label: str, height: int = 0) -> bytes:
    return hashlib.sha256(f"{chain_id}/{label}/{height}".encode()).digest()


def tx_hash(tx: bytes) -> bytes:
    """types/tx.go Tx.Hash: sha256 of the tx bytes."""
    return hashlib.sha256(tx).digest()


def merkle_root(items: list[bytes]) -> bytes:
    """crypto/merkle/tree.go HashFromByteSlices (RFC 6962: 0x00 leaf, 0x01 inner prefixes)."""
    if not items:
        return hashlib.sha256(b"").digest()
    if len(items) == 1:
        return hashlib.sha256(b"\x00" + items[0]).digest()
    split = 1 << ((len(items) - 1).bit_length() - 1)  # largest power of two below len
    left, right = merkle_root(items[:split]), merkle_root(items[split:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def validator_address(chain_id: str) -> bytes:
    """The emulator's one validator (and node key): crypto/ed25519 Address is 20 bytes."""
    return stand_in_hash(chain_id, "validator")[:20]


def validator_pub_key(chain_id: str) -> dict[str, str]:
    """crypto.PubKey in cmtjson: registered type name + base64 value (crypto/ed25519)."""
    return {"type": "tendermint/PubKeyEd25519", "value": b64(stand_in_hash(chain_id, "pubkey"))}


def block_id(chain_id: str, height: int) -> dict[str, Any]:
    """types/block.go BlockID; the zero BlockID (no previous block) is empty hashes."""
    if height < 1:
        return {"hash": "", "parts": {"total": 0, "hash": ""}}
    part_set = hex_upper(stand_in_hash(chain_id, "parts", height))
    return {
        "hash": hex_upper(stand_in_hash(chain_id, "block", height)),
        "parts": {"total": 1, "hash": part_set},
    }


def header(chain_id: str, height: int, time_s: int, time_ns: int, txs: list[bytes]) -> dict:
    """types/block.go Header, field for field."""
    consensus = hex_upper(stand_in_hash(chain_id, "validators"))
    return {
        "version": {"block": str(BLOCK_PROTOCOL)},  # version.Consensus: app 0 is omitted
        "chain_id": chain_id,
        "height": str(height),
        "time": rfc3339(time_s, time_ns),
        "last_block_id": block_id(chain_id, height - 1),
        "last_commit_hash": hex_upper(stand_in_hash(chain_id, "commit", height - 1)),
        "data_hash": hex_upper(merkle_root([tx_hash(tx) for tx in txs])),
        "validators_hash": consensus,
        "next_validators_hash": consensus,
        "consensus_hash": hex_upper(stand_in_hash(chain_id, "consensus-params")),
        "app_hash": hex_upper(stand_in_hash(chain_id, "app", height - 1)),
        "last_results_hash": hex_upper(stand_in_hash(chain_id, "results", height - 1)),
        "evidence_hash": hex_upper(merkle_root([])),
        "proposer_address": hex_upper(validator_address(chain_id)),
    }


def block(chain_id: str, height: int, time_s: int, time_ns: int, txs: list[bytes]) -> dict:
    """rpc/core/types/responses.go ResultBlock: block_id + types/block.go Block."""
    last = height - 1
    signatures = (
        [
            {
                "block_id_flag": BLOCK_ID_FLAG_COMMIT,
                "validator_address": hex_upper(validator_address(chain_id)),
                "timestamp": rfc3339(time_s, time_ns),
                "signature": b64(stand_in_hash(chain_id, "sig", last) * 2),
            }
        ]
        if last >= 1
        else []
    )
    return {
        "block_id": block_id(chain_id, height),
        "block": {
            "header": header(chain_id, height, time_s, time_ns, txs),
            "data": {"txs": [b64(tx) for tx in txs] if txs else None},
            "evidence": {"evidence": []},
            "last_commit": {
                "height": str(max(last, 0)),
                "round": 0,
                "block_id": block_id(chain_id, last),
                "signatures": signatures,
            },
        },
    }


def event(event_type: str, attributes: list[tuple[str, str, bool]]) -> dict[str, Any]:
    """abci Event / EventAttribute in jsonpb with defaults (abci/types/types.go)."""
    return {
        "type": event_type,
        "attributes": [{"key": k, "value": v, "index": i} for k, v, i in attributes],
    }


def exec_tx_result(
    code: int, data: bytes, log: str, info: str, gas: tuple[int, int], events: list, codespace: str
) -> dict[str, Any]:
    """abci ExecTxResult in jsonpb with defaults: every field, int64 as strings, nil bytes null."""
    return {
        "code": code,
        "data": b64(data) if data else None,
        "log": log,
        "info": info,
        "gas_wanted": str(gas[0]),
        "gas_used": str(gas[1]),
        "events": events,
        "codespace": codespace,
    }


def query_response(
    code: int, log: str, value: bytes | None, height: int, codespace: str
) -> dict[str, Any]:
    """abci ResponseQuery in jsonpb with defaults (field order of the proto); `value` is None
    (null) when a failed query has none, b"" ("") for an empty answer."""
    return {
        "code": code,
        "log": log,
        "info": "",
        "index": "0",
        "key": None,
        "value": b64(value),
        "proofOps": None,
        "height": str(height),
        "codespace": codespace,
    }
