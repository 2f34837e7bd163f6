"""POST /admin/... and GET /admin/... on the Indexer port: the Emulator's test hooks over HTTP.

Each route calls the same Emulator method a Python test would (server.py).
"""

from __future__ import annotations

import json
from typing import Any


def answer_admin_get(handler: Any, path: str) -> None:
    emulator = handler.server.emulator
    if path == "/admin/calls":
        handler._send(200, emulator.call_log())
    elif path == "/admin/state":
        handler._send(200, emulator.summary())
    else:
        handler._not_found(path)


def _fill(emulator: Any, body: dict[str, Any]) -> Any:
    quantums = body.get("quantums")
    return emulator.fill(
        body["order_id"], int(quantums) if quantums is not None else None, body.get("size")
    )


def _ioc_fill(emulator: Any, body: dict[str, Any]) -> Any:
    quantums = body.get("quantums")
    emulator.fill_next_ioc(int(quantums) if quantums is not None else None, body.get("size"))
    return {"ok": True}


def _fault(emulator: Any, body: dict[str, Any]) -> Any:
    emulator.fail_next(body.pop("method"), **body)
    return {"ok": True}


def _deliver_fault(emulator: Any, body: dict[str, Any]) -> Any:
    emulator.fail_next_deliver(
        body.get("codespace", "clob"), int(body.get("code", 3009)), body.get("log")
    )
    return {"ok": True}


def _latency(emulator: Any, body: dict[str, Any]) -> Any:
    emulator.latency_ms = float(body.get("ms", 0))
    return {"latency_ms": emulator.latency_ms}


def _trigger(emulator: Any, body: dict[str, Any]) -> Any:
    emulator.trigger(body["order_id"])
    return {"ok": True}


def _ws_drop(emulator: Any, body: dict[str, Any]) -> Any:
    return {"dropped": emulator.socks.drop_connections(refuse=bool(body.get("refuse")))}


ROUTES = {
    "/admin/advance": lambda e, b: {"height": e.advance(int(b.get("blocks", 1)))},
    "/admin/fill": _fill,
    "/admin/ioc-fill": _ioc_fill,
    "/admin/trigger": _trigger,
    "/admin/oracle": lambda e, b: {"triggered": e.set_oracle_price(b["market"], str(b["price"]))},
    "/admin/deliver-fault": _deliver_fault,
    "/admin/drop": lambda e, b: (e.drop_next_stateful(), {"ok": True})[1],
    "/admin/indexer-lag": lambda e, b: (e.set_indexer_lag(int(b["blocks"])), {"ok": True})[1],
    "/admin/latency": _latency,
    # the websocket (socks): drop every connection (refuse new ones with {"refuse": true}
    # until /admin/ws/accept), lose the next messages, send a raw (malformed) frame
    "/admin/ws/drop": _ws_drop,
    "/admin/ws/accept": lambda e, b: (e.socks.accept_connections(), {"ok": True})[1],
    "/admin/ws/lose": lambda e, b: (e.socks.lose_next(int(b.get("count", 1))), {"ok": True})[1],
    "/admin/ws/inject": lambda e, b: (e.socks.inject(str(b["raw"])), {"ok": True})[1],
    "/admin/fault": _fault,
    "/admin/calls/reset": lambda e, b: (e.reset_calls(), {"ok": True})[1],
}


def answer_admin_post(handler: Any, path: str) -> None:
    route = ROUTES.get(path)
    if route is None:
        handler._not_found(path)
        return
    try:
        body = handler._body()
        answer = route(handler.server.emulator, body)
    except (KeyError, ValueError, TypeError, ArithmeticError, json.JSONDecodeError) as exc:
        handler._send(400, {"errors": [{"msg": f"bad admin request: {exc!r}"}]})
        return
    handler._send(200, answer)
