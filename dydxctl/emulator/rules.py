"""The chain's and the Indexer's rules as the emulator models them, each cited at its source.

Written independently of the product (dydxctl/chain.py says the same things for the
client): the emulator is the test oracle, so it must not share the product's mistakes.
Paths are relative to github.com/dydxprotocol/v4-chain at tag protocol/v9.6.1.
"""

from __future__ import annotations

import uuid
from typing import Final

# --- Application version --------------------------------------------------------------
# Mainnet runs protocol v9.6.1, testnet v9.6.0 (v4-documentation nodes/resources.mdx).
DEFAULT_APP_VERSION: Final = "9.6.1"


def parse_version(version: str) -> tuple[int, int, int]:
    """ "v9.6.1" / "9.6.1-rc0" → (9, 6, 1); unknown parts count as 0."""
    parts = version.strip().lstrip("v").split("-")[0].split(".")
    numbers = []
    for part in [*parts, "0", "0", "0"][:3]:
        try:
            numbers.append(int(part))
        except ValueError:
            raise ValueError(f"not an application version: {version!r}") from None
    return numbers[0], numbers[1], numbers[2]


# protocol/x/clob/types/constants.go ShortBlockWindow: 20 up to v9.4.x; raised to 40 in
# v9.5.0 (`git show protocol/v9.4.0:…` says 20, `protocol/v9.5.0:…` says 40).
SHORT_BLOCK_WINDOW_BEFORE_V9_5: Final = 20
SHORT_BLOCK_WINDOW_SINCE_V9_5: Final = 40
SHORT_BLOCK_WINDOW_CHANGED_IN: Final = (9, 5, 0)
# TWAP orders (flags 128) exist since v9.0.0 (x/clob/types/order_id.go OrderIdFlags_Twap).
TWAP_SINCE: Final = (9, 0, 0)


def short_block_window(version: tuple[int, int, int]) -> int:
    if version >= SHORT_BLOCK_WINDOW_CHANGED_IN:
        return SHORT_BLOCK_WINDOW_SINCE_V9_5
    return SHORT_BLOCK_WINDOW_BEFORE_V9_5


# constants.go StatefulOrderTimeWindow = 95 days (unchanged v5 … v9.6).
STATEFUL_ORDER_TIME_WINDOW_S: Final = 95 * 24 * 60 * 60
# types/message_batch_cancel.go MaxMsgBatchCancelBatchSize.
MAX_BATCH_CANCEL_IDS: Final = 100
# types/message_place_order.go: TWAP parameter bounds (seconds, ppm).
TWAP_MIN_INTERVAL: Final = 30
TWAP_MAX_INTERVAL: Final = 3_600
TWAP_MIN_DURATION: Final = 300
TWAP_MAX_DURATION: Final = 86_400
TWAP_MAX_PRICE_TOLERANCE: Final = 1_000_000
MAX_BUILDER_CODE_FEE_PPM: Final = 10_000

# --- Order identity: x/clob/types/order_id.go ------------------------------------------
FLAGS_SHORT_TERM: Final = 0
FLAGS_CONDITIONAL: Final = 32
FLAGS_LONG_TERM: Final = 64
FLAGS_TWAP: Final = 128
KNOWN_FLAGS: Final = frozenset({FLAGS_SHORT_TERM, FLAGS_CONDITIONAL, FLAGS_LONG_TERM, FLAGS_TWAP})

# --- proto/dydxprotocol/clob/order.proto enums ------------------------------------------
SIDE_BUY: Final = 1
SIDE_SELL: Final = 2
TIF_UNSPECIFIED: Final = 0
TIF_IOC: Final = 1
TIF_POST_ONLY: Final = 2
TIF_FILL_OR_KILL: Final = 3
KNOWN_TIFS: Final = frozenset({TIF_UNSPECIFIED, TIF_IOC, TIF_POST_ONLY, TIF_FILL_OR_KILL})
CONDITION_UNSPECIFIED: Final = 0
CONDITION_STOP_LOSS: Final = 1
CONDITION_TAKE_PROFIT: Final = 2
KNOWN_CONDITIONS: Final = frozenset({0, 1, 2})


def requires_immediate_execution(time_in_force: int) -> bool:
    """types/order.go RequiresImmediateExecution: IOC or FOK."""
    return time_in_force in (TIF_IOC, TIF_FILL_OR_KILL)


