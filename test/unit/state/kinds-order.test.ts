// order.*: the escrow state machine with delivery versus payment, deadlines judged against
// block time, automatic refund and completion, regulator arbitration and reviews.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DAY, hashOf, START_BALANCE, TestChain, testKey, VINS } from './support/chain.ts';
import { CodeCoverage } from './support/coverage.ts';

const coverage = new CodeCoverage();
const [VIN, VIN2] = VINS as [string, string];
const PRICE = 2_500_000n;

/** A chain where alice owns VIN (and VIN2) and bob wants to buy. */
async function market(): Promise<TestChain> {
  const chain = await TestChain.create();
  for (const vin of [VIN, VIN2]) {
    await chain.ok('dealer', 'vehicle.register', {
      vin,
      make: 'Honda',
      model: 'Accord',
      year: 2003,
      owner: chain.address('alice'),
      odometerKm: 1,
    });
  }
  return chain;
}

function orderFields(chain: TestChain, change: Record<string, unknown> = {}) {
  return {
    vin: VIN,
    seller: chain.address('alice'),
    price: String(PRICE),
    deliverBy: chain.time + 7 * DAY,
    confirmWindowMs: 2 * DAY,
    ...change,
  };
}

async function createOrder(chain: TestChain, buyer = 'bob', change: Record<string, unknown> = {}): Promise<string> {
  const receipt = await chain.ok(buyer, 'order.create', orderFields(chain, change));
  assert.ok(receipt.orderId !== undefined);
  return receipt.orderId as string;
}

async function status(chain: TestChain, orderId: string) {
  return (await chain.ledger.getOrder(orderId))?.status;
}

async function escrow(chain: TestChain): Promise<bigint> {
  const orders = await chain.ledger.listOrders({ limit: 1000 });
  return orders
    .filter((order) => ['funded', 'accepted', 'delivered', 'disputed'].includes(order.status))
    .reduce((sum, order) => sum + BigInt(order.price), 0n);
}

test('order.create locks the price in escrow; ids are deterministic and on the receipt', async () => {
  const chain = await market();
  const receipt = await coverage.expect(chain, 'bob', 'order.create', orderFields(chain), 'ok');
  assert.is(receipt.orderId, 'ord-1');
  assert.is(await chain.balance('bob'), START_BALANCE - PRICE);
  const order = await chain.ledger.getOrder('ord-1');
  assert.equal(order && [order.status, order.buyer, order.seller, order.price, order.createdAt], [
    'funded',
    chain.address('bob'),
    chain.address('alice'),
    String(PRICE),
    chain.time,
  ]);
  assert.is(await escrow(chain), PRICE);
  // A funded offer does not lock the vehicle; a second buyer may offer too.
  assert.is((await chain.ledger.getVehicle(VIN))?.activeOrder, null);
  assert.is((await coverage.expect(chain, 'carol', 'order.create', orderFields(chain), 'ok')).orderId, 'ord-2');
  await coverage.expect(chain, 'bob', 'order.create', orderFields(chain, { vin: VINS[5] }), 'NOT_FOUND');
  await coverage.expect(
    chain,
    'bob',
    'order.create',
    orderFields(chain, { seller: chain.address('carol') }),
    'INVALID_STATE',
  );
  await coverage.expect(chain, 'alice', 'order.create', orderFields(chain), 'SELF_DEALING');
  await coverage.expect(chain, 'bob', 'order.create', orderFields(chain, { deliverBy: chain.time }), 'DEADLINE');
  await coverage.expect(
    chain,
    'bob',
    'order.create',
    orderFields(chain, { price: String(START_BALANCE) }),
    'INSUFFICIENT_FUNDS',
  );
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN2, flag: 'stolen' });
  await coverage.expect(chain, 'bob', 'order.create', orderFields(chain, { vin: VIN2 }), 'VEHICLE_STOLEN');
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN2, flag: 'recovered' });
  await chain.ok('alice', 'vehicle.lien', { vin: VIN2, action: 'add', lienholder: chain.address('bank') });
  await coverage.expect(chain, 'bob', 'order.create', orderFields(chain, { vin: VIN2 }), 'VEHICLE_LOCKED');
  await chain.ok('bank', 'vehicle.lien', { vin: VIN2, action: 'release' });
  await chain.ok('alice', 'order.accept', { orderId: 'ord-1' });
  await coverage.expect(chain, 'carol', 'order.create', orderFields(chain), 'VEHICLE_LOCKED');
  await chain.ok('regulator', 'member.freeze', { address: chain.address('alice'), reason: 'x' });
  await coverage.expect(chain, 'bob', 'order.create', orderFields(chain, { vin: VIN2 }), 'ACCOUNT_FROZEN');
});

