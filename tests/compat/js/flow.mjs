// The official dYdX JS client (@dydxprotocol/v4-client-js) driving an emulator through its
// own public API, as its examples do (examples/short_term_order_cancel_example.ts,
// long_term_order_cancel_example.ts, batch_cancel_orders_example.ts): query the account, a
// clob pair and the Indexer market; place and cancel a short-term order; place and cancel a
// long-term order; place two short-term orders and batch-cancel them. After each step it
// asks the Indexer (getSubaccountOrders) for the orders' statuses.
//
//     node flow.mjs RPC_URL INDEXER_URL      (mnemonic in DYDX_MNEMONIC)
//
// Prints one JSON document; exits non-zero on the first failure. Talks only to the two URLs.
// The package's ESM build has extension-less imports Node cannot resolve; its CommonJS build
// (package.json "require") is the one Node users load.
import { createRequire } from 'node:module';

const {
  CompositeClient,
  IndexerConfig,
  LocalWallet,
  Network,
  OrderExecution,
  OrderFlags,
  OrderSide,
  OrderTimeInForce,
  OrderType,
  Order_TimeInForce,
  SubaccountInfo,
  ValidatorConfig,
} = createRequire(import.meta.url)('@dydxprotocol/v4-client-js');

const [rpcUrl, indexerUrl] = process.argv.slice(2);
const mnemonic = process.env.DYDX_MNEMONIC;
if (!rpcUrl || !indexerUrl || !mnemonic) {
  console.error('usage: DYDX_MNEMONIC=... node flow.mjs RPC_URL INDEXER_URL');
  process.exit(2);
}

const hex = (bytes) => Buffer.from(bytes).toString('hex').toUpperCase();
// A BroadcastTxSyncResponse (hash: bytes) or, for BroadcastTxCommit, an IndexedTx (hash: hex).
const outcome = (tx) => ({
  code: tx.code,
  hash: typeof tx.hash === 'string' ? tx.hash : hex(tx.hash),
  ...(tx.height !== undefined ? { height: tx.height } : {}),
});

const network = new Network(
  'local',
  new IndexerConfig(indexerUrl, 'ws://127.0.0.1:9/v4/ws'), // the websocket is never opened
  new ValidatorConfig(rpcUrl, 'localdydxprotocol', {
    CHAINTOKEN_DENOM: 'adv4tnt',
    USDC_DENOM: 'ibc/8E27BA2D5493AF5636760E354E46004562C46AB7EC0CC4C1CA14E9E20E2545B5',
    USDC_GAS_DENOM: 'uusdc',
    USDC_DECIMALS: 6,
    CHAINTOKEN_DECIMALS: 18,
  }, undefined, 'dydxctl compat flow'),
);

const wallet = await LocalWallet.fromMnemonic(mnemonic, 'dydx');
const subaccount = SubaccountInfo.forLocalWallet(wallet, 0);
const client = await CompositeClient.connect(network);
const get = client.validatorClient.get;

const account = await get.getAccount(wallet.address);
const clobPair = await get.getClobPair(0);
const markets = await client.indexerClient.markets.getPerpetualMarkets('BTC-USD');
const height = await get.latestBlockHeight();
const base = Math.floor(Math.random() * 1_000_000_000);
const steps = [];
// The Indexer's view of orders right after each step (null: the Indexer has no such order).
const indexerStatus = async (clientIds) => {
  const orders = await client.indexerClient.account.getSubaccountOrders(wallet.address, 0);
  const statusOf = (id) => orders.find((o) => o.clientId === String(id))?.status ?? null;
  return Object.fromEntries(clientIds.map((id) => [id, statusOf(id)]));
};
const step = async (name, order, send) => {
  const result = outcome(await send());
  const indexer = await indexerStatus(order.clientIds ?? [order.clientId]);
  steps.push({ name, ...order, ...result, indexer });
};

const shortTerm = { clientId: base + 1, orderFlags: OrderFlags.SHORT_TERM, clobPairId: 0 };
await step('place short-term', shortTerm, () => client.placeShortTermOrder(
  subaccount, 'BTC-USD', OrderSide.BUY, 30000, 0.001, shortTerm.clientId, height + 10,
  Order_TimeInForce.TIME_IN_FORCE_UNSPECIFIED, false,
));
await step('cancel short-term', shortTerm, () => client.cancelOrder(
  subaccount, shortTerm.clientId, OrderFlags.SHORT_TERM, 'BTC-USD', height + 15, 0,
));

const longTerm = { clientId: base + 2, orderFlags: OrderFlags.LONG_TERM, clobPairId: 0 };
await step('place long-term', longTerm, () => client.placeOrder(
  subaccount, 'BTC-USD', OrderType.LIMIT, OrderSide.BUY, 30000, 0.001, longTerm.clientId,
  OrderTimeInForce.GTT, 3600, OrderExecution.DEFAULT, false, false,
));
await step('cancel long-term', longTerm, () => client.cancelOrder(
  subaccount, longTerm.clientId, OrderFlags.LONG_TERM, 'BTC-USD', 0, 3660, // >= the order's GTBT
));

const now = await get.latestBlockHeight();
const btc = { clientId: base + 3, orderFlags: OrderFlags.SHORT_TERM, clobPairId: 0 };
const eth = { clientId: base + 4, orderFlags: OrderFlags.SHORT_TERM, clobPairId: 1 };
await step('place short-term', btc, () => client.placeShortTermOrder(
  subaccount, 'BTC-USD', OrderSide.BUY, 30000, 0.001, btc.clientId, now + 10,
  Order_TimeInForce.TIME_IN_FORCE_UNSPECIFIED, false,
));
await step('place short-term', eth, () => client.placeShortTermOrder(
  subaccount, 'ETH-USD', OrderSide.SELL, 4000, 0.01, eth.clientId, now + 10,
  Order_TimeInForce.TIME_IN_FORCE_UNSPECIFIED, false,
));
await step('batch-cancel short-term', { clientIds: [btc.clientId, eth.clientId] }, () =>
  client.batchCancelShortTermOrdersWithMarketId(subaccount, [
    { marketId: 'BTC-USD', clientIds: [btc.clientId] },
    { marketId: 'ETH-USD', clientIds: [eth.clientId] },
  ], now + 15));

console.log(JSON.stringify({
  address: wallet.address,
  account: { accountNumber: account.accountNumber, sequence: account.sequence },
  clobPair: { id: clobPair.clobPair?.id ?? 0 },
  market: markets.markets['BTC-USD'].ticker,
  height,
  steps,
}));
