"""The official dYdX Python client (dydx-v4-client) used CAREFULLY: the anchor a serious
bot author is. Wallet, market and account number are fetched once; the sequence is kept
locally (incremented after each stateful tx only: short-term txs neither check nor bump
it, app/ante/util.go); a short-term order's height is read before each place (the client
has no estimate), and a short-term cancel reuses the order's own good-til-block.

Runs in the official client's virtualenv, as a subprocess (imports nothing of dydxctl):
    python careful_official.py GRPC INDEXER cycles KIND N       # KIND short-term|long-term
    python careful_official.py GRPC INDEXER sustained SECONDS   # short-term place+cancel
    python careful_official.py GRPC INDEXER cancel_all SUBACCOUNT
with the mnemonic in DYDX_MNEMONIC. Prints one JSON document.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import os
import random
import sys
import time


async def connect(grpc_target: str, indexer_url: str):
    from dydx_v4_client.indexer.rest.indexer_client import IndexerClient
    from dydx_v4_client.key_pair import KeyPair
    from dydx_v4_client.network import local_node, make_insecure
    from dydx_v4_client.node.client import NodeClient
    from dydx_v4_client.node.market import Market
    from dydx_v4_client.wallet import Wallet

    network = make_insecure(
        local_node, rest_indexer=indexer_url, websocket_indexer="ws://127.0.0.1:9/v4/ws",
        node_url=grpc_target,
    )  # fmt: skip
    node = await NodeClient.connect(network.node)
    node.sequence_manager = None  # careful: the sequence is kept locally, no query per tx
    indexer = IndexerClient(network.rest_indexer)
    mnemonic = os.environ["DYDX_MNEMONIC"]
    address = Wallet(KeyPair.from_mnemonic(mnemonic), 0, 0).address
    wallet = await Wallet.from_mnemonic(node, mnemonic, address)
    markets = await indexer.markets.get_perpetual_markets("BTC-USD")
    market = Market(markets["markets"]["BTC-USD"])
    return node, indexer, wallet, address, market


def _order(market, address: str, stateful: bool, height: int, subaccount: int = 0):
    from dydx_v4_client import MAX_CLIENT_ID, OrderFlags
    from dydx_v4_client.indexer.rest.constants import OrderType
    from dydx_v4_client.node.market import since_now
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    flags = OrderFlags.LONG_TERM if stateful else OrderFlags.SHORT_TERM
    order_id = market.order_id(address, subaccount, random.randint(0, MAX_CLIENT_ID), flags)
    good_til = (
        {"good_til_block_time": since_now(seconds=3600)}
        if stateful
        else {"good_til_block": height + 10}
    )
    order = market.order(
        order_id=order_id, order_type=OrderType.LIMIT, side=Order.Side.SIDE_BUY, size=0.001,
        price=50000, time_in_force=Order.TimeInForce.TIME_IN_FORCE_UNSPECIFIED,
        reduce_only=False, **good_til,
    )  # fmt: skip
    return order_id, order, good_til


async def cycle(node, wallet, address: str, market, stateful: bool) -> dict:
    started = time.perf_counter()
    height = 0 if stateful else await node.latest_block_height()
    order_id, order, good_til = _order(market, address, stateful, height)
    placed = await node.place_order(wallet, order)
    if stateful:
        wallet.sequence += 1
    placed_at = time.perf_counter()
    cancelled = await node.cancel_order(wallet, order_id, **good_til)
    if stateful:
        wallet.sequence += 1
    done = time.perf_counter()
    return {
        "kind": "long-term" if stateful else "short-term",
        "place_code": placed.tx_response.code, "place_log": placed.tx_response.raw_log,
        "cancel_code": cancelled.tx_response.code, "cancel_log": cancelled.tx_response.raw_log,
        "place_ms": (placed_at - started) * 1000, "cancel_ms": (done - placed_at) * 1000,
    }  # fmt: skip


async def cancel_all(node, indexer, wallet, address: str, subaccount: int) -> dict:
    """List the open orders and the height, then cancel: one MsgBatchCancel per 100
    short-term orders and one MsgCancelOrder per stateful order, in turn."""
    from dydx_v4_client.node.message import subaccount as subaccount_id
    from v4_proto.dydxprotocol.clob.order_pb2 import OrderId
    from v4_proto.dydxprotocol.clob.tx_pb2 import OrderBatch
    from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

    started = time.perf_counter()
    listed = await indexer.account.get_subaccount_orders(
        address, subaccount, status="OPEN,BEST_EFFORT_OPENED", limit=1000
    )
    height = await node.latest_block_height()
    short = [o for o in listed if int(o["orderFlags"]) == 0]
    stateful = [o for o in listed if int(o["orderFlags"]) != 0]
    codes, txs = [], 0
    for start in range(0, len(short), 100):
        chunk = short[start : start + 100]
        by_pair: dict[int, list[int]] = {}
        for o in chunk:
            by_pair.setdefault(int(o["clobPairId"]), []).append(int(o["clientId"]))
        batches = [OrderBatch(clob_pair_id=k, client_ids=v) for k, v in by_pair.items()]
        gtb = max(max(int(o["goodTilBlock"]) for o in chunk), height + 1)
        answer = await node.batch_cancel_orders(
            wallet, subaccount_id(address, subaccount), batches, gtb
        )
        codes.append(answer.tx_response.code)
        txs += 1
    for o in stateful:
        order_id = OrderId(
            subaccount_id=SubaccountId(owner=address, number=subaccount),
            client_id=int(o["clientId"]), order_flags=int(o["orderFlags"]),
            clob_pair_id=int(o["clobPairId"]),
        )  # fmt: skip
        gtbt = calendar.timegm(time.strptime(o["goodTilBlockTime"][:19], "%Y-%m-%dT%H:%M:%S"))
        answer = await node.cancel_order(wallet, order_id, good_til_block_time=gtbt)
        wallet.sequence += 1
        codes.append(answer.tx_response.code)
        txs += 1
    return {"ms": (time.perf_counter() - started) * 1000, "orders": len(listed), "txs": txs,
            "failed": sum(1 for c in codes if c)}  # fmt: skip


async def main(argv: list[str]) -> dict:
    grpc_target, indexer_url, mode = argv[0], argv[1], argv[2]
    node, indexer, wallet, address, market = await connect(grpc_target, indexer_url)
    if mode == "cycles":
        stateful = argv[3] == "long-term"
        return {"cycles": [await cycle(node, wallet, address, market, stateful)
                           for _ in range(int(argv[4]))]}  # fmt: skip
    if mode == "sustained":
        deadline = time.perf_counter() + float(argv[3])
        count, failed, started = 0, 0, time.perf_counter()
        while time.perf_counter() < deadline:
            out = await cycle(node, wallet, address, market, False)
            count += 1
            failed += bool(out["place_code"] or out["cancel_code"])
        return {"cycles": count, "failed": failed, "seconds": time.perf_counter() - started}
    if mode == "cancel_all":
        return await cancel_all(node, indexer, wallet, address, int(argv[3]))
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
