"""Permissioned trading keys end to end: `keys add|list|remove` with the owner's mnemonic, then
place/cancel signed by the trader's key for the owner's account, against the emulator's
x/accountplus model — and the chain's refusals for what the key's filters do not allow."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dydxctl import chain
from dydxctl.store import Store
from dydxctl.tx import decode_tx
from dydxctl.wallet import Wallet
from tests.conftest import TEST_ADDRESS, ChainCli

# A throwaway trader key, written as the web app's API Trading Keys page exports it (hex).
TRADER_HEX = "1f" * 32
OTHER_HEX = "2e" * 32
LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]


@pytest.fixture
def emulator() -> Iterator[Any]:
    """Blocks every 0.2 s: `keys add/remove` wait for their block result (DeliverTx)."""
    from dydxctl.emulator import Emulator

    with Emulator(block_time_s=0.2) as emu:
        yield emu


def _key_file(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


class Trader:
    """The CLI signing with a trading key only (no mnemonic in the environment)."""

    def __init__(self, cli: ChainCli, key_file: Path, authenticator_id: int | None) -> None:
        self.cli, self.key_file, self.authenticator_id = cli, key_file, authenticator_id

    def __call__(self, *args: str) -> Any:
        extra = ["--address", TEST_ADDRESS, "--trading-key-file", str(self.key_file)]
        if self.authenticator_id is not None:
            extra += ["--authenticator-id", str(self.authenticator_id)]
        return self.cli(*extra, *args, env={"DYDX_MNEMONIC": ""})

    def json(self, *args: str, expect_exit: int = 0) -> Any:
        result = self("--json", *args)
        assert result.exit_code == expect_exit, result.output
        return json.loads(result.stdout)


def _add(cli: ChainCli, key_file: Path, *limits: str) -> dict[str, Any]:
    return cli.json("keys", "add", "--key-file", str(key_file), *limits)


def test_trader_key_places_and_cancels_within_its_filters_and_is_refused_outside(
    chain_cli: ChainCli, tmp_path: Path
) -> None:
    key_file = _key_file(tmp_path, "trader.key", TRADER_HEX)
    trader_address = Wallet(bytes.fromhex(TRADER_HEX)).address
    added = _add(chain_cli, key_file, "--subaccount", "0", "--market", "BTC-USD")
    assert added["owner"] == TEST_ADDRESS and added["key_address"] == trader_address
    assert added["description"] == (
        f"(signed by {trader_address} AND messages: place, cancel, batch-cancel AND "
        "subaccounts: 0 AND markets: BTC-USD (0))"
    )
    listed = chain_cli.json("keys", "list")["authenticators"]
    assert [k["id"] for k in listed] == [added["id"]]
    trader = Trader(chain_cli, key_file, added["id"])

    # The tx selects the authenticator, is signed by the trader, and is the owner's.
    dry = trader.json("place", *LIMIT, "--dry-run")
    decoded = decode_tx(base64.b64decode(dry["tx_bytes"]))
    assert decoded.selected_authenticators == (added["id"],)
    assert decoded.public_key == Wallet(bytes.fromhex(TRADER_HEX)).public_key
    assert decoded.messages[0][1].order.order_id.subaccount_id.owner == TEST_ADDRESS

    short = trader.json("place", *LIMIT, "--good-til-blocks", "10")
    stateful = trader.json("place", *LIMIT, "--good-til", "1h")
    assert short["status"] == stateful["status"] == "OPEN"
    with Store.open(chain_cli.db_path) as store:
        row = store.get(stateful["order_id"])
    assert (row["signer_address"], row["authenticator_id"]) == (trader_address, added["id"])
    assert (row["address"], stateful["signer_address"]) == (TEST_ADDRESS, trader_address)
    chain_cli.emu.state.advance()  # the stateful placement's block
    for placed in (short, stateful):
        cancelled = trader.json("cancel", placed["order_id"])
        assert cancelled["outcome"] in ("CANCEL_PENDING", "CANCELED"), cancelled

    # Outside the filters: the chain's AllOf code, and the check that failed inside it.
    eth = trader.json(
        "place", "--market", "ETH-USD", "--side", "buy", "--size", "0.01", "--price", "3000",
        "--good-til-blocks", "10", expect_exit=6,
    )["error"]  # fmt: skip
    assert (eth["details"]["codespace"], eth["details"]["code"]) == ("dydxaccountplus", 104)
    assert eth["details"]["cause"]["code"] == 102 and "market" in eth["message"]
    sub1 = trader.json("place", *LIMIT, "--good-til-blocks", "10", "--subaccount", "1",
                       expect_exit=6)["error"]  # fmt: skip
    assert sub1["details"]["cause"]["code"] == 103 and "keys list" in sub1["hint"]

    # A message outside its filter — the trader removing its own authenticator — is refused.
    from dydxctl.node import NodeClient
    from dydxctl.trading_key import TradingSigner
    from dydxctl.tx import remove_authenticator_msg, sign_tx, timestamp_nonce

    wallet = Wallet(bytes.fromhex(TRADER_HEX))
    signer = TradingSigner(TEST_ADDRESS, wallet.address, wallet.public_key, added["id"], wallet)
    owner_number = chain_cli.emu.state.accounts[TEST_ADDRESS].account_number
    escape = sign_tx(signer, [remove_authenticator_msg(TEST_ADDRESS, added["id"])],
                     chain_id="localdydxprotocol", account_number=owner_number,
                     sequence=timestamp_nonce())  # fmt: skip
    node = NodeClient(chain_cli.emu.grpc_target)
    answer = node.broadcast(escape.tx_bytes, escape.tx_hash)
    node.close()
    assert (answer.codespace, answer.code) == ("dydxaccountplus", 104)
    assert "Message type verification failed" in answer.log

    # Another key (no filters) may cancel what the first one placed; then remove the first.
    other_file = _key_file(tmp_path, "other.key", OTHER_HEX)
    other = _add(chain_cli, other_file)
    again = trader.json("place", *LIMIT, "--good-til", "1h")
    chain_cli.emu.state.advance()
    by_other = Trader(chain_cli, other_file, None).json("cancel", again["order_id"])  # looked up
    assert by_other["outcome"] in ("CANCEL_PENDING", "CANCELED"), by_other
    assert chain_cli.json("keys", "remove", str(added["id"]))["removed"] is True
    assert [k["id"] for k in chain_cli.json("keys", "list")["authenticators"]] == [other["id"]]
    gone = trader.json("place", *LIMIT, "--good-til-blocks", "10", expect_exit=6)["error"]
    assert (gone["details"]["codespace"], gone["details"]["code"]) == ("dydxaccountplus", 1)


def test_the_authenticator_is_looked_up_when_not_given(chain_cli: ChainCli, tmp_path: Path) -> None:
    key_file = _key_file(tmp_path, "trader.key", TRADER_HEX)
    unknown = Trader(chain_cli, key_file, None).json("place", *LIMIT, "--good-til-blocks", "10",
                                                     expect_exit=6)["error"]  # fmt: skip
    assert unknown["details"]["code"] == 1 and "keys add" in unknown["hint"]
    added = _add(chain_cli, key_file, "--market", "BTC-USD")
    placed = Trader(chain_cli, key_file, None).json("place", *LIMIT, "--good-til-blocks", "10")
    assert placed["authenticator_id"] == added["id"]
    # The looked-up authenticator is known, so what its filters refuse is never sent.
    sent = chain_cli.broadcasts()
    eth = Trader(chain_cli, key_file, None).json(
        "place", "--market", "ETH-USD", "--side", "buy", "--size", "0.01", "--price", "3000",
        "--good-til-blocks", "10", expect_exit=6,
    )["error"]  # fmt: skip
    assert (eth["details"]["code"], eth["details"]["cause"]["code"]) == (104, 102)
    assert "Nothing was sent" in eth["message"] and chain_cli.broadcasts() == sent


def test_cancel_all_with_a_trading_key(chain_cli: ChainCli, tmp_path: Path) -> None:
    """MsgBatchCancel for the short-term orders and MsgCancelOrder for the stateful one,
    each selecting the authenticator (one id per message)."""
    key_file = _key_file(tmp_path, "trader.key", TRADER_HEX)
    trader = Trader(chain_cli, key_file, _add(chain_cli, key_file, "--market", "BTC-USD")["id"])
    short = [trader.json("place", *LIMIT, "--good-til-blocks", "10") for _ in range(2)]
    long = trader.json("place", *LIMIT, "--good-til", "1h")
    chain_cli.emu.state.advance()
    result = trader.json("cancel", "--all")
    assert result["failed"] == 0
    outcomes = {r["order_id"]: r["outcome"] for r in result["orders"]}
    assert outcomes == {o["order_id"]: "CANCEL_PENDING" for o in [*short, long]}


def test_a_place_only_key_is_refused_a_cancel_and_cannot_manage_keys(
    chain_cli: ChainCli, tmp_path: Path
) -> None:
    """A key allowed only to place gets the message filter's code for a cancel; managing
    keys takes the owner's mnemonic, which a trading-key host does not have."""
    from dydxctl import authenticators as auth

    key_file = _key_file(tmp_path, "trader.key", TRADER_HEX)
    public_key = Wallet(bytes.fromhex(TRADER_HEX)).public_key
    state = chain_cli.emu.state
    with state.lock:  # registered directly in the chain's model: place-only
        kind, config = auth.composite(
            auth.ALL_OF,
            [
                auth.signature_verification(public_key),
                auth.message_filter([chain.MSG_PLACE_ORDER_URL]),
            ],
        )
        place_only = state.accountplus.add(TEST_ADDRESS, kind, config)
    trader = Trader(chain_cli, key_file, place_only)
    placed = trader.json("place", *LIMIT, "--good-til-blocks", "10")
    refused = trader.json("cancel", placed["order_id"], expect_exit=6)["error"]
    assert refused["details"]["cause"]["code"] == 101
    no_owner_key = trader.json("keys", "add", "--public-key", public_key.hex(), expect_exit=10)
    assert "mnemonic" in no_owner_key["error"]["message"].lower()


