"""gRPC `dydxprotocol.accountplus.Query` of the emulated node (x/accountplus/keeper/query.go)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from v4_proto.dydxprotocol.accountplus import models_pb2
from v4_proto.dydxprotocol.accountplus import query_pb2 as accountplus_query
from v4_proto.dydxprotocol.accountplus import query_pb2_grpc as accountplus_grpc

from dydxctl.emulator.accountplus import StoredAuthenticator, is_bech32_account
from dydxctl.emulator.grpc_api import _abort_if_faulted

if TYPE_CHECKING:
    from dydxctl.emulator.server import Emulator


def _proto(stored: StoredAuthenticator) -> Any:
    return models_pb2.AccountAuthenticator(id=stored.id, type=stored.type, config=stored.config)


class AccountPlusQuery(accountplus_grpc.QueryServicer):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def GetAuthenticators(self, request: Any, context: grpc.ServicerContext) -> Any:
        """query.go GetAuthenticators: a bad address is codes.Internal (AccAddressFromBech32)."""
        _abort_if_faulted(self.emulator, "GetAuthenticators", context)
        if not is_bech32_account(request.account):
            context.abort(grpc.StatusCode.INTERNAL, "decoding bech32 failed")
        state = self.emulator.state
        with state.lock:
            stored = state.accountplus.list(request.account)
        return accountplus_query.GetAuthenticatorsResponse(
            account_authenticators=[_proto(s) for s in stored]
        )

    def GetAuthenticator(self, request: Any, context: grpc.ServicerContext) -> Any:
        _abort_if_faulted(self.emulator, "GetAuthenticator", context)
        if not is_bech32_account(request.account):
            context.abort(grpc.StatusCode.INTERNAL, "decoding bech32 failed")
        state = self.emulator.state
        with state.lock:
            stored = state.accountplus.by_account.get(request.account, {}).get(
                request.authenticator_id
            )
        if stored is None:
            context.abort(
                grpc.StatusCode.INTERNAL,
                f"authenticator {request.authenticator_id} not found for account "
                f"{request.account}: Authenticator is not found",
            )
        return accountplus_query.GetAuthenticatorResponse(account_authenticator=_proto(stored))


def add_service(server: grpc.Server, emulator: Emulator) -> None:
    accountplus_grpc.add_QueryServicer_to_server(AccountPlusQuery(emulator), server)
