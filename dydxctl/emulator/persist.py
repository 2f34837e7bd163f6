"""`dydxctl emulator --state-dir`: the committed chain state and the Indexer's stores as
JSON, written atomically. Like a real node, the mempool (and its cache) does not survive a
restart; Indexer events still waiting out an Indexer lag are lost too.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from dydxctl.emulator.indexer_model import PostgresOrder
from dydxctl.emulator.state import Account, ChainState, LiveOrder, TxRecord

STATE_FILE = "emulator-state.json"


def _b64(message: Any) -> str:
    return base64.b64encode(message.SerializeToString()).decode()


def _order(text: str) -> Any:
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    return Order.FromString(base64.b64decode(text))


def _keyed(mapping: dict[tuple, Any]) -> list[Any]:
    return [[list(k), v] for k, v in mapping.items()]


def _unkeyed(items: list[Any]) -> dict[tuple, Any]:
    return {tuple(k): v for k, v in items}


def save_state(state: ChainState, directory: Path | str) -> None:
    with state.lock:
        data = {
            "chain_id": state.chain_id,
            "height": state.height,
            "block_time": state.block_time,
            "accounts": [
                {
                    "address": a.address,
                    "account_number": a.account_number,
                    "sequence": a.sequence,
                    "timestamp_nonces": a.timestamp_nonces,
                    "public_key": a.public_key.hex() if a.public_key else None,
                }
                for a in state.accounts.values()
            ],
            "book": [[_b64(live.order), live.triggered] for live in state.book.values()],
            "fill_amounts": _keyed(state.fill_amounts),
            "fill_prune": _keyed(state.fill_prune),
            "short_term_cancels": _keyed(state.short_term_cancels),
            "txs": [vars(t) for t in state.txs.values()],
            "accepted": [[u, list(k)] for u, k in state.accepted.items()],
            "oracle_subticks": list(state.oracle_subticks.items()),
            "accountplus": {
                "next_id": state.accountplus.next_id,
                "authenticators": [
                    [address, a.id, a.type, a.config.hex()]
                    for address, stored in state.accountplus.by_account.items()
                    for a in stored.values()
                ],
            },
            "indexer": {
                "height": state.indexer.height,
                "block_time": state.indexer.block_time,
                "redis": [_b64(o) for o in state.indexer.redis.values()],
                "postgres": [
                    {
                        "order": _b64(r.order),
                        "status": r.status,
                        "total_filled": r.total_filled,
                        "created_height": r.created_height,
                        "updated_height": r.updated_height,
                        "updated_at": r.updated_at,
                    }
                    for r in state.indexer.postgres.values()
                ],
            },
        }
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path / STATE_FILE)


def load_state(state: ChainState, directory: Path | str) -> bool:
    """Restore a saved state into `state`; False when there is none."""
    from dydxctl.emulator.accountplus import StoredAuthenticator
    from dydxctl.emulator.indexer_model import order_key, uuid_of

    path = Path(directory) / STATE_FILE
    if not path.exists():
        return False
    data = json.loads(path.read_text())
    with state.lock:
        state.chain_id, state.height = data["chain_id"], data["height"]
        state.block_time = data["block_time"]
        for a in data["accounts"]:
            key = bytes.fromhex(a["public_key"]) if a["public_key"] else None
            state.accounts[a["address"]] = Account(
                a["address"],
                a["account_number"],
                a["sequence"],
                key,
                list(a["timestamp_nonces"]),
                a["sequence"],
                list(a["timestamp_nonces"]),
            )
        for text, triggered in data["book"]:
            order = _order(text)
            state.book[order_key(order.order_id)] = LiveOrder(order, triggered)
        state.fill_amounts = _unkeyed(data["fill_amounts"])
        state.fill_prune = _unkeyed(data["fill_prune"])
        state.short_term_cancels = _unkeyed(data["short_term_cancels"])
        state.txs = {t["tx_hash"]: TxRecord(**t) for t in data["txs"]}
        state.accepted = {u: tuple(k) for u, k in data.get("accepted", [])}
        state.oracle_subticks = {int(k): v for k, v in data["oracle_subticks"]}
        saved_accountplus = data.get("accountplus", {"next_id": 0, "authenticators": []})
        state.accountplus.next_id = saved_accountplus["next_id"]
        for address, auth_id, kind, config in saved_accountplus["authenticators"]:
            state.accountplus.by_account.setdefault(address, {})[auth_id] = StoredAuthenticator(
                auth_id, kind, bytes.fromhex(config)
            )
        indexer = state.indexer
        indexer.height, indexer.block_time = (
            data["indexer"]["height"],
            data["indexer"]["block_time"],
        )
        for text in data["indexer"]["redis"]:
            order = _order(text)
            indexer.redis[uuid_of(order.order_id)] = order
        for row in data["indexer"]["postgres"]:
            order = _order(row.pop("order"))
            indexer.postgres[uuid_of(order.order_id)] = PostgresOrder(order, **row)
    return True
