"""Tests that bite (issue 13): each asserts a behaviour of place / cancel / cancel --all /
finality that a surviving mutant of lifecycle.py, cancel_all.py, cancel_fanout.py,
cancel_one.py, finality.py or expiry.py changed without any other test noticing
(docs/mutation_lifecycle.md lists them). In-process only (the library and the CLI runner
against the in-process emulator): mutation testing sees no subprocess."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from dydxctl import chain
from dydxctl.api import Client
from dydxctl.emulator import Emulator
from dydxctl.errors import DydxctlError
from tests.conftest import TEST_MNEMONIC

LIMIT = {"price": "50000", "size": "0.001", "market": "BTC-USD", "side": "buy"}


def _calls(emu: Emulator) -> list[str]:
    return [c["name"] for c in emu.call_log()]


def _events(client: Client, order_id: str) -> list[dict[str, Any]]:
    return client.runtime.store().events(order_id)


def _raises(fn: Any, *args: Any, **kwargs: Any) -> DydxctlError:
    with pytest.raises(DydxctlError) as caught:
        fn(*args, **kwargs)
    return caught.value


# --- place ------------------------------------------------------------------------------------
def test_a_lower_case_market_is_the_upper_case_one(bot: tuple[Client, Emulator]) -> None:
    client, _ = bot
    placed = client.place(**{**LIMIT, "market": "btc-usd"}, good_til_blocks=10)
    assert placed.order["market"] == "BTC-USD"
    assert placed.order["status"] == "OPEN"


def test_an_unknown_market_is_bad_input_naming_the_known_ones(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    err = _raises(client.place, **{**LIMIT, "market": "NOPE-USD"}, good_til_blocks=10)
    assert (err.exit_code, err.kind) == (2, "bad_input")
    assert "NOPE-USD" in err.message
    assert "BTC-USD" in err.hint and "ETH-USD" in err.hint
    assert "BroadcastTx" not in _calls(emu)


def test_markets_and_account_number_are_cached_in_the_store(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    """A second process on the same store asks neither the Indexer's markets nor the
    node's account again: only the broadcast (the chain clock is persisted too)."""
    client, emu = bot
    client.place(**LIMIT, good_til="1h")
    emu.reset_calls()
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "orders.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
    ) as other:  # fmt: skip
        other.place(**LIMIT, good_til="1h")
    assert _calls(emu) == ["BroadcastTx"]


def test_a_market_order_reads_the_market_fresh(bot: tuple[Client, Emulator]) -> None:
    """No price: the oracle price must be current, so the cache is not used."""
    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)
    emu.reset_calls()
    emu.fill_next_ioc()
    client.place("BTC-USD", "buy", "0.001", type="market")
    assert [c for c in emu.call_log() if c["kind"] == "rest"], emu.call_log()


def test_a_refused_timestamp_nonce_is_resigned_with_the_account_sequence(
    bot: tuple[Client, Emulator],
) -> None:
    """sdk 32 on a stateful place: nothing was applied; the same order goes again signed
    with the account's sequence, and the row records the hash that was really sent."""
    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)  # warm: market and account number cached
    emu.reset_calls()
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    placed = client.place(**LIMIT, good_til="1h")
    assert _calls(emu) == ["BroadcastTx", "Account", "BroadcastTx"]
    assert placed.order["status"] == "OPEN"
    order_id = placed.order["order_id"]
    assert client.order(order_id)["place_tx_hash"] == placed.tx_hash
    resigned = [e for e in _events(client, order_id) if e.get("tx_hash") == placed.tx_hash]
    assert any("re-signed with sequence" in (e.get("detail") or "") for e in resigned)
    emu.advance(1)
    assert client.sync()["changed"] == []  # the resigned tx is the one in the block
    assert client.cancel(order_id).outcome == "CANCEL_PENDING"


