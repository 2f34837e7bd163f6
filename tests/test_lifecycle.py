"""The order lifecycle through the real CLI against the emulator: place, cancel, sync, prune."""

from __future__ import annotations

import base64
import re
import socket
import time

import pytest

from dydxctl import chain
from dydxctl.tx import decode_tx, sign_doc_bytes
from dydxctl.wallet import verify
from tests.conftest import TEST_ADDRESS, ChainCli

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]


def _events(cli: ChainCli, order_id: str) -> list[str]:
    with cli.open_store() as s:
        return [e["to_status"] for e in s.events(order_id)]


def _row(cli: ChainCli, order_id: str) -> dict:
    with cli.open_store() as s:
        return s.get(order_id)


def _indexer(cli: ChainCli, order_id: str) -> tuple[int, dict | None]:
    """What the emulator's Indexer answers for /v4/orders/{id}: (HTTP status, body)."""
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{cli.emu.indexer_url}/v4/orders/{order_id}") as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


# --- place -------------------------------------------------------------------------------
def test_dry_run_signs_the_right_tx_and_stores_nothing(chain_cli: ChainCli) -> None:
    result = chain_cli("place", *LIMIT, "--dry-run", "--json")  # --json after the command
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    assert data["dry_run"] and data["kind"] == "long-term" and data["order_flags"] == 64
    decoded = decode_tx(base64.b64decode(data["tx_bytes"]))
    [(url, msg)] = decoded.messages
    assert url == chain.MSG_PLACE_ORDER_URL
    order = msg.order
    assert order.order_id.subaccount_id.owner == TEST_ADDRESS
    assert order.order_id.client_id == data["client_id"] and order.order_id.clob_pair_id == 0
    assert (order.quantums, order.subticks, order.side) == (10_000_000, 5_000_000_000, 1)
    assert order.good_til_block_time == data["good_til_block_time"]
    number = chain_cli.emu.state.account(TEST_ADDRESS).account_number
    doc = sign_doc_bytes(decoded, "localdydxprotocol", number)
    assert verify(decoded.public_key, doc, decoded.signature)
    assert data["tx_hash"] == data["place_tx_hash"]
    assert chain_cli.broadcasts() == 0
    assert chain_cli.nothing_stored()


def test_place_short_term_writes_ahead(chain_cli: ChainCli) -> None:
    data = chain_cli.place(*LIMIT, "--good-til-blocks", "10")
    assert data["status"] == "OPEN" and data["kind"] == "short-term"
    assert data["good_til_block"] == 11  # height 1 + 10
    assert data["order_id"] == chain.indexer_order_uuid(TEST_ADDRESS, 0, data["client_id"], 0, 0)
    assert _events(chain_cli, data["order_id"]) == ["PENDING", "OPEN"]
    assert chain_cli.emu.state.find(data["order_id"]) is not None  # resting on the book
    assert data["tx_hash"] == data["place_tx_hash"]


def test_place_long_term_and_conditional(chain_cli: ChainCli) -> None:
    long_term = chain_cli.place(*LIMIT, "--good-til", "2h")
    assert long_term["status"] == "OPEN" and long_term["order_flags"] == 64
    assert abs(long_term["good_til_block_time"] - (time.time() + 7200)) < 10
    stop = chain_cli.place(
        "--market", "ETH-USD", "--side", "sell", "--size", "0.01", "--price", "3000",
        "--type", "stop-limit", "--trigger-price", "3100.5",
    )  # fmt: skip
    assert stop["status"] == "UNTRIGGERED" and stop["order_flags"] == 32
    assert stop["trigger_price"] == "3100.5"
    market = chain_cli.place("--market", "ETH-USD", "--side", "buy", "--size", "0.01",
                             "--type", "market")  # fmt: skip
    assert market["kind"] == "short-term" and market["time_in_force"] == "IOC"
    assert market["price"] == "3675"  # oracle 3500 + 5 %


def test_duplicate_client_id_is_refused_before_sending(chain_cli: ChainCli) -> None:
    chain_cli.place(*LIMIT, "--client-id", "42")
    sent = chain_cli.broadcasts()
    err = chain_cli.json("place", *LIMIT, "--client-id", "42", expect_exit=2)
    assert "already used" in err["error"]["message"]
    assert chain_cli.broadcasts() == sent