# --- Message type URLs ------------------------------------------------------------------
URL_PLACE: Final = "/dydxprotocol.clob.MsgPlaceOrder"
URL_CANCEL: Final = "/dydxprotocol.clob.MsgCancelOrder"
URL_BATCH_CANCEL: Final = "/dydxprotocol.clob.MsgBatchCancel"
URL_SECP256K1_PUBKEY: Final = "/cosmos.crypto.secp256k1.PubKey"
URL_BASE_ACCOUNT: Final = "/cosmos.auth.v1beta1.BaseAccount"

# --- Codespaces -------------------------------------------------------------------------
SDK: Final = "sdk"  # cosmos-sdk types/errors/errors.go
CLOB: Final = "clob"  # protocol/x/clob/types/errors.go

# --- Sequences and timestamp nonces: x/accountplus/keeper/timestampnonce.go (v6.0.0+) ---
TIMESTAMP_NONCE_CUTOFF: Final = 1 << 40
TIMESTAMP_NONCE_MAX_FUTURE_MS: Final = 30_000
TIMESTAMP_NONCE_MAX_PAST_MS: Final = 30_000
TIMESTAMP_NONCES_KEPT: Final = 20

# --- Keys: cosmos-sdk crypto/keys/secp256k1 ---------------------------------------------
PUBKEY_SIZE: Final = 33
SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
BECH32_HRP: Final = "dydx"

# --- CometBFT mempool: config/config.go DefaultMempoolConfig CacheSize; dYdX sets
# KeepInvalidTxsInCache = true (protocol/cmd/dydxprotocold/cmd/config.go), so refused
# bytes are remembered too and answered with sdk 19 (ErrTxInMempoolCache).
MEMPOOL_CACHE_SIZE: Final = 10_000

# --- Block rate limits: x/clob/rate_limit/order_rate_limiter.go --------------------------
# A MsgBatchCancel weighs BATCH_CANCEL_RATE_LIMIT_WEIGHT; stateful cancels are not limited.
BATCH_CANCEL_RATE_LIMIT_WEIGHT: Final = 2
# protocol/testing/genesis.sh (the localnet/testnet genesis): 400 short-term places and
# cancels per block; 2 stateful orders per block and 20 per 100 blocks. (num_blocks, limit)
GENESIS_SHORT_TERM_RATE_LIMITS: Final = ((1, 400),)
GENESIS_STATEFUL_RATE_LIMITS: Final = ((1, 2), (100, 20))

# --- Indexer identities: indexer/packages/postgres/src/helpers/uuid.ts --------------------
INDEXER_NAMESPACE: Final = uuid.UUID("0f9da948-a6fb-4c45-9edc-4685c3f3317d")


def subaccount_uuid(owner: str, number: int) -> str:
    """postgres/src/stores/subaccount-table.ts uuid(address, subaccountNumber)."""
    return str(uuid.uuid5(INDEXER_NAMESPACE, f"{owner}-{number}"))


def order_uuid(owner: str, number: int, client_id: int, clob_pair_id: int, flags: int) -> str:
    """postgres/src/stores/order-table.ts uuid(subaccountId, clientId, clobPairId, orderFlags)."""
    sub = subaccount_uuid(owner, number)
    return str(uuid.uuid5(INDEXER_NAMESPACE, f"{sub}-{client_id}-{clob_pair_id}-{flags}"))


def indexer_order_type(flags: int, condition_type: int) -> str:
    """ender scripts/helpers/dydx_protocol_convert_to_order_type.sql: never MARKET."""
    if flags == FLAGS_CONDITIONAL:
        return {CONDITION_STOP_LOSS: "STOP_LIMIT", CONDITION_TAKE_PROFIT: "TAKE_PROFIT"}.get(
            condition_type, "LIMIT"
        )
    if flags == FLAGS_TWAP:
        return "TWAP"
    return "LIMIT"


# comlink request-helpers/api-translations.ts orderTIFToAPITIF: POST_ONLY shows as GTT
# with postOnly true; FOK (deprecated) as FOK.
INDEXER_TIF: Final = {
    TIF_UNSPECIFIED: "GTT",
    TIF_IOC: "IOC",
    TIF_POST_ONLY: "GTT",
    TIF_FILL_OR_KILL: "FOK",
}
