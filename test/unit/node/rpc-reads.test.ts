// vehicle_history and order_list over real HTTP: pages with `limit`, `after` and `next`, the
// caps and cursors refused with -32602, the old shapes kept for clients that do not page, and
// a request that gave up ending its query. The node's ledger is real (level in a temp dir);
// the methods see only the ledger, which is all these two methods use of the node.

import { AutoledgerClient, type OrderResult, RpcError } from '@autoledger/client';
import { QUERY_LIMITS } from '@autoledger/state';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../../packages/node/src/log.ts';
import type { RpcNodeContext } from '../../../packages/node/src/rpc/context.ts';
import { RPC_ERRORS, RpcError as ServerRpcError } from '../../../packages/node/src/rpc/jsonrpc.ts';
import { createRpcMethods } from '../../../packages/node/src/rpc/methods.ts';
import { DEFAULT_RPC_LIMITS, RpcServer } from '../../../packages/node/src/rpc/server.ts';
import { LevelChain, VINS } from '../state/support/level-chain.ts';

const [VIN0, VIN1] = VINS as [string, string];

interface Context {
  chain: LevelChain;
  server: RpcServer;
  client: AutoledgerClient;
  methods: ReturnType<typeof createRpcMethods>;
}

const test = suite<Context>('rpc reads', {} as Context);

test.before(async (context) => {
  const chain = await LevelChain.create();
  await chain.block([chain.registerTx(VIN0), chain.registerTx(VIN1)]);
  await chain.block(Array.from({ length: 30 }, () => chain.odometerTx(VIN0)));
  await chain.createOrders(Array.from({ length: 25 }, (_, i) => ({ buyer: i % 2 ? 'carol' : 'bob', vin: VIN0 })));
  const methods = createRpcMethods({ ledger: chain.ledger } as unknown as RpcNodeContext);
  const server = new RpcServer(
    { host: '127.0.0.1', port: 0, tokens: [], ...DEFAULT_RPC_LIMITS, serveMetrics: false },
    {
      methods,
      health: () => ({ healthy: true, details: {} }),
      metrics: () => '',
      checkTopic: () => 'no topics here',
      logger: silentLogger,
    },
  );
  await server.start();
  Object.assign(context, { chain, server, methods, client: new AutoledgerClient({ url: server.url }) });
});

test.after(async ({ chain, server, client }) => {
  client.close();
  await server.stop();
  await chain.close();
});

async function refusal(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('the call was answered, not refused');
}

test('order_list: pages with limit, after and next walk every order once; without page the answer is the array', async ({
  chain,
  client,
}) => {
  const all = await client.listOrders({ limit: 1000 });
  assert.ok(Array.isArray(all));
  assert.is(all.length, 25);
  assert.is((await client.listOrders()).length, 25, 'default limit 100');
  const seen: OrderResult[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await client.listOrdersPage({ limit: 4, ...(after ? { after } : {}) });
    assert.ok(page.orders.length <= 4);
    seen.push(...page.orders);
    after = page.next;
    pages++;
  } while (after !== undefined);
  assert.is(pages, 7);
  assert.equal(
    seen.map((order) => order.orderId),
    all.map((order) => order.orderId),
  );
  // The last page carries no next at all (not null, not "").
  const last = await client.call<Record<string, unknown>>('order_list', { page: true, after: 'ord-24' });
  assert.equal(Object.keys(last), ['orders']);
  // An order id is a cursor, as `after` always was.
  assert.equal(
    (await client.listOrders({ after: 'ord-23' })).map((order) => order.orderId),
    ['ord-24', 'ord-25'],
  );
  // A combined filter.
  const carolsOnVin0 = await client.listOrdersPage({ address: chain.address('carol'), vin: VIN0, status: 'funded' });
  assert.is(carolsOnVin0.orders.length, 12);
});

test('vehicle_history: pages with limit, after and next; {vin} alone is the whole history as before', async ({
  client,
}) => {
  const whole = await client.getVehicleHistory(VIN0);
  assert.is(whole.events.length, 31);
  assert.is(whole.next, undefined);
  assert.equal(Object.keys(whole).sort(), ['events', 'vehicle']);
  const events: unknown[] = [];
  let after: string | undefined;
  do {
    const page = await client.getVehicleHistory(VIN0, { limit: 8, ...(after ? { after } : {}) });
    assert.is(page.vehicle.vin, VIN0);
    events.push(...page.events);
    after = page.next;
  } while (after !== undefined);
  assert.equal(events, whole.events);
  const proven = await client.getVehicleHistory(VIN0, { prove: true });
  assert.ok(proven.proof !== undefined);
  assert.is(proven.events.length, 31);
  const missing = await refusal(client.getVehicleHistory('JH4KA7561PC008269', { limit: 5 }));
  assert.is(missing.rpcCode, RPC_ERRORS.NOT_FOUND);
});

