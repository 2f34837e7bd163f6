"""The library API: what a bot imports. Open a Client once, then place, cancel,
cancel_all, sync and wait — each a plain call that returns the stored order (or raises a
`DydxctlError` whose `exit_code`/`kind` are the CLI's, SPEC §3).

One Client holds one store, one gRPC channel, one Indexer connection and the chain-clock
estimate (height_estimate.py), so on a warm store every place and cancel is one round trip.
The names in `__all__` and the signatures of Client's public methods are a stable
interface (tests/test_api.py asserts them); everything else in dydxctl may change.
Documented in docs/library.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from dydxctl.cancel_one import CancelResult
from dydxctl.errors import DydxctlError, OrderNotFound
from dydxctl.lifecycle import PlaceResult
from dydxctl.orders import OrderRequest
from dydxctl.runtime import Runtime

__all__ = [
    "CancelResult",
    "Client",
    "DydxctlError",
    "OrderRequest",
    "PlaceResult",
]


class Client:
    """A long-lived handle on one network, wallet and store. Not thread-safe: use one
    Client per thread (they may share the store file)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @classmethod
    def open(
        cls,
        *,
        network: str | None = None,
        grpc: str | None = None,
        indexer: str | None = None,
        db: str | Path | None = None,
        chain_id: str | None = None,
        insecure: bool = False,
        timeout_s: float | None = None,
        mnemonic_file: str | Path | None = None,
        config: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Client:
        """Settings as the CLI resolves them (arguments, then DYDXCTL_* variables, then the
        config file). The mnemonic comes from DYDX_MNEMONIC in `env` (default: the process
        environment) or `mnemonic_file` (mode 0600) — never from an argument."""
        from dydxctl.config import resolve

        flags = {
            "network": network, "grpc": grpc, "indexer": indexer,
            "db": str(db) if db is not None else None, "chain_id": chain_id,
            "insecure": insecure, "timeout": timeout_s,
            "mnemonic_file": str(mnemonic_file) if mnemonic_file is not None else None,
            "config": str(config) if config is not None else None,
        }  # fmt: skip
        environment = env if env is not None else os.environ
        return cls(Runtime(resolve(flags, environment), env=environment))

    # --- context manager -------------------------------------------------------------------
    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store and the connections."""
        self.runtime.close()

    # --- identity --------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """The wallet's dydx1… address."""
        return self.runtime.wallet().address

    # --- orders ------------------------------------------------------------------------------
    def place(
        self,
        market: str,
        side: str,
        size: Decimal | str,
        *,
        price: Decimal | str | None = None,
        type: str = "limit",  # the order type, as the CLI names it
        time_in_force: str | None = None,
        good_til_blocks: int | None = None,
        good_til: str | None = None,
        trigger_price: Decimal | str | None = None,
        reduce_only: bool = False,
        client_id: int | None = None,
        subaccount: int = 0,
        dry_run: bool = False,
    ) -> PlaceResult:
        """Place one order. Short-term with `good_til_blocks` (default for market orders),
        stateful with `good_til` ("1h", "28d", an ISO time). The row is stored before the
        broadcast; `result.order["order_id"]` is the Indexer UUID."""
        from dydxctl.lifecycle import place

        request = OrderRequest(
            market, side, Decimal(str(size)), type=type,
            price=None if price is None else Decimal(str(price)), time_in_force=time_in_force,
            good_til_blocks=good_til_blocks, good_til=good_til,
            trigger_price=None if trigger_price is None else Decimal(str(trigger_price)),
            reduce_only=reduce_only, client_id=client_id, subaccount=subaccount,
        )  # fmt: skip
        return place(self.runtime, request, dry_run=dry_run)

    def cancel(
        self, order_id: str, *, wait: bool = False, timeout_s: float = 60.0, dry_run: bool = False
    ) -> CancelResult:
        """Cancel one order (Indexer UUID or stored client id). `outcome` is CANCEL_PENDING
        (accepted) or, with `wait`, CANCELED; a filled or expired order raises."""
        from dydxctl.lifecycle import cancel

        return cancel(self.runtime, order_id, dry_run=dry_run, wait=wait, wait_timeout_s=timeout_s)

    def cancel_all(
        self, *, market: str | None = None, subaccount: int = 0, dry_run: bool = False
    ) -> dict[str, Any]:
        """Cancel every open order (store ∪ Indexer), all transactions in flight together.
        Returns {"summary", "orders": [one row per order with its outcome], "failed"}."""
        from dydxctl.cancel_all import cancel_all

        return cancel_all(self.runtime, market=market, subaccount=subaccount, dry_run=dry_run)

    def sync(self, *, import_orders: bool = False, subaccount: int = 0) -> dict[str, Any]:
        """Settle every stored non-final order by its evidence (chain, block results,
        Indexer); with `import_orders`, record orders placed elsewhere."""
        from dydxctl.reconcile import sync

        return sync(self.runtime, import_orders=import_orders, subaccount=subaccount)

    def wait(self, order_id: str, *, timeout_s: float = 60.0) -> CancelResult:
        """Follow an order whose cancel was accepted until it is final: returns CANCELED;
        raises for FILLED / EXPIRED (exit 4 / 5) and WaitTimedOut after `timeout_s`."""
        from dydxctl.cancel_wait import wait_until_final

        row = self.order(order_id)
        if row is None:
            raise OrderNotFound(f"Order {order_id} is not in the store.", "Check the id.")
        pending = CancelResult(
            row, row["status"], "", tx_hash=row.get("cancel_tx_hash"),
            good_til_block=row.get("cancel_good_til_block"),
            good_til_block_time=row.get("cancel_good_til_block_time"),
        )  # fmt: skip
        return wait_until_final(self.runtime, pending, timeout_s)

    def order(self, order_id: str) -> dict[str, Any] | None:
        """The stored order (by Indexer UUID or client id), or None."""
        return self.runtime.store().resolve(order_id, chain_id=self.runtime.settings.chain_id)