def test_place_rejected_by_the_chain(chain_cli: ChainCli) -> None:
    chain_cli.emu.fail_next("BroadcastTx", codespace="clob", code=10001)
    err = chain_cli.json("place", *LIMIT, expect_exit=6)
    assert err["error"]["details"]["code"] == 10001
    row = _row(chain_cli, err["error"]["details"]["order_id"])
    assert row["status"] == "REJECTED" and "10001" in row["last_error"]


def test_lost_broadcast_is_unknown_then_sync_resolves_it(chain_cli: ChainCli) -> None:
    chain_cli.emu.fail_next("BroadcastTx", after_apply=True)
    err = chain_cli.json("place", *LIMIT, expect_exit=7)
    order_id = err["error"]["details"]["order_id"]
    assert _row(chain_cli, order_id)["status"] == "UNKNOWN"
    assert chain_cli.json("sync")["changed"] == []  # in the mempool: no block result yet
    chain_cli.emu.advance(1)  # its block
    synced = chain_cli.json("sync")
    assert [c["status"] for c in synced["changed"]] == ["OPEN"]
    assert _row(chain_cli, order_id)["status"] == "OPEN"


# --- cancel ---------------------------------------------------------------------------------
def test_short_term_placed_and_cancelled_in_the_same_window(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "8")
    chain_cli.emu.advance(2)
    result = chain_cli.json("cancel", order["order_id"])
    assert result["outcome"] == "CANCEL_PENDING" and result["status"] == "CANCEL_PENDING"
    assert result["cancel_good_til_block"] == order["good_til_block"]  # max(GTB, latest+1)
    assert result["metadata_source"] == "store"
    # Mainnet's Indexer: an unfilled short-term order is gone (404) once cancelled.
    assert _indexer(chain_cli, order["order_id"])[0] == 404
    [changed] = chain_cli.json("sync")["changed"]
    assert changed["status"] == "CANCELED" and "404 after our accepted cancel" in changed["detail"]


def test_cancel_wait_follows_to_the_end(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT, "--good-til", "1h")
    chain_cli.emu.advance(1)
    # The stateful cancel lands in the next block; the emulator's clock is manual here,
    # so advance it from a timer while --wait polls.
    import threading

    threading.Timer(0.3, chain_cli.emu.advance, args=(1,)).start()
    result = chain_cli.json("cancel", order["order_id"], "--wait", "--wait-timeout", "10")
    assert result["outcome"] == "CANCELED" and result["status"] == "CANCELED"


def test_long_term_cancelled_ten_blocks_later(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(10)
    result = chain_cli.json("cancel", str(order["client_id"]))  # by unique client id
    assert result["outcome"] == "CANCEL_PENDING"
    assert result["cancel_good_til_block_time"] == order["good_til_block_time"]
    chain_cli.emu.advance(1)
    assert chain_cli.json("sync")["changed"][0]["status"] == "CANCELED"
    again = chain_cli.json("cancel", order["order_id"], expect_exit=4)
    assert again["error"]["kind"] == "already_final"


@pytest.mark.sqlite_only  # the observed height is kept across processes in SQLite stores
def test_expired_short_term_is_refused_without_broadcast(chain_cli: ChainCli) -> None:
    """A height already observed past the order's GTB is evidence: nothing is sent."""
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "3")
    chain_cli.emu.advance(5)
    other = chain_cli.place(*LIMIT, "--good-til-blocks", "3")  # observes the height (clob 10)
    assert other["good_til_block"] > order["good_til_block"]
    sent = chain_cli.broadcasts()
    err = chain_cli.json("cancel", order["order_id"], expect_exit=5)
    assert err["error"]["kind"] == "expired" and "observed chain height" in err["error"]["message"]
    assert chain_cli.broadcasts() == sent
    assert _row(chain_cli, order["order_id"])["status"] == "EXPIRED"


