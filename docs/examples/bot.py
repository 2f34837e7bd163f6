"""A minimal bot on dydxctl's library API (docs/library.md), runnable against the emulator:

    python docs/examples/bot.py               # starts its own emulator on 127.0.0.1
    python docs/examples/bot.py GRPC INDEXER  # or uses a running one

It places a short-term and a long-term order, cancels one, cancels the rest with
cancel_all, waits for the first to be final, settles the store with sync, and prints
one JSON line per step.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from dydxctl.api import Client, DydxctlError

# dYdX's published test mnemonic: only ever for the emulator.
TEST_MNEMONIC = (
    "mirror actor skill push coach wait confirm orchard lunch mobile athlete gossip awake "
    "miracle matter bus reopen team ladder lazy list timber render wait"
)


def run(grpc: str, indexer: str, db: Path) -> list[dict]:
    steps = []
    env = {**os.environ, "DYDX_MNEMONIC": os.environ.get("DYDX_MNEMONIC", TEST_MNEMONIC)}
    # Open once: one store, one gRPC channel, one Indexer connection for the bot's life.
    with Client.open(network="local", grpc=grpc, indexer=indexer, db=db, env=env) as client:
        short = client.place("BTC-USD", "buy", "0.001", price="50000", good_til_blocks=4)
        steps.append(
            {
                "step": "place short-term",
                "order_id": short.order["order_id"],
                "good_til_block": short.order["good_til_block"],
            }
        )
        long = client.place("ETH-USD", "sell", "0.01", price="4000", good_til="1h")
        steps.append(
            {
                "step": "place long-term",
                "order_id": long.order["order_id"],
                "good_til_block_time": long.order["good_til_block_time"],
            }
        )
        cancelled = client.cancel(short.order["order_id"])
        steps.append({"step": "cancel", "outcome": cancelled.outcome})
        everything = client.cancel_all()  # the long-term one (the short one is on its way)
        steps.append({"step": "cancel_all", "summary": everything["summary"]})
        final = client.wait(short.order["order_id"], timeout_s=30)  # until its GTB passes
        steps.append({"step": "wait", "outcome": final.outcome})
        try:
            client.cancel("no-such-order")
        except DydxctlError as exc:  # every failure: a kind and the CLI's exit code
            steps.append({"step": "cancel a bad id", "error": exc.kind, "exit_code": exc.exit_code})
        steps.append({"step": "sync", "changed": len(client.sync()["changed"])})
    return steps


def main(argv: list[str]) -> int:
    db = Path(tempfile.mkdtemp(prefix="dydxctl-bot-")) / "orders.db"
    if len(argv) == 2:
        steps = run(argv[0], argv[1], db)
    else:
        from dydxctl.emulator import Emulator

        with Emulator(block_time_s=0.5) as emulator:
            steps = run(emulator.grpc_target, emulator.indexer_url, db)
    for step in steps:
        print(json.dumps(step))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
