"""The emulated Indexer's REST API (/v4/...), read from the two-store model (indexer_model.py);
the admin hooks (/admin/...) are answered by admin_api.py."""

from __future__ import annotations

import json
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from dydxctl.emulator.admin_api import answer_admin_get, answer_admin_post
from dydxctl.emulator.markets import Market, iso_ms

if TYPE_CHECKING:
    from dydxctl.emulator.server import Emulator


class IndexerHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        super().__init__(address, IndexerHandler)
        self.emulator = emulator


class IndexerHandler(BaseHTTPRequestHandler):
    server: IndexerHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the real Indexer (and our client) use

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        return

    # --- plumbing ---
    def _send(self, status: int, body: Any, *, raw: bytes | None = None, ctype: str = "") -> None:
        payload = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype or "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _not_found(self, message: str) -> None:
        self._send(404, {"errors": [{"msg": message}]})

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        return json.loads(self.rfile.read(length) or b"{}")

    # --- verbs ---
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path.rstrip("/"), parse_qs(parts.query)
        if path.startswith("/admin/"):
            self._admin_get(path)
            return
        emulator = self.server.emulator
        fault = emulator.observe("rest", _route_name(path))
        if fault and "http_status" in fault:
            body = fault.get("body", "<html><body>injected failure</body></html>").encode()
            self._send(fault["http_status"], None, raw=body, ctype="text/html")
            return
        state = emulator.state
        with state.lock:
            state.sync_indexer()
            indexer = state.indexer
            if path == "/v4/height":
                self._send(200, {"height": str(indexer.height), "time": iso_ms(indexer.block_time)})
            elif path == "/v4/time":
                self._send(200, {"iso": iso_ms(state.block_time), "epoch": state.block_time})
            elif path == "/v4/perpetualMarkets":
                ticker = query.get("ticker", [None])[0]
                markets = {
                    m.ticker: _market(m)
                    for m in state.markets.values()
                    if ticker in (None, m.ticker)
                }
                self._send(200, {"markets": markets})
            elif path == "/v4/orders":
                self._orders(query)
            elif path.startswith("/v4/orders/"):
                order_id = path.rsplit("/", 1)[1]
                try:
                    uuid.UUID(order_id)
                except ValueError:
                    self._send(400, {"errors": [{"msg": "orderId must be a valid uuid"}]})
                    return
                found = indexer.get(order_id)
                if found is None:  # comlink orders-controller.ts getOrder: NotFoundError
                    self._not_found(f"Unable to find order id {order_id}")
                else:
                    self._send(200, found)
            else:
                self._not_found(f"Cannot GET {path}")

    def _orders(self, query: dict[str, list[str]]) -> None:
        """comlink orders-controller.ts listOrders: Postgres and Redis merged, filtered,
        sorted by goodTilBlock then goodTilBlockTime (DESC by default), limited."""
        indexer = self.server.emulator.state.indexer
        address = query.get("address", [""])[0]
        if not address:
            self._send(400, {"errors": [{"msg": "address is required"}]})
            return
        number = int(query.get("subaccountNumber", ["0"])[0])
        limit = min(int(query.get("limit", ["1000"])[0]), 1000)
        filters = {
            name: set(",".join(query.get(name, [])).split(",")) - {""}
            for name in ("status", "side", "type")
        }
        ticker = query.get("ticker", [None])[0]
        rows = [
            row
            for row in indexer.list(address, number)
            if (ticker is None or row["ticker"] == ticker)
            and all(not wanted or row[name] in wanted for name, wanted in filters.items())
        ]
        rows.sort(
            key=_order_sort_key, reverse=query.get("returnLatestOrders", ["true"])[0] != "false"
        )
        self._send(200, rows[:limit])

    def _admin_get(self, path: str) -> None:
        answer_admin_get(self, path)

    def do_POST(self) -> None:
        answer_admin_post(self, urlsplit(self.path).path.rstrip("/"))


def _order_sort_key(row: dict[str, Any]) -> tuple[int, str | int]:
    if row.get("goodTilBlock") is not None:
        return (0, int(row["goodTilBlock"]))
    return (1, row.get("goodTilBlockTime") or "")


def _market(market: Market) -> dict[str, Any]:
    """comlink perpetual-markets-controller.ts (the fields the product reads)."""
    return {
        "ticker": market.ticker,
        "clobPairId": str(market.clob_pair_id),
        "status": market.status,
        "oraclePrice": str(market.oracle_price),
        "atomicResolution": market.atomic_resolution,
        "quantumConversionExponent": market.quantum_conversion_exponent,
        "stepBaseQuantums": market.step_base_quantums,
        "subticksPerTick": market.subticks_per_tick,
        "stepSize": str(market.step_size),
        "tickSize": str(market.tick_size),
        "marketType": "CROSS",
    }


def _route_name(path: str) -> str:
    """The call-log name of a path: /v4/orders/<uuid> is logged as /v4/orders/{id}."""
    if path.startswith("/v4/orders/"):
        return "/v4/orders/{id}"
    return path
