// vehicle.*: registration, title, odometer, service, accidents, flags, corrections, liens,
// documents — the happy path and every rejection.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DAY, hashOf, TestChain, testGenesis, testKey, VINS } from './support/chain.ts';
import { CodeCoverage } from './support/coverage.ts';

const coverage = new CodeCoverage();
const [VIN, VIN2, VIN3] = VINS as [string, string, string];

async function withVehicle(owner = 'alice', vin = VIN, odometerKm = 50_000): Promise<TestChain> {
  const chain = await TestChain.create();
  await chain.ok('dealer', 'vehicle.register', {
    vin,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address(owner),
    odometerKm,
  });
  return chain;
}

async function history(chain: TestChain, vin = VIN) {
  const result = await chain.ledger.getHistory(vin);
  assert.ok(result !== null);
  return (result as { events: Array<Record<string, unknown>> }).events;
}

test('vehicle.register: a dealer registers a unique VIN with a valid check digit to an owner', async () => {
  const chain = await TestChain.create();
  const fields = {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address('alice'),
    odometerKm: 50_000,
  };
  await coverage.expect(chain, 'dealer', 'vehicle.register', fields, 'ok');
  const vehicle = await chain.ledger.getVehicle(VIN);
  assert.equal(vehicle && { ...vehicle }, {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address('alice'),
    odometerKm: 50_000,
    brands: [],
    stolen: false,
    lien: null,
    activeOrder: null,
    historyLength: 1,
    registeredHeight: 1,
  });
  const [entry] = await history(chain);
  assert.equal(entry && [entry.kind, entry.actor, entry.actorRole, entry.owner, entry.km, entry.height], [
    'vehicle.register',
    chain.address('dealer'),
    'dealer',
    chain.address('alice'),
    50_000,
    1,
  ]);
  await coverage.expect(chain, 'dealer2', 'vehicle.register', fields, 'DUPLICATE_VIN');
  const badDigit = `${VIN.slice(0, 8)}0${VIN.slice(9)}`;
  await coverage.expect(chain, 'dealer', 'vehicle.register', { ...fields, vin: badDigit }, 'INVALID_VIN');
  const refused = await chain.ledger.checkTx(
    chain.tx(
      'dealer',
      'vehicle.register',
      { ...fields, vin: badDigit },
      { nonce: (chain.nonces.get('dealer') ?? 0) + 9 },
    ),
  );
  assert.equal(refused.ok ? 'ok' : refused.code, 'INVALID_VIN', 'the mempool refuses it too');
  await coverage.expect(
    chain,
    'dealer',
    'vehicle.register',
    { ...fields, vin: VIN2, owner: testKey('ghost').address },
    'NOT_FOUND',
  );
  await chain.ok('regulator', 'member.freeze', { address: chain.address('bob'), reason: 'x' });
  await coverage.expect(
    chain,
    'dealer',
    'vehicle.register',
    { ...fields, vin: VIN2, owner: chain.address('bob') },
    'ACCOUNT_FROZEN',
  );
  await coverage.expect(chain, 'insurer', 'vehicle.register', { ...fields, vin: VIN2 }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'vehicle.register', { ...fields, vin: VIN2 }, 'UNAUTHORIZED');
});

test('vehicle.register: with vinCheckDigit "off" (EU) a VIN without a check digit registers', async () => {
  const chain = await TestChain.create({ genesis: testGenesis({ params: { vinCheckDigit: 'off' } }) });
  assert.is(chain.ledger.params.vinCheckDigit, 'off');
  await chain.ok('dealer', 'vehicle.register', {
    vin: 'WP0ZZZ99ZTS392124',
    make: 'Porsche',
    model: '911',
    year: 1996,
    owner: chain.address('alice'),
    odometerKm: 1,
  });
  assert.is((await chain.ledger.getVehicle('WP0ZZZ99ZTS392124'))?.make, 'Porsche');
});

