// Bounded reads: order lists and vehicle histories come in pages with hard caps and strict
// cursors, every combination of order filters is served from an index of its own, a query
// reads one snapshot (it never starts over while blocks commit), and a query whose request
// gave up stops reading. On a real level store in a temp dir, counting what the state reads.

import type { HistoryPage, OrderPage, QueryRefusal } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelChain, VINS } from './support/level-chain.ts';

const [VIN0, VIN1, VIN2] = VINS as [string, string, string];
const orderNumber = (id: string) => Number(id.slice('ord-'.length));

function expectPage<T extends OrderPage | HistoryPage>(result: T | QueryRefusal): T {
  if (!result.ok) throw new Error(`query refused: ${result.code} ${result.message}`);
  return result;
}

/** A market: alice owns three vehicles; bob and carol order them. Returns the order ids. */
async function market(chain: LevelChain, orders: number): Promise<string[]> {
  await chain.block([chain.registerTx(VIN0), chain.registerTx(VIN1), chain.registerTx(VIN2)]);
  const specs = Array.from({ length: orders }, (_, i) => ({
    buyer: i % 3 === 2 ? 'carol' : 'bob',
    vin: [VIN0, VIN1, VIN2][i % 4 === 3 ? 2 : i % 2] as string,
  }));
  return chain.createOrders(specs);
}

async function allOrders(chain: LevelChain) {
  const orders: OrderPage['orders'] = [];
  let after: string | undefined;
  do {
    const page = expectPage(await chain.ledger.listOrdersPage({ limit: 1000, after }));
    orders.push(...page.orders);
    after = page.next;
  } while (after !== undefined);
  return orders;
}

test('order pages: every combination of filters is answered from its own index, reading only the keys it returns', async () => {
  const chain = await LevelChain.create();
  try {
    const ids = await market(chain, 90);
    // Some of bob's orders are refused by the seller: a status most of his orders do not have.
    const bobs = (await allOrders(chain)).filter((order) => order.buyer === chain.address('bob'));
    await chain.block(bobs.slice(0, 4).map((order) => chain.tx('alice', 'order.reject', { orderId: order.orderId })));
    // The list form, too, reads only the keys of what it returns: bob's refunded orders are 4 of his 60.
    chain.kv.resetCounts();
    const refunded = await chain.ledger.listOrders({ address: chain.address('bob'), status: 'refunded' });
    assert.is(refunded.length, 4);
    assert.ok(chain.kv.indexKeysRead <= 5, `read ${chain.kv.indexKeysRead} index keys for 4 orders`);
    const everything = await allOrders(chain);
    assert.equal(
      everything.map((order) => order.orderId),
      ids,
    );
    const filters = [
      { address: chain.address('bob') },
      { vin: VIN1 },
      { status: 'refunded' },
      { address: chain.address('bob'), status: 'refunded' },
      { address: chain.address('carol'), status: 'funded' },
      { vin: VIN0, status: 'refunded' },
      { address: chain.address('bob'), vin: VIN2 },
      { address: chain.address('alice'), vin: VIN1 },
      { address: chain.address('bob'), vin: VIN0, status: 'refunded' },
      { address: chain.address('carol'), vin: VIN2, status: 'funded' },
    ];
    for (const filter of filters) {
      const expected = everything
        .filter(
          (order) =>
            (filter.address === undefined || order.buyer === filter.address || order.seller === filter.address) &&
            (filter.vin === undefined || order.vin === filter.vin) &&
            (filter.status === undefined || order.status === filter.status),
        )
        .map((order) => order.orderId);
      assert.ok(expected.length > 0, `the market has orders for ${JSON.stringify(filter)}`);
      chain.kv.resetCounts();
      const page = expectPage(await chain.ledger.listOrdersPage({ ...filter, limit: 1000 }));
      assert.equal(
        page.orders.map((order) => order.orderId),
        expected,
        JSON.stringify(filter),
      );
      assert.is(chain.kv.indexKeysRead, expected.length, `index keys read for ${JSON.stringify(filter)}`);
    }
    // A full page reads one key more than it returns, to know whether a next page exists.
    chain.kv.resetCounts();
    const firstTwo = expectPage(await chain.ledger.listOrdersPage({ vin: VIN1, status: 'funded', limit: 2 }));
    assert.is(firstTwo.orders.length, 2);
    assert.is(firstTwo.next, firstTwo.orders[1]?.orderId);
    assert.is(chain.kv.indexKeysRead, 3);
  } finally {
    await chain.close();
  }
});