test('accept, deliver, confirm: funds to the seller and title to the buyer in one step', async () => {
  const chain = await market();
  const orderId = await createOrder(chain);
  await coverage.expect(chain, 'bob', 'order.accept', { orderId }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'order.accept', { orderId: 'ord-99' }, 'NOT_FOUND');
  await coverage.expect(chain, 'alice', 'order.accept', { orderId }, 'ok');
  assert.is((await chain.ledger.getVehicle(VIN))?.activeOrder, orderId);
  await coverage.expect(chain, 'alice', 'order.accept', { orderId }, 'INVALID_STATE');
  await coverage.expect(chain, 'bob', 'order.confirm', { orderId }, 'INVALID_STATE');
  await coverage.expect(chain, 'bob', 'order.deliver', { orderId }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'order.deliver', { orderId: 'ord-99' }, 'NOT_FOUND');
  await coverage.expect(chain, 'alice', 'order.deliver', { orderId }, 'ok');
  await coverage.expect(chain, 'alice', 'order.deliver', { orderId }, 'INVALID_STATE');
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN, flag: 'stolen' });
  await coverage.expect(chain, 'bob', 'order.confirm', { orderId }, 'VEHICLE_STOLEN');
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN, flag: 'recovered' });
  const sellerBefore = await chain.balance('alice');
  await coverage.expect(chain, 'alice', 'order.confirm', { orderId }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bob', 'order.confirm', { orderId: 'ord-99' }, 'NOT_FOUND');
  const receipt = await coverage.expect(chain, 'bob', 'order.confirm', { orderId }, 'ok');
  assert.is(receipt.events[0]?.type, 'order.completed');
  assert.is(await chain.balance('alice'), sellerBefore + PRICE);
  const vehicle = await chain.ledger.getVehicle(VIN);
  assert.equal([vehicle?.owner, vehicle?.activeOrder], [chain.address('bob'), null]);
  const order = await chain.ledger.getOrder(orderId);
  assert.equal([order?.status, order?.settlement, order?.settledAt], ['completed', 'confirmed', chain.time]);
  assert.is(await escrow(chain), 0n);
  const last = (await chain.ledger.getHistory(VIN))?.events.at(-1) as Record<string, unknown>;
  assert.equal(
    [last.kind, last.orderId, last.from, last.to, last.price],
    ['order.completed', orderId, chain.address('alice'), chain.address('bob'), String(PRICE)],
  );
  await coverage.expect(chain, 'bob', 'order.confirm', { orderId }, 'INVALID_STATE');
});

test('accept refuses a seller who no longer owns the car, a stolen or liened car, a late acceptance and a second active order', async () => {
  const chain = await market();
  const first = await createOrder(chain, 'bob');
  const second = await createOrder(chain, 'carol');
  await chain.ok('alice', 'order.accept', { orderId: first });
  await coverage.expect(chain, 'alice', 'order.accept', { orderId: second }, 'VEHICLE_LOCKED');
  const liened = await createOrder(chain, 'bob', { vin: VIN2 });
  await chain.ok('alice', 'vehicle.lien', { vin: VIN2, action: 'add', lienholder: chain.address('bank') });
  await coverage.expect(chain, 'alice', 'order.accept', { orderId: liened }, 'VEHICLE_LOCKED');
  await chain.ok('bank', 'vehicle.lien', { vin: VIN2, action: 'release' });
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN2, flag: 'stolen' });
  await coverage.expect(chain, 'alice', 'order.accept', { orderId: liened }, 'VEHICLE_STOLEN');
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN2, flag: 'recovered' });
  const late = await createOrder(chain, 'carol', { vin: VIN2, deliverBy: chain.time + 2_000 });
  await coverage.expect(chain, 'alice', 'order.accept', { orderId: late }, 'DEADLINE', 5_000);
  await chain.ok('alice', 'vehicle.transfer', { vin: VIN2, to: chain.address('carol') });
  await coverage.expect(chain, 'alice', 'order.accept', { orderId: liened }, 'INVALID_STATE');
});