test('vehicle.transfer: only the owner, never while stolen, under lien or held by an order', async () => {
  const chain = await withVehicle();
  const to = chain.address('bob');
  await coverage.expect(chain, 'bob', 'vehicle.transfer', { vin: VIN, to }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN2, to }, 'NOT_FOUND');
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN, to: testKey('ghost').address }, 'NOT_FOUND');
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN, to: chain.address('alice') }, 'INVALID_STATE');
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN, flag: 'stolen' });
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN, to }, 'VEHICLE_STOLEN');
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN, flag: 'recovered' });
  await chain.ok('alice', 'vehicle.lien', { vin: VIN, action: 'add', lienholder: chain.address('bank') });
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN, to }, 'VEHICLE_LOCKED');
  await chain.ok('bank', 'vehicle.lien', { vin: VIN, action: 'release' });
  const order = await chain.ok('bob', 'order.create', {
    vin: VIN,
    seller: chain.address('alice'),
    price: '100',
    deliverBy: chain.time + DAY,
    confirmWindowMs: DAY,
  });
  await chain.ok('alice', 'order.accept', { orderId: order.orderId });
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN, to: chain.address('carol') }, 'VEHICLE_LOCKED');
  await chain.ok('alice', 'order.dispute', { orderId: order.orderId, reasonHash: hashOf('x') });
  await chain.ok('regulator', 'order.resolve', { orderId: order.orderId, outcome: 'refund' });
  await chain.ok('regulator', 'member.freeze', { address: chain.address('carol'), reason: 'x' });
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN, to: chain.address('carol') }, 'ACCOUNT_FROZEN');
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN, to }, 'ok');
  assert.is((await chain.ledger.getVehicle(VIN))?.owner, to);
  const events = await history(chain);
  assert.equal(events.at(-1) && [events.at(-1)?.kind, events.at(-1)?.from, events.at(-1)?.to], [
    'vehicle.transfer',
    chain.address('alice'),
    to,
  ]);
  // A new owner, so the old owner can no longer transfer it.
  await coverage.expect(chain, 'alice', 'vehicle.transfer', { vin: VIN, to: chain.address('alice') }, 'UNAUTHORIZED');
});