test('limits above the cap are refused with -32602 naming the cap', async ({ client }) => {
  for (const [method, params] of [
    ['order_list', { limit: QUERY_LIMITS.orders.max + 1 }],
    ['order_list', { limit: 0 }],
    ['order_list', { limit: 2.5 }],
    ['order_list', { limit: '10' }],
    ['vehicle_history', { vin: VIN0, limit: QUERY_LIMITS.history.max + 1 }],
    ['vehicle_history', { vin: VIN0, limit: -1 }],
  ] as const) {
    const error = await refusal(client.call(method, params));
    assert.is(error.rpcCode, RPC_ERRORS.INVALID_PARAMS, `${method} ${JSON.stringify(params)}`);
    assert.match(error.message, /limit/);
    assert.match(error.message, String(method === 'order_list' ? QUERY_LIMITS.orders.max : QUERY_LIMITS.history.max));
  }
  // The cap itself is served.
  assert.is((await client.listOrders({ limit: QUERY_LIMITS.orders.max })).length, 25);
});

test('malformed cursors are refused with -32602, never an internal error', async ({ client }) => {
  const cursors: unknown[] = ['', 'zzz', 'ord-0', 'ord-007', 'h3', 7, null, {}, ['ord-1'], 'x'.repeat(10_000)];
  for (const after of cursors) {
    const orders = await refusal(client.call('order_list', { after }));
    assert.is(orders.rpcCode, RPC_ERRORS.INVALID_PARAMS, `order_list after ${JSON.stringify(after)?.slice(0, 20)}`);
  }
  for (const after of [...cursors.filter((cursor) => cursor !== 'h3'), 'ord-1', 'h-1', 'h01']) {
    const history = await refusal(client.call('vehicle_history', { vin: VIN0, after }));
    assert.is(
      history.rpcCode,
      RPC_ERRORS.INVALID_PARAMS,
      `vehicle_history after ${JSON.stringify(after)?.slice(0, 20)}`,
    );
  }
  // A proof bundle is the whole history: it is not paged.
  const proved = await refusal(client.call('vehicle_history', { vin: VIN0, prove: true, limit: 5 }));
  assert.is(proved.rpcCode, RPC_ERRORS.INVALID_PARAMS);
  const page = await refusal(client.call('order_list', { page: 'yes' }));
  assert.is(page.rpcCode, RPC_ERRORS.INVALID_PARAMS);
});

test('a request that gave up ends its query: the methods answer -32005 and read nothing', async ({
  chain,
  methods,
}) => {
  const signal = AbortSignal.abort();
  for (const [name, params] of [
    ['order_list', {}],
    ['vehicle_history', { vin: VIN0 }],
    ['vehicle_history', { vin: VIN0, prove: true }],
  ] as const) {
    const method = methods.get(name);
    assert.ok(method !== undefined);
    chain.kv.resetCounts();
    try {
      await method.handler({ ...params }, { scope: 'read', signal });
      assert.unreachable(`${name} answered`);
    } catch (error) {
      assert.instance(error, ServerRpcError);
      assert.is((error as ServerRpcError).code, RPC_ERRORS.BUSY, name);
    }
    assert.is(chain.kv.gets + chain.kv.indexKeysRead, 0, name);
  }
});

test('rpc.discover describes limit (with its cap), after and next', async ({ client }) => {
  const document = await client.discover();
  for (const [name, max] of [
    ['order_list', QUERY_LIMITS.orders.max],
    ['vehicle_history', QUERY_LIMITS.history.max],
  ] as const) {
    const method = document.methods.find((entry) => entry.name === name);
    const params = new Map(method?.params.map((spec) => [spec.name, spec]));
    assert.equal((params.get('limit')?.schema as { maximum?: number } | undefined)?.maximum, max, name);
    assert.ok(params.has('after'), name);
    assert.match(JSON.stringify(method), /next/);
  }
});

test.run();
