"""The emulator's x/accountplus model against the chain's rules (protocol/v9.6.1): adding,
removing, listing, the six authenticators, and the authenticator ante flow in CheckTx and
DeliverTx. Transactions are built with the product's signer, checked by the emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dydxctl import authenticators as auth
from dydxctl import chain, tx
from dydxctl.emulator.accountplus import AccountPlusKeeper
from dydxctl.emulator.checktx import check_tx
from dydxctl.emulator.errors import Reject
from dydxctl.emulator.state import ChainState
from dydxctl.orders import make_order_id
from dydxctl.trading_key import TradingSigner
from dydxctl.wallet import Wallet
from tests.conftest import TEST_ADDRESS, TEST_MNEMONIC

OWNER = Wallet.from_mnemonic(TEST_MNEMONIC)
TRADER = Wallet(bytes.fromhex("1f" * 32))
STRANGER = Wallet(bytes.fromhex("3c" * 32))


def _add(keeper: AccountPlusKeeper, kind_config: tuple[str, bytes]) -> int:
    return keeper.add(TEST_ADDRESS, *kind_config)


def _code(exc: pytest.ExceptionInfo[Reject]) -> tuple[str, int]:
    return exc.value.codespace, exc.value.code


# --- the keeper: AddAuthenticator / RemoveAuthenticator / GetAuthenticators ------------------
def test_add_requires_a_signature_on_every_path() -> None:
    keeper = AccountPlusKeeper()
    filters_only = auth.composite(
        auth.ALL_OF, [auth.message_filter(["/x"]), auth.subaccount_filter([0])]
    )
    with pytest.raises(Reject) as unsafe:
        _add(keeper, filters_only)
    assert _code(unsafe) == ("undefined", 1) and "unsafe" in unsafe.value.log
    # AnyOf: one branch without a signature makes the whole tree unsafe.
    any_of = auth.composite(
        auth.ANY_OF, [auth.signature_verification(TRADER.public_key), auth.message_filter(["/x"])]
    )
    with pytest.raises(Reject):
        _add(keeper, any_of)
    with pytest.raises(Reject) as short_key:
        _add(keeper, auth.signature_verification(b"\x02" * 20))
    assert _code(short_key) == ("undefined", 1) and "expected 33, got 20" in short_key.value.log
    with pytest.raises(Reject) as one_sub:
        _add(keeper, auth.composite(auth.ALL_OF, [auth.signature_verification(TRADER.public_key)]))
    assert _code(one_sub) == ("sdk", 18)
    with pytest.raises(Reject) as unknown:
        keeper.add(TEST_ADDRESS, "Whatever", b"")
    assert _code(unknown) == ("undefined", 1)
    assert keeper.next_id == 0  # a refused add spends no id


def test_ids_are_global_and_listing_follows_the_store_key_order() -> None:
    keeper = AccountPlusKeeper()
    ids = [_add(keeper, auth.signature_verification(TRADER.public_key)) for _ in range(11)]
    other = keeper.add(STRANGER.address, "SignatureVerification", STRANGER.public_key)
    assert ids == list(range(11)) and other == 11
    # keys "address/id/" iterate in text order: 10 before 2 (keeper GetAuthenticatorDataForAccount)
    assert [a.id for a in keeper.list(TEST_ADDRESS)][:4] == [0, 1, 10, 2]
    assert [a.id for a in keeper.list(STRANGER.address)] == [11]
    keeper.remove(TEST_ADDRESS, 10)
    with pytest.raises(Reject) as again:
        keeper.remove(TEST_ADDRESS, 10)
    assert _code(again) == ("dydxaccountplus", 1)
    assert _add(keeper, auth.signature_verification(TRADER.public_key)) == 12  # never reused


def test_official_client_byte_array_configs_are_accepted() -> None:
    """Go's encoding/json takes a []byte from an array of numbers as well as from base64."""
    keeper = AccountPlusKeeper()
    config = json.dumps([
        {"type": "SignatureVerification", "config": list(TRADER.public_key)},
        {"type": "MessageFilter", "config": list(chain.MSG_PLACE_ORDER_URL.encode())},
    ]).encode()  # fmt: skip
    assert keeper.add(TEST_ADDRESS, "AllOf", config) == 0
    assert keeper.initialized(TEST_ADDRESS, 0).subs[1].whitelist == {chain.MSG_PLACE_ORDER_URL}


# --- the ante flow through CheckTx ---------------------------------------------------------
def _signed(signer: object, message: object, *, sequence: int = 0, account_number: int) -> bytes:
    return tx.sign_tx(
        signer, [message], chain_id=CHAIN_STATE_ID, account_number=account_number,
        sequence=sequence,
    ).tx_bytes  # fmt: skip


CHAIN_STATE_ID = "localdydxprotocol"


