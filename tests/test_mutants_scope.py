"""Tests that bite (issue 13 item 7) for store_open.py and scope.py: which backend a --db
names, password redaction, and whose row an order is (docs/mutation_store.md)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dydxctl import scope
from dydxctl.errors import BadInput, StoreError
from dydxctl.store import (
    Store,
)
from dydxctl.store_open import is_postgres_url, open_store, redact_url, store_exists
from tests.conftest import LOCAL_CHAIN, TEST_ADDRESS, order_row

TESTNET = "dydx-testnet-4"
MAINNET = "dydx-mainnet-1"


# --- store_open ---


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("postgresql://u@h/db", True),
        ("postgres://u@h/db", True),
        ("POSTGRESQL://u@h/db", True),
        ("PostGres://u@h/db", True),
        ("sqlite:///x.db", False),
        ("/tmp/postgresql://x", False),
        (Path("postgresql://u@h/db"), False),  # a Path is always a file
    ],
    ids=[f"target{i}" for i in range(7)],
)
def test_is_postgres_url(target: Any, expected: bool) -> None:
    assert is_postgres_url(target) is expected


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://bob:s3cret@db.example:6543/orders",
         "postgresql://bob:***@db.example:6543/orders"),
        ("postgresql://bob:s3cret@db.example/orders", "postgresql://bob:***@db.example/orders"),
        ("postgresql://:s3cret@db.example/orders", "postgresql://:***@db.example/orders"),
        ("postgresql://bob:s3cret@[::1]:5432/orders", "postgresql://bob:***@[::1]:5432/orders"),
        ("postgresql://bob@db.example/orders?password=s3cret&sslmode=require",
         "postgresql://bob@db.example/orders?password=***&sslmode=require"),
        ("postgresql://bob@db.example/orders?sslmode=require&PASSWORD=s3cret",
         "postgresql://bob@db.example/orders?sslmode=require&PASSWORD=***"),
        ("postgresql://bob@db.example/orders?mypassword=keep",
         "postgresql://bob@db.example/orders?mypassword=keep"),
        ("postgresql://bob@db.example:5432/orders", "postgresql://bob@db.example:5432/orders"),
        ("postgresql://bob:s3cret@/orders?host=/run/pg", "postgresql://bob:***@/orders?host=/run/pg"),
    ],
    ids=[f"url{i}" for i in range(9)],
)  # fmt: skip
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
    assert "s3cret" not in redact_url(url)


def test_open_store_expands_home_and_honours_create_and_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(StoreError, match="No store"):
        open_store("~/orders.db", create=False)
    assert not store_exists("~/orders.db")
    with open_store("~/orders.db", chain_id=TESTNET) as s:
        assert s.path == tmp_path / "orders.db" and s.chain_id == TESTNET
    assert store_exists("~/orders.db")
    assert store_exists("postgresql://u@127.0.0.1/none")  # a server may always hold it
    with open_store(str(tmp_path / "orders.db"), create=False) as s:
        assert s.chain_id is None


def test_open_store_hands_a_postgres_url_to_pgstore(monkeypatch: pytest.MonkeyPatch) -> None:
    from dydxctl.store_pg import PgStore

    opened: list[tuple] = []
    monkeypatch.setattr(PgStore, "open", classmethod(
        lambda cls, url, *, create, chain_id: opened.append((url, create, chain_id)) or "pg"
    ))  # fmt: skip
    assert open_store("postgres://u@127.0.0.1/db", create=False, chain_id=TESTNET) == "pg"
    assert open_store("postgresql://u@127.0.0.1/db") == "pg"
    assert opened == [
        ("postgres://u@127.0.0.1/db", False, TESTNET),
        ("postgresql://u@127.0.0.1/db", True, None),
    ]


# --- scope ---


def test_network_option_names_the_profile_or_the_chain_id() -> None:
    assert scope.network_option(MAINNET) == "--network mainnet"
    assert scope.network_option(TESTNET) == "--network testnet"
    assert scope.network_option(LOCAL_CHAIN) == "--network local"
    assert scope.network_option("my-chain") == "--chain-id my-chain"


class _Rt:
    """The parts of a Runtime scope.py reads: store(), settings.chain_id, wallet()."""

    def __init__(self, store: Store, chain_id: str = LOCAL_CHAIN, address: str = TEST_ADDRESS):
        self._store = store
        self.settings = SimpleNamespace(chain_id=chain_id)
        self.address = address

    def store(self) -> Store:
        return self._store

    def wallet(self) -> Any:
        return SimpleNamespace(address=self.address)


def test_refuse_other_chain_names_every_owning_chain(db_path: Path) -> None:
    row = order_row(chain_id=TESTNET)
    with Store.open(db_path) as s:
        s.insert_order(row)
        s.insert_order({**row, "chain_id": MAINNET})
    with Store.open(db_path, chain_id=LOCAL_CHAIN) as s:
        scope.refuse_other_chain(_Rt(s), "6b2c0e8e-0000-5000-8000-000000000000")  # nowhere
        with pytest.raises(BadInput) as caught:
            scope.refuse_other_chain(_Rt(s), f"  {row['order_id']} ")
    err = caught.value
    assert err.message == (
        f"Order {row['order_id']} is stored for chain {MAINNET}, {TESTNET}, not for "
        f"{LOCAL_CHAIN} (the chain this command uses). Nothing was sent."
    )
    assert err.hint.startswith("Run the command again with --network mainnet or --network testnet.")
    assert err.hint.endswith("`dydxctl sync --import` records it here first.)")
    assert err.details == {"order_id": row["order_id"], "chain_id": MAINNET}


def test_require_owner_checks_chain_then_wallet(store: Store) -> None:
    row = order_row()
    rt = _Rt(store)
    scope.require_owner(rt, row)  # ours: no error
    with pytest.raises(BadInput) as caught:
        scope.require_owner(rt, {**row, "chain_id": TESTNET, "address": "dydx1other"})
    assert caught.value.message == (
        f"Order {row['order_id']} belongs to chain {TESTNET}, not {LOCAL_CHAIN}. Nothing was sent."
    )
    assert caught.value.hint == "Run the command again with --network testnet."
    assert caught.value.details == {"order_id": row["order_id"]}
    with pytest.raises(BadInput) as caught:
        scope.require_owner(rt, {**row, "address": "dydx1other"})
    assert caught.value.message == (
        f"Order {row['order_id']} belongs to wallet dydx1other, not to this wallet "
        f"({TEST_ADDRESS}). Nothing was sent."
    )
    assert "dydx1other" in caught.value.hint and "DYDX_MNEMONIC" in caught.value.hint
    assert caught.value.details == {"order_id": row["order_id"]}


def test_stored_order_id_refuses_bad_or_foreign_bytes() -> None:
    row = order_row()
    assert scope.stored_order_id(row).client_id == row["client_id"]
    other = order_row()
    for proto, why in (
        ("%%%", "Stored OrderId bytes are not valid"),
        (12345, "not 'int'"),  # not even text: any decoding failure is the row's
        (None, "they name another order"),  # empty bytes: the default OrderId
        (other["order_id_proto"], "they name another order"),
    ):
        with pytest.raises(StoreError) as caught:
            scope.stored_order_id({**row, "order_id_proto": proto})
        assert caught.value.message.startswith(
            f"The stored OrderId of order {row['order_id']} is corrupt ("
        )
        assert why in caught.value.message and caught.value.message.endswith("Nothing was sent.")
        if why.startswith("they"):
            assert f"is corrupt ({why}). Nothing" in caught.value.message
        assert row["order_id"] in caught.value.hint and "`dydxctl sync`" in caught.value.hint
        assert caught.value.details == {"order_id": row["order_id"]}
