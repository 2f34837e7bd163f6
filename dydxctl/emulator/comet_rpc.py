"""CometBFT JSON-RPC 2.0 on 127.0.0.1: the node API of cosmjs-based clients, such as dYdX's
official JS client (@dydxprotocol/v4-client-js), which reaches the chain only this way.

The transport is CometBFT v0.38's (github.com/dydxprotocol/cometbft, branch
dydx-fork-v0.38.5, rpc/jsonrpc/server/):
- POST / with one request or a batch (http_json_handler.go): requests without an id are
  notifications and get no answer; one answer is written as an object, several as an array;
  method errors answer HTTP 200 with a JSON-RPC error; a body that is not JSON, HTTP 500
  (-32700); an empty body, the HTML list of endpoints. Params are an object or an array in
  route order, decoded by libs/json: 64-bit integers must be JSON strings, []byte is base64,
  HexBytes is hex.
- GET (or POST) /<method>?arg=value (http_uri_handler.go): id -1; integers bare, 0x-prefixed
  hex for bytes and strings, "quoted" strings (raw bytes for []byte args), else JSON;
  errors answer HTTP 500. Any other path is a 404.
Methods are listed in ROUTES (rpc/core/routes.go names and argument names) and answered by
comet_methods.CometNode. Every request is logged as ("rpc", method) in the emulator's call
log, where fail_next(method, http_status=...) fails it at the HTTP level and
fail_next("broadcast_tx_sync", codespace=..., code=...) answers a CheckTx rejection.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from dydxctl.emulator.comet_json import go_json
from dydxctl.emulator.comet_methods import CometNode, RPCMethodError

if TYPE_CHECKING:
    from dydxctl.emulator.inproc_grpc import ServiceRegistry
    from dydxctl.emulator.server import Emulator

DEFAULT_RPC_PORT = 26657  # config/config.go DefaultRPCConfig: tcp://127.0.0.1:26657
URI_REQUEST_ID = -1  # http_uri_handler.go: "Always return -1 as there's no ID here."
CACHE_CONTROL = "public, max-age=86400"  # http_server.go WriteCacheableRPCResponseHTTP


@dataclass(frozen=True)
class Route:
    """One rpc/core/routes.go entry: argument (name, Go type) pairs and rpc.Cacheable()."""

    args: tuple[tuple[str, str], ...] = ()
    cacheable: bool = False
    cacheable_needs: str = ""  # rpc.Cacheable("height"): only when that argument is given


ROUTES: dict[str, Route] = {
    "health": Route(),
    "status": Route(),
    "abci_info": Route(cacheable=True),
    "abci_query": Route(
        (("path", "string"), ("data", "hex"), ("height", "int64"), ("prove", "bool"))
    ),
    "block": Route((("height", "*int64"),), cacheable=True, cacheable_needs="height"),
    "broadcast_tx_sync": Route((("tx", "bytes"),)),
    "broadcast_tx_async": Route((("tx", "bytes"),)),
    "tx": Route((("hash", "bytes"), ("prove", "bool")), cacheable=True),
}
_INT = re.compile(r"-?[0-9]+")


class RPCError(Exception):
    """A JSON-RPC error object (rpc/jsonrpc/types/types.go RPC*Error)."""

    def __init__(self, code: int, message: str, data: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            **({"data": self.data} if self.data else {}),
        }


def _invalid_params(reason: str, source: str = "json") -> RPCError:
    return RPCError(
        -32602, "Invalid params", f"error converting {source} params to arguments: {reason}"
    )


# --- argument decoding ---
def json_arg(kind: str, raw: Any) -> Any:
    """libs/json Unmarshal of one argument (already parsed from JSON) into its Go type."""
    if raw is None:
        return None if kind.startswith("*") else _ZERO[kind.lstrip("*")]
    base = kind.lstrip("*")
    if base == "int64":
        if not isinstance(raw, str):
            raise ValueError(
                f"invalid 64-bit integer encoding {json.dumps(raw)!r}, expected string"
            )
        if not _INT.fullmatch(raw):
            raise ValueError(f"invalid 64-bit integer {raw!r}")
        return int(raw)
    if base == "bool" and isinstance(raw, bool):
        return raw
    if base in ("string", "bytes", "hex") and isinstance(raw, str):
        try:
            if base == "bytes":
                return base64.b64decode(raw, validate=True)
            return bytes.fromhex(raw) if base == "hex" else raw
        except (binascii.Error, ValueError):
            raise ValueError(
                f"invalid {'hex' if base == 'hex' else 'base64'} string: {raw!r}"
            ) from None
    raise ValueError(f"cannot decode {json.dumps(raw)} into {base}")


_ZERO = {"int64": 0, "bool": False, "string": "", "bytes": b"", "hex": b""}


def uri_arg(kind: str, raw: str) -> Any:
    """http_uri_handler.go nonJSONStringToArg, then jsonStringToArg."""
    base = kind.lstrip("*")
    if _INT.fullmatch(raw) and base == "int64":
        return int(raw)
    if raw.lower().startswith("0x"):
        if base not in ("string", "bytes", "hex"):
            raise ValueError(f"got a hex string arg, but expected '{base}'")
        value = bytes.fromhex(raw[2:])
        return value.decode(errors="replace") if base == "string" else value
    if raw.startswith('"') and raw.endswith('"') and base in ("bytes", "hex"):
        return str(json.loads(raw)).encode()
    return json_arg(kind, json.loads(raw))


def call_args(route: Route, params: Any, *, from_uri: bool) -> list[Any]:
    names = [name for name, _ in route.args]
    if isinstance(params, list):
        if len(params) != len(names):
            raise ValueError(f"expected {len(names)} parameters ({names}), got {len(params)}")
        params = dict(zip(names, params, strict=True))
    if not isinstance(params, dict):
        raise ValueError("unknown type for JSON params. Expected map or array")
    decode = uri_arg if from_uri else json_arg
    return [
        decode(kind, params[name]) if params.get(name) not in (None, "") else json_arg(kind, None)
        for name, kind in route.args
    ]


# --- the server ---
class CometRPCServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], emulator: Emulator, registry: ServiceRegistry
    ) -> None:
        super().__init__(address, CometRPCHandler)
        self.emulator = emulator
        host, port = self.server_address[:2]
        self.node = CometNode(emulator, registry, f"tcp://{host}:{port}")

    def run(self, method: str, route: Route, args: list[Any], fault: dict | None = None) -> Any:
        """Call the method; a fault with a tx `code` (+ `codespace`) makes a broadcast answer
        as CheckTx's rejection would, without reaching the chain."""
        if fault and "code" in fault and method == "broadcast_tx_sync":
            return self.node.rejected(args[0], fault["code"], fault.get("codespace", ""))
        try:
            return getattr(self.node, method)(*args)
        except RPCMethodError as exc:
            raise RPCError(-32603, "Internal error", str(exc)) from None

    def cacheable(self, route: Route, args: list[Any]) -> bool:
        """rpc/jsonrpc/server/rpc_func.go cacheableWithArgs."""
        if not route.cacheable:
            return False
        names = [name for name, _ in route.args]
        return not route.cacheable_needs or args[names.index(route.cacheable_needs)] not in (
            None,
            0,
        )


