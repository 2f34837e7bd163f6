"""The full node over gRPC: account, latest block, broadcast, get tx, simulate, clob pair.

One channel per NodeClient, one NodeClient per process. Every call has a deadline;
transport failures become `Unreachable` (exit 7); a CheckTx code ≠ 0 is a BroadcastResult
the caller turns into `ChainRejected` (exit 6) — classified by (codespace, code).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from dydxctl import codes, logs
from dydxctl.errors import BadInput, ChainRejected, Unreachable, WalletError

DEFAULT_TIMEOUT_S = 10.0
READ_RETRIES = 2  # idempotent reads only; a broadcast is never retried blindly
RETRY_BACKOFF_S = 0.2
log = logs.get("node")
T = TypeVar("T")
# gRPC method paths: /<proto package>.<service>/<method>.
TX_SERVICE = "/cosmos.tx.v1beta1.Service/"
TENDERMINT = "/cosmos.base.tendermint.v1beta1.Service/"


def _serialize(message: Any) -> bytes:
    return message.SerializeToString()


def split_host_port(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise BadInput(f"'{target}' is not a HOST:PORT gRPC endpoint.", "Use e.g. 127.0.0.1:9090.")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class LatestBlock:
    height: int
    time_unix: int  # block time, seconds
    time_ms: int = 0  # block time, milliseconds (timestamp nonces are compared in ms)


@dataclass(frozen=True)
class Account:
    address: str
    account_number: int
    sequence: int


@dataclass(frozen=True)
class BroadcastResult:
    tx_hash: str
    code: int
    codespace: str
    log: str

    @property
    def accepted(self) -> bool:
        return self.code == 0

    @property
    def already_sent(self) -> bool:
        """sdk 19: the node's mempool cache holds these exact bytes from an earlier send."""
        return (self.codespace, self.code) == codes.ALREADY_SENT

    def rejection(self) -> ChainRejected:
        return chain_rejection(self.codespace, self.code, self.log, tx_hash=self.tx_hash)


def chain_rejection(codespace: str, code: int, log_text: str = "", **details: Any) -> ChainRejected:
    described = codes.describe(codespace, code)
    meaning = described.meaning
    hint = described.hint
    inner = codes.inner_cause(codespace, code, log_text)
    if inner is not None:  # an AllOf/AnyOf names the condition that failed in its log
        cause = codes.describe(*inner)
        meaning += f": {inner[0]} {inner[1]} {cause.name} — {cause.meaning}"
        hint = cause.hint or hint
        details["cause"] = {"codespace": inner[0], "code": inner[1], "name": cause.name}
    return ChainRejected(
        f"The chain refused the transaction: {codespace} {code} {described.name} — "
        f"{meaning}." + (f" Node log: {log_text}" if log_text else ""),
        hint
        or "Nothing was placed or cancelled by this transaction; check the order and try again.",
        codespace=codespace,
        code=code,
        name=described.name,
        **details,
    )


