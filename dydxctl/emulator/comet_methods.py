"""The CometBFT JSON-RPC methods the emulator serves, answered from its gRPC servicers.

Each method follows its CometBFT v0.38 implementation (github.com/dydxprotocol/cometbft,
branch dydx-fork-v0.38.5, rpc/core/*.go) and the Cosmos SDK app behind it
(github.com/dydxprotocol/cosmos-sdk, branch dydx-fork-v0.50.5, baseapp/abci.go). The chain is
reached only through the servicers `add_services` registered (see inproc_grpc), so CheckTx,
GetTx and the block clock stay the emulator's one implementation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import grpc
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2 as tm_query
from v4_proto.cosmos.tx.v1beta1 import service_pb2 as tx_service
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import TxRaw

from dydxctl.emulator import comet_json as cj
from dydxctl.emulator.inproc_grpc import GrpcCallError, ServiceRegistry

if TYPE_CHECKING:
    from dydxctl.emulator.server import Emulator

BROADCAST_TX = "/cosmos.tx.v1beta1.Service/BroadcastTx"
GET_TX = "/cosmos.tx.v1beta1.Service/GetTx"
LATEST_BLOCK = "/cosmos.base.tendermint.v1beta1.Service/GetLatestBlock"
NODE_INFO = "/cosmos.base.tendermint.v1beta1.Service/GetNodeInfo"
# types/errors/errors.go (cosmos-sdk): codespace "sdk" codes abci_query answers with.
SDK_CODESPACE = "sdk"
ERR_UNKNOWN_REQUEST = (6, "unknown request")
ERR_INVALID_REQUEST = (18, "invalid request")
ERR_KEY_NOT_FOUND = (22, "key not found")
ERR_INVALID_HEIGHT = (26, "invalid height")
ERR_UNAUTHORIZED = (4, "unauthorized")
# baseapp/abci.go gRPCErrorToSDKError: a query handler's gRPC status -> SDK error.
_SDK_ERROR_BY_STATUS = {
    grpc.StatusCode.NOT_FOUND: ERR_KEY_NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT: ERR_INVALID_REQUEST,
    grpc.StatusCode.FAILED_PRECONDITION: ERR_INVALID_REQUEST,
    grpc.StatusCode.UNAUTHENTICATED: ERR_UNAUTHORIZED,
}
# google.golang.org/grpc/codes Code.String(), as status errors print them.
_GO_CODE_NAMES = {
    grpc.StatusCode.CANCELLED: "Canceled",
    **{c: c.name.title().replace("_", "") for c in grpc.StatusCode if c.name != "CANCELLED"},
}
REMEMBERED_TXS = 10_000  # raw txs kept for `tx` answers (CometBFT keeps them in its block store)


class RPCMethodError(Exception):
    """A method's Go `error`: JSON-RPC -32603 "Internal error" with the message as data."""