def _short_term_place(state: ChainState, clob_pair_id: int = 0, subaccount: int = 0) -> object:
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    market = state.markets[clob_pair_id]
    order = Order(
        order_id=make_order_id(TEST_ADDRESS, subaccount, int(time.time_ns() % 2**32),
                               clob_pair_id, 0),
        side=Order.SIDE_BUY, quantums=market.step_base_quantums,
        subticks=market.subticks_per_tick * 1000, good_til_block=state.height + 5,
    )  # fmt: skip
    return tx.place_order_msg(order)


def _trader(authenticator_id: int, wallet: Wallet = TRADER) -> TradingSigner:
    return TradingSigner(TEST_ADDRESS, wallet.address, wallet.public_key, authenticator_id, wallet)


def test_checktx_authenticates_with_the_owners_account_number() -> None:
    state = ChainState()
    owner = state.account(TEST_ADDRESS)
    key = _add(state.accountplus, auth.trading_key(TRADER.public_key, clob_pair_ids=[0]))
    number = owner.account_number
    ok = check_tx(state, _signed(_trader(key), _short_term_place(state), account_number=number))
    assert ok.code == 0, ok.log
    assert owner.public_key is None  # the authenticator flow sets no public key
    wrong_number = check_tx(
        state, _signed(_trader(key), _short_term_place(state), account_number=number + 1)
    )
    assert (wrong_number.codespace, wrong_number.code) == ("dydxaccountplus", 104)
    assert "Signature verification failed" in wrong_number.log
    stranger = check_tx(
        state, _signed(_trader(key, STRANGER), _short_term_place(state), account_number=number)
    )
    assert (stranger.codespace, stranger.code) == ("dydxaccountplus", 104)
    market = check_tx(
        state, _signed(_trader(key), _short_term_place(state, 1), account_number=number)
    )
    assert "Clob pair id verification failed" in market.log and "order id 1" in market.log
    missing = check_tx(state, _signed(_trader(99), _short_term_place(state), account_number=number))
    assert (missing.codespace, missing.code) == ("dydxaccountplus", 1)


def test_selected_authenticators_must_match_the_message_count() -> None:
    from v4_proto.cosmos.tx.v1beta1.tx_pb2 import TxBody, TxRaw

    state = ChainState()
    number = state.account(TEST_ADDRESS).account_number
    key = _add(state.accountplus, auth.trading_key(TRADER.public_key))
    raw = TxRaw.FromString(_signed(_trader(key), _short_term_place(state), account_number=number))
    body = TxBody.FromString(raw.body_bytes)
    body.non_critical_extension_options[0].CopyFrom(tx.tx_extension(key, 2))
    raw.body_bytes = body.SerializeToString()
    answer = check_tx(state, raw.SerializeToString())
    assert (answer.codespace, answer.code) == ("sdk", 18) and "Mismatch" in answer.log


def _long_term_order(state: ChainState, client_id: int) -> Any:
    """A one-hour long-term buy of the owner's, on the grid of the state's first market."""
    from v4_proto.dydxprotocol.clob.order_pb2 import Order

    market = state.markets[0]
    return Order(
        order_id=make_order_id(TEST_ADDRESS, 0, client_id, 0, chain.ORDER_FLAGS_LONG_TERM),
        side=Order.SIDE_BUY, quantums=market.step_base_quantums,
        subticks=market.subticks_per_tick * 1000,
        good_til_block_time=int(state.block_time) + 3600,
    )  # fmt: skip


def test_a_stateful_tx_is_authenticated_again_in_its_block() -> None:
    """DeliverTx reruns the ante handler: an authenticator removed after CheckTx fails the tx
    in its block, and the owner's sequence does not move."""
    state = ChainState()
    owner = state.account(TEST_ADDRESS)
    key = _add(state.accountplus, auth.trading_key(TRADER.public_key))
    order = _long_term_order(state, client_id=7)
    signed = tx.sign_tx(_trader(key), [tx.place_order_msg(order)], chain_id=CHAIN_STATE_ID,
                        account_number=owner.account_number, sequence=0)  # fmt: skip
    assert check_tx(state, signed.tx_bytes).code == 0
    remove = tx.sign_tx(
        OWNER, [tx.remove_authenticator_msg(TEST_ADDRESS, key)], chain_id=CHAIN_STATE_ID,
        account_number=owner.account_number, sequence=1,
    )  # fmt: skip
    assert check_tx(state, remove.tx_bytes).code == 0
    # The mempool delivers in order: the removal comes second, so the place still passes …
    state.advance()
    assert state.committed_tx(signed.tx_hash).code == 0
    assert state.committed_tx(remove.tx_hash).code == 0
    assert owner.sequence == 2 and state.accountplus.list(TEST_ADDRESS) == []
    # … and a second placement signed against the removed authenticator is refused.
    order.order_id.client_id = 8
    late = tx.sign_tx(_trader(key), [tx.place_order_msg(order)], chain_id=CHAIN_STATE_ID,
                      account_number=owner.account_number, sequence=2)  # fmt: skip
    answer = check_tx(state, late.tx_bytes)
    assert (answer.codespace, answer.code) == ("dydxaccountplus", 1)


