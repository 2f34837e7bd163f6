"""Managing trading keys with the owner's mnemonic: add, list and remove authenticators.

MsgAddAuthenticator / MsgRemoveAuthenticator are ordinary (non-clob) messages: the owner
signs them, they pay a fee, and the module runs them in DeliverTx (x/accountplus/keeper/
msg_server.go), so their outcome is the block result, not the CheckTx answer. Everything
the chain would refuse is refused here first, with the reason (authenticators.validate).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dydxctl import authenticators as auth
from dydxctl import chain, codes, logs
from dydxctl.errors import BadInput, ChainRejected, Unreachable

if TYPE_CHECKING:
    from dydxctl.runtime import Runtime
    from dydxctl.tx import SignedTx

log = logs.get("keys")

# Fees for non-clob txs, as the official client computes them (v4-client-py-v2 node/fee.py,
# config.py): simulated gas × 1.4, priced at 0.025 of the USDC denom per gas — the floor
# of dYdX validators' min-gas-prices. Clob txs pay nothing (app/ante/gas.go).
USDC_DENOM = "ibc/8E27BA2D5493AF5636760E354E46004562C46AB7EC0CC4C1CA14E9E20E2545B5"
GAS_PRICE_USDC = Decimal("0.025")
GAS_MULTIPLIER = Decimal("1.4")
FALLBACK_GAS_LIMIT = 200_000  # when the node does not simulate (the emulator reports 0)
INCLUSION_TIMEOUT_S = 30.0
INCLUSION_POLL_S = 0.25


@dataclass(frozen=True)
class KeyInfo:
    id: int
    type: str
    description: str
    tree: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "description": self.description,
                "authenticator": self.tree}  # fmt: skip


def _fee(gas_used: int | None) -> tuple[int, str, int]:
    gas_limit = max(FALLBACK_GAS_LIMIT, math.ceil(Decimal(gas_used or 0) * GAS_MULTIPLIER))
    return math.ceil(gas_limit * GAS_PRICE_USDC), USDC_DENOM, gas_limit


def _sign_owner_tx(rt: Runtime, message: Any) -> SignedTx:
    """Signed by the owner with a timestamp nonce (x/accountplus/keeper/timestampnonce.go:
    two key changes in one block never race for a sequence), fee from a simulation."""
    from dydxctl.lifecycle import account_number
    from dydxctl.tx import sign_tx, timestamp_nonce

    wallet = rt.owner_wallet()
    number = account_number(rt, wallet.address, store=None)

    def signed(fee: tuple[int, str, int]) -> SignedTx:
        return sign_tx(
            wallet, [message], chain_id=rt.settings.chain_id, account_number=number,
            sequence=timestamp_nonce(), fee=fee,
        )  # fmt: skip

    probe = signed(_fee(None))
    return signed(_fee(rt.node().simulate_gas(probe.tx_bytes)))


def _broadcast_and_wait(rt: Runtime, signed: SignedTx, what: str) -> str:
    """BroadcastTx (CheckTx), then the block result (GetTx): the message runs in DeliverTx."""
    node = rt.node()
    answer = node.broadcast(signed.tx_bytes, signed.tx_hash)
    if not answer.accepted:
        raise answer.rejection()
    deadline = time.monotonic() + INCLUSION_TIMEOUT_S
    while time.monotonic() < deadline:
        result = node.get_tx(signed.tx_hash)
        if result is not None:
            if not result.accepted:
                raise result.rejection()
            log.info("%s tx=%s included", what, signed.tx_hash)
            return signed.tx_hash
        time.sleep(INCLUSION_POLL_S)
    raise Unreachable(
        f"The {what} tx {signed.tx_hash} was accepted but not seen in a block within "
        f"{INCLUSION_TIMEOUT_S:.0f} s.",
        "Run `dydxctl keys list` in a moment to see whether it took effect.",
        tx_hash=signed.tx_hash,
    )


def _markets_by_clob_pair(rt: Runtime) -> dict[int, str]:
    try:
        return {
            int(data["clobPairId"]): ticker
            for ticker, data in rt.indexer().perpetual_markets().items()
        }
    except (Unreachable, KeyError, ValueError):
        return {}


def clob_pair_ids_for(rt: Runtime, tickers: list[str]) -> list[int]:
    from dydxctl.lifecycle import load_market

    return [load_market(rt, ticker, store=None).clob_pair_id for ticker in tickers]


def add_key(
    rt: Runtime, public_key: bytes, *, subaccounts: list[int], markets: list[str]
) -> dict[str, Any]:
    """Register `public_key` as a trading key of the owner's account: AllOf(signature,
    place/cancel/batch-cancel, [subaccounts], [markets]). Returns the new authenticator."""
    from dydxctl.tx import add_authenticator_msg
    from dydxctl.wallet import address_from_public_key

    if len(public_key) != chain.SECP256K1_PUBKEY_SIZE or public_key[0] not in (2, 3):
        raise BadInput(
            f"A trading key's public key is {chain.SECP256K1_PUBKEY_SIZE} bytes, compressed "
            f"(02… or 03…); this one has {len(public_key)} bytes.",
            "Pass --public-key as 66 hex digits, or --key-file with the trader's key.",
        )
    clob_pair_ids = clob_pair_ids_for(rt, markets) if markets else []
    kind, config = auth.trading_key(
        public_key, subaccounts=subaccounts, clob_pair_ids=clob_pair_ids
    )
    auth.validate(kind, config)
    owner = rt.owner_wallet().address
    signed = _sign_owner_tx(rt, add_authenticator_msg(owner, kind, config))
    tx_hash = _broadcast_and_wait(rt, signed, "add-authenticator")
    # MsgAddAuthenticatorResponse carries no id: the new one is the highest with our config.
    ours = [i for i, t, c in rt.node().authenticators(owner) if (t, c) == (kind, config)]
    if not ours:
        raise Unreachable(
            f"The add-authenticator tx {tx_hash} was included, but the node does not list it.",
            "Run `dydxctl keys list` to check.",
        )
    info = _info(max(ours), kind, config, _markets_by_clob_pair(rt) if markets else {})
    return {**info.to_dict(), "owner": owner, "key_address": address_from_public_key(public_key),
            "public_key": public_key.hex(), "tx_hash": tx_hash}  # fmt: skip


def _info(auth_id: int, kind: str, config: bytes, markets: dict[int, str]) -> KeyInfo:
    try:
        tree = auth.decode(kind, config)
    except BadInput as exc:
        return KeyInfo(auth_id, kind, f"unusable: {exc.message}", {"type": kind})
    return KeyInfo(auth_id, kind, auth.describe(tree, markets), auth.to_json(tree))


def list_keys(rt: Runtime, address: str) -> list[KeyInfo]:
    """The account's authenticators (GetAuthenticators), decoded into words."""
    stored = rt.node().authenticators(address)
    markets = _markets_by_clob_pair(rt) if stored else {}
    return [_info(i, t, c, markets) for i, t, c in stored]


def remove_key(rt: Runtime, authenticator_id: int) -> dict[str, Any]:
    from dydxctl.tx import remove_authenticator_msg

    owner = rt.owner_wallet().address
    known = {i for i, _t, _c in rt.node().authenticators(owner)}
    if authenticator_id not in known:
        described = codes.describe(codes.ACCOUNTPLUS, codes.AUTHENTICATOR_NOT_FOUND)
        raise ChainRejected(
            f"{owner} has no authenticator {authenticator_id}; the chain would refuse the "
            f"removal ({codes.ACCOUNTPLUS} 1 {described.name}). Nothing was sent.",
            "Run `dydxctl keys list` for the account's ids."
            + (f" It has: {', '.join(map(str, sorted(known)))}." if known else " It has none."),
            codespace=codes.ACCOUNTPLUS,
            code=codes.AUTHENTICATOR_NOT_FOUND,
        )
    signed = _sign_owner_tx(rt, remove_authenticator_msg(owner, authenticator_id))
    tx_hash = _broadcast_and_wait(rt, signed, "remove-authenticator")
    return {"id": authenticator_id, "owner": owner, "removed": True, "tx_hash": tx_hash}