test('order pages: a store written before the combined indexes gets them when the ledger opens', async () => {
  const chain = await LevelChain.create();
  try {
    await market(chain, 24);
    const bob = chain.address('bob');
    const expected = (await chain.ledger.listOrdersPage({ address: bob, vin: VIN1 })) as OrderPage;
    assert.ok(expected.orders.length > 0);
    // Drop every combined index key and the version marker, as an older node left its store.
    const combined = new Set([0x41, 0x56, 0x50, 0x51]);
    const dropped: Uint8Array[] = [];
    for await (const [key] of chain.kv.iterate({ gte: new Uint8Array([0x53, 0x69]), lt: new Uint8Array([0x53, 0x6a]) }))
      if (combined.has(key[2] as number)) dropped.push(key);
    assert.ok(dropped.length > 0);
    const marker = new TextEncoder().encode('index-version');
    await chain.kv.batch([
      ...dropped.map((key) => ({ type: 'del' as const, key })),
      { type: 'del', key: new Uint8Array([0x53, 0x6d, ...marker]) },
    ]);
    const { Ledger } = await import('@autoledger/state');
    const reopened = await Ledger.open(chain.kv);
    assert.equal(await reopened.listOrdersPage({ address: bob, vin: VIN1 }), expected);
    assert.is(reopened.stateRoot.join(), chain.ledger.stateRoot.join(), 'indexes are outside the state root');
  } finally {
    await chain.close();
  }
});

test('order pages: limit is capped, cursors are strict, and neither costs a read', async () => {
  const chain = await LevelChain.create();
  try {
    await market(chain, 5);
    chain.kv.resetCounts();
    for (const limit of [0, -1, 1.5, 1001, Number.MAX_SAFE_INTEGER, Number.NaN]) {
      const result = await chain.ledger.listOrdersPage({ limit });
      assert.equal(result.ok ? 'ok' : result.code, 'LIMIT_OUT_OF_RANGE', `limit ${limit}`);
      const history = await chain.ledger.getHistoryPage(VIN0, { limit });
      assert.equal(history.ok ? 'ok' : history.code, 'LIMIT_OUT_OF_RANGE', `history limit ${limit}`);
    }
    for (const after of ['', 'ord-0', 'ord-01', 'ord-x', 'pol-1', 'h3', 'ord-1 ', 'ord-9999999999999999']) {
      const result = await chain.ledger.listOrdersPage({ after });
      assert.equal(result.ok ? 'ok' : result.code, 'BAD_CURSOR', `after ${JSON.stringify(after)}`);
    }
    for (const after of ['', 'h-1', 'h01', 'ord-3', 'h1.5', 'h9999999999999999']) {
      const result = await chain.ledger.getHistoryPage(VIN0, { after });
      assert.equal(result.ok ? 'ok' : result.code, 'BAD_CURSOR', `history after ${JSON.stringify(after)}`);
    }
    assert.is(chain.kv.gets + chain.kv.indexKeysRead, 0, 'refused before reading anything');
    // The largest page is served; a cursor past the end is an empty last page.
    assert.is(expectPage(await chain.ledger.listOrdersPage({ limit: 1000 })).orders.length, 5);
    assert.equal(await chain.ledger.listOrdersPage({ after: 'ord-5' }), { ok: true, orders: [] });
    const past = expectPage(await chain.ledger.getHistoryPage(VIN0, { after: 'h7' }));
    assert.equal([past.events, past.next], [[], undefined]);
  } finally {
    await chain.close();
  }
});

test('order pages: walking every page while blocks commit returns each order once, in order, with no gaps', async () => {
  const chain = await LevelChain.create();
  try {
    const initial = await market(chain, 120);
    const bob = chain.address('bob');
    const initialBobs = new Set(
      (await allOrders(chain)).filter((order) => order.buyer === bob).map((order) => order.orderId),
    );
    let toReject = 0;
    // Each page is read while a block commits: two new orders and a status change.
    const commitDuringRead = () =>
      chain.block([
        chain.orderTx('bob', VIN0),
        chain.orderTx('carol', VIN1),
        chain.tx('alice', 'order.reject', { orderId: initial[toReject++] as string }),
      ]);
    for (const filter of [{}, { address: bob }]) {
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const [result] = await Promise.all([
          chain.ledger.listOrdersPage({ ...filter, limit: 7, after }),
          commitDuringRead(),
        ]);
        const page = expectPage(result);
        assert.ok(page.orders.length <= 7);
        if (page.next !== undefined) assert.is(page.orders.length, 7, 'only the last page is short');
        seen.push(...page.orders.map((order) => order.orderId));
        after = page.next;
        pages++;
      } while (after !== undefined);
      assert.ok(pages > 10, `${pages} pages`);
      const numbers = seen.map(orderNumber);
      for (let i = 1; i < numbers.length; i++)
        assert.ok((numbers[i] as number) > (numbers[i - 1] as number), `strictly ascending at ${i}: no repeats`);
      const expected = 'address' in filter ? [...initialBobs] : initial;
      const returned = new Set(seen);
      for (const id of expected) assert.ok(returned.has(id), `${id} is on a page: no gaps`);
    }
  } finally {
    await chain.close();
  }
});