def test_keys_refuses_locally_what_the_chain_would_refuse(
    chain_cli: ChainCli, tmp_path: Path
) -> None:
    before = chain_cli.broadcasts()
    short_key = chain_cli.json("keys", "add", "--public-key", "02" + "ab" * 20, expect_exit=2)
    assert "33 bytes" in short_key["error"]["message"]
    beyond = chain_cli.json(  # x/subaccounts MaxSubaccountIdNumber is 128,000
        "keys", "add", "--public-key", "02" + "ab" * 32, "--subaccount", "0,128001",
        expect_exit=2,
    )  # fmt: skip
    assert "0..128000" in beyond["error"]["message"]
    missing = chain_cli.json("keys", "remove", "7", expect_exit=6)["error"]
    assert (missing["details"]["codespace"], missing["details"]["code"]) == ("dydxaccountplus", 1)
    assert "Nothing was sent" in missing["message"]
    assert chain_cli.broadcasts() == before


def test_trading_key_file_rules(chain_cli: ChainCli, tmp_path: Path) -> None:
    readable = _key_file(tmp_path, "open.key", TRADER_HEX, mode=0o644)
    error = Trader(chain_cli, readable, 0).json("place", *LIMIT, expect_exit=10)["error"]
    assert "chmod 600" in error["hint"] and TRADER_HEX not in json.dumps(error)
    garbage = _key_file(tmp_path, "bad.key", "not-a-key")
    assert Trader(chain_cli, garbage, 0).json("place", *LIMIT, expect_exit=10)
    with_mnemonic = chain_cli.json(  # the owner's mnemonic names the account
        "--trading-key-file", str(_key_file(tmp_path, "m.key", TRADER_HEX)),
        "--authenticator-id", "0", "place", *LIMIT, "--dry-run",
    )  # fmt: skip
    assert with_mnemonic["address"] == TEST_ADDRESS
    assert decode_tx(base64.b64decode(with_mnemonic["tx_bytes"])).public_key == (
        Wallet(bytes.fromhex(TRADER_HEX)).public_key
    )
    no_owner = chain_cli.json(
        "--trading-key-file", str(_key_file(tmp_path, "t.key", TRADER_HEX)), "place", *LIMIT,
        expect_exit=2, env={"DYDX_MNEMONIC": ""},
    )  # fmt: skip
    assert "--address" in no_owner["error"]["hint"]