class CometRPCHandler(BaseHTTPRequestHandler):
    server: CometRPCServer
    protocol_version = "HTTP/1.1"  # keep-alive, as CometBFT's net/http server
    _fault: dict | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        return

    def _send(
        self, status: int, body: bytes, ctype: str = "application/json", cache: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if cache:
            self.send_header("Cache-Control", CACHE_CONTROL)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _faulted(self, method: str) -> bool:
        """Log the call (and apply injected latency); answer an injected HTTP failure. Any
        other injected fault is kept for `run`."""
        fault = self.server.emulator.observe("rpc", method)
        self._fault = fault
        if fault and "http_status" in fault:
            self._send(
                fault["http_status"], fault.get("body", "injected failure").encode(), "text/plain"
            )
            return True
        return False

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/":
            self._json_rpc()
            return
        method = parts.path.lstrip("/")
        route = ROUTES.get(method)
        if route is None:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        if self._faulted(method):
            return
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            try:
                args = call_args(route, query, from_uri=True)
            except (ValueError, json.JSONDecodeError) as exc:
                raise _invalid_params(str(exc), "http") from None
            result = self.server.run(method, route, args, self._fault)
        except RPCError as exc:
            self._send(500, go_json({"jsonrpc": "2.0", "id": URI_REQUEST_ID, "error": exc.body()}))
            return
        answer = {"jsonrpc": "2.0", "id": URI_REQUEST_ID, "result": result}
        self._send(200, go_json(answer), cache=self.server.cacheable(route, args))

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/":  # a route path answers POST like GET (net/http mux)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.do_GET()
            return
        self._json_rpc()

    def _json_rpc(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not body:
            self._send(200, self._endpoints(), "text/html")
            return
        try:
            parsed = json.loads(body)
            requests = parsed if isinstance(parsed, list) else [parsed]
            if not all(isinstance(r, dict) and _valid_id(r.get("id")) for r in requests):
                raise ValueError("invalid request object")
        except ValueError as exc:
            error = RPCError(
                -32700, "Parse error. Invalid JSON", f"error unmarshaling request: {exc}"
            )
            self._send(500, go_json({"jsonrpc": "2.0", "id": None, "error": error.body()}))
            return
        answers, cache = [], True
        for request in requests:
            if request.get("id") is None:  # a notification: no answer
                continue
            if request.get("method") in ROUTES and self._faulted(request["method"]):
                return
            answer, cacheable = self._one(request)
            answers.append(answer)
            cache = cache and cacheable
        if answers:
            self._send(200, go_json(answers[0] if len(answers) == 1 else answers), cache=cache)
        else:
            self._send(200, b"")

    def _one(self, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        rid, method = request["id"], request.get("method", "")
        rid = int(rid) if isinstance(rid, float) else rid  # types.go idFromInterface
        route = ROUTES.get(method)
        try:
            if route is None:
                raise RPCError(-32601, "Method not found")
            try:
                params = request.get("params")
                args = call_args(route, params if params is not None else {}, from_uri=False)
            except ValueError as exc:
                raise _invalid_params(str(exc)) from None
            result = self.server.run(method, route, args, self._fault)
        except RPCError as exc:
            return {"jsonrpc": "2.0", "id": rid, "error": exc.body()}, False
        return {"jsonrpc": "2.0", "id": rid, "result": result}, self.server.cacheable(route, args)

    def _endpoints(self) -> bytes:
        """http_json_handler.go writeListOfEndpoints."""
        host = self.headers.get("Host", "")
        plain = sorted(name for name, route in ROUTES.items() if not route.args)
        with_args = sorted(name for name, route in ROUTES.items() if route.args)
        links = [f"//{host}/{name}" for name in plain]
        html = "<html><body><br>Available endpoints:<br>"
        html += "".join(f'<a href="{link}">{link}</a></br>' for link in links)
        html += "<br>Endpoints that require arguments:<br>"
        for name in with_args:
            link = f"//{host}/{name}?" + "&".join(f"{arg}=_" for arg, _ in ROUTES[name].args)
            html += f'<a href="{link}">{link}</a></br>'
        return (html + "</body></html>").encode()


def _valid_id(value: Any) -> bool:
    """types.go idFromInterface: a string, a number, or absent (a notification)."""
    return value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool))
