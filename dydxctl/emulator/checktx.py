"""CheckTx as a dYdX v9.6.1 node runs it for clob txs, in the chain's order of checks.

CometBFT mempool cache (sdk 19) → tx decode (sdk 2) → ValidateBasic of every message
(baseapp runTx, before the ante handler) → app/ante.go clobAnteHandle:
TxTimeoutHeightDecorator (sdk 30), SetPubKeyDecorator (key ≠ signer: sdk 8; no account:
sdk 9), sequence / timestamp nonce (sdk 32), signature (sdk 4) — or, for a tx selecting
authenticators, x/accountplus's authenticator flow instead —, ClobRateLimitDecorator
(clob 5001), ClobDecorator (short-term message not alone: sdk 18; then the clob keeper).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dydxctl.emulator import accountplus, memclob, rules, stateful, txcodec, validate_basic
from dydxctl.emulator.crypto import address_of, signature_is_valid
from dydxctl.emulator.errors import Reject
from dydxctl.emulator.indexer_model import order_key, uuid_of
from dydxctl.emulator.state import Account, ChainState, PendingTx


@dataclass(frozen=True)
class TxResult:
    tx_hash: str
    code: int = 0
    codespace: str = ""
    log: str = ""


def check_tx(state: ChainState, tx_bytes: bytes) -> TxResult:
    """Check a broadcast tx and, when accepted, apply it (short-term: at once; stateful:
    into the check state and the mempool, delivered in the next block)."""
    digest = txcodec.tx_hash(tx_bytes)
    with state.lock:
        # CometBFT clist_mempool.go CheckTx: bytes seen before are answered from the cache
        # (ErrTxInCache → sdk 19), valid or not (KeepInvalidTxsInCache = true on dYdX).
        if digest in state.mempool_cache:
            state.mempool_cache.move_to_end(digest)
            return TxResult(digest, 19, rules.SDK, "tx already exists in cache")
        state.mempool_cache[digest] = None
        while len(state.mempool_cache) > rules.MEMPOOL_CACHE_SIZE:
            state.mempool_cache.popitem(last=False)
        try:
            _check(state, tx_bytes, digest)
        except Reject as rejection:
            result = TxResult(digest, rejection.code, rejection.codespace, rejection.log)
        else:
            result = TxResult(digest)
        state.sync_indexer()
        return result


def _check(state: ChainState, tx_bytes: bytes, digest: str) -> None:
    try:
        tx = txcodec.decode(tx_bytes)
    except txcodec.UndecodableTx as exc:
        raise Reject(rules.SDK, 2, str(exc)) from None
    for url, msg in tx.messages:
        validate_basic.message(url, msg, state.version)
    short_term = [txcodec.is_short_term_msg(url, msg) for url, msg in tx.messages]
    # app/ante.go clobAnteHandle, in order: TxTimeoutHeightDecorator (sdk 30), …
    if tx.timeout_height and tx.timeout_height < state.height + 1:
        raise Reject(rules.SDK, 30, f"tx timeout height {tx.timeout_height} has passed")
    owners = {txcodec.owner_of(url, msg) for url, msg in tx.messages}
    if len(owners) != 1:  # GetSigners: one signer per owner, and there is one signature
        raise Reject(rules.SDK, 4, f"wrong number of signers; expected {len(owners)}, got 1")
    [owner] = owners
    if len(tx.public_key) != rules.PUBKEY_SIZE:
        raise Reject(rules.SDK, 8, "invalid secp256k1 public key length")
    # … sigVerification: x/accountplus/ante/circuit_breaker.go sends a tx whose TxExtension
    # selects authenticators down the authenticator flow, any other down the default one.
    skip_sequence = all(short_term)
    if tx.selected_authenticators:
        address, account = _authenticator_flow(state, tx, owner, skip_sequence)
    else:
        address, account = _default_flow(state, tx, owner, skip_sequence)

    clob_messages = [(url, msg) for url, msg in tx.messages if txcodec.is_clob_msg(url)]
    for url, msg in clob_messages:
        _rate_limit(state, url, msg)
    # … ClobDecorator: ValidateMsgsInClobTx (a short-term clob message must be alone,
    # sdk 18), then the clob keeper. CheckTx runs on a branch of the check state: a failing
    # message discards it all.
    if any(short_term) and len(tx.messages) > 1:
        raise Reject(
            rules.SDK,
            18,
            "a transaction containing short term order may not contain "
            "more than one message: invalid request",
        )
    saved = dict(state.uncommitted_places), dict(state.uncommitted_cancels)
    try:
        for url, msg in clob_messages:
            _clob_check(state, url, msg, tx.timeout_height)
    except Reject:
        state.uncommitted_places, state.uncommitted_cancels = saved
        raise
    for url, msg in clob_messages:
        if url == rules.URL_PLACE:
            oid = msg.order.order_id
            state.accepted[uuid_of(oid)] = order_key(oid)
            if oid.order_flags == rules.FLAGS_SHORT_TERM:  # memclob.go: checked when matched
                makers = state.accountplus.maker_authenticators
                if tx.selected_authenticators:
                    makers[order_key(oid)] = (owner, tx.selected_authenticators)
                else:
                    makers.pop(order_key(oid), None)

    if not skip_sequence:
        if tx.sequence >= rules.TIMESTAMP_NONCE_CUTOFF:
            account.check_nonces = sorted({*account.check_nonces, tx.sequence})[
                -rules.TIMESTAMP_NONCES_KEPT :
            ]
        else:
            account.check_sequence += 1
        pending = PendingTx(digest, address, tx.sequence, tx.messages)
        if tx.selected_authenticators:
            # DeliverTx runs the ante handler again: an authenticator removed meanwhile
            # fails the tx in its block (dydxaccountplus 1) and the sequence does not move.
            pending.reauthenticate = lambda: _authenticate(state, tx)
        if state.deliver_faults:
            pending.fault = state.deliver_faults.pop(0)
        elif state.drops_pending:
            state.drops_pending -= 1
            pending.dropped = True
        state.mempool.append(pending)


def _default_flow(
    state: ChainState, tx: txcodec.Tx, owner: str, skip_sequence: bool
) -> tuple[str, Account]:
    """SetPubKeyDecorator: the key must be the signer's (sdk 8), the signer an account (9);
    replay protection / SigVerificationDecorator: the sequence or timestamp nonce (sdk 32;
    skipped for all-short-term txs, app/ante/util.go ShouldSkipSequenceValidation), then
    the signature (sdk 4)."""
    address = address_of(tx.public_key)
    if address != owner:
        raise Reject(
            rules.SDK,
            8,
            f"pubKey does not match signer address {owner} with signer index: 0: invalid pubkey",
        )
    account = state.account(address)
    if account is None:
        raise Reject(rules.SDK, 9, f"account {address} not found: unknown address")
    if not skip_sequence:
        _check_sequence(state, account, tx.sequence)
    if not signature_is_valid(
        tx.public_key, txcodec.sign_doc(tx, state.chain_id, account.account_number), tx.signature
    ):
        raise Reject(
            rules.SDK,
            4,
            "signature verification failed; please verify account "
            f"number ({account.account_number}), sequence ({tx.sequence}) and chain-id "
            f"({state.chain_id})",
        )
    account.public_key = tx.public_key
    return address, account


def _authenticator_flow(
    state: ChainState, tx: txcodec.Tx, owner: str, skip_sequence: bool
) -> tuple[str, Account]:
    """The authenticator flow (x/accountplus/ante/ante.go), which has no SetPubKeyDecorator:
    the tx's signer is the messages' signer — the owner — whatever key signed. Replay
    protection (app/ante/replay_protection.go, before sigVerification in clobAnteHandle)
    uses the owner's sequence or timestamp nonce; no public key is set on the owner's
    account."""
    account = state.account(owner)
    if account is None:
        raise Reject(rules.SDK, 9, f"account {owner} does not exist: unknown address")
    if not skip_sequence:
        _check_sequence(state, account, tx.sequence)
    _authenticate(state, tx)
    return owner, account


def _authenticate(state: ChainState, tx: txcodec.Tx) -> None:
    def sign_bytes_for(signer: str) -> bytes:
        # lib/authentication_request.go getSignerData: the signer's account number.
        return txcodec.sign_doc(tx, state.chain_id, state.accounts[signer].account_number)

    accountplus.authenticate_tx(
        state.accountplus,
        selected=list(tx.selected_authenticators),
        messages=[(url, msg, txcodec.owner_of(url, msg)) for url, msg in tx.messages],
        signature=tx.signature,
        sign_bytes_for=sign_bytes_for,
        verify=signature_is_valid,
    )


def _check_sequence(state: ChainState, account: Account, sequence: int) -> None:
    if sequence >= rules.TIMESTAMP_NONCE_CUTOFF:
        # x/accountplus/keeper/timestampnonce.go: within ±30 s of the block time, unused,
        # and above the smallest kept nonce once the list is full.
        block_ms = int(state.block_time * 1000)
        if sequence > block_ms + rules.TIMESTAMP_NONCE_MAX_FUTURE_MS:
            raise Reject(rules.SDK, 32, f"timestamp nonce {sequence} is too far in the future")
        if sequence < block_ms - rules.TIMESTAMP_NONCE_MAX_PAST_MS:
            raise Reject(rules.SDK, 32, f"timestamp nonce {sequence} is too far in the past")
        if sequence in account.check_nonces:
            raise Reject(rules.SDK, 32, f"timestamp nonce {sequence} already used")
        full = len(account.check_nonces) >= rules.TIMESTAMP_NONCES_KEPT
        if full and sequence <= min(account.check_nonces):
            raise Reject(rules.SDK, 32, f"timestamp nonce {sequence} is below the ejected minimum")
        return
    if sequence != account.check_sequence:
        raise Reject(
            rules.SDK,
            32,
            "account sequence mismatch, expected "
            f"{account.check_sequence}, got {sequence}: incorrect account sequence",
        )


def _rate_limit(state: ChainState, url: str, msg: Any) -> None:
    """keeper/rate_limit.go RateLimit{Place,Cancel}Order / RateLimitBatchCancel: skipped for
    an unknown clob pair; short-term GTBs are validated first (replay protection)."""
    limiter = state.rate_limiter
    if not limiter.enabled:
        return
    next_block = state.height + 1
    if url == rules.URL_BATCH_CANCEL:
        if any(b.clob_pair_id not in state.markets for b in msg.short_term_cancels):
            return
        memclob.check_good_til_block(state, msg.good_til_block)
        refusal = limiter.count(
            "short_term", msg.subaccount_id.owner, next_block, rules.BATCH_CANCEL_RATE_LIMIT_WEIGHT
        )
    else:
        order_id = txcodec.order_id_of(url, msg)
        if order_id.clob_pair_id not in state.markets:
            return
        owner = order_id.subaccount_id.owner
        if order_id.order_flags == rules.FLAGS_SHORT_TERM:
            gtb = msg.order.good_til_block if url == rules.URL_PLACE else msg.good_til_block
            memclob.check_good_til_block(state, gtb)
            refusal = limiter.count("short_term", owner, next_block)
        elif url == rules.URL_PLACE:
            refusal = limiter.count("stateful", owner, next_block)
        else:
            refusal = None  # stateful cancels are not rate limited
    if refusal:
        raise Reject(rules.CLOB, 5001, f"{refusal}: block rate limit exceeded")


def _clob_check(state: ChainState, url: str, msg: Any, timeout_height: int) -> None:
    """x/clob/ante/clob.go ClobDecorator.AnteHandle."""
    if url == rules.URL_BATCH_CANCEL:
        memclob.batch_cancel(state, msg)
    elif url == rules.URL_CANCEL:
        if msg.order_id.order_flags == rules.FLAGS_SHORT_TERM:
            memclob.cancel(state, msg.order_id, msg.good_til_block)
        else:
            stateful.check_cancel(state, msg)
    elif msg.order.order_id.order_flags == rules.FLAGS_SHORT_TERM:
        # HOTFIX in clob.go: a short-term PLACE (only) with 0 < timeout height < GTB → sdk 18.
        if timeout_height and timeout_height < msg.order.good_til_block:
            raise Reject(
                rules.SDK,
                18,
                "timeout height (if non-zero) may not be less than "
                "`goodTilBlock` for a short-term place order: invalid request",
            )
        memclob.place(state, msg.order)
    else:
        stateful.check_place(state, msg.order)
