"""The emulated Indexer's REST API (/v4/...) and the admin hooks tests drive (/admin/...)."""

from __future__ import annotations

import json
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from dydxctl.durations import iso_ms

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
            if path == "/v4/height":
                self._send(200, {"height": str(state.height), "time": iso_ms(state.block_time)})
            elif path == "/v4/time":
                self._send(200, {"iso": iso_ms(state.block_time), "epoch": state.block_time})
            elif path == "/v4/perpetualMarkets":
                ticker = query.get("ticker", [None])[0]
                markets = {
                    m.ticker: state.indexer_market(m)
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
                book = state.by_uuid.get(order_id)
                if book is None:
                    self._not_found(f"No order found with id: {order_id}")
                else:
                    self._send(200, state.indexer_order(book))
            else:
                self._not_found(f"Cannot GET {path}")

    def _orders(self, query: dict[str, list[str]]) -> None:
        state = self.server.emulator.state
        address = query.get("address", [""])[0]
        if not address:
            self._send(400, {"errors": [{"msg": "address is required"}]})
            return
        number = int(query.get("subaccountNumber", ["0"])[0])
        limit = min(int(query.get("limit", ["1000"])[0]), 1000)
        ticker = query.get("ticker", [None])[0]
        statuses = set(",".join(query.get("status", [])).split(",")) - {""}
        rows = []
        for book in sorted(state.by_uuid.values(), key=lambda b: -b.updated_at):
            owner, sub = book.key[0], book.key[1]
            if owner != address or sub != number:
                continue
            if ticker and book.market.ticker != ticker:
                continue
            if statuses and book.status not in statuses:
                continue
            rows.append(state.indexer_order(book))
        self._send(200, rows[:limit])

    def _admin_get(self, path: str) -> None:
        emulator = self.server.emulator
        if path == "/admin/calls":
            self._send(200, emulator.call_log())
        elif path == "/admin/state":
            self._send(200, emulator.summary())
        else:
            self._not_found(path)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        emulator = self.server.emulator
        try:
            body = self._body()
            if path == "/admin/advance":
                self._send(200, {"height": emulator.advance(int(body.get("blocks", 1)))})
            elif path == "/admin/fill":
                quantums = body.get("quantums")
                book = emulator.state.fill(body["order_id"], int(quantums) if quantums else None)
                self._send(200, emulator.state.indexer_order(book))
            elif path == "/admin/trigger":
                self._send(
                    200, emulator.state.indexer_order(emulator.state.trigger(body["order_id"]))
                )
            elif path == "/admin/latency":
                emulator.latency_ms = float(body.get("ms", 0))
                self._send(200, {"latency_ms": emulator.latency_ms})
            elif path == "/admin/fault":
                emulator.fail_next(body.pop("method"), **body)
                self._send(200, {"ok": True})
            elif path == "/admin/calls/reset":
                emulator.reset_calls()
                self._send(200, {"ok": True})
            else:
                self._not_found(path)
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            self._send(400, {"errors": [{"msg": f"bad admin request: {exc}"}]})


def _route_name(path: str) -> str:
    """The call-log name of a path: /v4/orders/<uuid> is logged as /v4/orders/{id}."""
    if path.startswith("/v4/orders/"):
        return "/v4/orders/{id}"
    return path