class NodeClient:
    def __init__(
        self, target: str, *, insecure: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        from dydxctl.grpc_sync import import_grpc

        grpc = import_grpc()

        host, _port = split_host_port(target)
        self.target = target
        self.timeout_s = timeout_s
        # Loopback is always plaintext; anything else is TLS unless --insecure says otherwise.
        self.uses_tls = not (is_loopback(host) or insecure)
        if self.uses_tls:
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
        else:
            self._channel = grpc.insecure_channel(target)
        self._methods: dict[str, Any] = {}

    def close(self) -> None:
        self._channel.close()

    # --- plumbing ---
    def _rpc(
        self,
        method: str,
        deserialize: Callable[[bytes], Any],
        serialize: Callable[[Any], bytes] = _serialize,
    ) -> Any:
        """The callable for one unary RPC (`/package.Service/Method`), as a generated stub
        makes it, without importing the `*_pb2_grpc` module: that loads every message of
        the service, and the process start-up pays for it (issue 14)."""
        if method not in self._methods:
            self._methods[method] = self._channel.unary_unary(
                method,
                request_serializer=serialize,
                response_deserializer=deserialize,
                _registered_method=True,
            )
        return self._methods[method]

    def _call(self, what: str, fn: Callable[[], T], *, retries: int = READ_RETRIES) -> T:
        import grpc

        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                result = fn()
                log.debug("grpc %s ok in %.1f ms", what, (time.perf_counter() - started) * 1000)
                return result
            except grpc.RpcError as exc:
                status = exc.code() if hasattr(exc, "code") else None
                transient = status in (
                    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                )  # fmt: skip
                if transient and attempt < retries:
                    attempt += 1
                    time.sleep(RETRY_BACKOFF_S * attempt)
                    continue
                raise self._unreachable(what, exc) from None

    def _unreachable(self, what: str, exc: Any) -> Unreachable:
        import grpc

        status = exc.code() if hasattr(exc, "code") else None
        detail = exc.details() if hasattr(exc, "details") else str(exc)
        if status == grpc.StatusCode.DEADLINE_EXCEEDED:
            message = (
                f"The node at {self.target} did not answer {what} within {self.timeout_s:g} s."
            )
        elif status == grpc.StatusCode.UNAVAILABLE:
            message = f"The node at {self.target} is unreachable ({detail})."
        else:
            name = status.name if status else "error"
            message = f"The node at {self.target} failed {what}: {name} {detail}."
        hint = "Check --grpc / --network and that the node is up."
        if self.uses_tls:
            hint += " The connection uses TLS; a node that speaks plaintext needs --insecure."
        return Unreachable(message, hint, method=what)

    # --- queries ---
    def latest_block(self) -> LatestBlock:
        from v4_proto.cosmos.base.tendermint.v1beta1.query_pb2 import (
            GetLatestBlockRequest,
            GetLatestBlockResponse,
        )

        rpc = self._rpc(TENDERMINT + "GetLatestBlock", GetLatestBlockResponse.FromString)
        response = self._call(
            "GetLatestBlock", lambda: rpc(GetLatestBlockRequest(), timeout=self.timeout_s)
        )
        header = response.sdk_block.header if response.HasField("sdk_block") else None
        if header is None or not header.height:
            header = response.block.header
        seconds = int(header.time.seconds)
        return LatestBlock(
            height=int(header.height),
            time_unix=seconds,
            time_ms=seconds * 1000 + int(header.time.nanos) // 1_000_000,
        )

    def node_info(self) -> dict[str, str]:
        from v4_proto.cosmos.base.tendermint.v1beta1.query_pb2 import (
            GetNodeInfoRequest,
            GetNodeInfoResponse,
        )

        rpc = self._rpc(TENDERMINT + "GetNodeInfo", GetNodeInfoResponse.FromString)
        response = self._call(
            "GetNodeInfo", lambda: rpc(GetNodeInfoRequest(), timeout=self.timeout_s)
        )
        return {
            "chain_id": response.default_node_info.network,
            "moniker": response.default_node_info.moniker,
            "app_version": response.application_version.version,
            "app_name": response.application_version.app_name,
        }

    def account(self, address: str) -> Account:
        import grpc
        from v4_proto.cosmos.auth.v1beta1.auth_pb2 import BaseAccount
        from v4_proto.cosmos.auth.v1beta1.query_pb2 import (
            QueryAccountRequest,
            QueryAccountResponse,
        )

        rpc = self._rpc("/cosmos.auth.v1beta1.Query/Account", QueryAccountResponse.FromString)
        try:
            response = rpc(QueryAccountRequest(address=address), timeout=self.timeout_s)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise WalletError(
                    f"The account {address} does not exist on this chain.",
                    "Fund the address first (an account exists once it has received tokens).",
                ) from None
            response = self._call(
                "Account", lambda: rpc(QueryAccountRequest(address=address), timeout=self.timeout_s)
            )
        account = BaseAccount()
        if not response.account.Unpack(account):
            raise Unreachable(
                f"The node returned an account of type {response.account.type_url}.",
                "dydxctl signs for plain accounts (BaseAccount) only.",
            )
        return Account(account.address, int(account.account_number), int(account.sequence))

    def clob_pair(self, clob_pair_id: int) -> Any:
        from v4_proto.dydxprotocol.clob.query_pb2 import (
            QueryClobPairResponse,
            QueryGetClobPairRequest,
        )

        rpc = self._rpc("/dydxprotocol.clob.Query/ClobPair", QueryClobPairResponse.FromString)
        return self._call(
            "ClobPair",
            lambda: rpc(QueryGetClobPairRequest(id=clob_pair_id), timeout=self.timeout_s),
        ).clob_pair

    def authenticators(self, address: str) -> list[tuple[int, str, bytes]]:
        """x/accountplus GetAuthenticators: (id, type, config) of each of the account's
        authenticators, in the chain's order."""
        from v4_proto.dydxprotocol.accountplus.query_pb2 import (
            GetAuthenticatorsRequest,
            GetAuthenticatorsResponse,
        )

        rpc = self._rpc("/dydxprotocol.accountplus.Query/GetAuthenticators",
                        GetAuthenticatorsResponse.FromString)  # fmt: skip
        response = self._call(
            "GetAuthenticators",
            lambda: rpc(GetAuthenticatorsRequest(account=address), timeout=self.timeout_s),
        )
        return [(int(a.id), a.type, bytes(a.config)) for a in response.account_authenticators]

    def get_tx(self, tx_hash: str) -> BroadcastResult | None:
        """The tx as included in a block, or None (short-term txs never are: CHAIN_RULES)."""
        import grpc
        from v4_proto.cosmos.tx.v1beta1.service_pb2 import GetTxRequest, GetTxResponse

        rpc = self._rpc(TX_SERVICE + "GetTx", GetTxResponse.FromString)
        try:
            response = rpc(GetTxRequest(hash=tx_hash), timeout=self.timeout_s)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise self._unreachable("GetTx", exc) from None
        r = response.tx_response
        return BroadcastResult(r.txhash or tx_hash, r.code, r.codespace, r.raw_log)

    # --- writes ---
    def broadcast(self, tx_bytes: bytes, tx_hash: str) -> BroadcastResult:
        """BroadcastTx in SYNC mode: the CheckTx answer. Never retried (see module doc)."""
        from dydxctl import broadcast_wire

        request = broadcast_wire.encode_request(tx_bytes)
        rpc = self._broadcast_rpc()
        r = self._call("BroadcastTx", lambda: rpc(request, timeout=self.timeout_s), retries=0)
        return BroadcastResult(r.txhash or tx_hash, r.code, r.codespace, r.raw_log)

    def broadcast_many(self, txs: list[tuple[bytes, str]]) -> list[BroadcastResult | Unreachable]:
        """BroadcastTx for every (tx_bytes, tx_hash) at once: gRPC futures on the one
        channel, so N independent txs cost one round trip, not N. Never retried."""
        answers: list[BroadcastResult | Unreachable] = [Unreachable("No answer.", "")] * len(txs)
        for index, answer in self.broadcast_as_answered(txs):
            answers[index] = answer
        return answers

    def broadcast_as_answered(
        self, txs: list[tuple[bytes, str]]
    ) -> Iterator[tuple[int, BroadcastResult | Unreachable]]:
        """broadcast_many, each answer yielded (with its index) as soon as it arrives, so
        the caller records one while the node still checks the others. Never retried."""
        import queue

        import grpc

        from dydxctl import broadcast_wire

        rpc = self._broadcast_rpc()
        answered: queue.SimpleQueue[int] = queue.SimpleQueue()
        futures = []
        for index, (tx_bytes, _) in enumerate(txs):
            future = rpc.future(broadcast_wire.encode_request(tx_bytes), timeout=self.timeout_s)
            future.add_done_callback(lambda _f, i=index: answered.put(i))
            futures.append(future)
        for _ in txs:
            index = answered.get()
            try:
                r = futures[index].result()
            except grpc.RpcError as exc:
                yield index, self._unreachable("BroadcastTx", exc)
                continue
            tx_hash = txs[index][1]
            yield index, BroadcastResult(r.txhash or tx_hash, int(r.code), r.codespace, r.raw_log)

    def _broadcast_rpc(self) -> Any:
        """BroadcastTx with its request and answer written and read by broadcast_wire, not
        service_pb2 (whose import costs every place and cancel ~7 ms: issue 14)."""
        from dydxctl import broadcast_wire

        return self._rpc(
            TX_SERVICE + "BroadcastTx", broadcast_wire.decode_response, serialize=bytes
        )

    def simulate_gas(self, tx_bytes: bytes) -> int | None:
        """The gas a tx used in simulation, or None when the node would not simulate it."""
        import grpc
        from v4_proto.cosmos.tx.v1beta1.service_pb2 import SimulateRequest, SimulateResponse

        rpc = self._rpc(TX_SERVICE + "Simulate", SimulateResponse.FromString)
        try:
            response = rpc(SimulateRequest(tx_bytes=tx_bytes), timeout=self.timeout_s)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise self._unreachable("Simulate", exc) from None
            return None
        return int(response.gas_info.gas_used) or None

    def simulate(self, tx_bytes: bytes) -> BroadcastResult:
        import grpc
        from v4_proto.cosmos.tx.v1beta1.service_pb2 import SimulateRequest, SimulateResponse

        rpc = self._rpc(TX_SERVICE + "Simulate", SimulateResponse.FromString)
        try:
            rpc(SimulateRequest(tx_bytes=tx_bytes), timeout=self.timeout_s)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise self._unreachable("Simulate", exc) from None
            return BroadcastResult("", 1, "simulate", exc.details() or "")
        return BroadcastResult("", 0, "", "")