test('order.reject and order.cancel refund the buyer; cancelling an accepted order waits for deliverBy', async () => {
  const chain = await market();
  const rejected = await createOrder(chain);
  await coverage.expect(chain, 'bob', 'order.reject', { orderId: rejected }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'order.reject', { orderId: 'ord-99' }, 'NOT_FOUND');
  await coverage.expect(chain, 'alice', 'order.reject', { orderId: rejected }, 'ok');
  assert.equal(
    [await status(chain, rejected), (await chain.ledger.getOrder(rejected))?.settlement],
    ['refunded', 'rejected'],
  );
  assert.is(await chain.balance('bob'), START_BALANCE);
  await coverage.expect(chain, 'alice', 'order.reject', { orderId: rejected }, 'INVALID_STATE');
  const cancelled = await createOrder(chain);
  await coverage.expect(chain, 'alice', 'order.cancel', { orderId: cancelled }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bob', 'order.cancel', { orderId: 'ord-99' }, 'NOT_FOUND');
  await coverage.expect(chain, 'bob', 'order.cancel', { orderId: cancelled }, 'ok');
  assert.is(await chain.balance('bob'), START_BALANCE);
  await coverage.expect(chain, 'bob', 'order.cancel', { orderId: cancelled }, 'INVALID_STATE');
  const accepted = await createOrder(chain, 'bob', { deliverBy: chain.time + 10_000 });
  await chain.ok('alice', 'order.accept', { orderId: accepted });
  await coverage.expect(chain, 'bob', 'order.cancel', { orderId: accepted }, 'DEADLINE');
  // Past deliverBy (but within the 24 h grace) the buyer may walk away.
  await coverage.expect(chain, 'bob', 'order.cancel', { orderId: accepted }, 'ok', 20_000);
  assert.equal([await status(chain, accepted), (await chain.ledger.getVehicle(VIN))?.activeOrder], ['refunded', null]);
  assert.is(await chain.balance('bob'), START_BALANCE);
});

test('order.dispute stops the clock; order.resolve settles either way; reviews count towards reputation', async () => {
  const chain = await market();
  const funded = await createOrder(chain, 'bob', { vin: VIN2 });
  await coverage.expect(chain, 'bob', 'order.dispute', { orderId: funded, reasonHash: hashOf('no') }, 'INVALID_STATE');
  await coverage.expect(chain, 'carol', 'order.dispute', { orderId: funded, reasonHash: hashOf('no') }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bob', 'order.dispute', { orderId: 'ord-99', reasonHash: hashOf('no') }, 'NOT_FOUND');
  const orderId = await createOrder(chain);
  await chain.ok('alice', 'order.accept', { orderId });
  await chain.ok('alice', 'order.deliver', { orderId });
  await coverage.expect(chain, 'bob', 'order.dispute', { orderId, reasonHash: hashOf('scratches') }, 'ok');
  const disputed = await chain.ledger.getOrder(orderId);
  assert.equal(
    [disputed?.status, disputed?.disputedBy, disputed?.disputeReasonHash],
    ['disputed', chain.address('bob'), hashOf('scratches')],
  );
  // A disputed order does not complete by itself, however long it waits.
  await chain.block([], 30 * DAY);
  assert.is(await status(chain, orderId), 'disputed');
  await coverage.expect(chain, 'alice', 'order.resolve', { orderId, outcome: 'complete' }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'regulator', 'order.resolve', { orderId: funded, outcome: 'refund' }, 'INVALID_STATE');
  await coverage.expect(chain, 'regulator', 'order.resolve', { orderId: 'ord-99', outcome: 'refund' }, 'NOT_FOUND');
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN, flag: 'stolen' });
  await coverage.expect(chain, 'regulator', 'order.resolve', { orderId, outcome: 'complete' }, 'VEHICLE_STOLEN');
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN, flag: 'recovered' });
  await chain.ok('regulator', 'member.freeze', { address: chain.address('bob'), reason: 'x' });
  await coverage.expect(chain, 'regulator', 'order.resolve', { orderId, outcome: 'complete' }, 'ACCOUNT_FROZEN');
  await chain.ok('regulator', 'member.unfreeze', { address: chain.address('bob') });
  await coverage.expect(chain, 'regulator', 'order.resolve', { orderId, outcome: 'complete' }, 'ok');
  assert.equal(
    [await status(chain, orderId), (await chain.ledger.getVehicle(VIN))?.owner],
    ['completed', chain.address('bob')],
  );
  // The other party's review, once each.
  await coverage.expect(chain, 'bob', 'order.review', { orderId: funded, rating: 5 }, 'INVALID_STATE');
  await coverage.expect(chain, 'carol', 'order.review', { orderId, rating: 5 }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bob', 'order.review', { orderId: 'ord-99', rating: 5 }, 'NOT_FOUND');
  await coverage.expect(chain, 'bob', 'order.review', { orderId, rating: 4, commentHash: hashOf('good car') }, 'ok');
  await coverage.expect(chain, 'bob', 'order.review', { orderId, rating: 5 }, 'ALREADY_REVIEWED');
  await coverage.expect(chain, 'alice', 'order.review', { orderId, rating: 1 }, 'ok');
  assert.equal((await chain.ledger.getAccount(chain.address('alice')))?.reputation, { count: 1, average: '4.00' });
  assert.equal((await chain.ledger.getAccount(chain.address('bob')))?.reputation, { count: 1, average: '1.00' });
  // The refund path of arbitration, from an accepted (undelivered) order.
  const second = await createOrder(chain, 'carol', { vin: VIN2 });
  await chain.ok('alice', 'order.accept', { orderId: second });
  await coverage.expect(
    chain,
    'alice',
    'order.dispute',
    { orderId: second, reasonHash: hashOf('buyer vanished') },
    'ok',
  );
  const carolBefore = await chain.balance('carol');
  await coverage.expect(chain, 'regulator', 'order.resolve', { orderId: second, outcome: 'refund' }, 'ok');
  assert.equal([await status(chain, second), await chain.balance('carol')], ['refunded', carolBefore + PRICE]);
  assert.is((await chain.ledger.getVehicle(VIN2))?.activeOrder, null);
});

