"""Calling the emulator's own gRPC services in-process, by method path.

CometBFT's `abci_query` carries a gRPC method path and a protobuf request; the Cosmos SDK
routes it to the same handler its gRPC server uses (baseapp/abci.go Query ->
grpcQueryRouter.Route(req.Path)). We do the same: `ServiceRegistry` stands in for the
grpc.Server that `add_services` registers on and keeps the handlers, so JSON-RPC reaches the
chain only through the emulator's own servicers. They are given an `InProcessEmulator`: the
JSON-RPC request already went through the emulator's call log, latency and faults, and the
servicer it lands on is not a second network call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError


class GrpcCallError(Exception):
    """A servicer ended the call with a non-OK status (context.abort, an unimplemented method)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


@dataclass(frozen=True)
class _CallDetails:
    """grpc.HandlerCallDetails for looking a method up in a generic handler."""

    method: str
    invocation_metadata: tuple = ()


class InProcessContext:
    """The part of grpc.ServicerContext the emulator's servicers use, for a call made in-process."""

    def __init__(self) -> None:
        self._code: grpc.StatusCode | None = None
        self._details = ""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise GrpcCallError(code, details)

    def abort_with_status(self, status: Any) -> None:
        raise GrpcCallError(status.code, status.details)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details

    def invocation_metadata(self) -> tuple:
        return ()

    def peer(self) -> str:
        return "in-process"

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> None:
        return None

    def add_callback(self, callback: Any) -> bool:
        return False

    def send_initial_metadata(self, metadata: Any) -> None:
        return None

    def set_trailing_metadata(self, metadata: Any) -> None:
        return None


class InProcessEmulator:
    """The emulator as servicers called in-process see it: the same chain and hooks, but the
    call is not logged again, delayed again or failed by a fault meant for the gRPC server."""

    def __init__(self, emulator: Any) -> None:
        self._emulator = emulator

    def observe(self, kind: str, name: str) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._emulator, name)


class ServiceRegistry:
    """A grpc.Server stand-in for `add_services` that keeps the handlers to call in-process."""

    def __init__(self) -> None:
        self._generic: list[Any] = []
        self._methods: dict[str, grpc.RpcMethodHandler] = {}

    # --- what the generated add_*Servicer_to_server functions call ---
    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self._generic.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self._methods.update({f"/{service}/{name}": h for name, h in handlers.items()})

    # --- in-process calls ---
    def handler(self, path: str) -> grpc.RpcMethodHandler | None:
        """The unary handler serving gRPC method `path` ("/package.Service/Method"), if any."""
        found = self._methods.get(path)
        for generic in self._generic if found is None else ():
            found = generic.service(_CallDetails(path))
            if found is not None:
                break
        return found if found is not None and found.unary_unary is not None else None

    def invoke(self, path: str, request: Any) -> Any:
        """Call method `path` with a request message; the response message, or GrpcCallError."""
        handler = self.handler(path)
        if handler is None:
            raise GrpcCallError(grpc.StatusCode.UNIMPLEMENTED, f"unknown method {path}")
        context = InProcessContext()
        try:
            response = handler.unary_unary(request, context)
        except NotImplementedError as exc:  # the generated base servicer's answer
            raise GrpcCallError(grpc.StatusCode.UNIMPLEMENTED, str(exc)) from None
        if context.code() not in (None, grpc.StatusCode.OK):
            raise GrpcCallError(context.code(), context.details())  # type: ignore[arg-type]
        return response

    def invoke_bytes(self, path: str, request: bytes) -> bytes:
        """Call method `path` with a serialized request, as abci_query does; serialized response.
        Raises LookupError for a path no service serves, ValueError for undecodable bytes."""
        handler = self.handler(path)
        if handler is None:
            raise LookupError(path)
        try:
            message = handler.request_deserializer(request)
        except DecodeError as exc:
            raise ValueError(str(exc)) from None
        return handler.response_serializer(self.invoke(path, message))
