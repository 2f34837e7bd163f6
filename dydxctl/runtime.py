"""The composition root: settings plus the store, node, Indexer and wallet, made on demand.

Commands and bots ask the Runtime for what they need, so a command that only reads the
store never imports gRPC or crypto, and one process opens at most one store, one gRPC
channel and one Indexer connection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dydxctl.config import Settings
from dydxctl.redact import MNEMONIC_ENV

if TYPE_CHECKING:
    from dydxctl.indexer import IndexerClient
    from dydxctl.node import NodeClient
    from dydxctl.store import Store
    from dydxctl.store_pg import PgStore
    from dydxctl.trading_key import TradingSigner
    from dydxctl.wallet import Wallet


@dataclass
class Runtime:
    settings: Settings
    # Not in repr: the environment may hold DYDX_MNEMONIC, the cache holds the wallet.
    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def store(self, *, create: bool = True) -> Store | PgStore:
        if "store" not in self._cache:
            from dydxctl.store_open import open_store

            # Scoped to this chain: rows of other chains are neither read nor changed.
            self._cache["store"] = open_store(
                self.settings.db, create=create, chain_id=self.settings.chain_id
            )
        return self._cache["store"]

    def has_store(self) -> bool:
        from dydxctl.store_open import store_exists

        return "store" in self._cache or store_exists(self.settings.db)

    def node(self) -> NodeClient:
        if "node" not in self._cache:
            from dydxctl.node import NodeClient

            self._cache["node"] = NodeClient(
                self.settings.grpc,
                insecure=self.settings.insecure,
                timeout_s=self.settings.timeout_s,
            )
        return self._cache["node"]

    def indexer(self) -> IndexerClient:
        if "indexer" not in self._cache:
            from dydxctl.indexer import IndexerClient

            self._cache["indexer"] = IndexerClient(
                self.settings.indexer_base, timeout_s=self.settings.timeout_s
            )
        return self._cache["indexer"]

    def wallet(self) -> Wallet | TradingSigner:
        """What signs orders and cancels: the trading key for the owner when one is
        configured (--trading-key-file), else the owner's own mnemonic."""
        if "wallet" not in self._cache:
            if self.settings.trading_key_file is not None:
                from dydxctl.trading_key import load_trading_signer, resolve_authenticator

                owner = self.settings.address
                if owner is None and (
                    self.settings.mnemonic_file or self.env.get(MNEMONIC_ENV, "").strip()
                ):  # the owner's mnemonic is here too: it names the account
                    owner = self.owner_wallet().address
                signer = load_trading_signer(
                    self.settings.trading_key_file, owner, self.settings.authenticator_id
                )
                if signer.authenticator_id is None:
                    resolve_authenticator(self.node(), signer)
                self._cache["wallet"] = signer
            else:
                self._cache["wallet"] = self.owner_wallet()
        return self._cache["wallet"]

    def owner_wallet(self) -> Wallet:
        """The account's own key (the mnemonic): what manages trading keys."""
        if "owner_wallet" not in self._cache:
            from dydxctl.wallet import load_wallet

            self._cache["owner_wallet"] = load_wallet(self.env, self.settings.mnemonic_file)
        return self._cache["owner_wallet"]

    def close(self) -> None:
        for item in self._cache.values():
            close = getattr(item, "close", None)
            if close:
                close()
        self._cache.clear()
