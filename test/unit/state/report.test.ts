// The vehicle history report: a bundle of records and proofs that an offline verifier checks
// against a state root — complete history, and theft, liens and brands present or provably absent.

import { bytesToHex } from '@autoledger/crypto';
import { type VehicleProofBundle, verifyVehicleProofBundle } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DAY, hashOf, TestChain, VINS } from './support/chain.ts';

const [VIN, VIN2, UNREGISTERED] = VINS as [string, string, string];

/** A vehicle with a rich life: sold through escrow, serviced, crashed, claimed, corrected, flagged. */
async function richHistory(): Promise<TestChain> {
  const chain = await TestChain.create();
  await chain.ok('dealer', 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address('alice'),
    odometerKm: 10_000,
  });
  await chain.ok('dealer', 'vehicle.register', {
    vin: VIN2,
    make: 'Acura',
    model: 'Legend',
    year: 1993,
    owner: chain.address('carol'),
    odometerKm: 5,
  });
  await chain.ok('service', 'vehicle.service', { vin: VIN, km: 20_000, workHash: hashOf('w1'), summary: 'oil' });
  const orderId = (
    await chain.ok('bob', 'order.create', {
      vin: VIN,
      seller: chain.address('alice'),
      price: '500000',
      deliverBy: chain.time + DAY,
      confirmWindowMs: DAY,
    })
  ).orderId;
  await chain.ok('alice', 'order.accept', { orderId });
  await chain.ok('alice', 'order.deliver', { orderId });
  await chain.ok('bob', 'order.confirm', { orderId });
  const policyId = (
    await chain.ok('insurer', 'policy.issue', {
      vin: VIN,
      holder: chain.address('bob'),
      premium: '100',
      coverage: '100000',
      start: chain.time,
      end: chain.time + 300 * DAY,
    })
  ).policyId;
  await chain.ok('bob', 'policy.accept', { policyId });
  const claimId = (
    await chain.ok('bob', 'claim.file', { policyId, amount: '5000', severity: 'major', incidentHash: hashOf('crash') })
  ).claimId;
  await chain.ok('insurer', 'claim.decide', { claimId, approve: true, payout: '4000' });
  await chain.ok('service', 'vehicle.odometer', { vin: VIN, km: 30_000 });
  await chain.ok('regulator', 'vehicle.odometerCorrection', { vin: VIN, km: 25_000, reason: 'typo' });
  // bob owns the car since the order completed; he finances it with the bank.
  await chain.ok('bob', 'vehicle.lien', { vin: VIN, action: 'add', lienholder: chain.address('bank') });
  await chain.ok('regulator', 'vehicle.flag', { vin: VIN, flag: 'stolen' });
  await chain.ok('insurer', 'vehicle.document', { vin: VIN, kind: 'police-report', docHash: hashOf('police') });
  return chain;
}

test('a full report verifies and reads back the vehicle’s whole life', async () => {
  const chain = await richHistory();
  const bundle = await chain.ledger.proveVehicle(VIN);
  assert.is(bundle.height, chain.ledger.height);
  const verdict = verifyVehicleProofBundle(JSON.parse(JSON.stringify(bundle)), chain.ledger.stateRoot);
  assert.ok(verdict.ok, verdict.ok ? '' : verdict.message);
  if (!verdict.ok) return;
  const { report } = verdict;
  assert.equal(report.owners, [chain.address('alice'), chain.address('bob')]);
  assert.is(report.ownersCount, 2);
  assert.equal(
    report.odometer.map((reading) => [reading.kind, reading.km]),
    [
      ['vehicle.register', 10_000],
      ['vehicle.service', 20_000],
      ['vehicle.odometer', 30_000],
      ['vehicle.odometerCorrection', 25_000],
    ],
  );
  assert.is(report.odometerCorrections, 1);
  assert.equal(
    report.accidents.map((accident) => [accident.severity, accident.claimId]),
    [['major', 'clm-1']],
  );
  assert.equal(report.claims, ['clm-1']);
  assert.equal(report.brands, ['not_actual_mileage']);
  assert.equal([report.stolen, report.lien, report.registered], [true, chain.address('bank'), true]);
  assert.is(report.history.length, report.vehicle?.historyLength);
  // The same answer the history query gives.
  const history = await chain.ledger.getHistory(VIN);
  assert.equal(report.history, history?.events);
  const proven = await chain.ledger.getHistory(VIN, { prove: true });
  assert.ok(verifyVehicleProofBundle((proven as { proof: VehicleProofBundle }).proof, chain.ledger.stateRoot).ok);
});

test('a clean vehicle proves the absence of theft, lien, salvage and mileage brands', async () => {
  const chain = await richHistory();
  const verdict = verifyVehicleProofBundle(await chain.ledger.proveVehicle(VIN2), bytesToHex(chain.ledger.stateRoot));
  assert.ok(verdict.ok);
  if (!verdict.ok) return;
  assert.equal(
    [verdict.report.stolen, verdict.report.lien, verdict.report.brands, verdict.report.ownersCount],
    [false, null, [], 1],
  );
});

