"""gRPC services of the emulated full node, on the real v4-proto service definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from v4_proto.cosmos.auth.v1beta1 import query_pb2 as auth_query
from v4_proto.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from v4_proto.cosmos.auth.v1beta1.auth_pb2 import BaseAccount
from v4_proto.cosmos.base.abci.v1beta1.abci_pb2 import TxResponse
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2 as tm_query
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tm_grpc
from v4_proto.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from v4_proto.cosmos.tx.v1beta1 import service_pb2 as tx_service
from v4_proto.cosmos.tx.v1beta1 import service_pb2_grpc as tx_grpc
from v4_proto.dydxprotocol.clob import clob_pair_pb2
from v4_proto.dydxprotocol.clob import query_pb2 as clob_query
from v4_proto.dydxprotocol.clob import query_pb2_grpc as clob_grpc

from dydxctl.emulator import rules
from dydxctl.emulator.checktx import TxResult, check_tx
from dydxctl.emulator.txcodec import pack, tx_hash

if TYPE_CHECKING:
    from dydxctl.emulator.server import Emulator


def _abort_if_faulted(emulator: Emulator, method: str, context: grpc.ServicerContext) -> Any:
    """Log the call, apply injected latency, and raise an injected gRPC failure if any."""
    fault = emulator.observe("grpc", method)
    if fault and fault.get("grpc_status") and not fault.get("after_apply"):
        context.abort(getattr(grpc.StatusCode, fault["grpc_status"]), "injected fault")
    return fault


def _tx_response(tx_hash: str, code: int, codespace: str, log: str, height: int) -> Any:
    return TxResponse(txhash=tx_hash, code=code, codespace=codespace, raw_log=log, height=height)


class TxService(tx_grpc.ServiceServicer):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def BroadcastTx(self, request: Any, context: grpc.ServicerContext) -> Any:
        fault = _abort_if_faulted(self.emulator, "BroadcastTx", context)
        if fault and "code" in fault:
            result = TxResult(
                tx_hash(request.tx_bytes), fault["code"], fault["codespace"], "injected"
            )
        else:
            result = check_tx(self.emulator.state, request.tx_bytes)
        if fault and fault.get("after_apply"):  # applied, but the answer is lost on the way
            context.abort(getattr(grpc.StatusCode, fault.get("grpc_status", "UNAVAILABLE")), "lost")
        return tx_service.BroadcastTxResponse(
            tx_response=_tx_response(result.tx_hash, result.code, result.codespace, result.log, 0)
        )

    def Simulate(self, request: Any, context: grpc.ServicerContext) -> Any:
        _abort_if_faulted(self.emulator, "Simulate", context)
        return tx_service.SimulateResponse()

    def GetTx(self, request: Any, context: grpc.ServicerContext) -> Any:
        _abort_if_faulted(self.emulator, "GetTx", context)
        record = self.emulator.state.committed_tx(request.hash)
        if record is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"tx not found: {request.hash}")
        return tx_service.GetTxResponse(
            tx_response=_tx_response(
                record.tx_hash, record.code, record.codespace, record.log, record.height
            )
        )


class AuthQuery(auth_grpc.QueryServicer):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def Account(self, request: Any, context: grpc.ServicerContext) -> Any:
        _abort_if_faulted(self.emulator, "Account", context)
        account = self.emulator.state.account(request.address)
        if account is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"account {request.address} not found")
        base = BaseAccount(
            address=account.address,
            account_number=account.account_number,
            sequence=account.sequence,
        )
        if account.public_key:
            base.pub_key.CopyFrom(pack(PubKey(key=account.public_key), rules.URL_SECP256K1_PUBKEY))
        return auth_query.QueryAccountResponse(account=pack(base, rules.URL_BASE_ACCOUNT))


class TendermintService(tm_grpc.ServiceServicer):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def GetLatestBlock(self, request: Any, context: grpc.ServicerContext) -> Any:
        _abort_if_faulted(self.emulator, "GetLatestBlock", context)
        state = self.emulator.state
        with state.lock:
            height, block_time = state.height, state.block_time
        stamp = Timestamp(seconds=int(block_time), nanos=int((block_time % 1) * 1e9))
        response = tm_query.GetLatestBlockResponse()
        for header in (response.block.header, response.sdk_block.header):
            header.height = height
            header.chain_id = state.chain_id
            header.time.CopyFrom(stamp)
        return response

    def GetNodeInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        _abort_if_faulted(self.emulator, "GetNodeInfo", context)
        response = tm_query.GetNodeInfoResponse()
        response.default_node_info.network = self.emulator.state.chain_id
        response.default_node_info.moniker = "dydxctl-emulator"
        response.application_version.name = "dydxprotocol"
        response.application_version.app_name = "dydxprotocold"
        response.application_version.version = self.emulator.state.app_version
        return response


def _clob_pair(market: Any) -> Any:
    return clob_pair_pb2.ClobPair(
        id=market.clob_pair_id,
        perpetual_clob_metadata=clob_pair_pb2.PerpetualClobMetadata(
            perpetual_id=market.clob_pair_id
        ),
        step_base_quantums=market.step_base_quantums,
        subticks_per_tick=market.subticks_per_tick,
        quantum_conversion_exponent=market.quantum_conversion_exponent,
        status=clob_pair_pb2.ClobPair.STATUS_ACTIVE,
    )


class ClobQuery(clob_grpc.QueryServicer):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def ClobPair(self, request: Any, context: grpc.ServicerContext) -> Any:
        _abort_if_faulted(self.emulator, "ClobPair", context)
        market = self.emulator.state.markets.get(request.id)
        if market is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"clob pair {request.id} not found")
        return clob_query.QueryClobPairResponse(clob_pair=_clob_pair(market))

    def ClobPairAll(self, request: Any, context: grpc.ServicerContext) -> Any:
        _abort_if_faulted(self.emulator, "ClobPairAll", context)
        markets = sorted(self.emulator.state.markets.values(), key=lambda m: m.clob_pair_id)
        return clob_query.QueryClobPairAllResponse(clob_pair=[_clob_pair(m) for m in markets])

    def BlockRateLimitConfiguration(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The limits in force (empty when the emulator runs without rate limits)."""
        from v4_proto.dydxprotocol.clob.block_rate_limit_config_pb2 import (
            BlockRateLimitConfiguration,
            MaxPerNBlocksRateLimit,
        )

        _abort_if_faulted(self.emulator, "BlockRateLimitConfiguration", context)
        limiter = self.emulator.state.rate_limiter
        config = BlockRateLimitConfiguration(
            max_short_term_orders_and_cancels_per_n_blocks=[
                MaxPerNBlocksRateLimit(num_blocks=n, limit=limit) for n, limit in limiter.short_term
            ],
            max_stateful_orders_per_n_blocks=[
                MaxPerNBlocksRateLimit(num_blocks=n, limit=limit) for n, limit in limiter.stateful
            ],
        )
        return clob_query.QueryBlockRateLimitConfigurationResponse(block_rate_limit_config=config)


def add_services(server: grpc.Server, emulator: Emulator) -> None:
    tx_grpc.add_ServiceServicer_to_server(TxService(emulator), server)
    auth_grpc.add_QueryServicer_to_server(AuthQuery(emulator), server)
    tm_grpc.add_ServiceServicer_to_server(TendermintService(emulator), server)
    clob_grpc.add_QueryServicer_to_server(ClobQuery(emulator), server)
    from dydxctl.emulator.accountplus_grpc import add_service

    add_service(server, emulator)
