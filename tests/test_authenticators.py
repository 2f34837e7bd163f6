"""The product's authenticator configs (dydxctl/authenticators.py): what it refuses before
sending, how it words a tree, and — held against the emulator's independent model of
x/accountplus — that its local verdict is the chain's, case by case."""

from __future__ import annotations

import itertools
import json

import pytest

from dydxctl import authenticators as auth
from dydxctl import chain
from dydxctl.emulator import accountplus as model
from dydxctl.emulator import authenticator_types as model_types
from dydxctl.emulator.crypto import signature_is_valid
from dydxctl.emulator.errors import Reject
from dydxctl.errors import BadInput
from dydxctl.wallet import Wallet

TRADER = Wallet(bytes.fromhex("1f" * 32))
STRANGER = Wallet(bytes.fromhex("3c" * 32))


@pytest.mark.parametrize(
    ("kind_config", "reason"),
    [
        (auth.signature_verification(b"\x02" * 32), "33 bytes"),
        (auth.message_filter([chain.MSG_PLACE_ORDER_URL]), "signature on every path"),
        (auth.composite(auth.ANY_OF, [auth.signature_verification(TRADER.public_key),
                                      auth.subaccount_filter([0])]), "signature on every path"),
        (auth.composite(auth.ALL_OF, [auth.signature_verification(TRADER.public_key)]),
         "at least 2"),
        (("Unknown", b""), "unknown authenticator type"),
        (auth.message_filter(["/x" * 600]), "more than 1024"),
        (auth.composite(auth.ALL_OF, [auth.signature_verification(TRADER.public_key),
                                      (auth.SUBACCOUNT_FILTER, b"0,x")]), "uint32"),
    ],
)  # fmt: skip
def test_validate_refuses_what_the_chain_would(kind_config: tuple[str, bytes], reason: str) -> None:
    with pytest.raises(BadInput) as refused:
        auth.validate(*kind_config)
    assert reason in refused.value.message


def test_trading_key_config_is_what_the_chain_and_official_clients_read() -> None:
    kind, config = auth.trading_key(TRADER.public_key, subaccounts=[1, 0, 1], clob_pair_ids=[3])
    items = json.loads(config)
    assert kind == "AllOf" and [i["type"] for i in items] == [
        "SignatureVerification", "MessageFilter", "SubaccountFilter", "ClobPairIdFilter"
    ]  # fmt: skip
    tree = auth.validate(kind, config)
    assert [c.value for c in tree.children[1:]] == [auth.TRADING_MESSAGES, (0, 1), (3,)]
    assert auth.describe(tree, {3: "SOL-USD"}).endswith(
        "subaccounts: 0, 1 AND markets: SOL-USD (3))"
    )
    assert auth.public_keys(tree) == {TRADER.public_key}
    # The emulator's model (written from the chain's source) accepts and reads the same bytes.
    keeper = model.AccountPlusKeeper()
    assert keeper.add(TRADER.address, kind, config) == 0
    assert keeper.initialized(TRADER.address, 0).subs[2].whitelist == {0, 1}


# --- the product's local verdict vs the emulator's model of the chain ------------------------
TREES = {
    "trading key, subaccount 0, BTC": auth.trading_key(
        TRADER.public_key, subaccounts=[0], clob_pair_ids=[0]
    ),
    "any of two keys": auth.composite(
        auth.ANY_OF,
        [auth.signature_verification(TRADER.public_key),
         auth.signature_verification(STRANGER.public_key)],
    ),
    "trader places anywhere, stranger only ETH": auth.composite(
        auth.ANY_OF,
        [auth.composite(auth.ALL_OF, [auth.signature_verification(TRADER.public_key),
                                      auth.message_filter([chain.MSG_PLACE_ORDER_URL])]),
         auth.composite(auth.ALL_OF, [auth.signature_verification(STRANGER.public_key),
                                      auth.clob_pair_id_filter([1])])],
    ),
    "bare key": auth.signature_verification(TRADER.public_key),
}  # fmt: skip


def _message(url: str, subaccount: int, clob_pair_id: int) -> object:
    from v4_proto.dydxprotocol.clob import tx_pb2

    from dydxctl.orders import make_order_id

    oid = make_order_id(TRADER.address, subaccount, 5, clob_pair_id, 0)
    if url == chain.MSG_PLACE_ORDER_URL:
        from v4_proto.dydxprotocol.clob.order_pb2 import Order

        return tx_pb2.MsgPlaceOrder(order=Order(order_id=oid))
    if url == chain.MSG_CANCEL_ORDER_URL:
        return tx_pb2.MsgCancelOrder(order_id=oid, good_til_block=9)
    return tx_pb2.MsgBatchCancel(
        subaccount_id=oid.subaccount_id,
        short_term_cancels=[tx_pb2.OrderBatch(clob_pair_id=clob_pair_id, client_ids=[5])],
        good_til_block=9,
    )


@pytest.mark.parametrize("name", sorted(TREES))
def test_local_verdicts_match_the_emulators_chain_model(name: str) -> None:
    kind, config = TREES[name]
    tree = auth.validate(kind, config)
    instance = model_types.REGISTERED[kind]().initialize(config)
    doc = b"sign doc"
    compared = 0
    for url, subaccount, pair, signer in itertools.product(
        auth.TRADING_MESSAGES, (0, 1), (0, 1), (TRADER, STRANGER)
    ):
        msg = _message(url, subaccount, pair)
        local = auth.refusal(tree, auth.action_of(url, msg.SerializeToString()), signer.public_key)
        request = model_types.AuthenticationRequest(
            account=TRADER.address, msg_type_url=url, msg=msg, signature=signer.sign(doc),
            sign_bytes=doc, verify=signature_is_valid,
        )  # fmt: skip
        try:
            instance.authenticate(request)
            chain_code = None
        except Reject as refused:
            chain_code = refused.code
        outer = {auth.ALL_OF: 104, auth.ANY_OF: 105}.get(kind)
        expected = None if local is None else (outer or local[0])
        assert chain_code == expected, (name, url, subaccount, pair, signer.address, local)
        compared += 1
    assert compared == 24