test('an unregistered VIN is proven unregistered', async () => {
  const chain = await richHistory();
  const bundle = await chain.ledger.proveVehicle(UNREGISTERED);
  const verdict = verifyVehicleProofBundle(bundle, chain.ledger.stateRoot);
  assert.ok(verdict.ok && !verdict.report.registered && verdict.report.history.length === 0);
  assert.is(await chain.ledger.getHistory(UNREGISTERED), null);
});

test('tampering is caught: hidden entries, edited records, suppressed facts, another root', async () => {
  const chain = await richHistory();
  const root = chain.ledger.stateRoot;
  const bundle = await chain.ledger.proveVehicle(VIN);
  const clone = (): VehicleProofBundle => JSON.parse(JSON.stringify(bundle));
  const codeOf = (candidate: unknown, against: Uint8Array | string = root) => {
    const verdict = verifyVehicleProofBundle(candidate, against);
    return verdict.ok ? 'ok' : verdict.code;
  };
  assert.is(codeOf(clone()), 'ok');
  // Leaving out the last entry (say, the theft): the count in the record no longer matches.
  const hidden = clone();
  hidden.history.pop();
  assert.is(codeOf(hidden), 'INCONSISTENT');
  // Leaving out an entry and shifting the rest: the keys no longer match their positions.
  const shifted = clone();
  shifted.history.splice(2, 1);
  shifted.history.push(shifted.history.at(-1) as never);
  assert.is(codeOf(shifted), 'MALFORMED_BUNDLE');
  // Editing any byte of a record breaks its proof.
  for (const target of ['vehicle', 'history', 'stolen'] as const) {
    const edited = clone();
    const entry =
      target === 'vehicle'
        ? edited.vehicle
        : target === 'history'
          ? (edited.history[1] as never as { value: string })
          : edited.facts.stolen;
    const value = entry.value as string;
    entry.value = `${value.slice(0, 20)}${value[20] === '0' ? '1' : '0'}${value.slice(21)}`;
    assert.is(codeOf(edited), 'PROOF_INVALID', target);
  }
  // Claiming the theft is absent.
  const noTheft = clone();
  noTheft.facts.stolen = { ...noTheft.facts.stolen, value: null };
  assert.is(codeOf(noTheft), 'PROOF_INVALID');
  // Swapping in the (valid) absence proof of another VIN's facts.
  const otherBundle = await chain.ledger.proveVehicle(VIN2);
  const swapped = clone();
  swapped.facts.stolen = otherBundle.facts.stolen;
  assert.is(codeOf(swapped), 'MALFORMED_BUNDLE');
  // A proof for another state root.
  await chain.ok('service', 'vehicle.odometer', { vin: VIN2, km: 6 });
  assert.is(codeOf(clone(), chain.ledger.stateRoot), 'ROOT_MISMATCH');
  const relabelled = { ...clone(), stateRoot: bytesToHex(chain.ledger.stateRoot) };
  assert.is(codeOf(relabelled, chain.ledger.stateRoot), 'PROOF_INVALID');
  // A flipped bit in any sibling hash of the vehicle record's proof.
  const siblings = bundle.vehicle.proof.levels.flatMap((level, index) =>
    level.siblings.map((_, position) => [index, position] as const),
  );
  for (const [index, position] of siblings) {
    const flipped = clone();
    const level = flipped.vehicle.proof.levels[index] as { siblings: string[] };
    const sibling = level.siblings[position] as string;
    level.siblings[position] = `${sibling[0] === 'f' ? 'e' : 'f'}${sibling.slice(1)}`;
    assert.is(codeOf(flipped), 'PROOF_INVALID');
  }
});

test('the verifier is total: malformed input is reported, never thrown', async () => {
  const chain = await richHistory();
  const bundle = await chain.ledger.proveVehicle(VIN);
  const root = chain.ledger.stateRoot;
  const inputs: unknown[] = [
    null,
    42,
    'report',
    [],
    {},
    { ...bundle, format: 'other' },
    { ...bundle, vin: 'nope' },
    { ...bundle, history: 'x' },
    { ...bundle, facts: null },
    { ...bundle, vehicle: { key: `vehicle/${VIN}`, value: 'zz', proof: {} } },
    {
      ...bundle,
      vehicle: { key: `vehicle/${VIN}`, value: bundle.vehicle.value, proof: { levels: [{ bitmap: 'x' }] } },
    },
    { ...bundle, historyEnd: undefined },
    { ...bundle, height: 'tall' },
  ];
  for (const input of inputs) {
    const verdict = verifyVehicleProofBundle(input, root);
    assert.not.ok(verdict.ok, JSON.stringify(input)?.slice(0, 80));
  }
  assert.not.ok(verifyVehicleProofBundle(bundle, 'not-a-root').ok);
  assert.not.ok(verifyVehicleProofBundle(bundle, new Uint8Array(31)).ok);
});

test.run();