def test_short_term_cancel_is_one_broadcast_and_clob_10_means_expired(
    chain_cli: ChainCli,
) -> None:
    """No height read: the cancel carries the order's own GTB, valid while the order lives;
    once the chain is past it, its clob 10 is the evidence (exit 5, recorded)."""
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "3")
    chain_cli.emu.advance(5)
    chain_cli.emu.reset_calls()
    err = chain_cli.json("cancel", order["order_id"], expect_exit=5)
    assert [c["name"] for c in chain_cli.emu.call_log()] == ["BroadcastTx"]
    assert "(clob, 10)" in err["error"]["message"]
    assert _row(chain_cli, order["order_id"])["status"] == "EXPIRED"


def test_cancel_of_a_filled_order(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)  # the placement's block
    chain_cli.emu.fill(order["order_id"])
    chain_cli.emu.advance(1)
    # The store still says OPEN: the chain answers 3006, the Indexer says FILLED.
    err = chain_cli.json("cancel", order["order_id"], expect_exit=4)
    assert "filled" in err["error"]["message"]
    assert _row(chain_cli, order["order_id"])["status"] == "FILLED"
    sent = chain_cli.broadcasts()
    chain_cli.json("cancel", order["order_id"], expect_exit=4)  # now refused locally
    assert chain_cli.broadcasts() == sent


def test_sync_moves_a_filled_order_to_filled(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "10")
    chain_cli.emu.fill(order["order_id"])
    assert chain_cli.json("sync")["changed"][0]["status"] == "FILLED"


def test_unknown_order_id_exits_3(chain_cli: ChainCli) -> None:
    err = chain_cli.json("cancel", "6b2c0e8e-0000-5000-8000-000000000000", expect_exit=3)
    assert err["error"]["kind"] == "not_found"
    assert chain_cli.json("cancel", "12345", expect_exit=3)["error"]["kind"] == "not_found"
    assert chain_cli.json("cancel", "nonsense", expect_exit=2)["error"]["kind"] == "bad_input"


def test_order_without_metadata_is_cancelled_through_the_indexer(
    chain_cli: ChainCli, tmp_path
) -> None:
    elsewhere = ChainCli(tmp_path / "other.db", chain_cli.emu)
    order = elsewhere.place(*LIMIT)
    chain_cli.emu.advance(1)  # a stateful order reaches the Indexer with its block
    result = chain_cli.json("cancel", order["order_id"])
    assert result["metadata_source"] == "indexer" and result["outcome"] == "CANCEL_PENDING"
    row = _row(chain_cli, order["order_id"])
    assert row["source"] == "indexer" and row["client_id"] == order["client_id"]
    assert row["order_id_proto"] == _row(elsewhere, order["order_id"])["order_id_proto"]


def test_feature_flag_forces_the_indexer_path(chain_cli: ChainCli) -> None:
    """With cancel_from_metadata off, the cancel is built from what the Indexer answered:
    the stored row is made wrong first, and the Indexer read shows in the emulator's log."""
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    with chain_cli.open_store() as store:  # a stored good-til long past
        store.update_fields(order["order_id"], good_til_block_time=1_000_000_000)
    chain_cli.emu.reset_calls()
    off = {"DYDXCTL_FEATURE_CANCEL_FROM_METADATA": "0"}
    result = chain_cli.json("cancel", order["order_id"], env=off)
    assert result["metadata_source"] == "indexer" and result["outcome"] == "CANCEL_PENDING"
    assert result["cancel_good_til_block_time"] == order["good_til_block_time"]
    calls = [c["name"] for c in chain_cli.emu.call_log()]
    assert calls.count("/v4/orders/{id}") == 1 and calls.count("BroadcastTx") == 1


def test_cancel_disabled_exits_9(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT)
    err = chain_cli.json("cancel", order["order_id"], env={"DYDXCTL_FEATURE_CANCEL": "0"},
                         expect_exit=9)  # fmt: skip
    assert err["error"]["kind"] == "disabled"


