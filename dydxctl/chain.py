"""Every dYdX v4 chain rule dydxctl relies on, written once, named as the chain names it.

Paths are relative to github.com/dydxprotocol/v4-chain (checked at v5.0.0 … v9.6.1).
Nothing here does I/O; the emulator and the client both import these names.
"""

from __future__ import annotations

import uuid
from typing import Final

# --- Order flags: protocol/x/clob/types/order_id.go (OrderIdFlags_*) -------------------
ORDER_FLAGS_SHORT_TERM: Final = 0
ORDER_FLAGS_CONDITIONAL: Final = 32
ORDER_FLAGS_LONG_TERM: Final = 64
ORDER_FLAGS_TWAP: Final = 128  # v9+
ORDER_FLAGS_TWAP_SUBORDER: Final = 256  # internal to the chain; never sent by a client
VALID_ORDER_FLAGS: Final = frozenset(
    {ORDER_FLAGS_SHORT_TERM, ORDER_FLAGS_CONDITIONAL, ORDER_FLAGS_LONG_TERM, ORDER_FLAGS_TWAP}
)


def is_stateful(order_flags: int) -> bool:
    """Every non-zero flag is stateful (order_id.go `IsStatefulOrder`)."""
    return order_flags != ORDER_FLAGS_SHORT_TERM


# --- Windows: protocol/x/clob/types/constants.go ----------------------------------------
# ShortBlockWindow is 20 up to v9.4.x and 40 from v9.5.0. 20 is valid on every version,
# so it is the default bound; a network profile may raise it.
SHORT_BLOCK_WINDOW: Final = 20
SHORT_BLOCK_WINDOW_V9_5: Final = 40
# StatefulOrderTimeWindow = 95 days, unchanged v5 … v9.6.
STATEFUL_ORDER_TIME_WINDOW_SECONDS: Final = 95 * 24 * 60 * 60
# MaxMsgBatchCancelBatchSize (protocol/x/clob/types/message_batch_cancel.go).
MAX_MSG_BATCH_CANCEL_BATCH_SIZE: Final = 100


def short_block_window_for(version: str) -> int:
    """The ShortBlockWindow a node of this application version enforces ("v9.6.1")."""
    parts = version.lstrip("v").split("-")[0].split(".")
    try:
        major, minor = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return SHORT_BLOCK_WINDOW
    return SHORT_BLOCK_WINDOW_V9_5 if (major, minor) >= (9, 5) else SHORT_BLOCK_WINDOW


def good_til_block_bounds(latest_height: int, window: int = SHORT_BLOCK_WINDOW) -> tuple[int, int]:
    """Valid GTB for a short-term place or cancel: latest+1 ≤ GTB ≤ latest+1+window.

    protocol/x/clob/keeper/orders.go `validateGoodTilBlock`: below → clob 10,
    above → clob 11, zero → clob 5.
    """
    return latest_height + 1, latest_height + 1 + window


def short_term_cancel_good_til_block(order_gtb: int, latest_height: int) -> int | None:
    """GTB for cancelling a short-term order: max(order GTB, latest+1); None if expired.

    protocol/x/clob/memclob/memclob.go `CancelOrder` removes a resting order only when the
    cancel's GTB ≥ the order's GTB, and the GTB must pass `validateGoodTilBlock`.
    The order is gone once block GTB is processed, i.e. when latest ≥ GTB.
    """
    if latest_height >= order_gtb:
        return None
    return max(order_gtb, latest_height + 1)


def batch_cancel_good_til_block(order_gtbs: list[int], latest_height: int) -> int | None:
    """One GTB for a MsgBatchCancel (it carries a single good_til_block for all its ids):
    the highest of its orders' `short_term_cancel_good_til_block`, so it is ≥ every
    order's GTB (memclob `CancelOrder` removes each) and inside `validateGoodTilBlock`'s
    window, as each order's GTB already is. None when any of them has expired."""
    gtbs = [short_term_cancel_good_til_block(gtb, latest_height) for gtb in order_gtbs]
    if not gtbs or None in gtbs:
        return None
    return max(g for g in gtbs if g is not None)


# --- Sequences and nonces -----------------------------------------------------------------
# protocol/x/accountplus/keeper/timestampnonce.go (since v6.0.0): a sequence at or above
# this cutoff is a unix-ms timestamp nonce, valid within ±30 s of the block time.
TIMESTAMP_NONCE_SEQUENCE_CUTOFF: Final = 1 << 40
MAX_TIME_IN_FUTURE_FOR_TIMESTAMP_NONCE_MS: Final = 30_000
MAX_TIME_IN_PAST_FOR_TIMESTAMP_NONCE_MS: Final = 30_000
MAX_TIMESTAMP_NONCE_ARR_SIZE: Final = 20