test('vehicle.odometer and vehicle.service: readings never go down', async () => {
  const chain = await withVehicle();
  await coverage.expect(chain, 'service', 'vehicle.odometer', { vin: VIN, km: 51_000 }, 'ok');
  await coverage.expect(chain, 'insurer', 'vehicle.odometer', { vin: VIN, km: 51_000 }, 'ok'); // equal is not lower
  await coverage.expect(chain, 'regulator', 'vehicle.odometer', { vin: VIN, km: 52_000 }, 'ok');
  await coverage.expect(chain, 'dealer', 'vehicle.odometer', { vin: VIN, km: 51_999 }, 'ODOMETER_ROLLBACK');
  await coverage.expect(chain, 'dealer', 'vehicle.odometer', { vin: VIN2, km: 1 }, 'NOT_FOUND');
  await coverage.expect(chain, 'alice', 'vehicle.odometer', { vin: VIN, km: 60_000 }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bank', 'vehicle.odometer', { vin: VIN, km: 60_000 }, 'UNAUTHORIZED');
  const service = { vin: VIN, km: 53_000, workHash: hashOf('work order 7'), summary: 'timing belt' };
  await coverage.expect(chain, 'service', 'vehicle.service', service, 'ok');
  await coverage.expect(chain, 'dealer', 'vehicle.service', { ...service, km: 54_000 }, 'ok');
  await coverage.expect(chain, 'service', 'vehicle.service', { ...service, km: 1 }, 'ODOMETER_ROLLBACK');
  await coverage.expect(chain, 'service', 'vehicle.service', { ...service, vin: VIN2 }, 'NOT_FOUND');
  await coverage.expect(chain, 'insurer', 'vehicle.service', service, 'UNAUTHORIZED');
  assert.is((await chain.ledger.getVehicle(VIN))?.odometerKm, 54_000);
  const events = await history(chain);
  assert.equal(
    events.map((event) => event.kind),
    [
      'vehicle.register',
      'vehicle.odometer',
      'vehicle.odometer',
      'vehicle.odometer',
      'vehicle.service',
      'vehicle.service',
    ],
  );
  assert.equal(
    [events[4]?.summary, events[4]?.workHash, events[4]?.km],
    ['timing belt', hashOf('work order 7'), 53_000],
  );
});

test('vehicle.accident: insurers record accidents; a total loss brands the title salvage for good', async () => {
  const chain = await withVehicle();
  await coverage.expect(
    chain,
    'insurer',
    'vehicle.accident',
    { vin: VIN, severity: 'minor', reportHash: hashOf('r1') },
    'ok',
  );
  assert.equal((await chain.ledger.getVehicle(VIN))?.brands, []);
  await coverage.expect(
    chain,
    'insurer',
    'vehicle.accident',
    { vin: VIN, severity: 'total_loss', reportHash: hashOf('r2') },
    'ok',
  );
  assert.equal((await chain.ledger.getVehicle(VIN))?.brands, ['salvage']);
  await coverage.expect(
    chain,
    'insurer',
    'vehicle.accident',
    { vin: VIN, severity: 'total_loss', reportHash: hashOf('r3') },
    'ok',
  );
  assert.equal((await chain.ledger.getVehicle(VIN))?.brands, ['salvage'], 'a brand appears once');
  await coverage.expect(
    chain,
    'insurer',
    'vehicle.accident',
    { vin: VIN2, severity: 'minor', reportHash: hashOf('r') },
    'NOT_FOUND',
  );
  await coverage.expect(
    chain,
    'dealer',
    'vehicle.accident',
    { vin: VIN, severity: 'minor', reportHash: hashOf('r') },
    'UNAUTHORIZED',
  );
  // The brand survives a correction and a transfer: it is permanent.
  await chain.ok('regulator', 'vehicle.odometerCorrection', { vin: VIN, km: 10, reason: 'x' });
  await chain.ok('alice', 'vehicle.transfer', { vin: VIN, to: chain.address('bob') });
  assert.equal((await chain.ledger.getVehicle(VIN))?.brands, ['not_actual_mileage', 'salvage']);
});

test('vehicle.flag: stolen and recovered, each only from the other state', async () => {
  const chain = await withVehicle();
  await coverage.expect(chain, 'regulator', 'vehicle.flag', { vin: VIN, flag: 'recovered' }, 'INVALID_STATE');
  await coverage.expect(chain, 'regulator', 'vehicle.flag', { vin: VIN, flag: 'stolen' }, 'ok');
  assert.is((await chain.ledger.getVehicle(VIN))?.stolen, true);
  await coverage.expect(chain, 'regulator', 'vehicle.flag', { vin: VIN, flag: 'stolen' }, 'INVALID_STATE');
  await coverage.expect(chain, 'regulator', 'vehicle.flag', { vin: VIN, flag: 'recovered' }, 'ok');
  assert.is((await chain.ledger.getVehicle(VIN))?.stolen, false);
  await coverage.expect(chain, 'regulator', 'vehicle.flag', { vin: VIN2, flag: 'stolen' }, 'NOT_FOUND');
  await coverage.expect(chain, 'dealer', 'vehicle.flag', { vin: VIN, flag: 'stolen' }, 'UNAUTHORIZED');
});

test('vehicle.odometerCorrection: the regulator may lower the reading; the title is branded not_actual_mileage', async () => {
  const chain = await withVehicle('alice', VIN, 90_000);
  await coverage.expect(
    chain,
    'regulator',
    'vehicle.odometerCorrection',
    { vin: VIN, km: 45_000, reason: 'cluster swap' },
    'ok',
  );
  const vehicle = await chain.ledger.getVehicle(VIN);
  assert.equal([vehicle?.odometerKm, vehicle?.brands], [45_000, ['not_actual_mileage']]);
  const last = (await history(chain)).at(-1);
  assert.equal(last && [last.kind, last.km, last.previousKm, last.reason], [
    'vehicle.odometerCorrection',
    45_000,
    90_000,
    'cluster swap',
  ]);
  // Readings continue from the corrected value.
  await chain.ok('service', 'vehicle.odometer', { vin: VIN, km: 46_000 });
  await coverage.expect(
    chain,
    'regulator',
    'vehicle.odometerCorrection',
    { vin: VIN2, km: 1, reason: 'x' },
    'NOT_FOUND',
  );
  await coverage.expect(
    chain,
    'dealer',
    'vehicle.odometerCorrection',
    { vin: VIN, km: 1, reason: 'x' },
    'UNAUTHORIZED',
  );
});

test('vehicle.lien: the owner adds a lien naming an issuer or dealer; the lienholder or the regulator releases it', async () => {
  const chain = await withVehicle();
  const lien = (lienholder: string) => ({ vin: VIN, action: 'add', lienholder: chain.address(lienholder) });
  const release = { vin: VIN, action: 'release' };
  await coverage.expect(chain, 'bank', 'vehicle.lien', release, 'INVALID_STATE');
  // Nobody but the owner encumbers a vehicle: not the would-be lienholder, not another dealer.
  await coverage.expect(chain, 'bank', 'vehicle.lien', lien('bank'), 'UNAUTHORIZED');
  await coverage.expect(chain, 'dealer', 'vehicle.lien', lien('dealer'), 'UNAUTHORIZED');
  assert.is((await chain.ledger.getVehicle(VIN))?.lien, null, 'no lien without the owner');
  // The lienholder must be a registered, unfrozen issuer or dealer other than the owner.
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('bob'), 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('insurer'), 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('ghost'), 'NOT_FOUND');
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('alice'), 'SELF_DEALING');
  await chain.ok('regulator', 'member.freeze', { address: chain.address('dealer2'), reason: 'licence revoked' });
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('dealer2'), 'ACCOUNT_FROZEN');
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('bank'), 'ok');
  assert.is((await chain.ledger.getVehicle(VIN))?.lien, chain.address('bank'));
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('dealer'), 'INVALID_STATE');
  // Only the recorded lienholder (or the regulator) lifts it; not the owner, not another lender.
  await coverage.expect(chain, 'alice', 'vehicle.lien', release, 'UNAUTHORIZED');
  await coverage.expect(chain, 'dealer', 'vehicle.lien', release, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bank', 'vehicle.lien', release, 'ok');
  assert.is((await chain.ledger.getVehicle(VIN))?.lien, null);
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('dealer'), 'ok');
  await coverage.expect(chain, 'regulator', 'vehicle.lien', release, 'ok');
  await coverage.expect(chain, 'alice', 'vehicle.lien', { ...lien('bank'), vin: VIN2 }, 'NOT_FOUND');
  // An addition names its holder; a release names none (the recorded holder is the one released).
  assert.throws(() => chain.tx('alice', 'vehicle.lien', { vin: VIN, action: 'add' }), /lienholder: a lien names/);
  assert.throws(
    () => chain.tx('bank', 'vehicle.lien', { ...release, lienholder: chain.address('bank') }),
    /lienholder: a release names no holder/,
  );
  // A vehicle held by an order takes no new lien (the sale would be blocked).
  const order = await chain.ok('bob', 'order.create', {
    vin: VIN,
    seller: chain.address('alice'),
    price: '100',
    deliverBy: chain.time + DAY,
    confirmWindowMs: DAY,
  });
  await chain.ok('alice', 'order.accept', { orderId: order.orderId });
  await coverage.expect(chain, 'alice', 'vehicle.lien', lien('bank'), 'VEHICLE_LOCKED');
  const kinds = (await history(chain)).map((event) => `${event.kind}:${event.action ?? ''}`);
  assert.equal(kinds, [
    'vehicle.register:',
    'vehicle.lien:add',
    'vehicle.lien:release',
    'vehicle.lien:add',
    'vehicle.lien:release',
  ]);
});

