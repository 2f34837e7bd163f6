"""The official dYdX Python client (dydx-v4-client) driving an emulator, following the
client's own documented flow (examples/short_term_order_composite_example.py): Indexer
market, wallet from the node's account, latest block, place; then cancel.

Runs in the official client's own virtualenv (it pins v4-proto 8.x), as a subprocess:
    python official_flow.py GRPC_TARGET INDEXER_URL CYCLES
with the mnemonic in DYDX_MNEMONIC. Prints one JSON document. Imports nothing of dydxctl.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time


async def run(grpc_target: str, indexer_url: str, cycles: int) -> dict:
    from dydx_v4_client import MAX_CLIENT_ID, OrderFlags
    from dydx_v4_client.indexer.rest.constants import OrderType
    from dydx_v4_client.indexer.rest.indexer_client import IndexerClient
    from dydx_v4_client.network import local_node, make_insecure
    from dydx_v4_client.node.client import NodeClient
    from dydx_v4_client.node.market import Market, since_now
    from dydx_v4_client.wallet import Wallet
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    mnemonic = os.environ["DYDX_MNEMONIC"]
    network = make_insecure(
        local_node,
        rest_indexer=indexer_url,
        websocket_indexer="ws://127.0.0.1:9/v4/ws",
        node_url=grpc_target,
    )
    node = await NodeClient.connect(network.node)
    indexer = IndexerClient(network.rest_indexer)
    from dydx_v4_client.key_pair import KeyPair

    address = Wallet(KeyPair.from_mnemonic(mnemonic), 0, 0).address
    wallet = await Wallet.from_mnemonic(node, mnemonic, address)
    height = await node.latest_block_height()
    cycles_out = []
    for i in range(cycles):
        stateful = i % 2 == 1
        started = time.perf_counter()
        markets = await indexer.markets.get_perpetual_markets("BTC-USD")
        market = Market(markets["markets"]["BTC-USD"])
        flags = OrderFlags.LONG_TERM if stateful else OrderFlags.SHORT_TERM
        order_id = market.order_id(address, 0, random.randint(0, MAX_CLIENT_ID), flags)
        height = await node.latest_block_height()
        good_til = (
            {"good_til_block_time": since_now(seconds=3600)}
            if stateful
            else {"good_til_block": height + 10}
        )
        order = market.order(
            order_id=order_id,
            order_type=OrderType.LIMIT,
            side=Order.Side.SIDE_BUY,
            size=0.001,
            price=50000,
            time_in_force=Order.TimeInForce.TIME_IN_FORCE_UNSPECIFIED,
            reduce_only=False,
            **good_til,
        )
        placed = await node.place_order(wallet, order)
        placed_at = time.perf_counter()
        if stateful:
            # A real node answers account queries from the last committed block, and the
            # client queries the sequence before each send: wait for the placement's block,
            # or the cancel reuses its sequence (sdk 32), on the chain as on the emulator.
            placed_height = await node.latest_block_height()
            while await node.latest_block_height() <= placed_height:
                await asyncio.sleep(0.05)
            cancelled = await node.cancel_order(
                wallet, order_id, good_til_block_time=good_til["good_til_block_time"]
            )
        else:
            height = await node.latest_block_height()
            cancelled = await node.cancel_order(wallet, order_id, good_til_block=height + 10)
        done = time.perf_counter()
        if stateful:
            # Its SequenceManager reads the sequence before every send (node/client.py
            # SequenceManager.before_send), from the last committed block: the next stateful
            # send would reuse this cancel's sequence (sdk 32) until its block, so wait for
            # it here, outside the timed cycle.
            cancelled_height = await node.latest_block_height()
            while await node.latest_block_height() <= cancelled_height:
                await asyncio.sleep(0.05)
        cycles_out.append(
            {
                "kind": "long-term" if stateful else "short-term",
                "place_code": placed.tx_response.code,
                "place_log": placed.tx_response.raw_log,
                "cancel_code": cancelled.tx_response.code,
                "cancel_log": cancelled.tx_response.raw_log,
                "place_ms": (placed_at - started) * 1000,
                "cancel_ms": (done - placed_at) * 1000,
            }
        )
    return {"address": address, "height": height, "cycles": cycles_out}


if __name__ == "__main__":
    target, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(asyncio.run(run(target, url, count))))