class CometNode:
    """The methods behind the routes in comet_rpc.ROUTES."""

    def __init__(self, emulator: Emulator, registry: ServiceRegistry, rpc_address: str) -> None:
        self.emulator = emulator
        self.registry = registry
        self.rpc_address = rpc_address
        self._txs: OrderedDict[bytes, bytes] = OrderedDict()
        self._txs_lock = threading.Lock()

    # --- the chain, through its servicers ---
    def _latest(self) -> tuple[str, int, int, int, list[bytes]]:
        response = self.registry.invoke(LATEST_BLOCK, tm_query.GetLatestBlockRequest())
        header = response.sdk_block.header if response.HasField("sdk_block") else None
        header = header or response.block.header
        txs = list(response.block.data.txs)
        return header.chain_id, header.height, header.time.seconds, header.time.nanos, txs

    def _remember(self, tx: bytes) -> bytes:
        digest = cj.tx_hash(tx)
        with self._txs_lock:
            self._txs[digest] = tx
            while len(self._txs) > REMEMBERED_TXS:
                self._txs.popitem(last=False)
        return digest

    # --- info ---
    def health(self) -> dict[str, Any]:
        """rpc/core/health.go: an empty result while the node runs."""
        return {}

    def status(self) -> dict[str, Any]:
        """rpc/core/status.go Status; node_info from node/node.go makeNodeInfo. The emulator
        keeps only its latest block, so the earliest block is the latest (like a pruned node)."""
        chain_id, height, seconds, nanos, _ = self._latest()
        info = self.registry.invoke(NODE_INFO, tm_query.GetNodeInfoRequest())
        block_hash = cj.hex_upper(cj.stand_in_hash(chain_id, "block", height))
        app_hash = cj.hex_upper(cj.stand_in_hash(chain_id, "app", height - 1))
        stamp = cj.rfc3339(seconds, nanos)
        sync = {"block_hash": block_hash, "app_hash": app_hash, "block_height": str(height),
                "block_time": stamp}  # fmt: skip
        return {
            "node_info": {
                "protocol_version": {
                    "p2p": str(cj.P2P_PROTOCOL),
                    "block": str(cj.BLOCK_PROTOCOL),
                    "app": "0",
                },
                "id": cj.stand_in_hash(chain_id, "node-key")[:20].hex(),
                "listen_addr": "tcp://127.0.0.1:26656",
                "network": chain_id,
                "version": cj.TM_CORE_SEMVER,
                "channels": cj.NODE_CHANNELS,
                "moniker": info.default_node_info.moniker or cj.MONIKER,
                "other": {"tx_index": "on", "rpc_address": self.rpc_address},
            },
            "sync_info": {
                **{f"latest_{key}": value for key, value in sync.items()},
                **{f"earliest_{key}": value for key, value in sync.items()},
                "catching_up": False,
            },
            "validator_info": {
                "address": cj.hex_upper(cj.validator_address(chain_id)),
                "pub_key": cj.validator_pub_key(chain_id),
                "voting_power": "10",
            },
        }

    def abci_info(self) -> dict[str, Any]:
        """rpc/core/abci.go ABCIInfo -> baseapp Info: app name, version string, last height and
        app hash. AppVersion is 0 (dYdX never calls SetProtocolVersion), so cmtjson omits it."""
        chain_id, height, *_ = self._latest()
        app = self.registry.invoke(NODE_INFO, tm_query.GetNodeInfoRequest()).application_version
        return {
            "response": {
                "data": app.name,
                "version": app.version,
                "last_block_height": str(height),
                "last_block_app_hash": cj.b64(cj.stand_in_hash(chain_id, "app", height)),
            }
        }

    def block(self, height: int | None) -> dict[str, Any]:
        """rpc/core/blocks.go Block with env.go getHeight's checks; only the latest is kept."""
        chain_id, latest, seconds, nanos, txs = self._latest()
        if height is not None:
            if height <= 0:
                raise RPCMethodError(f"height must be greater than 0, but got {height}")
            if height > latest:
                raise RPCMethodError(
                    f"height {height} must be less than or equal to the current blockchain "
                    f"height {latest}"
                )
            if height < latest:
                raise RPCMethodError(f"height {height} is not available, lowest height is {latest}")
        return cj.block(chain_id, latest, seconds, nanos, txs)

    # --- abci_query: baseapp/abci.go Query + handleQueryGRPC + grpcrouter.go ---
    def abci_query(self, path: str, data: bytes, height: int, prove: bool) -> dict[str, Any]:
        def failed(error: tuple[int, str], log: str, at: int = 0) -> dict[str, Any]:
            code, description = error
            text = f"{log}: {description}" if log else description
            return {"response": cj.query_response(code, text, None, at, SDK_CODESPACE)}

        _, latest, *_ = self._latest()
        if path == BROADCAST_TX:  # baseapp QueryPathBroadcastTx
            return failed(ERR_INVALID_REQUEST, "can't route a broadcast tx message")
        if self.registry.handler(path) is None:
            return failed(ERR_UNKNOWN_REQUEST, "unknown query path")
        # CreateQueryContext: negative, future, proof at <= 1, and heights no longer stored.
        if height < 0:
            log = "cannot query with height < 0; please provide a valid height"
            return failed(ERR_INVALID_REQUEST, log)
        if height > latest:
            log = "cannot query with height in the future; please provide a valid height"
            return failed(ERR_INVALID_HEIGHT, log)
        at = height or latest
        if at <= 1 and prove:
            log = "cannot query with proof when height <= 1; please provide a valid height"
            return failed(ERR_INVALID_REQUEST, log)
        if at < latest:
            log = f"failed to load state at height {at}; version does not exist (latest height: {latest})"  # noqa: E501
            return failed(ERR_INVALID_REQUEST, log)
        try:
            value = self.registry.invoke_bytes(path, data)
        except ValueError as exc:  # request bytes that do not decode
            return failed(ERR_INVALID_REQUEST, str(exc), at)
        except GrpcCallError as exc:
            error = _SDK_ERROR_BY_STATUS.get(exc.code, ERR_UNKNOWN_REQUEST)
            log = f"rpc error: code = {_GO_CODE_NAMES[exc.code]} desc = {exc.details}"
            return failed(error, log, at)
        return {"response": cj.query_response(0, "", value, at, "")}

    # --- txs ---
    def broadcast_tx_sync(self, tx: bytes) -> dict[str, Any]:
        """rpc/core/mempool.go BroadcastTxSync: CheckTx's code, data, log, codespace + tx hash.
        CheckTx is the emulator's, through the same servicer gRPC BroadcastTx (SYNC) uses."""
        request = tx_service.BroadcastTxRequest(
            tx_bytes=tx, mode=tx_service.BroadcastMode.BROADCAST_MODE_SYNC
        )
        try:
            answer = self.registry.invoke(BROADCAST_TX, request).tx_response
        except GrpcCallError as exc:  # the mempool refused it (mempool.CheckTx's error)
            raise RPCMethodError(exc.details) from None
        digest = self._remember(tx)
        return {
            "code": answer.code,
            "data": answer.data.upper(),  # TxResponse.data is already CheckTx's data in hex
            "log": answer.raw_log,
            "codespace": answer.codespace,
            "hash": cj.hex_upper(digest),
        }

    def rejected(self, tx: bytes, code: int, codespace: str) -> dict[str, Any]:
        """An injected CheckTx rejection (Emulator.fail_next), shaped as broadcast_tx_sync."""
        return {"code": code, "data": "", "log": "injected", "codespace": codespace,
                "hash": cj.hex_upper(cj.tx_hash(tx))}  # fmt: skip

    def broadcast_tx_async(self, tx: bytes) -> dict[str, Any]:
        """rpc/core/mempool.go BroadcastTxAsync: only the hash; CheckTx's answer is not awaited."""
        self.broadcast_tx_sync(tx)
        return {
            "code": 0,
            "data": "",
            "log": "",
            "codespace": "",
            "hash": cj.hex_upper(cj.tx_hash(tx)),
        }

    def tx(self, hash: bytes, prove: bool) -> dict[str, Any]:
        """rpc/core/tx.go Tx: the indexed result, as GetTx finds it. `prove` is accepted and no
        proof is returned (the emulator keeps no Merkle proofs)."""
        wanted = hash.hex().upper()
        try:
            found = self.registry.invoke(GET_TX, tx_service.GetTxRequest(hash=wanted))
        except GrpcCallError as exc:
            if exc.code == grpc.StatusCode.NOT_FOUND:
                raise RPCMethodError(f"tx ({wanted}) not found") from None
            raise RPCMethodError(exc.details) from None
        answer = found.tx_response
        with self._txs_lock:
            raw = self._txs.get(hash)
        if raw is None and found.HasField("tx"):  # a tx broadcast over gRPC: re-encode TxRaw
            raw = TxRaw(
                body_bytes=found.tx.body.SerializeToString(deterministic=True),
                auth_info_bytes=found.tx.auth_info.SerializeToString(deterministic=True),
                signatures=list(found.tx.signatures),
            ).SerializeToString(deterministic=True)
        events = [
            cj.event(e.type, [(a.key, a.value, a.index) for a in e.attributes])
            for e in answer.events
        ]
        try:
            data = bytes.fromhex(answer.data)
        except ValueError:
            data = b""
        return {
            "hash": wanted,
            "height": str(answer.height),
            "index": 0,
            "tx_result": cj.exec_tx_result(
                answer.code,
                data,
                answer.raw_log,
                answer.info,
                (answer.gas_wanted, answer.gas_used),
                events,
                answer.codespace,
            ),
            "tx": cj.b64(raw or b""),
        }
