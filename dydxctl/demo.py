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


def run_demo(settings: Settings, show_step: Callable[[str, Any], None]) -> dict[str, Any]:
    from decimal import Decimal

    from mnemonic import Mnemonic

    from dydxctl import lifecycle, reconcile

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
        )
        rt = Runtime(demo_settings, env={"DYDX_MNEMONIC": mnemonic})
        try:
            steps: dict[str, Any] = {"emulator": emulator.summary()}
            show_step("emulator", steps["emulator"])
            steps["address"] = rt.wallet().address
            show_step("wallet", {"address": steps["address"]})
            short = lifecycle.place(
                rt,
                OrderRequest(
                    market="BTC-USD", side="buy", size=Decimal("0.001"), price=Decimal("60000"),
                    good_til_blocks=20,
                ),
            )  # fmt: skip
            show_step("place short-term", short.order)
            long = lifecycle.place(
                rt,
                OrderRequest(
                    market="ETH-USD", side="sell", size=Decimal("0.5"), price=Decimal("4000.5"),
                    good_til="12h",
                ),
            )  # fmt: skip
            show_step("place long-term", long.order)
            steps["placed"] = [short.order["order_id"], long.order["order_id"]]
            orders = rt.store().list_orders()
            show_step("orders", orders)
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
            show_step("cancel", cancels)
            steps["cancels"] = cancels
            # Past the short-term order's good_til_block and prune's safety margin.
            emulator.advance(30)
            steps["sync"] = reconcile.sync(rt)
            show_step("sync", steps["sync"])
            steps["stats"] = rt.store().cancel_metrics()
            show_step("stats", steps["stats"])
            summary = reconcile.prune(rt)
            steps["prune"] = {
                "expired_short_term": summary.expired_short_term,
                "expired_stateful": summary.expired_stateful,
                "final_state": summary.final_state,
                "kept": summary.kept,
            }
            show_step("prune-expired", steps["prune"])
            return steps
        finally:
            rt.close()
