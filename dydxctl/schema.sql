-- dydxctl order-metadata store: the current schema.
-- Applied by the first migration in dydxctl/store.py (sqlite_utils.migrations.Migrations);
-- later migrations upgrade older stores to match this file. Every statement is idempotent.

-- One row per order this store knows, keyed by the Indexer's order UUID
-- (indexer/packages/postgres/src/stores/order-table.ts `uuid`) AND the chain id: the UUID
-- is derived from the OrderId alone, so the same OrderId on two chains has the same UUID.
-- The UUID comes first in the key so that a lookup by UUID alone (which chain has this
-- order?) uses the key's index too.
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT NOT NULL,                   -- Indexer order UUID
    chain_id TEXT NOT NULL,
    address TEXT NOT NULL,                    -- bech32 owner of the subaccount
    subaccount_number INTEGER NOT NULL,
    client_id INTEGER NOT NULL,               -- fixed32 on the chain
    clob_pair_id INTEGER NOT NULL,
    order_flags INTEGER NOT NULL,             -- 0 short-term, 32 conditional, 64 long-term
    order_id_proto TEXT NOT NULL,             -- base64 of the OrderId protobuf bytes
    market TEXT NOT NULL,                     -- ticker, e.g. BTC-USD
    side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    type TEXT NOT NULL,                       -- LIMIT, MARKET, STOP_LIMIT, ...
    time_in_force TEXT NOT NULL,              -- GTT, IOC, FOK, POST_ONLY
    reduce_only INTEGER NOT NULL DEFAULT 0,
    quantums INTEGER NOT NULL,
    subticks INTEGER NOT NULL,
    size TEXT NOT NULL,                       -- decimal text, never a float
    price TEXT NOT NULL,                      -- decimal text, never a float
    good_til_block INTEGER,                   -- short-term orders only
    good_til_block_time INTEGER,              -- stateful orders only (unix seconds)
    trigger_subticks INTEGER,                 -- conditional orders only
    trigger_price TEXT,
    client_metadata INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN (
        'PENDING', 'OPEN', 'UNTRIGGERED', 'REJECTED', 'UNKNOWN',
        'CANCEL_PENDING', 'CANCELED', 'FILLED', 'EXPIRED')),
    source TEXT NOT NULL DEFAULT 'place',     -- place | indexer (recorded from the Indexer)
    place_tx_hash TEXT,
    cancel_tx_hash TEXT,
    cancel_good_til_block INTEGER,
    cancel_good_til_block_time INTEGER,
    created_at TEXT NOT NULL,                 -- ISO-8601 UTC, millisecond precision
    updated_at TEXT NOT NULL,
    last_error TEXT,
    signer_address TEXT,                      -- the trading key that placed it (NULL: the owner)
    authenticator_id INTEGER,                 -- its x/accountplus authenticator (NULL: none)
    seq INTEGER,                              -- insertion order: what order_events refer to
    PRIMARY KEY (order_id, chain_id),
    UNIQUE (chain_id, address, subaccount_number, client_id, clob_pair_id, order_flags)
);
-- Every query and prune is scoped to one chain, so every index starts with chain_id.
-- `orders --status S` lists newest first by creation; prune's final-row pass filters
-- updated_at within one status.
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (chain_id, status, created_at);
CREATE INDEX IF NOT EXISTS orders_by_good_til_block ON orders (chain_id, good_til_block)
    WHERE good_til_block IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_by_good_til_block_time
    ON orders (chain_id, good_til_block_time) WHERE good_til_block_time IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_by_client_id ON orders (chain_id, client_id);
-- `orders` lists newest first by creation time.
CREATE INDEX IF NOT EXISTS orders_by_created ON orders (chain_id, created_at);
-- The key order_events refer to. Unlike the UUID it grows with time, as the expiries do,
-- so the events of one prune batch sit together in order_events_by_order_seq instead of
-- all over a UUID-ordered index (each short prune transaction rewrote thousands of its
-- pages: 1M rows wrote 8 GB of WAL).
CREATE UNIQUE INDEX IF NOT EXISTS orders_by_seq ON orders (seq);

-- Every state change of an order. Deleted with its order (the cascade follows order_seq).
CREATE TABLE IF NOT EXISTS order_events (
    id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL,
    chain_id TEXT NOT NULL,
    order_seq INTEGER,                        -- orders.seq of (order_id, chain_id)
    at TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    tx_hash TEXT,
    detail TEXT,
    FOREIGN KEY (order_seq) REFERENCES orders (seq) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS order_events_by_order_seq ON order_events (order_seq, id);

-- Each cancel attempt, kept after its order is pruned: the source of `stats`.
CREATE TABLE IF NOT EXISTS cancel_attempts (
    id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL,
    chain_id TEXT,                            -- NULL on attempts recorded before m002
    market TEXT,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    kind TEXT,                                -- error kind on failure (errors.py)
    codespace TEXT,
    code INTEGER,
    latency_ms REAL NOT NULL,
    tx_hash TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS cancel_attempts_by_at ON cancel_attempts (at);

-- Market parameters from the Indexer's /v4/perpetualMarkets, with the time fetched.
CREATE TABLE IF NOT EXISTS market_cache (
    chain_id TEXT NOT NULL,
    ticker TEXT NOT NULL,
    clob_pair_id INTEGER NOT NULL,
    atomic_resolution INTEGER NOT NULL,
    quantum_conversion_exponent INTEGER NOT NULL,
    step_base_quantums INTEGER NOT NULL,
    subticks_per_tick INTEGER NOT NULL,
    oracle_price TEXT,
    status TEXT,
    fetched_at REAL NOT NULL,                 -- unix seconds
    PRIMARY KEY (chain_id, ticker)
);

-- Account numbers never change once an account exists: cache them.
CREATE TABLE IF NOT EXISTS account_cache (
    chain_id TEXT NOT NULL,
    address TEXT NOT NULL,
    account_number INTEGER NOT NULL,
    fetched_at REAL NOT NULL,
    PRIMARY KEY (chain_id, address)
);

-- The last observed block of each chain (and node), for the height estimate that lets a
-- place skip GetLatestBlock (height_estimate.py). observed_mono: time.monotonic() then.
CREATE TABLE IF NOT EXISTS chain_clock_cache (
    chain_id TEXT NOT NULL,
    grpc TEXT NOT NULL,
    height INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    observed_mono REAL NOT NULL,
    boot_id TEXT NOT NULL,
    block_ms INTEGER,
    PRIMARY KEY (chain_id, grpc)
);
