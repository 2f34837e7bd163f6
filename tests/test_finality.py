"""Issue 12: cancels a trader can trust on the real chain, each case against the faithful
emulator (v9.6.1 with its two-store Indexer, CheckTx/DeliverTx split and mempool cache).

Every test names the problem it reproduces; each failed before the fix (the old outcome is
in its docstring) and passes now.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import types
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dydxctl import chain, codes
from dydxctl.emulator import Emulator
from dydxctl.store import Store
from tests.conftest import TEST_ADDRESS, ChainCli

LIMIT = ["--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price", "50000"]


def _row(cli: ChainCli, order_id: str) -> dict:
    with Store.open(cli.db_path) as s:
        return s.get(order_id)


def _events(cli: ChainCli, order_id: str) -> list[dict]:
    with Store.open(cli.db_path) as s:
        return s.events(order_id)


def skew_local_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The product's local clock runs `seconds` ahead (negative: behind) of the real one;
    the emulator's (the chain's) clock is untouched. Every dydxctl module that reads
    time.time() sees the skew — including timestamp nonces, as on a real laptop."""
    skewed = types.SimpleNamespace(
        **{name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
    )
    skewed.time = lambda: time.time() + seconds  # type: ignore[attr-defined]
    from dydxctl import tx

    monkeypatch.setattr(tx, "_last_nonce", 0)  # this process's nonce floor starts afresh
    for name, module in list(sys.modules.items()):
        product = name.startswith("dydxctl.") and not name.startswith("dydxctl.emulator")
        if product and getattr(module, "time", None) is time:
            monkeypatch.setattr(module, "time", skewed)


# --- 1. one clock: the chain's -----------------------------------------------------------
def test_a_local_clock_five_minutes_fast_never_expires_a_live_order(
    chain_cli: ChainCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `cancel` wrote EXPIRED (exit 5) and every host refused it from then on."""
    order = chain_cli.place(*LIMIT, "--good-til", "4m")
    chain_cli.emu.advance(1)
    skew_local_clock(monkeypatch, 300)
    result = chain_cli.json("cancel", order["order_id"])
    assert result["outcome"] == "CANCEL_PENDING"
    assert "EXPIRED" not in [e["to_status"] for e in _events(chain_cli, order["order_id"])]
    chain_cli.emu.advance(1)
    [changed] = chain_cli.json("sync")["changed"]
    assert changed["status"] == "CANCELED" and "GetTx code 0" in changed["detail"]


def test_sync_and_cancel_all_never_expire_by_the_local_clock(
    chain_cli: ChainCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: sync wrote EXPIRED and `cancel --all` skipped the order."""
    order = chain_cli.place(*LIMIT, "--good-til", "2m")
    chain_cli.emu.advance(1)
    skew_local_clock(monkeypatch, 300)
    chain_cli.json("sync")
    assert _row(chain_cli, order["order_id"])["status"] == "OPEN"
    outcome = chain_cli.json("cancel", "--all")
    assert [(o["order_id"], o["outcome"]) for o in outcome["orders"]] == [
        (order["order_id"], "CANCEL_PENDING")
    ]


def test_good_til_95d_counts_from_the_block_time(
    chain_cli: ChainCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the local clock (here 5 min fast) + 95 d passed the chain's window: clob 3004."""
    chain_cli.emu.advance(1)
    skew_local_clock(monkeypatch, 300)
    order = chain_cli.place(*LIMIT, "--good-til", "95d")
    block_time = int(chain_cli.emu.state.block_time)
    assert order["good_til_block_time"] == block_time + chain.STATEFUL_ORDER_TIME_WINDOW_SECONDS
    chain_cli.emu.advance(1)
    chain_cli.json("sync")
    trail = [e["detail"] for e in _events(chain_cli, order["order_id"])]
    assert any("in a block" in (d or "") for d in trail)  # the chain took it: no 3004
    err = chain_cli.json("place", *LIMIT, "--good-til", "95d1s", expect_exit=2)
    assert "95 days after the chain's latest block time" in err["error"]["message"]


# --- 2. finality -------------------------------------------------------------------------
def test_short_term_cancel_then_indexer_404_is_cancelled_not_expired(chain_cli: ChainCli) -> None:
    """Before: `cancel --wait` saw the mainnet 404 and wrote EXPIRED."""
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    result = chain_cli.json("cancel", order["order_id"], "--wait", "--wait-timeout", "5")
    assert result["outcome"] == "CANCELED" and result["status"] == "CANCELED"
    # the same reading from REST ("Indexer 404 after our accepted cancel") or, sooner,
    # from the websocket (ws_apply: our cancel, nothing filled)
    assert re.search(
        r"Indexer 404 after our accepted cancel|websocket: Indexer says BEST_EFFORT_CANCELED",
        result["evidence"],
    )
    shown = chain_cli.json("show", order["order_id"])
    assert re.search("nothing filled|USER_CANCELED", shown["events"][-1]["detail"])


def test_partly_filled_short_term_is_cancelled_with_its_fill_at_its_good_til_block(
    chain_cli: ChainCli,
) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "4")
    chain_cli.emu.fill(order["order_id"], size="0.0005")
    assert chain_cli.json("cancel", order["order_id"])["outcome"] == "CANCEL_PENDING"
    assert chain_cli.json("sync")["changed"] == []  # BEST_EFFORT_CANCELED: not final yet
    threading.Timer(0.3, chain_cli.emu.advance, args=(5,)).start()
    result = chain_cli.json("cancel", order["order_id"], "--wait", "--wait-timeout", "10")
    assert result["outcome"] == "CANCELED"
    assert "can no longer fill" in result["evidence"] and "0.0005 filled" in result["evidence"]


def test_short_term_never_cancelled_expires_by_height(chain_cli: ChainCli) -> None:
    chain_cli.place(*LIMIT, "--good-til-blocks", "3")
    chain_cli.emu.advance(3)
    [changed] = chain_cli.json("sync")["changed"]
    assert changed["status"] == "EXPIRED" and "no cancel was sent" in changed["detail"]


def test_wait_timeout_has_its_own_exit_code(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    err = chain_cli.json("cancel", order["order_id"], "--wait", "--wait-timeout", "0.5",
                         expect_exit=11)  # fmt: skip
    assert err["error"]["kind"] == "wait_timed_out" and "in no block yet" in err["error"]["message"]
    assert _row(chain_cli, order["order_id"])["status"] == "CANCEL_PENDING"


def test_wait_ends_expired_with_exit_5(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "3")
    chain_cli.emu.fill(order["order_id"], size="0.0005")  # a Postgres row: no 404
    chain_cli.emu.advance(3)
    err = chain_cli.json("cancel", order["order_id"], "--wait", expect_exit=5)
    assert "block 4" in err["error"]["message"] or "good_til_block" in err["error"]["message"]


# --- 3. block results for stateful txs ----------------------------------------------------
def test_stateful_cancel_that_fails_in_its_block_returns_to_open(chain_cli: ChainCli) -> None:
    """Before: CANCEL_PENDING for ever; `cancel` said "already on its way" and sent nothing."""
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    chain_cli.emu.fail_next_deliver("clob", 29)

    def next_block_once_the_cancel_is_in_the_mempool() -> None:  # not a fixed delay: a
        deadline = time.monotonic() + 10  # block before the cancel would not include it
        while not chain_cli.emu.state.mempool and time.monotonic() < deadline:
            time.sleep(0.005)
        chain_cli.emu.advance(1)

    threading.Thread(target=next_block_once_the_cancel_is_in_the_mempool, daemon=True).start()
    err = chain_cli.json("cancel", order["order_id"], "--wait", "--wait-timeout", "10",
                         expect_exit=6)  # fmt: skip
    assert (err["error"]["details"]["codespace"], err["error"]["details"]["code"]) == ("clob", 29)
    assert "failed in its block" in err["error"]["message"]
    assert _row(chain_cli, order["order_id"])["status"] == "OPEN"
    again = chain_cli.json("cancel", order["order_id"])  # a new cancel is sent
    assert again["outcome"] == "CANCEL_PENDING"
    chain_cli.emu.advance(1)
    assert chain_cli.json("sync")["changed"][0]["status"] == "CANCELED"


def test_sync_reports_a_failed_cancel_and_cancel_all_sends_it_again(chain_cli: ChainCli) -> None:
    """Before: sync ignored the Indexer's OPEN; `cancel --all` left the row out."""
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    chain_cli.emu.fail_next_deliver("clob", 29)
    chain_cli.json("cancel", order["order_id"])
    chain_cli.emu.advance(1)
    [changed] = chain_cli.json("sync")["changed"]
    assert (changed["from"], changed["status"]) == ("CANCEL_PENDING", "OPEN")
    assert "(clob, 29)" in changed["detail"]
    chain_cli.emu.fail_next_deliver("clob", 29)
    chain_cli.json("cancel", order["order_id"])
    chain_cli.emu.advance(1)  # failed again; now `cancel --all` checks and re-sends it
    outcome = chain_cli.json("cancel", "--all")
    assert [o["outcome"] for o in outcome["orders"]] == ["CANCEL_PENDING"]
    chain_cli.emu.advance(1)
    assert chain_cli.json("sync")["changed"][0]["status"] == "CANCELED"


def test_a_dropped_stateful_cancel_is_sent_again(
    chain_cli: ChainCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: CANCEL_PENDING for ever. The proof that it can never land: its timestamp
    nonce falls out of the chain's 30 s window (a local clock 28.5 s slow, so the test
    waits 2 s instead of 30)."""
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    skew_local_clock(monkeypatch, -28.5)
    chain_cli.emu.drop_next_stateful()
    first = chain_cli.json("cancel", order["order_id"])
    chain_cli.emu.advance(1)
    assert chain_cli.json("cancel", order["order_id"])["outcome"] == "CANCEL_PENDING"
    assert chain_cli.broadcasts() == 2  # place, dropped cancel: its nonce is still valid
    time.sleep(2.2)
    chain_cli.emu.advance(1)
    again = chain_cli.json("cancel", order["order_id"])
    assert "can never be included" in again["message"] and "sent again" in again["message"]
    assert again["cancel_tx_hash"] != first["cancel_tx_hash"]
    chain_cli.emu.advance(1)
    assert chain_cli.json("sync")["changed"][0]["status"] == "CANCELED"


def test_lost_place_answer_3006_and_a_lagging_indexer_is_not_rejected(
    chain_cli: ChainCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `cancel` met clob 3006 + an Indexer that did not know the order and wrote
    REJECTED (final) at once. Now REJECTED needs proof: the place tx can no longer be
    included (its nonce left the chain's window; a local clock 28.5 s slow shortens the
    wait to 2 s)."""
    skew_local_clock(monkeypatch, -28.5)
    chain_cli.emu.set_indexer_lag(3)
    chain_cli.emu.drop_next_stateful()  # this node will not include it (another might)
    chain_cli.emu.fail_next("BroadcastTx", after_apply=True)
    order_id = chain_cli.json("place", *LIMIT, expect_exit=7)["error"]["details"]["order_id"]
    chain_cli.emu.advance(1)
    err = chain_cli.json("cancel", order_id, expect_exit=6)
    assert err["error"]["details"]["code"] == 3006
    assert "may still be on its way" in err["error"]["message"]
    assert _row(chain_cli, order_id)["status"] == "UNKNOWN"
    assert chain_cli.json("sync")["changed"] == []
    time.sleep(2.2)
    chain_cli.emu.advance(1)
    [changed] = chain_cli.json("sync")["changed"]
    assert changed["status"] == "REJECTED" and "can never be included" in changed["detail"]


def test_a_lost_place_answer_then_a_cancel_is_settled_by_the_block_result(
    chain_cli: ChainCli,
) -> None:
    """The placement lands; the Indexer is 3 blocks behind: the cancel's GetTx decides."""
    chain_cli.emu.set_indexer_lag(3)
    chain_cli.emu.fail_next("BroadcastTx", after_apply=True)
    order_id = chain_cli.json("place", *LIMIT, expect_exit=7)["error"]["details"]["order_id"]
    chain_cli.emu.advance(1)
    assert chain_cli.json("cancel", order_id)["outcome"] == "CANCEL_PENDING"
    chain_cli.emu.advance(1)
    [changed] = chain_cli.json("sync")["changed"]
    assert changed["status"] == "CANCELED" and "GetTx code 0" in changed["detail"]


def test_sync_rejects_an_old_unknown_place_only_on_proof(chain_cli: ChainCli) -> None:
    """Before: sync marked a stateful UNKNOWN row REJECTED once it was 120 s old."""
    chain_cli.emu.fail_next("BroadcastTx", after_apply=True)
    order_id = chain_cli.json("place", *LIMIT, expect_exit=7)["error"]["details"]["order_id"]
    with Store.open(chain_cli.db_path) as store:  # ten minutes old by the local clock
        store.conn.execute(
            "UPDATE orders SET created_at = '2020-01-01T00:00:00.000Z' WHERE order_id = ?",
            (order_id,),
        )
        store.conn.commit()
    assert chain_cli.json("sync")["changed"] == []
    chain_cli.emu.advance(1)
    assert chain_cli.json("sync")["changed"][0]["status"] == "OPEN"


def test_stateful_place_failing_in_deliver_tx_is_rejected_with_its_code(
    chain_cli: ChainCli,
) -> None:
    """Before: OPEN until its good-til time (up to 95 days)."""
    chain_cli.emu.fail_next_deliver("clob", 3007, "collateralization check failed")
    order = chain_cli.place(*LIMIT)
    assert order["status"] == "OPEN"  # CheckTx passed
    chain_cli.emu.advance(1)
    [changed] = chain_cli.json("sync")["changed"]
    assert changed["status"] == "REJECTED"
    assert "(clob, 3007) ErrStatefulOrderCollateralizationCheckFailed" in changed["detail"]
    err = chain_cli.json("cancel", order["order_id"], expect_exit=4)
    assert "rejected" in err["error"]["message"]


def test_cancel_of_a_deliver_failed_place_finds_the_block_result(chain_cli: ChainCli) -> None:
    chain_cli.emu.fail_next_deliver("clob", 3007)
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    err = chain_cli.json("cancel", order["order_id"], expect_exit=4)  # 3006, then GetTx
    assert "3007" in err["error"]["message"]
    assert _row(chain_cli, order["order_id"])["status"] == "REJECTED"


def test_sync_survives_a_get_tx_error_on_one_row(chain_cli: ChainCli) -> None:
    orders = [chain_cli.place(*LIMIT) for _ in range(2)]
    chain_cli.emu.advance(1)
    for order in orders:
        chain_cli.json("cancel", order["order_id"])
    chain_cli.emu.advance(1)
    chain_cli.emu.fail_next("GetTx", grpc_status="INTERNAL")
    outcome = chain_cli.json("sync")
    assert [len(outcome["errors"]), len(outcome["changed"])] == [1, 1]
    assert "not checked" in outcome["errors"][0]["detail"]
    assert [c["status"] for c in chain_cli.json("sync")["changed"]] == ["CANCELED"]


# --- 4. idempotent retries ------------------------------------------------------------------
def test_retried_short_term_cancel_after_a_lost_answer_is_sdk_19_accepted(
    chain_cli: ChainCli,
) -> None:
    """Before: the identical bytes met sdk 19 and dydxctl said "unknown" rejection (exit 6)."""
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "20")
    chain_cli.emu.fail_next("BroadcastTx", after_apply=True)
    chain_cli.json("cancel", order["order_id"], expect_exit=7)
    again = chain_cli.json("cancel", order["order_id"])
    assert again["outcome"] == "CANCEL_PENDING"
    assert "sdk 19" in again["message"] and "answer was lost" in again["message"]


# --- 5. only orders the chain accepts are signed --------------------------------------------
def test_fok_and_reduce_only_without_ioc_are_refused_before_signing(chain_cli: ChainCli) -> None:
    """Before: signed and broadcast, refused by the chain (clob 48 / 9003)."""
    fok = chain_cli.json("place", *LIMIT, "--good-til-blocks", "5", "--time-in-force", "fok",
                         expect_exit=2)  # fmt: skip
    assert "ioc" in fok["error"]["hint"]
    chain_cli.json("place", *LIMIT, "--reduce-only", expect_exit=2)
    assert chain_cli.broadcasts() == 0
    ioc = chain_cli.json("place", *LIMIT, "--good-til-blocks", "5", "--time-in-force", "ioc",
                         "--reduce-only", "--dry-run")  # fmt: skip
    assert ioc["reduce_only"] is True


def test_good_til_blocks_up_to_the_nodes_window() -> None:
    """Before: capped at 20 although v9.5+ nodes allow 40."""
    import tempfile

    from tests.conftest import TEST_MNEMONIC

    for version, window in (("9.6.1", 40), ("9.4.0", 20)):
        with (
            Emulator(block_time_s=0, app_version=version) as emu,
            tempfile.TemporaryDirectory() as d,
        ):
            cli = ChainCli(Path(d) / "orders.db", emu)
            assert cli.place(*LIMIT, "--good-til-blocks", str(window))["good_til_block"] == (
                1 + window
            )
            err = cli.json("place", *LIMIT, "--good-til-blocks", str(window + 1), expect_exit=2)
            assert f"between 1 and {window}" in err["error"]["message"]
            doctor = cli("--json", "doctor", env={"DYDX_MNEMONIC": TEST_MNEMONIC})
            assert f"ShortBlockWindow {window}" in doctor.stdout


# --- 6. codes ----------------------------------------------------------------------------------
ISSUE_CODES = [("clob", c) for c in (3, 20, 34, 44, 47, 48, 2001, 2002, 2004, 2005, 3007, 5001,
               9003, 10001, 11000)] + [("sdk", c) for c in (19, 20, 21, 31)]  # fmt: skip


@pytest.mark.parametrize("pair", ISSUE_CODES, ids=lambda p: f"{p[0]}-{p[1]}")
def test_every_reachable_code_has_a_name_meaning_and_hint(pair: tuple[str, int]) -> None:
    described = codes.describe(*pair)
    assert described.name.startswith("Err") and described.meaning and described.hint


def test_an_unknown_code_is_shown_raw_with_the_chains_log(chain_cli: ChainCli) -> None:
    chain_cli.emu.fail_next("BroadcastTx", codespace="perpetuals", code=77)
    err = chain_cli.json("place", *LIMIT, "--good-til-blocks", "5", expect_exit=6)
    message = err["error"]["message"]
    assert "perpetuals 77" in message and "Node log: injected" in message


# --- 7. Indexer orders of every kind ---------------------------------------------------------
def test_a_market_twap_order_is_imported_and_cancelled(chain_cli: ChainCli) -> None:
    """Before: price "0" made `cancel --all` and `sync --import` abort before doing anything."""
    from v4_proto.dydxprotocol.clob.order_pb2 import TwapParameters

    from tests.test_emulator import Chain, order, place

    net = Chain(chain_cli.emu)
    parameters = TwapParameters(duration=300, interval=30, price_tolerance=0)
    twap = order(77, flags=128, subticks=0, twap_parameters=parameters)
    assert net.send(place(twap)) == ("", 0)
    net.node.close()
    chain_cli.emu.advance(1)
    [imported] = chain_cli.json("sync", "--import")["imported"]
    assert imported["kind"] == "twap"
    row = _row(chain_cli, imported["order_id"])
    assert (row["price"], row["type"], row["order_flags"]) == ("0", "TWAP", 128)
    outcome = chain_cli.json("cancel", "--all")
    assert [o["outcome"] for o in outcome["orders"]] == ["CANCEL_PENDING"]
    chain_cli.emu.advance(1)
    assert chain_cli.json("sync")["changed"][0]["status"] == "CANCELED"


class OddIndexer:
    """A 127.0.0.1 proxy in front of the emulator's Indexer that rewrites order objects the
    way real ones vary: no subaccountNumber, no ticker, postOnly, and one broken object."""

    def __init__(self, upstream: str) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with urllib.request.urlopen(upstream + self.path) as answer:
                    body = json.loads(answer.read())
                if self.path.startswith("/v4/orders?") and isinstance(body, list):
                    body = proxy.rewrite(body)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def rewrite(orders: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for i, o in enumerate(orders):
            o = dict(o)
            o.pop("subaccountNumber", None)  # only subaccountId names the subaccount
            if i == 0:
                o.pop("ticker", None)
                o["postOnly"] = True
                o["status"] = "ERROR"
            out.append(o)
        out.append({"id": "broken", "status": "OPEN", "clientId": None})
        return out


@pytest.fixture
def odd_cli(chain_cli: ChainCli) -> Iterator[ChainCli]:
    proxy = OddIndexer(chain_cli.emu.indexer_url)

    class OddCli(ChainCli):
        def global_args(self, overridden: Any = ()) -> list[str]:
            # An option is given once: the proxy replaces the emulator's Indexer.
            return [*super().global_args([*overridden, "--indexer"]), "--indexer", proxy.url]

    yield OddCli(chain_cli.db_path, chain_cli.emu)
    proxy.server.shutdown()


def test_odd_indexer_objects_are_tolerated_or_skipped(
    chain_cli: ChainCli, odd_cli: ChainCli, tmp_path: Path
) -> None:
    """Before: a missing subaccountNumber aborted `sync --import` with exit 7 "unreachable";
    unknown statuses were OPEN; post-only was lost."""
    elsewhere = ChainCli(tmp_path / "other.db", chain_cli.emu)
    first = elsewhere.place(*LIMIT, "--time-in-force", "post-only")
    second = elsewhere.place(*LIMIT)
    chain_cli.emu.advance(1)
    outcome = odd_cli.json("sync", "--import")
    imported = {i["order_id"]: i for i in outcome["imported"]}
    assert set(imported) == {first["order_id"], second["order_id"]}
    assert [s["order_id"] for s in outcome["skipped"]] == ["broken"]
    odd = next(_row(chain_cli, i) for i in imported if imported[i]["status"] == "UNKNOWN")
    assert odd["market"] == "BTC-USD" and odd["time_in_force"] == "POST_ONLY"
    assert odd["subaccount_number"] == 0 and odd["address"] == TEST_ADDRESS


def test_a_cancel_rebuilt_from_the_indexer_needs_no_grid(chain_cli: ChainCli) -> None:
    """Before: the Indexer's size and price were re-gridded with today's market, so an order
    placed before a grid change could not be cancelled."""
    from dydxctl.config import resolve
    from dydxctl.indexer_orders import row_from_indexer
    from dydxctl.runtime import Runtime
    from tests.conftest import TEST_MNEMONIC

    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    with urllib.request.urlopen(f"{chain_cli.emu.indexer_url}/v4/orders/{order['order_id']}") as r:
        data = json.loads(r.read())
    data.update(price="50000.123456", size="0.00012345")  # off today's tick and step
    settings = resolve({"network": "local", "grpc": chain_cli.emu.grpc_target,
                        "indexer": chain_cli.emu.indexer_url,
                        "db": str(chain_cli.db_path.parent / "x.db")}, {})  # fmt: skip
    rt = Runtime(settings, env={"DYDX_MNEMONIC": TEST_MNEMONIC})
    try:
        row = row_from_indexer(rt, data)
    finally:
        rt.close()
    assert row["order_id_proto"] == _row(chain_cli, order["order_id"])["order_id_proto"]
    assert row["good_til_block_time"] == order["good_til_block_time"]
    assert row["price"] == "50000.123456"


# --- the expiry module, with an injected chain clock -----------------------------------------
def test_expiry_is_judged_by_the_injected_chain_clock_only() -> None:
    from dydxctl.expiry import ChainClock, expiry_evidence, is_expired

    short = {"order_flags": 0, "good_til_block": 100}
    assert not is_expired(short, ChainClock(99, 0))
    assert is_expired(short, ChainClock(100, 0))  # block GTB processed: gone
    assert "height 100 ≥ good_til_block 100" in expiry_evidence(short, ChainClock(100, 0))
    stateful = {"order_flags": 64, "good_til_block_time": 1_900_000_000}
    # The local clock is far past the GTBT here; only the block time counts.
    assert not is_expired(stateful, ChainClock(5, 1_899_999_999))
    assert is_expired(stateful, ChainClock(5, 1_900_000_000))  # clob 3003 from now on
    assert ChainClock(1, 2).millis == 2000 and ChainClock(1, 2, 2500).millis == 2500


def test_cancel_all_leaves_a_pending_stateful_cancel_alone(chain_cli: ChainCli) -> None:
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    first = chain_cli.json("cancel", order["order_id"])
    outcome = chain_cli.json("cancel", "--all")  # its cancel is in the mempool: not re-sent
    assert [o["outcome"] for o in outcome["orders"]] == ["CANCEL_PENDING"]
    assert _row(chain_cli, order["order_id"])["cancel_tx_hash"] == first["cancel_tx_hash"]
    assert chain_cli.broadcasts() == 2


def test_a_lagging_indexer_never_settles_a_short_term_order(chain_cli: ChainCli) -> None:
    """A 404 (or no fill) from an Indexer that has not reached the blocks in question proves
    nothing: the order is settled only once the Indexer catches up."""
    chain_cli.emu.set_indexer_lag(3)
    chain_cli.emu.advance(5)  # chain at 6, the Indexer at 3 (the emulator's Indexer height
    # never goes down, so it only trails once the chain has moved on after the lag was set)
    order = chain_cli.place(*LIMIT, "--good-til-blocks", "3")
    assert chain_cli.json("cancel", order["order_id"])["outcome"] == "CANCEL_PENDING"
    assert chain_cli.json("sync")["changed"] == []  # 404, but the Indexer is 3 blocks behind
    chain_cli.emu.advance(3)  # height 9 ≥ GTB 9; the Indexer is at 6
    assert chain_cli.json("sync")["changed"] == []
    chain_cli.emu.advance(3)
    [changed] = chain_cli.json("sync")["changed"]
    assert changed["status"] == "CANCELED" and "can no longer fill" in changed["detail"]


def test_retried_stateful_cancel_after_a_lost_answer_says_the_first_one_counts(
    chain_cli: ChainCli,
) -> None:
    order = chain_cli.place(*LIMIT)
    chain_cli.emu.advance(1)
    chain_cli.emu.fail_next("BroadcastTx", after_apply=True)
    chain_cli.json("cancel", order["order_id"], expect_exit=7)
    first = _row(chain_cli, order["order_id"])["cancel_tx_hash"]
    again = chain_cli.json("cancel", order["order_id"])  # clob 32: the first is pending
    assert again["outcome"] == "CANCEL_PENDING" and "answer was lost" in again["message"]
    assert _row(chain_cli, order["order_id"])["cancel_tx_hash"] == first
    chain_cli.emu.advance(1)
    [changed] = chain_cli.json("sync")["changed"]
    assert changed["status"] == "CANCELED" and first in changed["detail"]
