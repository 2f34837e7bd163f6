"""Whose row is this? One store holds the orders of several chains and wallets; a command
acts only on its own chain's rows, and signs only for the wallet's own orders.

An order of another chain or wallet is refused (exit 2) with the --network or wallet that
owns it named, before anything is signed or broadcast: a cancel signed with the wrong
chain id or key can only fail, and marking the order by another chain's height would
corrupt its row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dydxctl.errors import BadInput, StoreError

if TYPE_CHECKING:
    from v4_proto.dydxprotocol.clob.order_pb2 import OrderId

    from dydxctl.runtime import Runtime


def network_option(chain_id: str) -> str:
    """The global option that selects a chain: --network NAME when a profile has it."""
    from dydxctl.config import NETWORKS

    for network in NETWORKS.values():
        if network.chain_id == chain_id:
            return f"--network {network.name}"
    return f"--chain-id {chain_id}"


def refuse_other_chain(rt: Runtime, key: str) -> None:
    """Raise when `key` is not on this chain but the store has it for another chain."""
    others = rt.store().elsewhere(key)
    if not others:
        return
    chains = sorted({r["chain_id"] for r in others})
    options = " or ".join(network_option(c) for c in chains)
    raise BadInput(
        f"Order {key.strip()} is stored for chain {', '.join(chains)}, not for "
        f"{rt.settings.chain_id} (the chain this command uses). Nothing was sent.",
        f"Run the command again with {options}. (If this chain has an order with the same "
        "OrderId, placed elsewhere, `dydxctl sync --import` records it here first.)",
        order_id=others[0]["order_id"],
        chain_id=chains[0],
    )


def require_owner(rt: Runtime, row: dict[str, Any]) -> None:
    """Raise when the row is another chain's, or another wallet's (it could not be
    cancelled with this key)."""
    if row["chain_id"] != rt.settings.chain_id:
        raise BadInput(
            f"Order {row['order_id']} belongs to chain {row['chain_id']}, not "
            f"{rt.settings.chain_id}. Nothing was sent.",
            f"Run the command again with {network_option(row['chain_id'])}.",
            order_id=row["order_id"],
        )
    address = rt.wallet().address
    if row["address"] != address:
        raise BadInput(
            f"Order {row['order_id']} belongs to wallet {row['address']}, not to this "
            f"wallet ({address}). Nothing was sent.",
            f"Use the mnemonic of {row['address']} (DYDX_MNEMONIC or --mnemonic-file).",
            order_id=row["order_id"],
        )


def stored_order_id(row: dict[str, Any]) -> OrderId:
    """The stored OrderId, checked against the row it belongs to: corrupt bytes must not
    become a cancel of some other order."""
    from dydxctl.orders import decode_order_id, indexer_uuid_of

    try:
        order_id = decode_order_id(row["order_id_proto"] or "")
        matches = indexer_uuid_of(order_id) == row["order_id"]
    except Exception as exc:  # any decoding failure: the stored bytes are bad
        raise _corrupt(row, str(getattr(exc, "message", exc))) from None
    if not matches:
        raise _corrupt(row, "they name another order")
    return order_id


def _corrupt(row: dict[str, Any], why: str) -> StoreError:
    return StoreError(
        f"The stored OrderId of order {row['order_id']} is corrupt ({why}). Nothing was sent.",
        f"Run `dydxctl sync`, or cancel it by its id after removing the row; "
        f"the Indexer rebuilds the OrderId of {row['order_id']}.",
        order_id=row["order_id"],
    )
