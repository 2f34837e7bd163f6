"""The emulator: a gRPC full node, CometBFT JSON-RPC and an Indexer on 127.0.0.1, a block
clock, test hooks.

Used in-process by tests (ports 0) and in the foreground by `dydxctl emulator`.
It binds to loopback only.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc

from dydxctl.emulator import rules
from dydxctl.emulator.comet_rpc import CometRPCServer
from dydxctl.emulator.grpc_api import add_services
from dydxctl.emulator.inproc_grpc import InProcessEmulator, ServiceRegistry
from dydxctl.emulator.persist import load_state, save_state
from dydxctl.emulator.rest_api import IndexerHTTPServer
from dydxctl.emulator.socks_feed import SocksFeed
from dydxctl.emulator.state import CHAIN_ID, ChainState
from dydxctl.emulator.ws_api import SocksServer

LOOPBACK = "127.0.0.1"
GRPC_WORKERS = 128  # concurrent gRPC calls served (cancel --all sends dozens together)


class Emulator:
    def __init__(
        self,
        *,
        grpc_port: int = 0,
        indexer_port: int = 0,
        ws_port: int = 0,
        rpc_port: int = 0,
        block_time_s: float = 1.0,
        latency_ms: float = 0.0,
        chain_id: str = CHAIN_ID,
        state_dir: Path | None = None,
        app_version: str = rules.DEFAULT_APP_VERSION,
        rate_limits: bool | dict[str, Any] = False,
    ) -> None:
        """app_version: the protocol version to emulate ("9.6.1"; "9.4.0" has the older
        ShortBlockWindow 20). rate_limits: True for the genesis block rate limits, or
        {"short_term": [(num_blocks, limit)], "stateful": [...]}; off by default."""
        self.state = ChainState(
            chain_id=chain_id,
            block_time_s=block_time_s,
            app_version=app_version,
            rate_limits=rate_limits,
        )
        self.state_dir = state_dir
        self.restored = bool(state_dir) and load_state(self.state, state_dir)
        self.requested_ports = (grpc_port, indexer_port, ws_port)
        self.requested_rpc_port = rpc_port
        self.block_time_s = block_time_s
        self.latency_ms = latency_ms
        self.grpc_port = 0
        self.indexer_port = 0
        self.ws_port = 0
        self.socks: SocksServer | None = None
        self.rpc_port = 0
        self._rpc: CometRPCServer | None = None
        self._calls: list[dict[str, Any]] = []
        self._faults: dict[str, list[dict[str, Any]]] = {}
        self._hooks_lock = threading.Lock()
        self._stop = threading.Event()
        self._grpc: grpc.Server | None = None
        self._http: IndexerHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---
    def start(self) -> Emulator:
        # A node serves every call at once (grpc-go: a goroutine per stream); 16 workers made
        # a 17th concurrent call wait a whole injected latency for a free thread.
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS))
        add_services(self._grpc, self)
        services = ServiceRegistry()  # the same servicers again, for JSON-RPC to call in-process
        add_services(services, InProcessEmulator(self))  # type: ignore[arg-type]
        self.grpc_port = self._grpc.add_insecure_port(f"{LOOPBACK}:{self.requested_ports[0]}")
        if not self.grpc_port:
            raise OSError(f"cannot bind gRPC to {LOOPBACK}:{self.requested_ports[0]}")
        self._grpc.start()
        self._http = IndexerHTTPServer((LOOPBACK, self.requested_ports[1]), self)
        self.indexer_port = self._http.server_address[1]
        http_thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="indexer",
            daemon=True,
        )
        http_thread.start()
        self._threads.append(http_thread)
        self.socks = SocksServer(
            LOOPBACK, self.requested_ports[2], self._socks_snapshot, self.state.lock
        ).start()
        self.ws_port = self.socks.port
        self._socks_feed = SocksFeed(self.state.indexer, self.socks)
        self.state.indexer.socks_listeners.append(self.socks.publish)
        self._rpc = CometRPCServer((LOOPBACK, self.requested_rpc_port), self, services)
        self.rpc_port = self._rpc.server_address[1]
        rpc_thread = threading.Thread(
            target=self._rpc.serve_forever, kwargs={"poll_interval": 0.05}, name="rpc", daemon=True
        )
        rpc_thread.start()
        self._threads.append(rpc_thread)
        if self.block_time_s > 0:
            clock = threading.Thread(target=self._clock, name="block-clock", daemon=True)
            clock.start()
            self._threads.append(clock)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.state_dir is not None:
            save_state(self.state, self.state_dir)
        if self.socks is not None:
            self.socks.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._rpc is not None:
            self._rpc.shutdown()
            self._rpc.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace=None)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _clock(self) -> None:
        while not self._stop.wait(self.block_time_s):
            self.state.advance(1)
            if self.state_dir is not None:
                save_state(self.state, self.state_dir)

    @property
    def grpc_target(self) -> str:
        return f"{LOOPBACK}:{self.grpc_port}"

    @property
    def indexer_url(self) -> str:
        return f"http://{LOOPBACK}:{self.indexer_port}"

    @property
    def ws_url(self) -> str:
        """The Indexer websocket (socks), on its own port as in dYdX's localnet."""
        return f"ws://{LOOPBACK}:{self.ws_port}/v4/ws"

    def _socks_snapshot(self, address: str, number: int, parent: bool) -> dict[str, Any]:
        self.state.sync_indexer()
        return self._socks_feed.snapshot(address, number, parent)

    @property
    def rpc_url(self) -> str:
        """CometBFT JSON-RPC (comet_rpc.py), what cosmjs clients take as their endpoint."""
        return f"http://{LOOPBACK}:{self.rpc_port}"

    # --- test hooks ---
    def advance(self, blocks: int = 1) -> int:
        return self.state.advance(blocks)

    def fill(
        self, order_uuid: str, quantums: int | None = None, size: Decimal | str | None = None
    ) -> dict[str, Any]:
        """A match for a resting order: all of it, `quantums`, or `size` (base units)."""
        return self.state.fill(order_uuid, quantums, Decimal(size) if size is not None else None)

    def fill_next_ioc(self, quantums: int | None = None, size: Decimal | str | None = None) -> None:
        """Liquidity for the next IOC (market) order: it fills that much (None: all of it)
        at once; its remainder, if any, is removed as usual."""
        with self.state.lock:
            self.state.ioc_liquidity.append(
                (
                    None if quantums is None else int(quantums),
                    None if size is None else Decimal(size),
                )
            )

    def trigger(self, order_uuid: str) -> None:
        """A conditional order is triggered, whatever the oracle price."""
        self.state.trigger(order_uuid)

    def set_oracle_price(self, market: str, price: Decimal | str) -> list[str]:
        """Move a market's oracle price; conditional orders whose condition is now met are
        triggered (their uuids are returned)."""
        return self.state.set_oracle_price(market, Decimal(str(price)))

    def fail_next_deliver(
        self, codespace: str = "clob", code: int = 3009, log: str | None = None
    ) -> None:
        """The next stateful tx passes CheckTx, then fails in its block with this code."""
        with self.state.lock:
            self.state.deliver_faults.append(
                {
                    "codespace": codespace,
                    "code": int(code),
                    "log": log or "injected DeliverTx failure",
                }
            )

    def drop_next_stateful(self) -> None:
        """The next stateful tx CheckTx accepts is never included in a block."""
        with self.state.lock:
            self.state.drops_pending += 1

    def set_indexer_lag(self, blocks: int) -> None:
        """The Indexer applies chain events `blocks` blocks after they happen (0: live)."""
        with self.state.lock:
            self.state.indexer.lag_blocks = max(0, int(blocks))
            self.state.sync_indexer()

    def fail_next(self, method: str, **fault: Any) -> None:
        """Make the next call of `method` fail: grpc_status="UNAVAILABLE", a tx code
        (codespace=, code=), http_status=500 (body=), delay_s= (a slow answer), or
        after_apply=True (a broadcast applied whose answer is lost)."""
        with self._hooks_lock:
            self._faults.setdefault(method, []).append(fault)

    def observe(self, kind: str, name: str) -> dict[str, Any] | None:
        """Record a call, apply latency and any fault delay; return the fault to inject."""
        with self._hooks_lock:
            self._calls.append({"kind": kind, "name": name, "at": time.time()})
            queue = self._faults.get(name)
            fault = queue.pop(0) if queue else None
        delay = self.latency_ms / 1000 + (fault or {}).get("delay_s", 0)
        if delay:
            time.sleep(delay)
        return fault

    def call_log(self) -> list[dict[str, Any]]:
        with self._hooks_lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        with self._hooks_lock:
            self._calls.clear()

    def summary(self) -> dict[str, Any]:
        state = self.state
        with state.lock:
            return {
                "chain_id": state.chain_id,
                "height": state.height,
                "block_time": state.block_time,
                "app_version": state.app_version,
                "open_orders": state.open_order_count(),
                "orders": len(state.indexer.postgres) + len(state.indexer.redis),
                "accounts": len(state.accounts),
                "grpc": self.grpc_target,
                "indexer": self.indexer_url,
                "websocket": self.ws_url,
                "rpc": self.rpc_url,
            }