test('reputation averages are exact to two decimals, rounded half up', async () => {
  const chain = await TestChain.create();
  const ratings = [5, 4, 4];
  for (const [index, rating] of ratings.entries()) {
    const vin = VINS[index] as string;
    await chain.ok('dealer', 'vehicle.register', {
      vin,
      make: 'M',
      model: 'M',
      year: 2010,
      owner: chain.address('alice'),
      odometerKm: 0,
    });
    const orderId = (
      await chain.ok('bob', 'order.create', {
        vin,
        seller: chain.address('alice'),
        price: '10',
        deliverBy: chain.time + DAY,
        confirmWindowMs: DAY,
      })
    ).orderId;
    await chain.ok('alice', 'order.accept', { orderId });
    await chain.ok('alice', 'order.deliver', { orderId });
    await chain.ok('bob', 'order.confirm', { orderId });
    await chain.ok('bob', 'order.review', { orderId, rating });
  }
  assert.equal((await chain.ledger.getAccount(chain.address('alice')))?.reputation, { count: 3, average: '4.33' });
  const { formatAverage } = await import('../../../packages/state/src/records.ts');
  assert.equal(
    [formatAverage(13, 3), formatAverage(5, 2), formatAverage(7, 6), formatAverage(0, 0)],
    ['4.33', '2.50', '1.17', '0.00'],
  );
});

test('automatic refund: an accepted order undelivered past deliverBy + 24 h is refunded at block time', async () => {
  const chain = await market();
  const deliverBy = chain.time + 10 * DAY;
  const orderId = await createOrder(chain, 'bob', { deliverBy });
  await chain.ok('alice', 'order.accept', { orderId });
  // Exactly at deliverBy + 24 h nothing happens: the rule is "past".
  chain.time = deliverBy + DAY - 1_000;
  const atBoundary = await chain.block([], 1_000);
  assert.equal(atBoundary.systemEvents, []);
  assert.is(await status(chain, orderId), 'accepted');
  const after = await chain.block([], 1);
  assert.equal(
    after.systemEvents.map((event) => [event.type, event.attributes.orderId, event.attributes.settlement]),
    [['order.refunded', orderId, 'auto_refunded']],
  );
  assert.is(await status(chain, orderId), 'refunded');
  assert.is(await chain.balance('bob'), START_BALANCE);
  assert.is((await chain.ledger.getVehicle(VIN))?.activeOrder, null);
  // Late delivery is impossible now.
  await coverage.expect(chain, 'alice', 'order.deliver', { orderId }, 'INVALID_STATE');
});