def test_an_older_store_gains_the_trading_key_columns(tmp_path: Path) -> None:
    import sqlite3

    from tests.conftest import order_row

    path = tmp_path / "old.db"
    with Store.open(path):
        pass
    with sqlite3.connect(path) as con:  # as a store written before issue 16 looks
        con.execute("ALTER TABLE orders DROP COLUMN authenticator_id")
        con.execute("ALTER TABLE orders DROP COLUMN signer_address")
        con.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_trading_keys'")
    with Store.open(path) as store:
        row = order_row(signer_address="dydx1trader", authenticator_id=3)
        store.insert_order(row)
        stored = store.get(row["order_id"])
    assert (stored["signer_address"], stored["authenticator_id"]) == ("dydx1trader", 3)


def test_trading_key_settings_from_flag_env_and_config_file(tmp_path: Path) -> None:
    from dydxctl.config import resolve
    from dydxctl.errors import BadInput

    config = tmp_path / "config.toml"
    config.write_text(
        f'address = "{TEST_ADDRESS}"\ntrading_key_file = "~/k.key"\nauthenticator_id = 4\n'
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path / "none"), "HOME": str(tmp_path)}
    from_file = resolve({"config": str(config)}, env)
    assert (from_file.address, from_file.authenticator_id) == (TEST_ADDRESS, 4)
    assert from_file.trading_key_file == Path("~/k.key").expanduser()
    from_env = resolve({"config": str(config)}, {**env, "DYDXCTL_AUTHENTICATOR_ID": "7"})
    assert from_env.authenticator_id == 7
    assert resolve({"config": str(config), "authenticator_id": 9}, env).authenticator_id == 9
    with pytest.raises(BadInput):
        resolve({"config": str(config)}, {**env, "DYDXCTL_AUTHENTICATOR_ID": "-1"})


def test_a_trading_key_costs_no_extra_round_trip(chain_cli: ChainCli, tmp_path: Path) -> None:
    """With --authenticator-id, a warm place is the same calls as the owner's;
    without it, one GetAuthenticators per process finds the authenticator."""
    key_file = _key_file(tmp_path, "trader.key", TRADER_HEX)
    trader = Trader(chain_cli, key_file, _add(chain_cli, key_file)["id"])
    emu = chain_cli.emu

    def calls(run: Any) -> list[str]:
        emu.reset_calls()
        run()
        return sorted(c["name"] for c in emu.call_log())

    chain_cli.place(*LIMIT)  # warms the store's market and account-number caches
    owner = calls(lambda: chain_cli.place(*LIMIT))
    with_id = calls(lambda: trader.json("place", *LIMIT))
    looked_up = calls(lambda: Trader(chain_cli, key_file, None).json("place", *LIMIT))
    assert owner == with_id and owner.count("BroadcastTx") == 1
    assert looked_up == sorted([*owner, "GetAuthenticators"])
