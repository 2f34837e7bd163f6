"""Tests that bite (issue 13 item 7): each asserts a behaviour of `cancel --all`
(cancel_all.py, cancel_fanout.py) that a surviving mutant changed without any other test
noticing (docs/mutation_cancel_all.md lists them). In-process only (the library against
the in-process emulator): mutation testing sees no subprocess."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from dydxctl.api import Client
from dydxctl.emulator import Emulator
from tests.conftest import TEST_MNEMONIC

LIMIT = {"price": "50000", "size": "0.001", "market": "BTC-USD", "side": "buy"}
HASH = re.compile(r"^[0-9A-F]{64}$")


def _broadcasts(emu: Emulator) -> int:
    return sum(1 for c in emu.call_log() if c["name"] == "BroadcastTx")


# --- resend_with_sequences: the sequence the chain names -------------------------------------
def test_a_resend_behind_our_own_pending_sequence_uses_the_one_the_chain_names(
    bot: tuple[Client, Emulator],
) -> None:
    """Two refused nonces in one block: the first resend takes the committed sequence N
    (CheckTx now expects N+1); the second reads N again, is refused "expected N+1, got N",
    and goes once more with N+1."""
    client, emu = bot
    first = client.place(**LIMIT, good_til="1h", subaccount=0).order
    second = client.place(**LIMIT, good_til="1h", subaccount=1).order
    emu.advance(1)
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    [row] = client.cancel_all(subaccount=0)["orders"]
    assert (row["order_id"], row["outcome"]) == (first["order_id"], "CANCEL_PENDING")
    emu.reset_calls()
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    [row] = client.cancel_all(subaccount=1)["orders"]
    assert (row["order_id"], row["outcome"], row["exit_code"]) == (
        second["order_id"], "CANCEL_PENDING", 0)  # fmt: skip
    assert _broadcasts(emu) == 3  # the nonce, N (refused: expected N+1), N+1
    assert client.order(second["order_id"])["cancel_tx_hash"] == row["tx_hash"]
    emu.advance(1)
    assert emu.state.open_order_count() == 0


def test_a_resend_refused_without_naming_a_sequence_is_not_sent_again(
    bot: tuple[Client, Emulator],
) -> None:
    """sdk 32 whose log names no expected sequence: the resend stops there, and the order's
    row says the chain refused it (nothing was applied)."""
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.reset_calls()
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)  # "injected": no sequence named
    result = client.cancel_all()
    [row] = result["orders"]
    assert _broadcasts(emu) == 2
    assert row["outcome"].startswith("FAILED") and row["exit_code"] == result["exit_code"] > 0
    assert client.order(order["order_id"])["status"] == "OPEN"


# --- record_batch: what a batch's answer writes -------------------------------------------------
def _attempts(client: Client) -> list[dict[str, object]]:
    rows = client.runtime.store().conn.execute(
        "SELECT order_id, outcome, kind, detail, latency_ms FROM cancel_attempts ORDER BY id"
    )
    names = ["order_id", "outcome", "kind", "detail", "latency_ms"]
    return [dict(zip(names, r, strict=True)) for r in rows]


def test_an_accepted_batch_records_its_latency_and_says_batch_cancel(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    orders = [client.place(**LIMIT, good_til_blocks=10).order for _ in range(2)]
    emu.latency_ms = 60  # every call: the batch's answer takes at least this long
    result = client.cancel_all()
    emu.latency_ms = 0
    assert {r["outcome"] for r in result["orders"]} == {"CANCEL_PENDING"}
    attempts = _attempts(client)
    assert sorted(a["order_id"] for a in attempts) == sorted(o["order_id"] for o in orders)
    for attempt in attempts:
        assert (attempt["outcome"], attempt["kind"], attempt["detail"]) == (
            "success", None, "batch cancel")  # fmt: skip
        assert 50 <= float(attempt["latency_ms"]) < 60_000  # milliseconds, not seconds
    for order in orders:
        details = [e["detail"] for e in client.runtime.store().events(order["order_id"])]
        assert "batch cancel" in details


def test_an_unreachable_batch_reports_the_nodes_error_for_each_order(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    for _ in range(2):
        client.place(**LIMIT, good_til_blocks=10)
    emu.fail_next("BroadcastTx", grpc_status="UNAVAILABLE")
    result = client.cancel_all()
    rows = result["orders"]
    assert [(r["outcome"], r["exit_code"], r["tx_hash"]) for r in rows] == [
        ("FAILED (unreachable)", 7, None)] * 2  # fmt: skip
    assert result["exit_code"] == 7
    for row in rows:  # the node's own error, not a stand-in
        assert "unreachable" in row["detail"] and emu.grpc_target in row["detail"], row


# --- _dry_run ------------------------------------------------------------------------------------
def test_a_dry_run_of_another_subaccount_signs_the_batch_a_real_run_sends(
    bot: tuple[Client, Emulator],
) -> None:
    """The batch names the subaccount it cancels in: a dry run for subaccount 1 signs the
    same bytes as the real run (the clock is stopped: same height, same GTB)."""
    client, _ = bot
    orders = [client.place(**LIMIT, good_til_blocks=10, subaccount=1).order for _ in range(2)]
    dry = client.cancel_all(subaccount=1, dry_run=True)
    real = client.cancel_all(subaccount=1)
    assert sorted(r["order_id"] for r in dry["orders"]) == sorted(o["order_id"] for o in orders)
    assert [(r["outcome"], r["detail"], r["exit_code"]) for r in dry["orders"]] == [
        ("DRY_RUN", "", 0)] * 2  # fmt: skip
    assert {r["tx_hash"] for r in dry["orders"]} == {r["tx_hash"] for r in real["orders"]}
    assert {r["outcome"] for r in real["orders"]} == {"CANCEL_PENDING"}


def test_a_dry_run_row_of_a_stateful_order_carries_its_signed_hash(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.reset_calls()
    [row] = client.cancel_all(dry_run=True)["orders"]
    assert (row["order_id"], row["outcome"], row["detail"], row["exit_code"]) == (
        order["order_id"], "DRY_RUN", "", 0)  # fmt: skip
    assert HASH.match(row["tx_hash"] or ""), row
    assert _broadcasts(emu) == 0
    assert client.order(order["order_id"])["cancel_tx_hash"] is None  # nothing written


# --- stateful: write-ahead and a lost answer ---------------------------------------------------
def test_a_stateful_cancel_whose_answer_was_lost_is_the_one_kept(
    bot: tuple[Client, Emulator],
) -> None:
    """The first cancel reached the chain but its answer was lost: its hash was written
    ahead (with the nonce it was signed with). The next `cancel --all` is refused as a
    duplicate, and keeps and reports that first hash, which its block then settles."""
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fail_next("BroadcastTx", grpc_status="UNAVAILABLE", after_apply=True)
    [lost] = client.cancel_all()["orders"]
    assert (lost["outcome"], lost["exit_code"], lost["tx_hash"]) == (
        "FAILED (unreachable)", 7, None)  # fmt: skip
    assert emu.grpc_target in lost["detail"]  # the node's own error, not a stand-in
    stored = client.order(order["order_id"])
    first = stored["cancel_tx_hash"]
    assert stored["status"] == "OPEN" and HASH.match(first or ""), stored
    written = [e["detail"] for e in client.runtime.store().events(order["order_id"])
               if e.get("tx_hash") == first]  # fmt: skip
    assert any(re.fullmatch(r"cancel signed with sequence \d+", d or "") for d in written)
    [again] = client.cancel_all()["orders"]
    assert (again["outcome"], again["tx_hash"], again["exit_code"]) == (
        "CANCEL_PENDING", first, 0)  # fmt: skip
    assert client.order(order["order_id"])["cancel_tx_hash"] == first
    emu.advance(1)
    [changed] = client.sync()["changed"]
    assert changed["status"] == "CANCELED" and first in changed["detail"]


def test_a_refused_stateful_cancel_reports_the_refused_txs_hash(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fail_next("BroadcastTx", codespace="clob", code=12)
    result = client.cancel_all()
    [row] = result["orders"]
    assert (row["outcome"], row["exit_code"], result["exit_code"]) == (
        "FAILED (chain_rejected)", 6, 6)  # fmt: skip
    [attempt] = [a for a in _attempts(client) if a["order_id"] == order["order_id"]]
    stored = client.order(order["order_id"])
    assert HASH.match(row["tx_hash"] or ""), row
    assert row["tx_hash"] == stored["cancel_tx_hash"]  # the one written ahead and refused
    assert stored["status"] == "OPEN" and stored["last_error"] == row["detail"]
    assert attempt["kind"] == "chain_rejected"


# --- sign_batches: rows the observed height shows expired ----------------------------------------
def test_an_expired_short_term_order_is_settled_with_the_chains_evidence(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    """Nothing to send: the row is written EXPIRED (committed: another connection sees it)
    with the evidence the result row shows."""
    from dydxctl.store import Store

    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=2).order
    emu.advance(3)
    emu.reset_calls()
    result = client.cancel_all()
    [row] = result["orders"]
    assert (row["outcome"], row["exit_code"], row["tx_hash"]) == ("EXPIRED", 5, None)
    assert "good_til_block" in row["detail"]
    assert _broadcasts(emu) == 0
    with Store.open(tmp_path / "orders.db") as other:
        assert other.get(order["order_id"])["status"] == "EXPIRED"
        assert other.events(order["order_id"])[-1]["detail"] == row["detail"]


def test_a_batch_cancel_remembers_the_account_number_it_had_to_ask_for(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    """Orders placed by another tool, a fresh store: the batch needs the account number,
    asks the node once, and stores it for the next process."""
    client, emu = bot
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "elsewhere.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
    ) as elsewhere:  # fmt: skip
        for _ in range(2):
            elsewhere.place(**LIMIT, good_til_blocks=10)
    emu.advance(1)  # in a block, so the Indexer lists them
    emu.reset_calls()
    result = client.cancel_all()
    assert [r["outcome"] for r in result["orders"]] == ["CANCEL_PENDING"] * 2
    assert [c["name"] for c in emu.call_log()].count("Account") == 1
    emu.reset_calls()
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "orders.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
    ) as later:  # fmt: skip
        later.place(**LIMIT, good_til_blocks=10)
    assert "Account" not in [c["name"] for c in emu.call_log()]


def test_one_batch_cancels_short_term_orders_of_every_market(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    btc = client.place(**LIMIT, good_til_blocks=10).order
    eth = client.place(**{**LIMIT, "market": "ETH-USD", "price": "3000"}, good_til_blocks=10).order
    emu.advance(1)
    assert emu.state.open_order_count() == 2
    result = client.cancel_all()
    rows = {r["order_id"]: r for r in result["orders"]}
    assert {rows[o["order_id"]]["outcome"] for o in (btc, eth)} == {"CANCEL_PENDING"}
    assert len({r["tx_hash"] for r in rows.values()}) == 1  # one MsgBatchCancel
    emu.advance(1)
    assert emu.state.open_order_count() == 0


def test_a_resend_reads_the_accounts_committed_sequence(bot: tuple[Client, Emulator]) -> None:
    """After a resend's block the account's sequence is N+1: the next resend is signed
    with it straight away (one broadcast after the refused nonce)."""
    client, emu = bot
    client.place(**LIMIT, good_til="1h", subaccount=0)
    second = client.place(**LIMIT, good_til="1h", subaccount=1).order
    emu.advance(1)
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    client.cancel_all(subaccount=0)
    emu.advance(1)  # the sequence-signed cancel is committed: sequence N+1
    emu.reset_calls()
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    [row] = client.cancel_all(subaccount=1)["orders"]
    assert (row["order_id"], row["outcome"]) == (second["order_id"], "CANCEL_PENDING")
    assert _broadcasts(emu) == 2  # the nonce, then N+1 accepted at once


# --- cancel_rows / resend_with_sequences: write-ahead and a resend that gets no answer ------------
def test_every_stateful_write_ahead_is_committed_before_the_broadcast(
    bot: tuple[Client, Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection, looking when the wave goes out, already sees each cancel's hash
    (a crash during the broadcast must not lose which tx may land)."""
    from dydxctl.store import Store

    client, emu = bot
    orders = [client.place(**LIMIT, good_til="1h").order for _ in range(2)]
    emu.advance(1)
    node = client.runtime.node()
    seen: list[dict[str, str | None]] = []
    send = node.broadcast_as_answered

    def looking_first(txs: list[tuple[bytes, str]]) -> Iterator[object]:
        with Store.open(tmp_path / "orders.db") as other:
            seen.append({o["order_id"]: other.get(o["order_id"])["cancel_tx_hash"]
                         for o in orders})  # fmt: skip
        yield from send(txs)

    monkeypatch.setattr(node, "broadcast_as_answered", looking_first)
    result = client.cancel_all()
    assert seen == [{r["order_id"]: r["tx_hash"] for r in result["orders"]}]
    assert all(HASH.match(h or "") for h in seen[0].values())