test('vehicle.document: organisations anchor documents by hash', async () => {
  const chain = await withVehicle();
  for (const signer of ['dealer', 'insurer', 'service', 'regulator', 'bank']) {
    await coverage.expect(
      chain,
      signer,
      'vehicle.document',
      { vin: VIN, kind: 'inspection', docHash: hashOf(signer) },
      'ok',
    );
  }
  const last = (await history(chain)).at(-1);
  assert.equal(last && [last.kind, last.documentKind, last.docHash], [
    'vehicle.document',
    'inspection',
    hashOf('bank'),
  ]);
  await coverage.expect(
    chain,
    'dealer',
    'vehicle.document',
    { vin: VIN3, kind: 'invoice', docHash: hashOf('x') },
    'NOT_FOUND',
  );
  await coverage.expect(
    chain,
    'alice',
    'vehicle.document',
    { vin: VIN, kind: 'selfie', docHash: hashOf('x') },
    'UNAUTHORIZED',
  );
});

test('every declared outcome of vehicle.* was exercised', () => {
  assert.equal(
    coverage.missing([
      'vehicle.register',
      'vehicle.transfer',
      'vehicle.odometer',
      'vehicle.service',
      'vehicle.accident',
      'vehicle.flag',
      'vehicle.odometerCorrection',
      'vehicle.lien',
      'vehicle.document',
    ]),
    [],
  );
});

test.run();
