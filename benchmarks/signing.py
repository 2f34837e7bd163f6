"""Microseconds per signed transaction (build, SIGN_MODE_DIRECT, serialize, hash)."""

from __future__ import annotations

import json
import time
from typing import Any

from benchmarks.common import BENCH_MNEMONIC
from dydxctl.orders import make_order_id
from dydxctl.tx import cancel_order_msg, sign_tx
from dydxctl.wallet import Wallet


def run(count: int = 2000) -> dict[str, Any]:
    wallet = Wallet.from_mnemonic(BENCH_MNEMONIC)
    oid = make_order_id(wallet.address, 0, 7, 0, 0)
    started = time.perf_counter()
    for i in range(count):
        msg = cancel_order_msg(oid, good_til_block=100 + i)
        sign_tx(wallet, [msg], chain_id="dydx-mainnet-1", account_number=1, sequence=0)
    per_tx = (time.perf_counter() - started) / count * 1e6
    started = time.perf_counter()
    for i in range(count):
        wallet.sign(i.to_bytes(8, "big"))
    per_sig = (time.perf_counter() - started) / count * 1e6
    return {"signed_tx_us": per_tx, "signature_only_us": per_sig, "count": count}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