def test_a_resend_that_gets_no_answer_does_not_stop_the_others(
    bot: tuple[Client, Emulator],
) -> None:
    """Two refused nonces; the first resend is unreachable (its outcome unknown), the
    second still goes, with the same sequence (nothing says the first one took it)."""
    client, emu = bot
    for _ in range(2):
        client.place(**LIMIT, good_til="1h")
    emu.advance(1)
    emu.reset_calls()
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    emu.fail_next("BroadcastTx", grpc_status="UNAVAILABLE")
    result = client.cancel_all()
    outcomes = sorted((r["outcome"], r["exit_code"]) for r in result["orders"])
    assert outcomes == [("CANCEL_PENDING", 0), ("FAILED (unreachable)", 7)], result
    assert result["exit_code"] == 7 and _broadcasts(emu) == 4
    [failed] = [r for r in result["orders"] if r["exit_code"]]
    assert emu.grpc_target in failed["detail"]


def test_a_batch_goes_out_once_when_stateful_cancels_need_two_waves(
    bot: tuple[Client, Emulator],
) -> None:
    from dydxctl import chain

    client, emu = bot
    short = client.place(**LIMIT, good_til_blocks=10).order
    stateful = [client.place(**LIMIT, good_til="1h").order
                for _ in range(chain.MAX_TIMESTAMP_NONCE_ARR_SIZE + 1)]  # fmt: skip
    emu.advance(1)
    emu.reset_calls()
    result = client.cancel_all()
    ids = [r["order_id"] for r in result["orders"]]
    assert sorted(ids) == sorted(o["order_id"] for o in [short, *stateful])  # each once
    assert _broadcasts(emu) == 1 + len(stateful)
    assert {r["outcome"] for r in result["orders"]} == {"CANCEL_PENDING"}