def test_removal_between_checktx_and_the_block_fails_the_tx_in_deliver() -> None:
    state = ChainState()
    owner = state.account(TEST_ADDRESS)
    key = _add(state.accountplus, auth.trading_key(TRADER.public_key))
    order = _long_term_order(state, client_id=9)
    signed = tx.sign_tx(_trader(key), [tx.place_order_msg(order)], chain_id=CHAIN_STATE_ID,
                        account_number=owner.account_number, sequence=0)  # fmt: skip
    assert check_tx(state, signed.tx_bytes).code == 0
    state.accountplus.remove(TEST_ADDRESS, key)  # e.g. removed earlier in the same block
    state.advance()
    record = state.committed_tx(signed.tx_hash)
    assert (record.codespace, record.code) == ("dydxaccountplus", 1)
    assert owner.sequence == 0  # the ante handler failed: its sequence bump is discarded


def test_add_authenticator_runs_in_deliver_tx_with_its_validate_basic_at_checktx() -> None:
    state = ChainState()
    owner = state.account(TEST_ADDRESS)
    too_long = tx.sign_tx(
        OWNER, [tx.add_authenticator_msg(TEST_ADDRESS, "MessageFilter", b"x" * 1025)],
        chain_id=CHAIN_STATE_ID, account_number=owner.account_number, sequence=0,
    )  # fmt: skip
    answer = check_tx(state, too_long.tx_bytes)
    assert (answer.codespace, answer.code) == ("dydxaccountplus", 3)
    unsafe = tx.sign_tx(
        OWNER, [tx.add_authenticator_msg(TEST_ADDRESS, *auth.message_filter(["/x"]))],
        chain_id=CHAIN_STATE_ID, account_number=owner.account_number, sequence=0,
    )  # fmt: skip
    assert check_tx(state, unsafe.tx_bytes).code == 0  # CheckTx does not run the msg server
    state.advance()
    record = state.committed_tx(unsafe.tx_hash)
    assert (record.codespace, record.code) == ("undefined", 1) and "unsafe" in record.log
    assert owner.sequence == 1  # the ante handler committed; only the message failed


def test_authenticators_survive_an_emulator_restart(tmp_path) -> None:
    from dydxctl.emulator import Emulator

    with Emulator(block_time_s=0, state_dir=tmp_path) as emu, emu.state.lock:
        emu.state.accountplus.add(TEST_ADDRESS, *auth.trading_key(TRADER.public_key))
        emu.state.accountplus.add(TEST_ADDRESS, *auth.trading_key(STRANGER.public_key))
        emu.state.accountplus.remove(TEST_ADDRESS, 0)
    with Emulator(block_time_s=0, state_dir=tmp_path) as emu:
        assert emu.restored
        [kept] = emu.state.accountplus.list(TEST_ADDRESS)
        assert kept.id == 1 and auth.decode(kept.type, kept.config).children[0].value == (
            STRANGER.public_key
        )
        assert emu.state.accountplus.next_id == 2


def test_a_maker_whose_key_was_removed_is_taken_off_the_book_not_filled() -> None:
    """memclob.go: a short-term maker placed through an authenticator is re-validated when it
    matches; a removed authenticator removes it (REMOVAL_REASON_PERMISSIONED_KEY_EXPIRED)."""
    from dydxctl.emulator.indexer_model import uuid_of

    state = ChainState()
    number = state.account(TEST_ADDRESS).account_number
    key = _add(state.accountplus, auth.trading_key(TRADER.public_key))
    kept, dropped = _short_term_place(state), _short_term_place(state)
    for message in (kept, dropped):
        assert check_tx(state, _signed(_trader(key), message, account_number=number)).code == 0
    state.accountplus.remove(TEST_ADDRESS, key)
    # An order placed by the owner's own key on the same OrderId is not affected.
    from v4_proto.dydxprotocol.clob.tx_pb2 import MsgPlaceOrder

    own = MsgPlaceOrder.FromString(kept.value)
    own.order.good_til_block += 1  # replaces the resting order (higher GTB)
    replaced = tx.place_order_msg(own.order)
    assert check_tx(state, _signed(OWNER, replaced, account_number=number)).code == 0
    gone = uuid_of(MsgPlaceOrder.FromString(dropped.value).order.order_id)
    assert state.fill(gone)["status_on_chain"] == "removed: permissioned key expired"
    assert state.find(gone) is None
    filled = state.fill(uuid_of(own.order.order_id))
    assert filled["status_on_chain"] == "filled"