test('history pages: walking every page while entries are appended gives each entry once, in order', async () => {
  const chain = await LevelChain.create();
  try {
    await chain.block([chain.registerTx(VIN0)]);
    for (let block = 0; block < 5; block++) await chain.block(Array.from({ length: 50 }, () => chain.odometerTx(VIN0)));
    const events: HistoryPage['events'] = [];
    let after: string | undefined;
    let lastLength = 0;
    do {
      const [result] = await Promise.all([
        chain.ledger.getHistoryPage(VIN0, { limit: 40, after }),
        chain.block([chain.odometerTx(VIN0), chain.odometerTx(VIN0)]),
      ]);
      const page = expectPage(result);
      assert.ok(page.events.length <= 40);
      events.push(...page.events);
      lastLength = page.vehicle?.historyLength as number;
      after = page.next;
    } while (after !== undefined);
    assert.ok(events.length >= 251, `${events.length} entries`);
    assert.is(events.length, lastLength, 'the last page ends where its vehicle record says the history ends');
    assert.is(events[0]?.kind, 'vehicle.register');
    events.slice(1).forEach((event, index) => {
      assert.is(event.kind, 'vehicle.odometer');
      assert.is((event as Record<string, unknown>).km, index + 2, 'readings one apart: no entry repeated or skipped');
    });
  } finally {
    await chain.close();
  }
});

test('a query reads one snapshot and does not start over while blocks keep committing', async () => {
  // No record cache: every read goes to the store, so a read takes many turns of the event
  // loop while the commits keep coming.
  const chain = await LevelChain.create({ recordCacheSize: 0 });
  try {
    await chain.block([chain.registerTx(VIN0), chain.registerTx(VIN1)]);
    for (let block = 0; block < 6; block++) await chain.block(Array.from({ length: 50 }, () => chain.odometerTx(VIN0)));
    const MAX_BLOCKS = 1500;
    let reading = true;
    const read = chain.ledger.getHistory(VIN0).finally(() => {
      reading = false;
    });
    let blocks = 0;
    while (reading && blocks < MAX_BLOCKS) {
      await chain.block([chain.odometerTx(VIN0)]);
      blocks++;
    }
    const history = await read;
    assert.ok(blocks < MAX_BLOCKS, `the read finished while blocks committed (${blocks} blocks)`);
    assert.ok(blocks > 0, 'blocks committed while the history was read');
    assert.ok(history !== null);
    assert.ok((history?.events.length as number) >= 301);
    assert.is(history?.events.length, history?.vehicle.historyLength, 'the vehicle and its entries are of one state');
  } finally {
    await chain.close();
  }
});

test('a query whose request gave up stops reading', async () => {
  const chain = await LevelChain.create({ recordCacheSize: 0 });
  try {
    await chain.block([chain.registerTx(VIN0), chain.registerTx(VIN1), chain.registerTx(VIN2)]);
    for (let block = 0; block < 4; block++) await chain.block(Array.from({ length: 50 }, () => chain.odometerTx(VIN0)));
    await chain.createOrders(Array.from({ length: 200 }, () => ({ buyer: 'bob', vin: VIN1 })));
    const queries: Array<[string, (signal: AbortSignal) => Promise<{ ok: boolean; code?: string }>]> = [
      ['history page', (signal) => chain.ledger.getHistoryPage(VIN0, { signal })],
      ['proven history', (signal) => chain.ledger.getHistoryProven(VIN0, { signal })],
      ['order page', (signal) => chain.ledger.listOrdersPage({ address: chain.address('bob'), limit: 1000, signal })],
    ];
    for (const [name, query] of queries) {
      const controller = new AbortController();
      chain.kv.resetCounts();
      // The request gives up (times out) after ten reads of the store.
      chain.kv.onGet = () => {
        if (chain.kv.gets === 10) controller.abort();
      };
      const result = await query(controller.signal);
      chain.kv.onGet = undefined;
      assert.equal([result.ok, result.code], [false, 'ABORTED'], name);
      // History pages and proven histories read their entries 64 at a time (one wait for the
      // store per batch), so they notice within one batch; the order page within a read or two.
      const bound = name === 'order page' ? 12 : 10 + 64;
      assert.ok(chain.kv.gets <= bound, `${name}: ${chain.kv.gets} reads after giving up at 10`);
      // Given up before it starts: nothing is read.
      chain.kv.resetCounts();
      const aborted = await query(AbortSignal.abort());
      assert.equal([aborted.ok, aborted.code], [false, 'ABORTED'], name);
      assert.is(chain.kv.gets, 0);
    }
  } finally {
    await chain.close();
  }
});

test.run();
