"""`dydxctl demo`: the whole lifecycle on a throwaway emulator, wallet and store.

A new mnemonic is generated for the run and never shown; the store lives in a temporary
directory that is removed afterwards. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dydxctl.config import NETWORKS, Settings
from dydxctl.emulator import Emulator
from dydxctl.orders import OrderRequest
from dydxctl.runtime import Runtime

# What to try after the demo: the same steps against an emulator you keep running.
NEXT_STEPS = (
    "Next, run it yourself against an emulator that keeps running "
    '(README: "A session against the emulator"):\n'
    "  terminal 1: dydxctl emulator\n"
    "  terminal 2: dydxctl keys new --out ~/test-key.txt\n"
    "              export DYDXCTL_NETWORK=local DYDXCTL_MNEMONIC_FILE=~/test-key.txt\n"
    "              dydxctl place --market BTC-USD --side buy --size 0.001 --price 50000"
)

Narrate = Callable[[str, str, Any], None]


def run_demo(settings: Settings, narrate: Narrate) -> dict[str, Any]:
    """Run each step and call narrate(step, one-line explanation, data) after it."""
    from decimal import Decimal

    from mnemonic import Mnemonic

    from dydxctl import lifecycle, reconcile
    from dydxctl.durations import format_unix

    mnemonic = Mnemonic("english").generate(strength=256)
    with Emulator(block_time_s=0.5) as emulator, tempfile.TemporaryDirectory() as tmp:
        demo_settings = Settings(
            network=NETWORKS["local"],
            grpc=emulator.grpc_target,
            indexer=emulator.indexer_url,
            websocket=emulator.ws_url,
            chain_id=emulator.state.chain_id,
            insecure=False,
            db=Path(tmp) / "demo.db",
            json=settings.json,
            verbose=settings.verbose,
            debug=settings.debug,
            log_file=settings.log_file,
            mnemonic_file=None,
            features=settings.features,  # the demo honours the user's feature flags
        )
        rt = Runtime(demo_settings, env={"DYDX_MNEMONIC": mnemonic})
        try:
            summary = emulator.summary()
            block = rt.node().latest_block()
            steps: dict[str, Any] = {
                "emulator": {
                    "chain_id": summary["chain_id"], "height": block.height,
                    "block_time": format_unix(block.time_unix), "grpc": summary["grpc"],
                    "indexer": summary["indexer"],
                }
            }  # fmt: skip
            narrate(
                "emulator",
                f"1/8 Started a throwaway local chain + Indexer ({summary['chain_id']}, "
                f"block {block.height}) on 127.0.0.1.",
                steps["emulator"],
            )
            steps["address"] = rt.wallet().address
            narrate(
                "wallet",
                f"2/8 Generated a throwaway wallet {steps['address']} (its phrase is never shown).",
                {"address": steps["address"]},
            )
            short = lifecycle.place(
                rt,
                OrderRequest(
                    market="BTC-USD", side="buy", size=Decimal("0.001"), price=Decimal("60000"),
                    good_til_blocks=20,
                ),
            )  # fmt: skip
            narrate(
                "place short-term",
                "3/8 Placed a short-term BTC-USD buy that lives 20 blocks; its row was stored "
                "before the broadcast.",
                short.order,
            )
            long = lifecycle.place(
                rt,
                OrderRequest(
                    market="ETH-USD", side="sell", size=Decimal("0.5"), price=Decimal("4000.5"),
                    good_til="12h",
                ),
            )  # fmt: skip
            narrate(
                "place long-term",
                "4/8 Placed a long-term ETH-USD sell good for 12 hours (a stateful order).",
                long.order,
            )
            steps["placed"] = [short.order["order_id"], long.order["order_id"]]
            orders = rt.store().list_orders()
            narrate("orders", "5/8 Both orders as the store holds them (`dydxctl orders`).", orders)
            cancels = []
            for order_id in steps["placed"]:
                result = lifecycle.cancel(rt, order_id)
                cancels.append(
                    {
                        "order_id": order_id,
                        "outcome": result.outcome,
                        "tx_hash": result.tx_hash,
                        "latency_ms": result.latency_ms,
                    }
                )
            narrate(
                "cancel",
                "6/8 Cancelled both from the stored metadata, one broadcast each "
                "(`dydxctl cancel ORDER_ID`).",
                cancels,
            )
            steps["cancels"] = cancels
            # Past the short-term order's good_til_block and prune's safety margin.
            emulator.advance(30)
            steps["sync"] = reconcile.sync(rt)
            narrate(
                "sync",
                f"7/8 Let 30 blocks pass and reconciled with the Indexer (`dydxctl sync`): "
                f"{len(steps['sync']['changed'])} orders changed status.",
                steps["sync"],
            )
            steps["stats"] = rt.store().cancel_metrics()
            summary_prune = reconcile.prune(rt)
            steps["prune"] = {
                "expired_short_term": summary_prune.expired_short_term,
                "expired_stateful": summary_prune.expired_stateful,
                "final_state": summary_prune.final_state,
                "kept": summary_prune.kept,
            }
            narrate(
                "prune-expired",
                f"8/8 Pruned metadata that can no longer matter (`dydxctl prune-expired`): "
                f"deleted {summary_prune.deleted}, kept {summary_prune.kept} "
                "(final orders stay 7 days).",
                steps["prune"],
            )
            steps["next"] = NEXT_STEPS
            return steps
        finally:
            rt.close()
