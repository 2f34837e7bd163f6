"""Networks and settings, resolved with precedence flag > env > config file > default.

The config file is TOML (stdlib `tomllib`); its keys mirror the long options, plus
`[features]` and `[prune] keep`. Public endpoints live in NETWORKS, the one table of them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dydxctl.chain import SHORT_BLOCK_WINDOW, SHORT_BLOCK_WINDOW_V9_5
from dydxctl.durations import parse_keep
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
# A config-file override of the ShortBlockWindow stays within what any chain uses (chain.py).
MAX_SHORT_BLOCK_WINDOW = SHORT_BLOCK_WINDOW_V9_5


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
    db: Path | str  # a SQLite path, or a postgresql:// URL (store_open.py)
    json: bool
    verbose: bool
    debug: bool
    log_file: Path | None
    mnemonic_file: Path | None
    features: Features = field(default_factory=Features)
    prune_keep: str = DEFAULT_PRUNE_KEEP
    config_path: Path | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    # Permissioned trading: the owner's address, the trader's key file and its authenticator.
    address: str | None = None
    trading_key_file: Path | None = None
    authenticator_id: int | None = None
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


# The config file's schema: each key and the TOML type it must have. A string where a
# boolean belongs ("false") is an error, never silently truthy.
_FILE_KEYS: dict[str, type | tuple[type, ...]] = {
    "network": str, "grpc": str, "indexer": str, "chain_id": str, "insecure": bool,
    "db": str, "json": bool, "log_file": str, "mnemonic_file": str,
    "address": str, "trading_key_file": str, "authenticator_id": int,
    "short_block_window": int, "timeout": (int, float), "features": dict, "prune": dict,
    "websocket": str,
}  # fmt: skip
_TABLE_KEYS: dict[str, dict[str, type]] = {
    "features": {"cancel": bool, "cancel_from_metadata": bool},
    "prune": {"keep": str},
}
_TYPE_WORDS = {
    bool: "true or false", str: "a string", int: "an integer", float: "a number",
    dict: "a table ([section])",
}  # fmt: skip


def _type_word(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(_TYPE_WORDS[t] for t in types)


def _has_type(value: Any, expected: type | tuple[type, ...]) -> bool:
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool):  # bool is an int in Python; not in a config file
        return bool in types
    return isinstance(value, types)


def _check_types(path: Path, data: Mapping[str, Any]) -> None:
    """Refuse unknown keys and values of the wrong TOML type, naming the key and the file."""
    _check_section(path, data, _FILE_KEYS, table=None)
    for table, fields in _TABLE_KEYS.items():
        _check_section(path, data.get(table, {}), fields, table=table)


def _check_section(
    path: Path, section: Mapping[str, Any], fields: Mapping[str, Any], *, table: str | None
) -> None:
    """One level of the file (top level, or one [table]) against its key → type schema."""
    where = f"[{table}]" if table else ""
    unknown = sorted(set(section) - set(fields))
    if unknown:
        raise BadInput(
            f"Config file {path}{f': {where}' if table else ''} has unknown keys: "
            f"{', '.join(unknown)}.",
            f"Known keys{f' in {where}' if table else ''}: {', '.join(sorted(fields))}.",
        )
    for key, expected in fields.items():
        if key in section and not _has_type(section[key], expected):
            name = f"{table}.{key}" if table else key
            raise BadInput(
                f"Config file {path}: `{name}` must be {_type_word(expected)}, "
                f"not {_describe(section[key])}.",
                _example(name),
            )


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {value!r}"


_EXAMPLES = {
    "features": "Write it as a table:\n[features]\ncancel = true",
    "prune": 'Write it as a table:\n[prune]\nkeep = "7d"',
    "features.cancel": "Write e.g. cancel = false (no quotes).",
    "features.cancel_from_metadata": "Write e.g. cancel_from_metadata = false (no quotes).",
    "prune.keep": 'Write e.g. keep = "7d".',
    "insecure": "Write e.g. insecure = true (no quotes).",
    "json": "Write e.g. json = true (no quotes).",
    "short_block_window": "Write e.g. short_block_window = 20.",
    "timeout": "Write e.g. timeout = 10.",
}


def _example(key: str) -> str:
    return _EXAMPLES.get(key, f'Write e.g. {key} = "…" (a quoted string).')


def load_config_file(path: Path, *, required: bool) -> dict[str, Any]:
    """The TOML file as a dict; {} when it is absent and was not asked for explicitly."""
    if not path.exists():
        if required:
            raise BadInput(
                f"Config file {path} does not exist.", "Check --config / DYDXCTL_CONFIG."
            )
        return {}
    if not path.is_file():
        raise BadInput(
            f"Config file {path} is not a regular file.", "Pass the path of a TOML file."
        )
    import tomllib  # here, not at the top: most runs have no config file (start-up)

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(
            f"Config file {path} is not valid TOML: {exc}.", "Fix the file or pass another one."
        ) from exc
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"Config file {path} is not UTF-8 text (byte {exc.start} cannot be decoded).",
            "TOML files are UTF-8; re-save the file as UTF-8.",
        ) from exc
    except OSError as exc:
        raise BadInput(
            f"Config file {path} cannot be read: {exc.strerror}.", "Check its permissions."
        ) from exc
    _check_types(path, data)
    return data


def resolve(flags: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Build Settings from CLI flags (None = not given), the environment and the file."""
    config_flag = flags.get("config") or env.get("DYDXCTL_CONFIG")
    config_path = Path(config_flag) if config_flag else app_dir(env) / "config.toml"
    file = load_config_file(config_path, required=bool(config_flag))

    for key in ("network", "grpc", "indexer", "chain_id", "db", "log_file", "mnemonic_file",
                "websocket"):  # fmt: skip
        if flags.get(key) is not None and not str(flags[key]).strip():
            option = "--" + key.replace("_", "-")
            raise BadInput(f"{option} '' is empty.", f"Give a value to {option}, or leave it out.")

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
    window = file.get("short_block_window", network.short_block_window)
    if not 1 <= window <= MAX_SHORT_BLOCK_WINDOW:
        raise BadInput(
            f"Config file {config_path}: `short_block_window` must be between 1 and "
            f"{MAX_SHORT_BLOCK_WINDOW}, not {window}.",
            "It is the node's ShortBlockWindow: 20, or 40 on v9.5+.",
        )
    if window != network.short_block_window:
        network = Network(
            network.name, network.chain_id, network.grpc, network.indexer, window,
            network.websocket,
        )  # fmt: skip

    features_file: Mapping[str, Any] = file.get("features", {})
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
    if not 0 < timeout_s <= 600:  # also refuses nan and inf
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
    if log_file and Path(log_file).expanduser().is_dir():
        raise BadInput(
            f"The log file {log_file} is a directory.",
            "Pass a file path to --log-file / DYDXCTL_LOG_FILE, e.g. ~/dydxctl.log.",
        )
    mnemonic_file = pick("mnemonic_file", "DYDXCTL_MNEMONIC_FILE")
    prune_keep = file.get("prune", {}).get("keep", DEFAULT_PRUNE_KEEP)
    parse_keep(prune_keep, f"Config file {config_path}: `prune.keep`")
    insecure = pick_bool("insecure", "DYDXCTL_INSECURE")
    indexer = str(pick("indexer", "DYDXCTL_INDEXER", network.indexer))
    check_transport(indexer, insecure=insecure)
    trading_key_file = pick("trading_key_file", "DYDXCTL_TRADING_KEY_FILE")
    authenticator_text = pick("authenticator_id", "DYDXCTL_AUTHENTICATOR_ID")
    authenticator_id = None
    if authenticator_text is not None:
        text = str(authenticator_text).strip()
        if not text.isascii() or not text.isdigit() or int(text) >= 2**64:
            raise BadInput(
                f"Authenticator id {authenticator_text!r} is not a uint64.",
                "`dydxctl keys list` shows the ids, e.g. --authenticator-id 3.",
            )
        authenticator_id = int(text)
    check_transport(websocket, insecure=insecure)
    return Settings(
        network=network,
        grpc=str(pick("grpc", "DYDXCTL_GRPC", network.grpc)),
        indexer=indexer,
        chain_id=str(pick("chain_id", "DYDXCTL_CHAIN_ID", network.chain_id)),
        insecure=insecure,
        db=_store_target(str(db)) if db else data_dir(env) / "orders.db",
        json=pick_bool("json", "DYDXCTL_JSON"),
        verbose=bool(flags.get("verbose")),
        debug=bool(flags.get("debug")),
        log_file=Path(log_file).expanduser() if log_file else None,
        mnemonic_file=Path(mnemonic_file).expanduser() if mnemonic_file else None,
        features=Features(cancel=bool(cancel), cancel_from_metadata=bool(cancel_from_metadata)),
        prune_keep=prune_keep,
        config_path=config_path,
        timeout_s=timeout_s,
        address=pick("address", "DYDXCTL_ADDRESS"),
        trading_key_file=Path(trading_key_file).expanduser() if trading_key_file else None,
        authenticator_id=authenticator_id,
        websocket=websocket,
    )


def _store_target(db: str) -> Path | str:
    """A PostgreSQL URL stays text (a Path would fold its //); anything else is a path."""
    from dydxctl.store_open import is_postgres_url

    return db if is_postgres_url(db) else Path(db).expanduser()


def is_loopback_host(host: str) -> bool:
    """localhost or a loopback IP: traffic that never leaves this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(indexer: str, *, insecure: bool) -> None:
    """A plaintext (http:// or ws://) Indexer off loopback needs --insecure: its market
    parameters decide what is signed, its answers what is reported final, and anyone on
    the path could change them."""
    parts = urlsplit(indexer)
    off_machine = bool(parts.hostname) and not is_loopback_host(parts.hostname or "")
    if parts.scheme in ("http", "ws") and off_machine and not insecure:
        secure = "https://" if parts.scheme == "http" else "wss://"
        raise BadInput(
            f"The Indexer {indexer} is plaintext {parts.scheme}:// on another host.",
            f"Use {secure}, or pass --insecure (DYDXCTL_INSECURE=1) if you really mean plaintext.",
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