def test_rejected_cancel_exits_6_and_is_recorded(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.fail_next("BroadcastTx", codespace="clob", code=29)
    err = chain_cli.json("cancel", order["order_id"], expect_exit=6)
    assert err["error"]["details"]["codespace"] == "clob" and err["error"]["details"]["code"] == 29
    stats = chain_cli.json("stats")
    assert stats["failures_by_kind"] == {"chain_rejected": 1} and stats["attempts"] == 1
    assert _row(chain_cli, order["order_id"])["status"] == "OPEN"


def test_node_down_exits_7(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "10")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    result = chain_cli("--json", "--grpc", dead, "cancel", order["order_id"])
    assert result.exit_code == 7, result.output
    assert _row(chain_cli, order["order_id"])["status"] == "OPEN"


def test_cancel_all(chain_cli: ChainCli) -> None:
    short = [chain_cli.place(*LIMIT, "--good-til-blocks", "10") for _ in range(3)]
    long = chain_cli.place(*LIMIT)
    eth = chain_cli.place("--market", "ETH-USD", "--side", "buy", "--size", "0.01", "--price",
                          "3000", "--good-til-blocks", "10")  # fmt: skip
    result = chain_cli.json("cancel", "--all")
    assert result["failed"] == 0
    outcomes = {r["order_id"]: r["outcome"] for r in result["orders"]}
    assert set(outcomes) == {o["order_id"] for o in [*short, long, eth]}
    assert set(outcomes.values()) == {"CANCEL_PENDING"}
    batches = [c for c in chain_cli.emu.call_log() if c["name"] == "BroadcastTx"]
    assert len(batches) == 5 + 2  # five places, one batch for all short-term, one stateful


def test_prune_leaves_live_rows_and_removes_dead_ones(chain_cli: ChainCli) -> None:
    live = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    chain_cli.emu.advance(15)
    dead = chain_cli.place(*LIMIT, "--good-til-blocks", "1")  # GTB 17
    long = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(5)  # height 21: live GTB 21 expired? no: 21 ≥ 21 → gone, margin keeps
    dry = chain_cli.json("prune-expired", "--dry-run")
    assert dry["would_delete"] == 0 and dry["kept"] == 3
    chain_cli.emu.advance(10)
    summary = chain_cli.json("prune-expired")
    assert summary["expired_short_term"] == 2 and summary["deleted"] == 2
    assert _row(chain_cli, long["order_id"]) is not None
    assert _row(chain_cli, dead["order_id"]) is None and _row(chain_cli, live["order_id"]) is None


def test_read_commands_json(chain_cli: ChainCli) -> None:
    assert chain_cli.json("address")["address"] == TEST_ADDRESS
    markets = chain_cli.json("markets")
    assert {m["ticker"] for m in markets} == {"BTC-USD", "ETH-USD"}
    chain_cli.emu.reset_calls()
    doctor = chain_cli.json("doctor")
    assert [c["name"] for c in chain_cli.emu.call_log()].count("GetNodeInfo") == 1
    assert doctor["ok"] and {c["name"] for c in doctor["checks"]} >= {"node", "indexer", "store"}
    wrong = chain_cli("--json", "--chain-id", "dydx-mainnet-1", "doctor")
    assert wrong.exit_code == 2 and '"ok": false' in wrong.stdout
    stats = chain_cli.json("stats")
    assert {"attempts", "successes", "failures", "success_rate", "latency_ms_p50",
            "latency_ms_p95", "by_market"} <= set(stats)  # fmt: skip


def test_stats_prometheus_file(chain_cli: ChainCli, tmp_path) -> None:
    order = chain_cli.place(*LIMIT)
    chain_cli.json("cancel", order["order_id"])
    prom = tmp_path / "metrics" / "dydxctl.prom"
    chain_cli.json("stats", "--prometheus", str(prom))
    text = prom.read_text()
    assert 'dydxctl_cancel_attempts_total{market="BTC-USD"} 1' in text
    assert "# TYPE dydxctl_cancel_latency_milliseconds gauge" in text


def test_demo_runs(cli) -> None:
    result = cli.runner.invoke(__import__("dydxctl.cli").cli.app, ["--json", "demo"])
    assert result.exit_code == 0, result.output
    import json

    steps = json.loads(result.stdout)
    assert [c["outcome"] for c in steps["cancels"]] == ["CANCEL_PENDING", "CANCEL_PENDING"]
    assert steps["prune"]["expired_short_term"] == 1


def test_sync_import_records_orders_placed_elsewhere(chain_cli: ChainCli, tmp_path) -> None:
    elsewhere = ChainCli(tmp_path / "other.db", chain_cli.emu)
    short = elsewhere.place(*LIMIT, "--good-til-blocks", "10")
    long = elsewhere.place(*LIMIT)
    chain_cli.emu.advance(1)
    outcome = chain_cli.json("sync", "--import")
    assert {i["order_id"] for i in outcome["imported"]} == {short["order_id"], long["order_id"]}
    row = _row(chain_cli, long["order_id"])
    assert row["source"] == "indexer" and row["status"] == "OPEN"
    assert row["good_til_block_time"] == long["good_til_block_time"]
    assert _row(chain_cli, short["order_id"])["good_til_block"] == short["good_til_block"]
    # The imported metadata is enough to cancel, with no further Indexer lookup.
    result = chain_cli.json("cancel", long["order_id"])
    assert result["metadata_source"] == "store" and result["outcome"] == "CANCEL_PENDING"
    assert chain_cli.json("sync", "--import")["imported"] == []  # nothing twice


def test_stateful_expiry_is_decided_by_the_chain_near_the_edge(chain_cli: ChainCli) -> None:
    import time as clock

    order = chain_cli.place(*LIMIT, "--good-til", "2s")
    clock.sleep(2.2)
    chain_cli.emu.advance(1)  # the block time passes the order's GTBT: the chain expires it
    err = chain_cli.json("cancel", order["order_id"], expect_exit=5)
    assert "3003" in err["error"]["message"]
    assert _row(chain_cli, order["order_id"])["status"] == "EXPIRED"


def test_long_expired_stateful_order_is_settled_by_the_chains_3003(chain_cli: ChainCli) -> None:
    """The local clock never writes EXPIRED: the cancel goes out (one round trip, no
    GetLatestBlock) and the chain's own clob 3003 is the evidence."""
    from tests.conftest import order_row

    row = order_row(order_flags=64, good_til_block_time=int(time.time()) - 3600,
                    chain_id="localdydxprotocol", status="OPEN")  # fmt: skip
    with chain_cli.open_store() as store:
        store.insert_order(row)
    err = chain_cli.json("cancel", row["order_id"], expect_exit=5)
    assert err["error"]["kind"] == "expired" and "3003" in err["error"]["message"]
    assert chain_cli.broadcasts() == 1
    assert _row(chain_cli, row["order_id"])["status"] == "EXPIRED"


def test_sync_asks_the_indexer_once_per_subaccount(chain_cli: ChainCli) -> None:
    orders = [chain_cli.place(*LIMIT, "--good-til-blocks", "10") for _ in range(5)]
    for order in orders[:2]:
        chain_cli.emu.fill(order["order_id"])
    chain_cli.emu.reset_calls()
    outcome = chain_cli.json("sync")
    assert sorted(c["status"] for c in outcome["changed"]) == ["FILLED", "FILLED"]
    names = [c["name"] for c in chain_cli.emu.call_log()]
    assert names.count("/v4/orders") == 1 and "/v4/orders/{id}" not in names


def test_cancel_dry_run_signs_the_right_cancel_and_sends_nothing(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "12")
    chain_cli.emu.advance(3)
    sent = chain_cli.broadcasts()
    result = chain_cli.json("cancel", order["order_id"], "--dry-run")
    assert result["outcome"] == "DRY_RUN" and chain_cli.broadcasts() == sent
    [(url, msg)] = decode_tx(base64.b64decode(result["tx_bytes"])).messages
    assert url == chain.MSG_CANCEL_ORDER_URL
    assert msg.good_til_block == order["good_til_block"] == result["cancel_good_til_block"]
    assert msg.order_id.client_id == order["client_id"]
    assert _row(chain_cli, order["order_id"])["status"] == "OPEN"


def test_cancel_all_for_one_market_dry_run_then_real(chain_cli: ChainCli) -> None:
    btc = chain_cli.place(*LIMIT, "--good-til-blocks", "10")
    eth = chain_cli.place("--market", "ETH-USD", "--side", "buy", "--size", "0.01", "--price",
                          "3000", "--good-til-blocks", "10")  # fmt: skip
    sent = chain_cli.broadcasts()
    dry = chain_cli.json("cancel", "--all", "--market", "ETH-USD", "--dry-run")
    assert [(r["order_id"], r["outcome"]) for r in dry["orders"]] == [(eth["order_id"], "DRY_RUN")]
    assert chain_cli.broadcasts() == sent
    real = chain_cli.json("cancel", "--all", "--market", "eth-usd")
    assert [r["order_id"] for r in real["orders"]] == [eth["order_id"]]
    assert _row(chain_cli, btc["order_id"])["status"] == "OPEN"
    assert _row(chain_cli, eth["order_id"])["status"] == "CANCEL_PENDING"


def test_conditional_order_cancelled_untriggered_and_after_trigger(chain_cli: ChainCli) -> None:
    stop = ["--market", "BTC-USD", "--side", "sell", "--size", "0.001", "--price", "48000",
            "--type", "stop-limit", "--trigger-price", "49000"]  # fmt: skip
    untriggered = chain_cli.place(*stop)
    chain_cli.emu.advance(1)
    assert chain_cli.json("cancel", untriggered["order_id"])["outcome"] == "CANCEL_PENDING"
    triggered = chain_cli.place(*stop)
    chain_cli.emu.advance(1)
    chain_cli.emu.trigger(triggered["order_id"])
    changes = chain_cli.json("sync")["changed"]
    changed = next(c for c in changes if c["order_id"] == triggered["order_id"])
    assert (changed["order_id"], changed["from"], changed["status"]) == (
        triggered["order_id"], "UNTRIGGERED", "OPEN",
    )  # fmt: skip
    result = chain_cli.json("cancel", triggered["order_id"])
    assert result["outcome"] == "CANCEL_PENDING"
    assert result["cancel_good_til_block_time"] == triggered["good_til_block_time"]
    chain_cli.emu.advance(1)
    for order in (untriggered, triggered):
        assert _indexer(chain_cli, order["order_id"])[1]["status"] == "CANCELED"


def test_cancel_wait_reports_a_fill_that_won_the_race(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "15")
    # The cancel's CheckTx passes, but the order fills before the Indexer settles it.
    chain_cli.emu.fail_next("BroadcastTx", codespace="", code=0)
    import threading

    threading.Timer(0.2, chain_cli.emu.fill, args=(order["order_id"],)).start()
    err = chain_cli.json("cancel", order["order_id"], "--wait", "--wait-timeout", "10",
                         expect_exit=4)  # fmt: skip
    assert err["error"]["details"]["status"] == "FILLED"
    # the evidence: REST ("Indexer: FILLED") or the websocket ("Indexer says FILLED")
    assert re.search(r"Indexer(:| says) FILLED", err["error"]["message"])
    assert _row(chain_cli, order["order_id"])["status"] == "FILLED"


def test_prune_offline_uses_the_wall_clock_for_stateful_rows_only(chain_cli: ChainCli) -> None:
    from tests.conftest import order_row

    with chain_cli.open_store() as store:
        old = order_row(order_flags=64, good_til_block_time=int(time.time()) - 3600,
                        chain_id="localdydxprotocol")  # fmt: skip
        short = order_row(good_til_block=1, chain_id="localdydxprotocol")
        store.insert_order(old)
        store.insert_order(short)
    dead_node = ["--grpc", "127.0.0.1:1"]  # offline needs no node
    summary = chain_cli.json(*dead_node, "prune-expired", "--offline")
    assert (summary["expired_stateful"], summary["expired_short_term"]) == (1, 0)
    assert _row(chain_cli, old["order_id"]) is None
    assert _row(chain_cli, short["order_id"]) is not None


def test_sync_import_reuses_the_listing(chain_cli: ChainCli, tmp_path) -> None:
    chain_cli.place(*LIMIT)  # one stored live row, so sync lists the subaccount
    ChainCli(tmp_path / "other.db", chain_cli.emu).place(*LIMIT)
    chain_cli.emu.advance(1)
    chain_cli.emu.reset_calls()
    assert len(chain_cli.json("sync", "--import")["imported"]) == 1
    names = [c["name"] for c in chain_cli.emu.call_log()]
    assert names.count("/v4/orders") == 1