test('automatic completion: a delivered order past its confirmation window completes; stolen or frozen goes to dispute', async () => {
  const chain = await market();
  const completes = await createOrder(chain, 'bob', { confirmWindowMs: DAY });
  const stolen = await createOrder(chain, 'carol', { vin: VIN2, confirmWindowMs: DAY });
  for (const orderId of [completes, stolen]) {
    await chain.ok('alice', 'order.accept', { orderId });
  }
  await chain.block([
    chain.tx('alice', 'order.deliver', { orderId: completes }),
    chain.tx('alice', 'order.deliver', { orderId: stolen }),
  ]);
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN2, flag: 'stolen' });
  const sellerBefore = await chain.balance('alice');
  const execution = await chain.block([], DAY);
  assert.equal(
    execution.systemEvents.map((event) => [
      event.type,
      event.attributes.orderId,
      event.attributes.settlement ?? event.attributes.reason,
    ]),
    [
      ['order.completed', completes, 'auto_completed'],
      ['order.dispute', stolen, 'VEHICLE_STOLEN'],
    ],
    'in deadline order, then order number',
  );
  assert.equal(
    [await status(chain, completes), (await chain.ledger.getVehicle(VIN))?.owner],
    ['completed', chain.address('bob')],
  );
  assert.is(await chain.balance('alice'), sellerBefore + PRICE);
  assert.equal(
    [await status(chain, stolen), (await chain.ledger.getVehicle(VIN2))?.owner],
    ['disputed', chain.address('alice')],
  );
  assert.is((await chain.ledger.getOrder(stolen))?.disputedBy, 'system');
  const systemEntry = (await chain.ledger.getHistory(VIN))?.events.at(-1) as Record<string, unknown>;
  assert.equal(
    [systemEntry.kind, systemEntry.actor, systemEntry.actorRole, systemEntry.txHash],
    ['order.completed', 'system', 'system', null],
  );
});

test('a dispute filed in the same block the window ends wins: transitions run before transactions', async () => {
  const chain = await market();
  const orderId = await createOrder(chain, 'bob', { confirmWindowMs: 5_000 });
  await chain.ok('alice', 'order.accept', { orderId });
  await chain.ok('alice', 'order.deliver', { orderId });
  // Within the window the dispute is in time.
  await chain.block([chain.tx('bob', 'order.dispute', { orderId, reasonHash: hashOf('late') })], 5_000);
  assert.is(await status(chain, orderId), 'disputed');
  const late = await createOrder(chain, 'carol', { vin: VIN2, confirmWindowMs: 5_000 });
  await chain.ok('alice', 'order.accept', { orderId: late });
  await chain.ok('alice', 'order.deliver', { orderId: late });
  const execution = await chain.block(
    [chain.tx('carol', 'order.dispute', { orderId: late, reasonHash: hashOf('late') })],
    5_001,
  );
  assert.is(execution.systemEvents[0]?.type, 'order.completed');
  assert.is(execution.receipts[0]?.code, 'INVALID_STATE');
  assert.is(await status(chain, late), 'completed');
  assert.equal(
    (await chain.ledger.listOrders({ status: 'completed' })).map((order) => order.orderId),
    [late],
  );
  assert.is(testKey('bob').address, chain.address('bob'));
});

test('listOrders: by party, vehicle and status, oldest first, paged with after', async () => {
  const chain = await market();
  const ids: string[] = [];
  for (const buyer of ['bob', 'carol', 'bob', 'carol'])
    ids.push(await createOrder(chain, buyer, { vin: ids.length % 2 === 0 ? VIN : VIN2 }));
  await chain.ok('alice', 'order.reject', { orderId: ids[1] });
  const idsOf = (orders: Array<{ orderId: string }>) => orders.map((order) => order.orderId);
  assert.equal(idsOf(await chain.ledger.listOrders({})), ids);
  assert.equal(idsOf(await chain.ledger.listOrders({ address: chain.address('bob') })), [ids[0], ids[2]]);
  assert.equal(idsOf(await chain.ledger.listOrders({ address: chain.address('alice') })), ids, 'seller side');
  assert.equal(idsOf(await chain.ledger.listOrders({ vin: VIN2 })), [ids[1], ids[3]]);
  assert.equal(idsOf(await chain.ledger.listOrders({ status: 'refunded' })), [ids[1]]);
  assert.equal(idsOf(await chain.ledger.listOrders({ status: 'funded', address: chain.address('carol') })), [ids[3]]);
  assert.equal(idsOf(await chain.ledger.listOrders({ limit: 2 })), ids.slice(0, 2));
  assert.equal(idsOf(await chain.ledger.listOrders({ limit: 2, after: ids[1] })), ids.slice(2, 4));
  assert.equal(await chain.ledger.listOrders({ status: 'nonsense' }), []);
  assert.equal(await chain.ledger.listOrders({ address: 'not-an-address' }), []);
  const [first] = await chain.ledger.listOrders({ limit: 1 });
  assert.equal(first && [first.autoRefundAfter, first.autoCompleteAfter], [null, null]);
});

test('every declared outcome of order.* was exercised', () => {
  assert.equal(
    coverage.missing([
      'order.create',
      'order.accept',
      'order.reject',
      'order.cancel',
      'order.deliver',
      'order.confirm',
      'order.dispute',
      'order.resolve',
      'order.review',
    ]),
    [],
  );
});

test.run();
