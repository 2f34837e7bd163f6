"""The Indexer's REST API (paths under /v4): height, time, markets, orders.

stdlib http.client with one kept-alive connection per client: no extra dependency, and a
second request to the same Indexer costs no new TCP/TLS handshake. Reads are idempotent,
so transient failures (connection errors, 5xx) are retried with backoff.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from dydxctl import logs
from dydxctl.errors import BadInput, Unreachable

DEFAULT_TIMEOUT_S = 10.0
READ_RETRIES = 2
RETRY_BACKOFF_S = 0.2
# comlink's rate limiter (indexer/services/comlink/src/lib/rate-limit.ts) answers 429
# "Too many requests" with a JSON body.
HTTP_TOO_MANY_REQUESTS = 429
log = logs.get("indexer")


class IndexerClient:
    def __init__(self, base_url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        base = base_url.rstrip("/")
        if base.endswith("/v4"):
            base = base[: -len("/v4")]
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadInput(
                f"'{base_url}' is not an Indexer URL.", "Use e.g. https://indexer.dydx.trade."
            )
        self.base_url = base
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._prefix = parts.path
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._netloc, timeout=self.timeout_s)
        return self._conn

    def get(
        self, path: str, params: dict[str, Any] | None = None, *, allow_404: bool = False
    ) -> Any:
        """GET /v4{path} as JSON; None on a 404 when allowed."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = f"{self._prefix}/v4{path}" + (f"?{urlencode(query)}" if query else "")
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                status, body = self._request(url)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt < READ_RETRIES:
                    attempt += 1
                    time.sleep(RETRY_BACKOFF_S * attempt)
                    continue
                timed_out = isinstance(exc, (TimeoutError, socket.timeout))
                raise Unreachable(
                    f"The Indexer at {self.base_url} "
                    + (
                        f"did not answer GET {path} within {self.timeout_s:g} s."
                        if timed_out
                        else f"is unreachable ({exc})."
                    ),
                    "Check --indexer / --network and your connection.",
                ) from None
            log.debug(
                "GET %s -> %s in %.1f ms", url, status, (time.perf_counter() - started) * 1000
            )
            if status >= 500 and attempt < READ_RETRIES:
                attempt += 1
                time.sleep(RETRY_BACKOFF_S * attempt)
                continue
            return self._decode(path, status, body, allow_404)

    def _request(self, url: str) -> tuple[int, bytes]:
        conn = self._connection()
        conn.request("GET", url, headers={"Accept": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()

    def _decode(self, path: str, status: int, body: bytes, allow_404: bool) -> Any:
        if status == 404 and allow_404:
            return None
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            snippet = body[:80].decode("utf-8", "replace").strip()
            raise Unreachable(
                f"The Indexer at {self.base_url} answered GET {path} with HTTP {status} and "
                f"something that is not JSON ({snippet!r}).",
                "Check that --indexer points at a dYdX v4 Indexer.",
            ) from None
        if status >= 500:
            raise Unreachable(
                f"The Indexer at {self.base_url} failed GET {path} with HTTP {status}.",
                "Try again later.",
            )
        if status == HTTP_TOO_MANY_REQUESTS:
            raise Unreachable(
                f"The Indexer at {self.base_url} is rate-limiting this client (HTTP 429 on "
                f"GET {path}).",
                "Wait a minute and retry, or use an Indexer with a higher rate limit.",
            )
        if status >= 400:
            errors = data.get("errors") if isinstance(data, dict) else None
            raise BadInput(
                f"The Indexer refused GET {path} with HTTP {status}: {errors or data}.",
                "Check the order id or filters.",
            )
        return data

    # --- endpoints ---
    def height(self) -> tuple[int, str]:
        data = self.get("/height")
        return int(data["height"]), str(data["time"])

    def time(self) -> dict[str, Any]:
        return self.get("/time")

    def perpetual_markets(self, ticker: str | None = None) -> dict[str, dict[str, Any]]:
        data = self.get("/perpetualMarkets", {"ticker": ticker})
        markets = data.get("markets") if isinstance(data, dict) else None
        if not isinstance(markets, dict):
            raise Unreachable(
                f"The Indexer at {self.base_url} returned no markets object.",
                "Check that --indexer points at a dYdX v4 Indexer.",
            )
        return markets

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self.get(f"/orders/{quote(order_id, safe='')}", allow_404=True)

    def orders(
        self, address: str, subaccount_number: int, *, limit: int = 1000, **filters: Any
    ) -> list[dict[str, Any]]:
        data = self.get(
            "/orders",
            {"address": address, "subaccountNumber": subaccount_number, "limit": limit, **filters},
        )
        if not isinstance(data, list):
            raise Unreachable(f"The Indexer at {self.base_url} returned no order list.", "")
        return data
