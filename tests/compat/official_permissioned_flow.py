"""The official dYdX Python client's permissioned-key flow (dydx-v4-client, examples/
permissioned_keys_example.py) driving an emulator: the owner adds an AllOf(signature of the
trader's key, MsgPlaceOrder only) authenticator, the trader places a short-term and a
long-term order for the owner through TxOptions (the TxExtension), a cancel outside the
message filter is refused, the owner removes the authenticator, and a place after that
is refused.

Runs in the official client's own virtualenv, as a subprocess:
    python official_permissioned_flow.py GRPC_TARGET INDEXER_URL
with DYDX_MNEMONIC (owner) and TRADER_MNEMONIC. Prints one JSON document. Imports nothing
of dydxctl.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys


async def _wait_for(predicate, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await predicate():
        if loop.time() > deadline:
            raise TimeoutError("the emulator did not include the tx in time")
        await asyncio.sleep(0.2)


async def run(grpc_target: str, indexer_url: str) -> dict:
    from dydx_v4_client import MAX_CLIENT_ID, OrderFlags
    from dydx_v4_client.indexer.rest.constants import OrderType
    from dydx_v4_client.indexer.rest.indexer_client import IndexerClient
    from dydx_v4_client.key_pair import KeyPair
    from dydx_v4_client.network import local_node, make_insecure
    from dydx_v4_client.node.authenticators import Authenticator, AuthenticatorType
    from dydx_v4_client.node.builder import TxOptions
    from dydx_v4_client.node.client import NodeClient
    from dydx_v4_client.node.market import Market, since_now
    from dydx_v4_client.wallet import Wallet
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    network = make_insecure(
        local_node, rest_indexer=indexer_url, websocket_indexer="ws://127.0.0.1:9/v4/ws",
        node_url=grpc_target,
    )  # fmt: skip
    node = await NodeClient.connect(network.node)
    indexer = IndexerClient(network.rest_indexer)
    owner_address = Wallet(KeyPair.from_mnemonic(os.environ["DYDX_MNEMONIC"]), 0, 0).address
    wallet = await Wallet.from_mnemonic(node, os.environ["DYDX_MNEMONIC"], owner_address)
    trader = Wallet(KeyPair.from_mnemonic(os.environ["TRADER_MNEMONIC"]), 0, 0)

    place_only = Authenticator.compose(
        AuthenticatorType.AllOf,
        [
            Authenticator.signature_verification(trader.public_key.key),
            Authenticator.message_filter("/dydxprotocol.clob.MsgPlaceOrder"),
        ],
    )
    added = await node.add_authenticator(wallet, place_only)

    async def listed() -> bool:
        return len((await node.get_authenticators(owner_address)).account_authenticators) > 0

    await _wait_for(listed)
    authenticators = (await node.get_authenticators(owner_address)).account_authenticators
    auth_id = authenticators[-1].id

    market = Market((await indexer.markets.get_perpetual_markets("BTC-USD"))["markets"]["BTC-USD"])

    async def place(flags: int, account_sequence: int) -> tuple[object, object]:
        order_id = market.order_id(owner_address, 0, random.randint(0, MAX_CLIENT_ID), flags)
        height = await node.latest_block_height()
        good_til = (
            {"good_til_block": height + 10}
            if flags == OrderFlags.SHORT_TERM
            else {"good_til_block_time": since_now(seconds=3600)}
        )
        order = market.order(
            order_id=order_id, order_type=OrderType.LIMIT, side=Order.Side.SIDE_BUY, size=0.001,
            price=50000, time_in_force=Order.TimeInForce.TIME_IN_FORCE_UNSPECIFIED,
            reduce_only=False, **good_til,
        )  # fmt: skip
        options = TxOptions(
            authenticators=[auth_id], sequence=account_sequence,
            account_number=wallet.account_number,
        )  # fmt: skip
        return order_id, await node.place_order(trader, order, options)

    account = await node.get_account(owner_address)
    short_id, short = await place(OrderFlags.SHORT_TERM, account.sequence)
    _long_id, long_term = await place(OrderFlags.LONG_TERM, account.sequence)
    height = await node.latest_block_height()
    refused_cancel = await node.cancel_order(
        trader, short_id, good_til_block=height + 10,
        tx_options=TxOptions(authenticators=[auth_id], sequence=0,
                             account_number=wallet.account_number),
    )  # fmt: skip

    async def sequence_moved() -> bool:
        return (await node.get_account(owner_address)).sequence > account.sequence

    await _wait_for(sequence_moved)  # the long-term placement's block
    removed = await node.remove_authenticator(wallet, auth_id)

    async def emptied() -> bool:
        return not (await node.get_authenticators(owner_address)).account_authenticators

    await _wait_for(emptied)
    _after_id, after = await place(OrderFlags.SHORT_TERM, 0)

    def answer(response: object) -> dict:
        r = response.tx_response
        return {"code": r.code, "codespace": r.codespace, "log": r.raw_log}

    return {
        "owner": owner_address,
        "trader": trader.address,
        "authenticator_id": auth_id,
        "authenticator_type": authenticators[-1].type,
        "add": answer(added),
        "place_short_term": answer(short),
        "place_long_term": answer(long_term),
        "cancel_outside_filter": answer(refused_cancel),
        "remove": answer(removed),
        "place_after_remove": answer(after),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1], sys.argv[2]))))