# --- Indexer identities: indexer/packages/postgres/src/helpers/uuid.ts ---------------------
INDEXER_UUID_NAMESPACE: Final = uuid.UUID("0f9da948-a6fb-4c45-9edc-4685c3f3317d")


def indexer_subaccount_uuid(address: str, subaccount_number: int) -> str:
    """stores/subaccount-table.ts `uuid`: uuid5 of "{address}-{subaccountNumber}"."""
    return str(uuid.uuid5(INDEXER_UUID_NAMESPACE, f"{address}-{subaccount_number}"))


def indexer_order_uuid(
    address: str, subaccount_number: int, client_id: int, clob_pair_id: int, order_flags: int
) -> str:
    """stores/order-table.ts `uuid`: uuid5 of "{subaccountUuid}-{clientId}-{clobPairId}-{flags}"."""
    sub = indexer_subaccount_uuid(address, subaccount_number)
    return str(
        uuid.uuid5(INDEXER_UUID_NAMESPACE, f"{sub}-{client_id}-{clob_pair_id}-{order_flags}")
    )


# --- Proto enums: proto/dydxprotocol/clob/order.proto -------------------------------------
SIDE_BUY: Final = 1
SIDE_SELL: Final = 2
TIME_IN_FORCE_UNSPECIFIED: Final = 0  # good-til-time
TIME_IN_FORCE_IOC: Final = 1
TIME_IN_FORCE_POST_ONLY: Final = 2
TIME_IN_FORCE_FILL_OR_KILL: Final = 3
CONDITION_TYPE_UNSPECIFIED: Final = 0
CONDITION_TYPE_STOP_LOSS: Final = 1
CONDITION_TYPE_TAKE_PROFIT: Final = 2

# --- Message type URLs (protocol/x/clob/types/tx.pb.go) ------------------------------------
MSG_PLACE_ORDER_URL: Final = "/dydxprotocol.clob.MsgPlaceOrder"
MSG_CANCEL_ORDER_URL: Final = "/dydxprotocol.clob.MsgCancelOrder"
MSG_BATCH_CANCEL_URL: Final = "/dydxprotocol.clob.MsgBatchCancel"
# x/accountplus (protocol/x/accountplus/types/tx.pb.go): permissioned keys.
MSG_ADD_AUTHENTICATOR_URL: Final = "/dydxprotocol.accountplus.MsgAddAuthenticator"
MSG_REMOVE_AUTHENTICATOR_URL: Final = "/dydxprotocol.accountplus.MsgRemoveAuthenticator"
TX_EXTENSION_URL: Final = "/dydxprotocol.accountplus.TxExtension"
SECP256K1_PUBKEY_URL: Final = "/cosmos.crypto.secp256k1.PubKey"
BASE_ACCOUNT_URL: Final = "/cosmos.auth.v1beta1.BaseAccount"

# --- Identity field widths: proto/dydxprotocol/clob/order.proto (client_id is fixed32) ------
CLIENT_ID_MAX: Final = 2**32 - 1
# protocol/x/subaccounts/types/subaccount.go MaxSubaccountIdNumber (v9.6.1): "0 ... 128,000
# are valid numbers"; SubaccountId.Validate refuses anything above (subaccounts 2).
# Child subaccounts (128, 256, …) are ordinary numbers inside this range.
MAX_SUBACCOUNT_ID_NUMBER: Final = 128_000

# --- Keys: BIP-44 coin type 118 (Cosmos), bech32 prefix "dydx" -----------------------------
# cosmos-sdk crypto/keys/secp256k1: PubKeySize = 33 (compressed); signatures are r‖s with
# S ≤ order/2 (VerifySignature rejects malleable high-S forms).
SECP256K1_PUBKEY_SIZE: Final = 33
SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
DERIVATION_PATH: Final = "m/44'/118'/0'/0/0"
BECH32_PREFIX: Final = "dydx"

ORDER_KIND_NAMES: Final = {
    ORDER_FLAGS_SHORT_TERM: "short-term",
    ORDER_FLAGS_CONDITIONAL: "conditional",
    ORDER_FLAGS_LONG_TERM: "long-term",
    ORDER_FLAGS_TWAP: "twap",
}


def order_kind(order_flags: int) -> str:
    """A person's name for the order's flags."""
    return ORDER_KIND_NAMES.get(order_flags, f"flags {order_flags}")
