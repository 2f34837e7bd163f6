"""Settings precedence: flag > env > config file > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from dydxctl.config import resolve
from dydxctl.errors import BadInput


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_are_testnet_never_mainnet(tmp_path: Path) -> None:
    s = resolve({}, {"XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)})
    assert s.network.name == "testnet" and s.chain_id == "dydx-testnet-4"
    assert s.db == tmp_path / "dydxctl" / "orders.db"
    assert s.features.cancel and s.features.cancel_from_metadata
    assert not s.json and not s.insecure


def test_local_profile() -> None:
    s = resolve({"network": "local"}, {})
    assert (s.chain_id, s.grpc, s.indexer) == (
        "localdydxprotocol", "127.0.0.1:9090", "http://127.0.0.1:3002",
    )  # fmt: skip


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    cfg = _write(tmp_path, 'network = "mainnet"\ngrpc = "file:1"\ndb = "/file.db"\n')
    env = {"DYDXCTL_CONFIG": str(cfg), "DYDXCTL_GRPC": "env:2"}
    s = resolve({}, env)
    assert s.network.name == "mainnet"  # file beats default
    assert s.grpc == "env:2"  # env beats file
    assert s.db == Path("/file.db")
    s = resolve({"grpc": "flag:3", "network": "local"}, env)
    assert s.grpc == "flag:3" and s.network.name == "local"  # flags beat both


def test_default_config_file_in_app_dir(tmp_path: Path) -> None:
    (tmp_path / "dydxctl").mkdir()
    (tmp_path / "dydxctl" / "config.toml").write_text('network = "local"\n')
    assert resolve({}, {"XDG_CONFIG_HOME": str(tmp_path)}).network.name == "local"


def test_features_from_file_and_env(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "[features]\ncancel_from_metadata = false\ncancel = false\n")
    s = resolve({"config": str(cfg)}, {})
    assert not s.features.cancel and not s.features.cancel_from_metadata
    s = resolve({"config": str(cfg)}, {"DYDXCTL_FEATURE_CANCEL_FROM_METADATA": "1"})
    assert s.features.cancel_from_metadata


def test_prune_keep_and_window_from_file(tmp_path: Path) -> None:
    cfg = _write(tmp_path, 'short_block_window = 40\n[prune]\nkeep = "3d"\n')
    s = resolve({"config": str(cfg)}, {})
    assert s.prune_keep == "3d" and s.network.short_block_window == 40


@pytest.mark.parametrize("indexer", ["https://x:3002", "https://x:3002/", "https://x:3002/v4"])
def test_indexer_base_accepts_trailing_v4(indexer: str) -> None:
    assert resolve({"indexer": indexer}, {}).indexer_base == "https://x:3002"


@pytest.mark.parametrize(
    ("flags", "env", "text", "fragment"),
    [
        ({"network": "moonnet"}, {}, None, "Unknown network"),
        ({}, {"DYDXCTL_NETWORK": "nope"}, None, "Unknown network"),
        ({}, {}, "network = [", "not valid TOML"),
        ({}, {}, 'netwerk = "local"', "unknown keys: netwerk"),
        ({}, {"DYDXCTL_JSON": "maybe"}, None, "not a boolean"),
    ],
)
def test_bad_settings(tmp_path: Path, flags: dict, env: dict, text: str | None, fragment: str):
    if text is not None:
        env = {**env, "DYDXCTL_CONFIG": str(_write(tmp_path, text))}
    with pytest.raises(BadInput, match=fragment):
        resolve(flags, env)


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        resolve({"config": str(tmp_path / "missing.toml")}, {})