def test_a_row_cancelled_one_by_one_has_an_empty_detail(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    client, emu = bot
    client.place(**LIMIT, good_til="1h")
    emu.advance(1)
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "orders.db",
        env={"DYDX_MNEMONIC": TEST_MNEMONIC, "DYDXCTL_FEATURE_CANCEL_FROM_METADATA": "0"},
    ) as no_metadata:  # fmt: skip
        [row] = no_metadata.cancel_all()["orders"]
    assert (row["outcome"], row["detail"], row["exit_code"]) == ("CANCEL_PENDING", "", 0)


# --- open_orders: which rows `cancel --all` takes -----------------------------------------------
def _placed_elsewhere(emu: Emulator, tmp_path: Path, *markets: str) -> list[dict[str, object]]:
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "elsewhere.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
    ) as elsewhere:  # fmt: skip
        placed = [elsewhere.place(**{**LIMIT, "market": m, "price": "3000"}, good_til="1h").order
                  for m in markets]  # fmt: skip
        emu.advance(1)
        elsewhere.cancel(placed[-1]["order_id"])  # the last one: cancelled, not open
        emu.advance(1)
    return placed


def test_the_indexer_is_asked_for_the_open_orders_of_the_market_only(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    client, emu = bot
    btc, eth, gone = _placed_elsewhere(emu, tmp_path, "BTC-USD", "ETH-USD", "BTC-USD")
    result = client.cancel_all(market="BTC-USD")  # not ETH-USD, not the cancelled one
    assert [r["order_id"] for r in result["orders"]] == [btc["order_id"]]
    result = client.cancel_all()
    ids = {r["order_id"] for r in result["orders"]}
    assert eth["order_id"] in ids and gone["order_id"] not in ids


def test_a_dry_run_caches_nothing_and_a_real_run_caches_the_market(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    client, emu = bot
    _placed_elsewhere(emu, tmp_path, "BTC-USD", "BTC-USD")
    store = client.runtime.store()
    assert client.cancel_all(dry_run=True)["orders"]
    assert store.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    markets = store.conn.execute("SELECT COUNT(*) FROM market_cache").fetchone()[0]
    assert markets == 0
    assert client.cancel_all()["orders"]
    assert store.conn.execute("SELECT COUNT(*) FROM market_cache").fetchone()[0] >= 1


def test_a_short_term_cancel_accepted_is_not_taken_again_from_the_indexer(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    done = client.place(**LIMIT, good_til_blocks=10).order
    other = client.place(**LIMIT, good_til_blocks=10).order
    emu.advance(1)  # both in a block: the Indexer lists them
    emu.set_indexer_lag(3)  # and keeps listing `done` as open after its cancel
    client.cancel(done["order_id"])  # CANCEL_PENDING until its GTB passes
    emu.advance(1)
    result = client.cancel_all()
    assert [r["order_id"] for r in result["orders"]] == [other["order_id"]]


# --- cancel_all: nothing to cancel, cancelling switched off ------------------------------------
def test_nothing_open_is_exit_code_0(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    result = client.cancel_all()
    assert (result["orders"], result["failed"], result["exit_code"]) == ([], 0, 0)
    assert result["summary"] == "cancel --all: 0 orders, 0 cancelled, 0 failed"
    assert _broadcasts(emu) == 0


def test_cancel_all_switched_off_sends_nothing(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    from dydxctl.errors import Disabled

    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)
    emu.reset_calls()
    with (
        Client.open(
            network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
            db=tmp_path / "orders.db",
            env={"DYDX_MNEMONIC": TEST_MNEMONIC, "DYDXCTL_FEATURE_CANCEL": "0"},
        ) as switched_off,
        pytest.raises(Disabled) as caught,
    ):  # fmt: skip
        switched_off.cancel_all()
    assert (caught.value.exit_code, caught.value.kind) == (9, "disabled")
    assert caught.value.message == "Cancelling is switched off by [features] cancel = false."
    assert isinstance(caught.value.to_dict()["hint"], str)  # SPEC §: the JSON hint is a string
    assert _broadcasts(emu) == 0


def test_cancel_all_remembers_the_chains_clock_to_the_millisecond(
    bot: tuple[Client, Emulator],
) -> None:
    """The latest block's height and time (ms) read for the batch are kept for the next
    process's height estimate."""
    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)
    emu.advance(1)
    client.cancel_all()
    [(height, time_ms)] = client.runtime.store().conn.execute(
        "SELECT height, time_ms FROM chain_clock_cache"
    ).fetchall()
    assert (height, time_ms) == (emu.state.height, int(emu.state.block_time * 1000))


def test_a_sequence_the_chain_names_is_used_once(
    bot: tuple[Client, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node that names a wrong sequence (here: N+5, as if another process had sent
    five): the cancel goes with it once; refused again, it is not sent a third time."""
    from dydxctl.node import BroadcastResult

    client, emu = bot
    client.place(**LIMIT, good_til="1h")
    emu.advance(1)
    node = client.runtime.node()
    real = node.broadcast
    sent: list[str] = []

    def first_names_a_wrong_sequence(tx_bytes: bytes, tx_hash: str) -> BroadcastResult:
        sent.append(tx_hash)
        if len(sent) == 1:
            got = node.account(client.runtime.wallet().address).sequence
            log = f"account sequence mismatch, expected {got + 5}, got {got}"
            return BroadcastResult(tx_hash, 32, "sdk", log)
        return real(tx_bytes, tx_hash)

    monkeypatch.setattr(node, "broadcast", first_names_a_wrong_sequence)
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)  # the timestamp nonce
    result = client.cancel_all()
    [row] = result["orders"]
    assert len(sent) == 2  # N (told N+5), N+5 (refused by the chain): no third
    assert row["outcome"].startswith("FAILED") and result["exit_code"] == row["exit_code"] > 0
