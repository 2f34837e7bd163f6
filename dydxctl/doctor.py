"""`dydxctl doctor`: every precondition of placing and cancelling, checked one by one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dydxctl.chain import short_block_window_for
from dydxctl.durations import format_unix
from dydxctl.errors import BadInput, DydxctlError

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime


def _check(name: str, fn: Any) -> dict[str, Any]:
    try:
        detail = fn()
    except DydxctlError as exc:
        return {"name": name, "ok": False, "detail": exc.message, "exit_code": exc.exit_code}
    return {"name": name, "ok": True, "detail": detail, "exit_code": 0}


def run_checks(rt: Runtime) -> list[dict[str, Any]]:
    s = rt.settings
    checks = [
        _check(
            "config",
            lambda: (
                f"network {s.network.name}, chain {s.chain_id}, gRPC {s.grpc}, "
                f"Indexer {s.indexer_base}, config file "
                f"{s.config_path if s.config_path and s.config_path.exists() else '(none)'}"
            ),
        ),
        _check("wallet", lambda: f"address {rt.wallet().address}"),
        _check(
            "store", lambda: f"{rt.store().path}: {rt.store().count()} orders, mode 0600 expected"
        ),
    ]

    info: dict[str, str] = {}

    def node() -> str:
        info.update(rt.node().node_info())  # one GetNodeInfo serves this and the next check
        latest = rt.node().latest_block()
        window = short_block_window_for(info["app_version"])
        return (
            f"{s.grpc}: {info['app_name']} {info['app_version']} (ShortBlockWindow {window}: "
            f"--good-til-blocks 1..{window}), height {latest.height}, block time "
            f"{format_unix(latest.time_unix)}"
        )

    def chain_id() -> str:
        reported = info.get("chain_id") or rt.node().node_info()["chain_id"]
        if reported != s.chain_id:
            raise BadInput(f"the node is on {reported}, but dydxctl is set to {s.chain_id}")
        return reported

    def indexer() -> str:
        height, when = rt.indexer().height()
        return f"{s.indexer_base}: height {height} at {when}"

    checks += [_check("node", node), _check("chain id", chain_id), _check("indexer", indexer)]
    return checks