def test_the_resigned_stateful_cancel_is_the_one_recorded(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    placed = client.place(**LIMIT, good_til="1h")
    emu.advance(1)
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    result = client.cancel(placed.order["order_id"])
    assert result.outcome == "CANCEL_PENDING"
    assert client.order(placed.order["order_id"])["cancel_tx_hash"] == result.tx_hash
    emu.advance(1)
    assert [c["status"] for c in client.sync()["changed"]] == ["CANCELED"]


def test_latency_is_in_milliseconds(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)
    emu.latency_ms = 40  # every call answers 40 ms late
    placed = client.place(**LIMIT, good_til_blocks=10)
    cancelled = client.cancel(placed.order["order_id"])
    emu.latency_ms = 0
    for latency in (placed.latency_ms, cancelled.latency_ms):
        assert 40 <= latency < 60_000


def test_dry_run_place_returns_the_signed_bytes_and_stores_nothing(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    result = client.place(**LIMIT, good_til_blocks=10, dry_run=True)
    assert result.dry_run and result.order["status"] == "DRY_RUN"
    raw = base64.b64decode(result.tx_bytes)
    assert hashlib.sha256(raw).hexdigest().upper() == result.tx_hash
    assert client.order(result.order["order_id"]) is None
    assert "BroadcastTx" not in _calls(emu)


def test_a_client_id_taken_between_check_and_insert(
    bot: tuple[Client, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process took the drawn id after the check: nothing was sent, another id is
    drawn. With --client-id the caller's id stands, so it is refused."""
    from dydxctl import lifecycle
    from dydxctl.store import Store

    client, emu = bot
    first = client.place(**LIMIT, good_til_blocks=10, client_id=7)
    monkeypatch.setattr(Store, "client_id_taken", lambda *a, **k: False)
    draws = iter([7, 8])
    monkeypatch.setattr(lifecycle.secrets, "randbelow", lambda bound: next(draws))
    again = client.place(**LIMIT, good_til_blocks=10)
    assert again.order["client_id"] == 8 and again.order["status"] == "OPEN"
    sent = _calls(emu).count("BroadcastTx")
    err = _raises(client.place, **LIMIT, good_til_blocks=10, client_id=7)
    assert err.kind == "duplicate_order" or "7" in err.message
    assert _calls(emu).count("BroadcastTx") == sent
    assert client.order(first.order["order_id"])["status"] == "OPEN"


def test_client_ids_span_the_chains_whole_range(
    bot: tuple[Client, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dydxctl import lifecycle

    client, _ = bot
    bounds = []

    def highest(bound: int) -> int:
        bounds.append(bound)
        return bound - 1

    monkeypatch.setattr(lifecycle.secrets, "randbelow", highest)
    placed = client.place(**LIMIT, good_til_blocks=10)
    assert bounds == [chain.CLIENT_ID_MAX + 1]  # randbelow: every id up to the max
    assert placed.order["client_id"] == chain.CLIENT_ID_MAX
    assert placed.order["status"] == "OPEN"


def test_no_free_client_id_is_bad_input(
    bot: tuple[Client, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dydxctl import lifecycle

    client, _ = bot
    client.place(**LIMIT, good_til_blocks=10, client_id=5)
    draws = []
    monkeypatch.setattr(lifecycle.secrets, "randbelow", lambda bound: draws.append(1) or 5)
    err = _raises(client.place, **LIMIT, good_til_blocks=10)
    assert (err.exit_code, err.kind) == (2, "bad_input")
    assert "client id" in err.message and "--client-id" in err.hint
    assert len(draws) == lifecycle.CLIENT_ID_TRIES


def test_a_rejected_place_records_the_chains_answer(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    emu.fail_next("BroadcastTx", codespace="clob", code=10001)
    err = _raises(client.place, **LIMIT, good_til_blocks=10)
    assert err.exit_code == 6
    order_id = err.details["order_id"]
    row = client.order(order_id)
    assert row["status"] == "REJECTED" and row["last_error"] == err.message
    rejected = [e for e in _events(client, order_id) if e["to_status"] == "REJECTED"]
    assert rejected[0]["detail"].startswith("clob 10001")


def test_an_unreachable_node_leaves_the_place_unknown(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)
    emu.fail_next("BroadcastTx", grpc_status="UNAVAILABLE")
    err = _raises(client.place, **LIMIT, good_til_blocks=10)
    assert (err.exit_code, err.kind) == (7, "unreachable")
    order_id = err.details["order_id"]
    assert order_id in err.message and "UNKNOWN" in err.message
    assert f"dydxctl cancel {order_id}" in err.hint
    row = client.order(order_id)
    assert row["status"] == "UNKNOWN" and row["last_error"]
    assert row["place_tx_hash"]


def test_place_statuses_and_their_evidence(bot: tuple[Client, Emulator]) -> None:
    client, _ = bot
    short = client.place(**LIMIT, good_til_blocks=10)
    stateful = client.place(**LIMIT, good_til="1h")
    conditional = client.place(
        "BTC-USD", "sell", "0.001", type="stop-limit", price="40000", trigger_price="41000",
        good_til="1h",
    )  # fmt: skip
    assert short.order["status"] == "OPEN"
    assert stateful.order["status"] == "OPEN"
    assert conditional.order["status"] == "UNTRIGGERED"
    assert conditional.order["trigger_price"] == "41000"
    assert conditional.order["trigger_subticks"] > 0
    assert short.order["trigger_price"] is None and short.order["trigger_subticks"] is None
    for placed, low, high in ((short, 0, 0), (stateful, chain.TIMESTAMP_NONCE_SEQUENCE_CUTOFF,
                                                   2**64)):  # fmt: skip
        [written] = [
            e["detail"] for e in _events(client, placed.order["order_id"])
            if e["detail"].startswith("written before broadcast; place signed with sequence ")
        ]  # fmt: skip
        assert low <= int(written.rsplit(" ", 1)[1]) <= high
    [accepted] = [
        e["detail"] for e in _events(client, stateful.order["order_id"])
        if e["to_status"] == "OPEN"
    ]  # fmt: skip
    assert "GetTx" in accepted


# --- cancel --all -------------------------------------------------------------------------------
def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cancel_all_result_rows_name_each_order(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    short = client.place(**LIMIT, good_til_blocks=10).order
    stateful = client.place(**LIMIT, good_til="1h").order
    conditional = client.place(
        "BTC-USD", "sell", "0.001", type="stop-limit", price="40000", trigger_price="41000",
        good_til="1h",
    ).order  # fmt: skip
    result = client.cancel_all()
    assert result["summary"] == "cancel --all: 3 orders, 3 cancelled, 0 failed"
    assert (result["failed"], result["exit_code"]) == (0, 0)
    assert (result["source"], result["warning"]) == ("store+indexer", None)
    rows = {r["order_id"]: r for r in result["orders"]}
    expected = {short["order_id"]: "short-term", stateful["order_id"]: "long-term",
                conditional["order_id"]: "conditional"}  # fmt: skip
    for order in (short, stateful, conditional):
        row = rows[order["order_id"]]
        assert row["kind"] == expected[order["order_id"]]
        assert (row["market"], row["client_id"]) == ("BTC-USD", order["client_id"])
        assert (row["outcome"], row["detail"], row["exit_code"]) == ("CANCEL_PENDING", "", 0)
        assert row["tx_hash"] == client.order(order["order_id"])["cancel_tx_hash"]
    emu.advance(1)
    assert emu.state.open_order_count() == 0


def test_cancel_all_without_the_indexer_says_store_only(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)
    client.place(**LIMIT, good_til="1h")
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=f"http://127.0.0.1:{_closed_port()}",
        db=tmp_path / "orders.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC}, timeout_s=2,
    ) as offline:  # fmt: skip
        dry = offline.cancel_all(dry_run=True)
        result = offline.cancel_all()
    for answer in (dry, result):
        assert answer["summary"] == (
            "cancel --all: 2 orders, 2 cancelled, 0 failed (store only: the Indexer was not "
            "reachable)"
        )
        assert answer["source"] == "store"
        assert "2 open orders of the store" in answer["warning"]


def test_cancel_all_dry_run_of_an_expired_short_term_order_writes_nothing(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    live = client.place(**LIMIT, good_til_blocks=10).order
    expired = client.place(**LIMIT, good_til_blocks=2).order
    emu.advance(3)
    result = client.cancel_all(dry_run=True)
    rows = {r["order_id"]: r for r in result["orders"]}
    assert (rows[expired["order_id"]]["outcome"], rows[expired["order_id"]]["exit_code"]) == (
        "EXPIRED", 5)  # fmt: skip
    assert "good_til_block" in rows[expired["order_id"]]["detail"]
    assert rows[live["order_id"]]["outcome"] == "DRY_RUN"
    assert result["exit_code"] == 5 and result["failed"] == 1
    assert client.order(expired["order_id"])["status"] == "OPEN"  # a dry run writes nothing
    real = client.cancel_all()
    rows = {r["order_id"]: r for r in real["orders"]}
    assert rows[expired["order_id"]]["outcome"] == "EXPIRED"
    assert client.order(expired["order_id"])["status"] == "EXPIRED"
    assert client.order(live["order_id"])["status"] == "CANCEL_PENDING"


def test_cancel_all_leaves_an_accepted_short_term_cancel_alone(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    done = client.place(**LIMIT, good_til_blocks=10).order
    client.cancel(done["order_id"])
    other = client.place(**LIMIT, good_til_blocks=10).order
    emu.reset_calls()
    result = client.cancel_all()
    assert [r["order_id"] for r in result["orders"]] == [other["order_id"]]


def test_cancel_all_with_metadata_lookups_off_cancels_each_through_the_indexer(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    client, emu = bot
    stateful = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "orders.db",
        env={"DYDX_MNEMONIC": TEST_MNEMONIC, "DYDXCTL_FEATURE_CANCEL_FROM_METADATA": "0"},
    ) as no_metadata:  # fmt: skip
        emu.reset_calls()
        result = no_metadata.cancel_all()
    assert [r["outcome"] for r in result["orders"]] == ["CANCEL_PENDING"]
    names = _calls(emu)
    assert names.count("BroadcastTx") == 1
    assert "/v4/orders/{id}" in names  # the cancel is built from the Indexer's fields
    emu.advance(1)
    assert client.order(stateful["order_id"])["status"] in ("CANCEL_PENDING", "CANCELED")
    assert emu.state.open_order_count() == 0


def test_cancel_all_sends_more_than_one_wave_of_stateful_cancels(
    bot: tuple[Client, Emulator],
) -> None:
    """More than MAX_TIMESTAMP_NONCE_ARR_SIZE stateful orders: every one is cancelled."""
    client, emu = bot
    orders = [client.place(**LIMIT, good_til="1h").order for _ in range(22)]
    emu.advance(1)
    result = client.cancel_all()
    assert sorted(r["order_id"] for r in result["orders"]) == sorted(o["order_id"] for o in orders)
    assert {r["outcome"] for r in result["orders"]} == {"CANCEL_PENDING"}
    emu.advance(1)
    assert emu.state.open_order_count() == 0


# --- cancel (one order) -------------------------------------------------------------------------
def _attempts(client: Client) -> list[dict[str, Any]]:
    rows = client.runtime.store().conn.execute(
        "SELECT order_id, market, outcome, kind, codespace, code, tx_hash, detail, latency_ms"
        " FROM cancel_attempts ORDER BY id"
    )  # fmt: skip
    names = ["order_id", "market", "outcome", "kind", "codespace", "code", "tx_hash", "detail",
             "latency_ms"]  # fmt: skip
    return [dict(zip(names, r, strict=True)) for r in rows]


def test_cancel_finds_an_order_by_client_id_or_upper_case_uuid(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    by_client_id = client.place(**LIMIT, good_til_blocks=10, client_id=4242).order
    by_uuid = client.place(**LIMIT, good_til="1h").order
    assert client.cancel("4242").order["order_id"] == by_client_id["order_id"]
    emu.advance(1)
    result = client.cancel(by_uuid["order_id"].upper())
    assert (result.order["order_id"], result.source) == (by_uuid["order_id"], "store")


def test_cancel_of_an_order_placed_elsewhere_records_it_from_the_indexer(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    placed = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    store = client.runtime.store()
    store.conn.execute("DELETE FROM orders WHERE order_id = ?", (placed["order_id"],))
    store.conn.commit()
    dry = client.cancel(placed["order_id"].upper(), dry_run=True)
    assert (dry.outcome, dry.source) == ("DRY_RUN", "indexer")
    assert client.order(placed["order_id"]) is None  # a dry run records nothing
    result = client.cancel(placed["order_id"])
    assert (result.outcome, result.source) == ("CANCEL_PENDING", "indexer")
    recorded = client.order(placed["order_id"])
    assert recorded["status"] == "CANCEL_PENDING" and recorded["cancel_tx_hash"] == result.tx_hash
    events = [e["detail"] for e in _events(client, placed["order_id"])]
    assert "recorded from the Indexer" in events


@pytest.mark.parametrize(
    ("key", "kind", "words"),
    [
        ("77", "not_found", "client id 77"),
        ("not-an-id", "bad_input", "'not-an-id' is not an order id"),
        ("8473f381-dd7c-5cc2-855c-31bf39450146", "not_found", "neither in the store"),
    ],
    ids=["unknown client id", "garbage", "unknown uuid"],
)
def test_cancel_of_an_unknown_key_says_what_it_was(
    bot: tuple[Client, Emulator], key: str, kind: str, words: str
) -> None:
    client, emu = bot
    err = _raises(client.cancel, key)
    assert err.kind == kind and words in err.message
    assert "BroadcastTx" not in _calls(emu)


def test_an_unknown_client_id_with_metadata_lookups_off_says_so(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    _, emu = bot
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "orders.db",
        env={"DYDX_MNEMONIC": TEST_MNEMONIC, "DYDXCTL_FEATURE_CANCEL_FROM_METADATA": "0"},
    ) as no_metadata:  # fmt: skip
        err = _raises(no_metadata.cancel, "77")
    assert err.kind == "not_found" and "metadata lookups are switched off" in err.message


def test_cancel_disabled_by_the_feature_flag_says_how_to_enable_it(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=10).order
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "orders.db",
        env={"DYDX_MNEMONIC": TEST_MNEMONIC, "DYDXCTL_FEATURE_CANCEL": "0"},
    ) as disabled:  # fmt: skip
        err = _raises(disabled.cancel, order["order_id"])
        all_err = _raises(disabled.cancel_all)
    assert (err.exit_code, err.kind) == (9, "disabled") and "DYDXCTL_FEATURE_CANCEL" in err.hint
    assert (all_err.exit_code, all_err.kind) == (9, "disabled")
    assert client.order(order["order_id"])["status"] == "OPEN"


def test_dry_run_cancel_shows_the_cancel_it_would_send(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    short = client.place(**LIMIT, good_til_blocks=10).order
    stateful = client.place(**LIMIT, good_til="1h").order
    emu.reset_calls()
    dry_short = client.cancel(short["order_id"], dry_run=True)
    dry_stateful = client.cancel(stateful["order_id"], dry_run=True)
    assert (dry_short.outcome, dry_short.source) == ("DRY_RUN", "store")
    assert dry_short.good_til_block == short["good_til_block"]
    assert dry_short.good_til_block_time is None
    assert dry_stateful.good_til_block_time == stateful["good_til_block_time"]
    assert dry_stateful.good_til_block is None
    for dry in (dry_short, dry_stateful):
        raw = base64.b64decode(dry.extra["tx_bytes"])
        assert hashlib.sha256(raw).hexdigest().upper() == dry.tx_hash
    assert "BroadcastTx" not in _calls(emu)
    assert client.order(short["order_id"])["status"] == "OPEN"
    real = client.cancel(short["order_id"])
    assert real.tx_hash == dry_short.tx_hash  # the same bytes: a short-term cancel is stable


def test_an_accepted_cancel_writes_its_good_til_and_says_when_it_is_final(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    short = client.place(**LIMIT, good_til_blocks=10).order
    stateful = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    short_result = client.cancel(short["order_id"])
    stateful_result = client.cancel(stateful["order_id"])
    assert short_result.good_til_block == short["good_til_block"]
    assert f"block {short['good_til_block']}" in short_result.message
    assert stateful_result.message.endswith(
        "; it is final once its block result (GetTx) confirms it (use --wait to follow it)."
    )
    assert stateful_result.good_til_block_time == stateful["good_til_block_time"]
    rows = [client.order(o["order_id"]) for o in (short, stateful)]
    assert rows[0]["cancel_good_til_block"] == short["good_til_block"]
    assert rows[1]["cancel_good_til_block_time"] == stateful["good_til_block_time"]
    assert [r["cancel_tx_hash"] for r in rows] == [short_result.tx_hash, stateful_result.tx_hash]
    attempts = _attempts(client)
    assert [(a["order_id"], a["outcome"], a["market"], a["tx_hash"]) for a in attempts] == [
        (short["order_id"], "success", "BTC-USD", short_result.tx_hash),
        (stateful["order_id"], "success", "BTC-USD", stateful_result.tx_hash),
    ]


def test_a_second_cancel_of_a_short_term_order_sends_nothing(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=10).order
    first = client.cancel(order["order_id"])
    emu.reset_calls()
    second = client.cancel(order["order_id"])
    assert (second.outcome, second.tx_hash) == ("CANCEL_PENDING", first.tx_hash)
    assert "already on its way" in second.message
    assert _calls(emu) == []


def test_a_cancel_whose_answer_is_lost_is_recorded_as_unreachable(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=10).order
    emu.fail_next("BroadcastTx", grpc_status="UNAVAILABLE")
    err = _raises(client.cancel, order["order_id"])
    assert (err.exit_code, err.kind) == (7, "unreachable")
    assert err.details["order_id"] == order["order_id"]
    assert f"dydxctl cancel {order['order_id']}" in err.hint
    row = client.order(order["order_id"])
    assert row["status"] == "OPEN" and row["last_error"]
    [attempt] = _attempts(client)
    assert (attempt["outcome"], attempt["kind"], attempt["market"]) == (
        "failure", "unreachable", "BTC-USD")  # fmt: skip
    assert attempt["tx_hash"] is None and attempt["detail"]
    assert client.cancel(order["order_id"]).outcome == "CANCEL_PENDING"  # safe to repeat


def test_a_rejected_cancel_records_the_code(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=10).order
    emu.fail_next("BroadcastTx", codespace="clob", code=12)
    err = _raises(client.cancel, order["order_id"])
    assert (err.exit_code, err.details["order_id"]) == (6, order["order_id"])
    assert client.order(order["order_id"])["last_error"] == err.message
    [attempt] = _attempts(client)
    assert (attempt["outcome"], attempt["kind"], attempt["codespace"], attempt["code"]) == (
        "failure", "chain_rejected", "clob", 12)  # fmt: skip
    assert attempt["tx_hash"] and attempt["detail"] == err.message


def test_a_clob_10_answer_expires_a_short_term_order_naming_its_gtb(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=10).order
    emu.fail_next("BroadcastTx", codespace="clob", code=10)
    err = _raises(client.cancel, order["order_id"])
    assert (err.exit_code, err.details["order_id"]) == (5, order["order_id"])
    assert f"good_til_block {order['good_til_block']}" in err.message
    assert client.order(order["order_id"])["status"] == "EXPIRED"


def test_a_cancel_already_pending_answer_keeps_the_earlier_hash(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fail_next("BroadcastTx", codespace="clob", code=9)
    result = client.cancel(order["order_id"])
    assert result.outcome == "CANCEL_PENDING" and result.tx_hash is None
    assert "nothing new was sent" in result.message
    row = client.order(order["order_id"])
    assert row["status"] == "CANCEL_PENDING" and row["cancel_tx_hash"] is None
    [attempt] = _attempts(client)
    assert (attempt["outcome"], attempt["detail"]) == ("success", "cancel already pending")


# --- finality: what sync and cancel settle, and their evidence -----------------------------------
def test_a_lost_short_term_place_the_indexer_shows_is_open(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    emu.fail_next("BroadcastTx", after_apply=True)
    order_id = _raises(client.place, **LIMIT, good_til_blocks=10).details["order_id"]
    [changed] = client.sync()["changed"]
    assert (changed["order_id"], changed["from"], changed["status"]) == (
        order_id,
        "UNKNOWN",
        "OPEN",
    )
    assert "rests on the book" in changed["detail"]


def test_a_partly_filled_stateful_order_is_cancelled_with_its_fill(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fill(order["order_id"], size="0.0005")
    emu.advance(1)
    cancel = client.cancel(order["order_id"])
    emu.advance(1)
    [changed] = client.sync()["changed"]
    assert (changed["from"], changed["status"]) == ("CANCEL_PENDING", "CANCELED")
    assert cancel.tx_hash in changed["detail"] and changed["detail"].endswith(", 0.0005 filled")


def test_a_failed_cancel_of_an_untriggered_order_returns_it_to_untriggered(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(
        "BTC-USD", "sell", "0.001", type="stop-limit", price="40000", trigger_price="41000",
        good_til="1h",
    ).order  # fmt: skip
    emu.advance(1)
    client.sync()
    emu.fail_next_deliver("clob", 29)
    client.cancel(order["order_id"])
    emu.advance(1)
    [changed] = client.sync()["changed"]
    assert (changed["from"], changed["status"]) == ("CANCEL_PENDING", "UNTRIGGERED")
    assert "did not take effect" in changed["detail"] and "(clob, 29)" in changed["detail"]
    again = client.cancel(order["order_id"])  # sent again
    assert again.outcome == "CANCEL_PENDING" and again.tx_hash not in changed["detail"]
    emu.advance(1)
    assert [c["status"] for c in client.sync()["changed"]] == ["CANCELED"]


def test_cancelling_a_final_order_says_why_and_sends_nothing(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    filled = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fill(filled["order_id"])
    emu.advance(1)
    emu.fail_next("BroadcastTx", codespace="clob", code=10001)
    rejected = _raises(client.place, **LIMIT, good_til="1h").details["order_id"]
    err = _raises(client.cancel, filled["order_id"])
    assert (err.exit_code, err.kind, err.details["status"]) == (4, "already_final", "FILLED")
    assert "already filled" in err.message and "Indexer: FILLED" in err.message
    assert client.order(filled["order_id"])["status"] == "FILLED"
    emu.reset_calls()
    again = _raises(client.cancel, filled["order_id"])  # now from the store: no broadcast
    assert (again.exit_code, again.details["status"]) == (4, "FILLED")
    assert "BroadcastTx" not in _calls(emu)
    err = _raises(client.cancel, rejected)
    assert (err.exit_code, err.kind, err.details["status"]) == (4, "already_final", "REJECTED")
    assert "never on the book" in err.message
    assert "BroadcastTx" not in _calls(emu)


def test_a_dry_run_batch_cancel_signs_the_bytes_the_real_one_sends(
    bot: tuple[Client, Emulator],
) -> None:
    client, _ = bot
    orders = [client.place(**LIMIT, good_til_blocks=10).order for _ in range(2)]
    dry = client.cancel_all(dry_run=True)
    real = client.cancel_all()
    assert [r["outcome"] for r in dry["orders"]] == ["DRY_RUN"] * 2
    assert {r["tx_hash"] for r in dry["orders"]} == {r["tx_hash"] for r in real["orders"]}
    assert {client.order(o["order_id"])["status"] for o in orders} == {"CANCEL_PENDING"}


@pytest.mark.parametrize(
    ("code", "exit_code", "kind", "status"),
    [(10, 5, "expired", None), (3006, 4, "already_final", "FILLED")],
    ids=["clob 10: expired", "clob 3006: filled"],
)
def test_a_refused_batch_is_resolved_per_order(
    bot: tuple[Client, Emulator], code: int, exit_code: int, kind: str, status: str | None
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=10).order
    if status == "FILLED":
        emu.fill(order["order_id"])
    emu.fail_next("BroadcastTx", codespace="clob", code=code)
    result = client.cancel_all()
    [row] = result["orders"]
    assert (row["outcome"], row["exit_code"]) == (f"FAILED ({kind})", exit_code)
    assert order["order_id"] in row["detail"]
    assert result["exit_code"] == exit_code
    if status is not None:  # the Indexer's evidence settles it (clob 10 alone does not)
        assert client.order(order["order_id"])["status"] == status


def test_a_retried_cancel_after_the_first_landed_says_it_is_cancelled(
    bot: tuple[Client, Emulator],
) -> None:
    """The first cancel's answer was lost but it landed; the retry is answered clob 3006
    and the earlier cancel's block result settles the order."""
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fail_next("BroadcastTx", after_apply=True)
    _raises(client.cancel, order["order_id"])
    first = client.order(order["order_id"])["cancel_tx_hash"]
    emu.advance(1)  # the lost cancel is in this block
    err = _raises(client.cancel, order["order_id"])
    assert (err.exit_code, err.kind, err.details["status"]) == (4, "already_final", "CANCELED")
    assert first in err.message and "earlier cancel landed" in err.message
    assert client.order(order["order_id"])["status"] == "CANCELED"


def test_a_short_term_wait_that_times_out_says_how_many_blocks_are_left(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    emu.advance(5)
    emu.set_indexer_lag(3)
    emu.advance(3)  # the Indexer trails the chain: a 404 proves nothing yet
    order = client.place(**LIMIT, good_til_blocks=10).order
    err = _raises(client.cancel, order["order_id"], wait=True, timeout_s=0.2)
    assert (err.exit_code, err.kind, err.details["status"]) == (
        11,
        "wait_timed_out",
        "CANCEL_PENDING",
    )
    left = order["good_til_block"] - emu.state.height
    assert f"({left} blocks before it expires)" in err.message


def test_a_short_term_order_cancelled_by_another_store_is_cancel_pending_then_cancelled(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    """Partly filled, so the Indexer keeps it (BEST_EFFORT_CANCELED once cancelled)."""
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=5).order
    emu.fill(order["order_id"], size="0.0005")
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "other.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
    ) as other:  # fmt: skip
        other.sync(import_orders=True)
        assert other.cancel(order["order_id"]).outcome == "CANCEL_PENDING"
    [changed] = client.sync()["changed"]
    assert (changed["from"], changed["status"]) == ("OPEN", "CANCEL_PENDING")
    assert "cancelled elsewhere" in changed["detail"]
    emu.advance(6)
    [changed] = client.sync()["changed"]
    assert (changed["from"], changed["status"]) == ("CANCEL_PENDING", "CANCELED")
    assert changed["detail"].endswith(", 0.0005 filled")


def test_a_short_term_place_that_never_arrived_stays_unknown_until_its_gtb(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)
    emu.fail_next("BroadcastTx", grpc_status="UNAVAILABLE")  # refused before it was applied
    order_id = _raises(client.place, **LIMIT, good_til_blocks=3).details["order_id"]
    assert client.sync()["changed"] == []  # Indexer 404: it may still be on its way
    assert client.order(order_id)["status"] == "UNKNOWN"
    emu.advance(4)
    changed = {c["order_id"]: c for c in client.sync()["changed"]}
    assert changed[order_id]["status"] == "EXPIRED"
    assert "no cancel was sent" in changed[order_id]["detail"]
    assert changed[order_id]["detail"].endswith("; Indexer: 404 (not known)")


def test_a_retry_answered_cancel_already_pending_returns_the_first_hash(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fail_next("BroadcastTx", after_apply=True)
    _raises(client.cancel, order["order_id"])
    first = client.order(order["order_id"])["cancel_tx_hash"]
    emu.latency_ms = 40
    again = client.cancel(order["order_id"])
    emu.latency_ms = 0
    assert (again.outcome, again.tx_hash) == ("CANCEL_PENDING", first)
    assert first in again.message and again.latency_ms >= 40
    assert client.order(order["order_id"])["cancel_tx_hash"] == first


def test_a_batch_for_an_order_one_block_from_expiry_uses_the_orders_own_gtb(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=3).order
    emu.advance(2)
    assert order["good_til_block"] == emu.state.height + 1
    [row] = client.cancel_all()["orders"]
    assert row["outcome"] == "CANCEL_PENDING"
    assert client.order(order["order_id"])["cancel_good_til_block"] == order["good_til_block"]


def test_cancel_all_writes_each_stateful_cancels_good_til_ahead(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    [row] = client.cancel_all()["orders"]
    stored = client.order(order["order_id"])
    assert stored["cancel_good_til_block_time"] == order["good_til_block_time"]
    assert stored["cancel_tx_hash"] == row["tx_hash"]


def test_cancel_all_resends_a_stateful_cancel_refused_for_its_nonce(
    bot: tuple[Client, Emulator],
) -> None:
    """sdk 32: nothing applied; the cancel goes again and the row names the tx that was
    accepted, so its block result settles it."""
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fail_next("BroadcastTx", codespace="sdk", code=32)
    [row] = client.cancel_all()["orders"]
    assert row["outcome"] == "CANCEL_PENDING"
    stored = client.order(order["order_id"])
    assert stored["cancel_tx_hash"] == row["tx_hash"]
    assert stored["cancel_good_til_block_time"] == order["good_til_block_time"]
    written = [e for e in _events(client, order["order_id"]) if e.get("tx_hash") == row["tx_hash"]]
    assert any((e["detail"] or "").startswith("cancel signed with sequence") for e in written)
    emu.advance(1)
    [changed] = client.sync()["changed"]
    assert changed["status"] == "CANCELED" and row["tx_hash"] in changed["detail"]


def test_cancel_all_records_an_unreachable_stateful_cancel(bot: tuple[Client, Emulator]) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fail_next("BroadcastTx", grpc_status="UNAVAILABLE")
    result = client.cancel_all()
    [row] = result["orders"]
    assert (row["outcome"], row["exit_code"], row["tx_hash"]) == ("FAILED (unreachable)", 7, None)
    stored = client.order(order["order_id"])
    assert stored["status"] == "OPEN" and stored["last_error"] == row["detail"]
    [attempt] = _attempts(client)
    assert (attempt["outcome"], attempt["kind"]) == ("failure", "unreachable")


def test_a_pending_cancel_overtaken_by_another_cancel_is_cancelled(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    """Our cancel is in no block (dropped); another tool's cancel landed: the Indexer's
    CANCELED settles it, naming both."""
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.drop_next_stateful()
    ours = client.cancel(order["order_id"]).tx_hash
    emu.advance(1)
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "other.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
    ) as other:  # fmt: skip
        other.sync(import_orders=True)
        other.cancel(order["order_id"])
    emu.advance(1)
    [changed] = client.sync()["changed"]
    assert (changed["from"], changed["status"]) == ("CANCEL_PENDING", "CANCELED")
    assert "Indexer: CANCELED" in changed["detail"] and ours in changed["detail"]


def test_a_pending_stateful_cancel_past_the_orders_good_til_is_expired(
    bot: tuple[Client, Emulator],
) -> None:
    from tests.conftest import order_row

    client, emu = bot
    emu.advance(1)
    block_time = int(emu.state.block_time)
    row = order_row(
        order_flags=64, good_til_block_time=block_time - 5, status="OPEN",
        address=client.address,
    )  # fmt: skip
    store = client.runtime.store()
    store.insert_order(row)
    store.transition(row["order_id"], "CANCEL_PENDING", cancel_tx_hash="CD" * 32)
    emu.advance(1)
    [changed] = client.sync()["changed"]
    assert (changed["from"], changed["status"]) == ("CANCEL_PENDING", "EXPIRED")
    assert "good_til_block_time" in changed["detail"] and "CD" * 32 in changed["detail"]
    emu.reset_calls()
    err = _raises(client.cancel, row["order_id"])  # final in the store: nothing is sent
    assert (err.exit_code, err.kind) == (5, "expired") and "has expired" in err.message
    assert "BroadcastTx" not in _calls(emu)


def test_a_partly_filled_stateful_order_the_chain_expired_is_expired_with_its_fill(
    bot: tuple[Client, Emulator],
) -> None:
    import time

    client, emu = bot
    order = client.place(**LIMIT, good_til="2s").order
    emu.advance(1)
    emu.fill(order["order_id"], size="0.0005")
    while time.time() <= order["good_til_block_time"] + 0.05:  # the chain's clock is the wall's
        time.sleep(0.05)
    emu.advance(1)  # a block time past the GTBT: the chain removes it, the Indexer: CANCELED
    [changed] = client.sync()["changed"]
    assert (changed["from"], changed["status"]) == ("OPEN", "EXPIRED")
    assert "good_til_block_time" in changed["detail"]
    assert "Indexer: CANCELED" in changed["detail"] and changed["detail"].endswith(
        ", 0.0005 filled"
    )


def test_a_stateful_order_cancelled_by_another_tool_is_cancelled_by_the_indexers_word(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "other.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
    ) as other:  # fmt: skip
        other.sync(import_orders=True)
        other.cancel(order["order_id"])
    emu.advance(1)
    [changed] = client.sync()["changed"]
    assert (changed["from"], changed["status"]) == ("OPEN", "CANCELED")
    assert changed["detail"] == "Indexer: CANCELED"


def test_sync_confirms_a_conditional_order_by_the_indexers_listing(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(
        "BTC-USD", "sell", "0.001", type="stop-limit", price="40000", trigger_price="41000",
        good_til="1h",
    ).order  # fmt: skip
    emu.advance(1)
    emu.reset_calls()
    client.sync()
    assert "GetTx" not in _calls(emu)  # the Indexer lists it: no block-result lookup
    details = [e["detail"] or "" for e in _events(client, order["order_id"])]
    assert any(d.startswith("in a block") and "Indexer: UNTRIGGERED" in d for d in details)
    assert client.order(order["order_id"])["status"] == "UNTRIGGERED"


def test_cancel_all_asks_the_indexer_for_the_subaccount_it_cancels(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    elsewhere = client.place(**LIMIT, good_til="1h", subaccount=1).order
    emu.advance(1)
    store = client.runtime.store()
    store.conn.execute("DELETE FROM orders WHERE order_id = ?", (elsewhere["order_id"],))
    store.conn.commit()
    result = client.cancel_all(subaccount=1)
    assert [r["order_id"] for r in result["orders"]] == [elsewhere["order_id"]]
    assert result["orders"][0]["outcome"] == "CANCEL_PENDING"
    [recorded, *_] = _events(client, elsewhere["order_id"])  # its provenance, for `show`
    assert recorded["detail"] == "recorded from the Indexer by cancel --all"


def test_cancel_all_resends_cancels_that_failed_in_their_block_with_their_new_hash(
    bot: tuple[Client, Emulator],
) -> None:
    """Rows whose cancel is pending take cancel's full path; their result rows carry the
    new cancel's hash."""
    client, emu = bot
    first, second = (client.place(**LIMIT, good_til="1h").order for _ in range(2))
    emu.advance(1)
    for order in (first, second):
        emu.fail_next_deliver("clob", 29)
        client.cancel(order["order_id"])
    emu.advance(1)  # both cancels failed in their block
    result = client.cancel_all()
    rows = {r["order_id"]: r for r in result["orders"]}
    for order in (first, second):
        assert rows[order["order_id"]]["outcome"] == "CANCEL_PENDING"
        assert (
            rows[order["order_id"]]["tx_hash"] == client.order(order["order_id"])["cancel_tx_hash"]
        )


def test_cancel_all_reports_a_refused_resend_with_its_hash(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    emu.fail_next_deliver("clob", 29)
    client.cancel(order["order_id"])
    emu.advance(1)
    emu.fail_next("BroadcastTx", codespace="clob", code=12)
    result = client.cancel_all()
    [row] = result["orders"]
    assert (row["outcome"], row["exit_code"]) == ("FAILED (chain_rejected)", 6)
    [refused] = [a for a in _attempts(client) if a["code"] == 12]
    assert row["tx_hash"] == refused["tx_hash"] and row["tx_hash"]


def test_cancel_all_reports_an_order_it_could_not_sign_for(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    """A fresh store (no cached account number) and a node that does not know the account:
    that order fails with the wallet error's code, the summary still comes back."""
    from dydxctl.errors import WalletError

    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "fresh.db", env={"DYDX_MNEMONIC": TEST_MNEMONIC},
    ) as fresh:  # fmt: skip
        emu.fail_next("Account", grpc_status="NOT_FOUND")
        dry = fresh.cancel_all(dry_run=True)
        emu.fail_next("Account", grpc_status="NOT_FOUND")
        result = fresh.cancel_all()
    code = WalletError.exit_code
    for answer in (dry, result):
        [row] = answer["orders"]
        assert (row["order_id"], row["outcome"], row["exit_code"]) == (
            order["order_id"], "FAILED (wallet)", code)  # fmt: skip
        assert answer["failed"] == 1 and answer["exit_code"] == code


def test_a_dry_run_stateful_cancel_is_signed_with_a_timestamp_nonce(
    bot: tuple[Client, Emulator],
) -> None:
    from dydxctl.tx import decode_tx

    client, _ = bot
    short = client.place(**LIMIT, good_til_blocks=10).order
    stateful = client.place(**LIMIT, good_til="1h").order
    sequences = [
        decode_tx(
            base64.b64decode(client.cancel(o["order_id"], dry_run=True).extra["tx_bytes"])
        ).sequence
        for o in (short, stateful)
    ]
    assert sequences[0] == 0  # short-term: no sequence check
    assert sequences[1] >= chain.TIMESTAMP_NONCE_SEQUENCE_CUTOFF


def test_a_cancels_history_names_its_tx_and_how_it_was_signed(
    bot: tuple[Client, Emulator],
) -> None:
    """The write-ahead event carries the cancel's hash and sequence: what later proves a
    dropped cancel can never land (its nonce's window)."""
    client, emu = bot
    order = client.place(**LIMIT, good_til="1h").order
    emu.advance(1)
    result = client.cancel(order["order_id"])
    signed = [
        e for e in _events(client, order["order_id"])
        if e.get("tx_hash") == result.tx_hash and "signed with sequence" in (e["detail"] or "")
    ]  # fmt: skip
    assert len(signed) == 1 and signed[0]["detail"].startswith("cancel signed with sequence ")
    nonce = int(signed[0]["detail"].rsplit(" ", 1)[1])
    assert nonce >= chain.TIMESTAMP_NONCE_SEQUENCE_CUTOFF  # a timestamp nonce, not a sequence


def test_a_short_term_order_past_an_observed_height_expires_with_that_evidence(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=3).order
    emu.advance(5)
    client.place(**LIMIT, good_til_blocks=3)  # observes the height (its estimate is refused)
    emu.reset_calls()
    err = _raises(client.cancel, order["order_id"])
    assert (err.exit_code, err.details["order_id"]) == (5, order["order_id"])
    assert "BroadcastTx" not in _calls(emu)
    [expired] = [e for e in _events(client, order["order_id"]) if e["to_status"] == "EXPIRED"]
    assert expired["detail"].startswith("observed chain height")
    assert f"good_til_block {order['good_til_block']}" in expired["detail"]


def test_a_short_term_cancel_wait_over_the_websocket_ends_cancelled(
    bot: tuple[Client, Emulator], tmp_path: Path
) -> None:
    client, emu = bot
    with Client.open(
        network="local", grpc=emu.grpc_target, indexer=emu.indexer_url,
        db=tmp_path / "orders.db",
        env={"DYDX_MNEMONIC": TEST_MNEMONIC, "DYDXCTL_WEBSOCKET": emu.ws_url},
    ) as live:  # fmt: skip
        order = live.place(**LIMIT, good_til_blocks=10).order
        result = live.cancel(order["order_id"], wait=True, timeout_s=20)
    assert result.outcome == "CANCELED"
    assert client.order(order["order_id"])["status"] == "CANCELED"


def test_a_resent_short_term_cancel_the_node_already_holds_is_recorded_as_such(
    bot: tuple[Client, Emulator],
) -> None:
    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=20).order
    emu.fail_next("BroadcastTx", after_apply=True)
    _raises(client.cancel, order["order_id"])
    again = client.cancel(order["order_id"])
    assert again.outcome == "CANCEL_PENDING" and "sdk 19" in again.message
    [accepted] = [
        e for e in _events(client, order["order_id"]) if e["to_status"] == "CANCEL_PENDING"
    ]
    assert accepted["detail"] == "cancel accepted (sdk 19: already in the node's mempool cache)"
    attempts = _attempts(client)
    assert [(a["outcome"], a["detail"]) for a in attempts][-1] == (
        "success", "already sent (sdk 19)")  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "fails_at", "said"),
    [
        ({}, "OPEN", "accepted: it is on the chain"),
        ({"codespace": "clob", "code": 10001}, "REJECTED", "rejected by the node"),
        ({"grpc_status": "UNAVAILABLE"}, "UNKNOWN", "its outcome is unknown"),
    ],
    ids=["accepted", "rejected", "unknown"],
)
def test_a_store_failure_after_the_broadcast_says_not_to_place_again(
    bot: tuple[Client, Emulator], monkeypatch: pytest.MonkeyPatch, fault: dict, fails_at: str,
    said: str,
) -> None:  # fmt: skip
    """Exit 8, naming the order and the tx: the order may rest on the book already."""
    from dydxctl.errors import StoreError
    from dydxctl.store import Store

    client, emu = bot
    client.place(**LIMIT, good_til_blocks=10)
    real = Store.transition

    def failing(self: Store, order_id: str, status: str, *args: Any, **kwargs: Any) -> Any:
        if status == fails_at:
            raise StoreError("database is locked", "")
        return real(self, order_id, status, *args, **kwargs)

    monkeypatch.setattr(Store, "transition", failing)
    if fault:
        emu.fail_next("BroadcastTx", **fault)
    err = _raises(client.place, **LIMIT, good_til_blocks=10)
    assert (err.exit_code, err.kind) == (8, "store")
    order_id = err.details["order_id"]
    pending = client.order(order_id)
    assert pending["status"] == "PENDING"
    assert err.details["tx_hash"] == pending["place_tx_hash"]
    assert said in err.message and order_id in err.message
    if fails_at != "REJECTED":
        assert "Do NOT place it again" in err.hint


def test_cancel_all_wait_without_the_websocket_settles_by_rest(chain_cli: Any) -> None:
    """The websocket is down: each pending cancel is judged from REST (the Indexer's 404
    after our accepted short-term cancel, once the Indexer has the chain's height)."""
    import json

    order = chain_cli.place("--market", "BTC-USD", "--side", "buy", "--size", "0.001",
                            "--price", "50000", "--good-til-blocks", "10")  # fmt: skip
    result = chain_cli(
        "--websocket", f"ws://127.0.0.1:{_closed_port()}/v4/ws", "--json", "cancel", "--all",
        "--wait", "--wait-timeout", "20",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["orders"]
    assert (row["order_id"], row["outcome"]) == (order["order_id"], "CANCELED")


def test_a_one_block_good_til_needs_no_node_info(bot: tuple[Client, Emulator]) -> None:
    """Every node version allows 1..SHORT_BLOCK_WINDOW blocks: no GetNodeInfo round trip."""
    client, emu = bot
    for blocks in (1, chain.SHORT_BLOCK_WINDOW):
        client.place(**LIMIT, good_til_blocks=blocks)
    assert "GetNodeInfo" not in _calls(emu)


def test_an_order_pruned_while_its_cancel_is_signed_sends_nothing(
    bot: tuple[Client, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent prune (it takes only expired rows) removes the row between the lookup
    and the write-ahead: exit 5 naming the order, and no broadcast."""
    from dydxctl import cancel_one

    client, emu = bot
    order = client.place(**LIMIT, good_til_blocks=10).order
    real_sign = cancel_one.sign

    def sign_then_pruned(*args: Any, **kwargs: Any) -> Any:
        signed = real_sign(*args, **kwargs)
        store = client.runtime.store()
        store.conn.execute("DELETE FROM orders WHERE order_id = ?", (order["order_id"],))
        store.conn.commit()
        return signed

    monkeypatch.setattr(cancel_one, "sign", sign_then_pruned)
    emu.reset_calls()
    err = _raises(client.cancel, order["order_id"])
    assert (err.exit_code, err.details["order_id"]) == (5, order["order_id"])
    assert "pruned" in err.message
    assert "BroadcastTx" not in _calls(emu)
