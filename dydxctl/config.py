"""Networks and settings, resolved with precedence flag > env > config file > default.

The config file is TOML (stdlib `tomllib`); its keys mirror the long options, plus
`[features]` and `[prune] keep`. Public endpoints live in NETWORKS, the one table of them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dydxctl.chain import SHORT_BLOCK_WINDOW
from dydxctl.errors import BadInput


@dataclass(frozen=True)
class Network:
    name: str
    chain_id: str
    grpc: str
    indexer: str
    # The bound dydxctl keeps short-term GTBs within; 20 is valid on every chain version.
    short_block_window: int = SHORT_BLOCK_WINDOW
    # The Indexer websocket (socks); on the local network socks has its own port, 3003
    # (v4-chain indexer/docker-compose-local-deployment.yml WS_PORT).
    websocket: str = "ws://127.0.0.1:3003/v4/ws"


NETWORKS: dict[str, Network] = {
    "mainnet": Network(
        "mainnet",
        "dydx-mainnet-1",
        "dydx-ops-grpc.kingnodes.com:443",
        "https://indexer.dydx.trade",
        websocket="wss://indexer.dydx.trade/v4/ws",
    ),
    "testnet": Network(
        "testnet",
        "dydx-testnet-4",
        "test-dydx-grpc.kingnodes.com:443",
        "https://indexer.v4testnet.dydx.exchange",
        websocket="wss://indexer.v4testnet.dydx.exchange/v4/ws",
    ),
    # The same ports as dYdX's own localnet, so a real local chain works as well as ours.
    "local": Network("local", "localdydxprotocol", "127.0.0.1:9090", "http://127.0.0.1:3002"),
}
DEFAULT_NETWORK = "testnet"  # mainnet is never implied
DEFAULT_PRUNE_KEEP = "7d"
APP_NAME = "dydxctl"
DEFAULT_TIMEOUT_S = 10.0  # per node/Indexer call


def app_dir(env: Mapping[str, str]) -> Path:
    """XDG config dir: $XDG_CONFIG_HOME/dydxctl or ~/.config/dydxctl."""
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_NAME


def data_dir(env: Mapping[str, str]) -> Path:
    """XDG data dir: $XDG_DATA_HOME/dydxctl or ~/.local/share/dydxctl."""
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_NAME


@dataclass(frozen=True)
class Features:
    cancel: bool = True
    cancel_from_metadata: bool = True


@dataclass(frozen=True)
class Settings:
    network: Network
    grpc: str
    indexer: str
    chain_id: str
    insecure: bool
    db: Path
    json: bool
    verbose: bool
    debug: bool
    log_file: Path | None
    mnemonic_file: Path | None
    features: Features = field(default_factory=Features)
    prune_keep: str = DEFAULT_PRUNE_KEEP
    config_path: Path | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    websocket: str = ""  # the Indexer websocket URL (ws:// or wss://)

    @property
    def indexer_base(self) -> str:
        """The Indexer origin without a trailing slash or `/v4`: the client adds `/v4/…`."""
        base = self.indexer.rstrip("/")
        return base[: -len("/v4")] if base.endswith("/v4") else base


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadInput(f"{name}={value!r} is not a boolean.", f"Set {name} to 1 or 0.")


def load_config_file(path: Path, *, required: bool) -> dict[str, Any]:
    """The TOML file as a dict; {} when it is absent and was not asked for explicitly."""
    if not path.exists():
        if required:
            raise BadInput(
                f"Config file {path} does not exist.", "Check --config / DYDXCTL_CONFIG."
            )
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(
            f"Config file {path} is not valid TOML: {exc}.", "Fix the file or pass another one."
        ) from exc
    except OSError as exc:
        raise BadInput(f"Config file {path} cannot be read: {exc.strerror}.", "") from exc
    known = {
        "network", "grpc", "indexer", "chain_id", "insecure", "db", "json", "log_file",
        "mnemonic_file", "features", "prune", "short_block_window", "timeout",
    }  # fmt: skip
    unknown = sorted(set(data) - known)
    if unknown:
        raise BadInput(
            f"Config file {path} has unknown keys: {', '.join(unknown)}.",
            f"Known keys: {', '.join(sorted(known))}.",
        )
    return data


def resolve(flags: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Build Settings from CLI flags (None = not given), the environment and the file."""
    config_flag = flags.get("config") or env.get("DYDXCTL_CONFIG")
    config_path = Path(config_flag) if config_flag else app_dir(env) / "config.toml"
    file = load_config_file(config_path, required=bool(config_flag))

    def pick(key: str, env_name: str | None, default: Any = None) -> Any:
        if flags.get(key) is not None:
            return flags[key]
        if env_name and env.get(env_name) not in (None, ""):
            return env[env_name]
        if key in file:
            return file[key]
        return default

    def pick_bool(key: str, env_name: str) -> bool:
        if flags.get(key):
            return True
        if env.get(env_name) not in (None, ""):
            return _env_bool(env[env_name], env_name)
        return bool(file.get(key, False))

    name = str(pick("network", "DYDXCTL_NETWORK", DEFAULT_NETWORK))
    if name not in NETWORKS:
        raise BadInput(
            f"Unknown network '{name}'.", f"Choose one of: {', '.join(sorted(NETWORKS))}."
        )
    network = NETWORKS[name]
    window = int(file.get("short_block_window", network.short_block_window))
    if window != network.short_block_window:
        network = Network(
            network.name, network.chain_id, network.grpc, network.indexer, window,
            network.websocket,
        )  # fmt: skip

    features_file = file.get("features", {})
    cancel_from_metadata = features_file.get("cancel_from_metadata", True)
    if env.get("DYDXCTL_FEATURE_CANCEL_FROM_METADATA") not in (None, ""):
        cancel_from_metadata = _env_bool(
            env["DYDXCTL_FEATURE_CANCEL_FROM_METADATA"], "DYDXCTL_FEATURE_CANCEL_FROM_METADATA"
        )
    cancel = features_file.get("cancel", True)
    if env.get("DYDXCTL_FEATURE_CANCEL") not in (None, ""):
        cancel = _env_bool(env["DYDXCTL_FEATURE_CANCEL"], "DYDXCTL_FEATURE_CANCEL")

    timeout_text = pick("timeout", "DYDXCTL_TIMEOUT", DEFAULT_TIMEOUT_S)
    try:
        timeout_s = float(timeout_text)
    except (TypeError, ValueError):
        timeout_s = -1.0
    if not 0 < timeout_s <= 600:
        raise BadInput(
            f"Timeout {timeout_text!r} is not a number of seconds in (0, 600].", "e.g. --timeout 5"
        )
    websocket = str(
        pick("websocket", "DYDXCTL_WEBSOCKET")
        or _websocket_for(network, pick("indexer", "DYDXCTL_INDEXER"))
    )
    if not websocket.startswith(("ws://", "wss://")):
        raise BadInput(
            f"Websocket URL {websocket!r} is not ws:// or wss://.",
            "e.g. --websocket wss://indexer.dydx.trade/v4/ws",
        )
    db = pick("db", "DYDXCTL_DB")
    log_file = pick("log_file", "DYDXCTL_LOG_FILE")
    mnemonic_file = pick("mnemonic_file", "DYDXCTL_MNEMONIC_FILE")
    return Settings(
        network=network,
        grpc=str(pick("grpc", "DYDXCTL_GRPC", network.grpc)),
        indexer=str(pick("indexer", "DYDXCTL_INDEXER", network.indexer)),
        chain_id=str(pick("chain_id", "DYDXCTL_CHAIN_ID", network.chain_id)),
        insecure=pick_bool("insecure", "DYDXCTL_INSECURE"),
        db=Path(db).expanduser() if db else data_dir(env) / "orders.db",
        json=pick_bool("json", "DYDXCTL_JSON"),
        verbose=bool(flags.get("verbose")),
        debug=bool(flags.get("debug")),
        log_file=Path(log_file).expanduser() if log_file else None,
        mnemonic_file=Path(mnemonic_file).expanduser() if mnemonic_file else None,
        features=Features(cancel=bool(cancel), cancel_from_metadata=bool(cancel_from_metadata)),
        prune_keep=str(file.get("prune", {}).get("keep", DEFAULT_PRUNE_KEEP)),
        config_path=config_path,
        timeout_s=timeout_s,
        websocket=websocket,
    )


def _websocket_for(network: Network, indexer: str | None) -> str:
    """The websocket beside an Indexer given by hand: the same origin with /v4/ws, as the
    public Indexers serve it; on the local network socks listens on the Indexer's port + 1
    (3002/3003 in v4-chain indexer/docker-compose-local-deployment.yml, and the emulator's
    default). Without an Indexer override, the network's own websocket."""
    if not indexer:
        return network.websocket
    from urllib.parse import urlsplit

    parts = urlsplit(indexer if "://" in indexer else f"http://{indexer}")
    scheme = "wss" if parts.scheme == "https" else "ws"
    host, port = parts.hostname or "127.0.0.1", parts.port
    if network.name == "local" and port:
        port += 1
    return f"{scheme}://{host}{f':{port}' if port else ''}/v4/ws"


def environ() -> Mapping[str, str]:
    """The process environment (a seam for tests)."""
    return os.environ
