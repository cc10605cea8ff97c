// policy.* and claim.*: offers, premiums, claims in force at block time, decisions that pay
// within coverage and write the accident on the vehicle.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DAY, hashOf, START_BALANCE, TestChain, testKey, VINS } from './support/chain.ts';
import { CodeCoverage } from './support/coverage.ts';

const coverage = new CodeCoverage();
const [VIN, VIN2] = VINS as [string, string];

async function insuredMarket(): Promise<TestChain> {
  const chain = await TestChain.create();
  await chain.ok('dealer', 'vehicle.register', {
    vin: VIN,
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address('alice'),
    odometerKm: 1,
  });
  // A second insurer, registered without funds.
  await chain.ok('regulator', 'member.register', {
    address: chain.address('insurer2'),
    role: 'insurer',
    name: 'Insurer Two',
  });
  return chain;
}

function policyFields(chain: TestChain, change: Record<string, unknown> = {}) {
  return {
    vin: VIN,
    holder: chain.address('alice'),
    premium: '50000',
    coverage: '1000000',
    start: chain.time,
    end: chain.time + 365 * DAY,
    ...change,
  };
}

async function activePolicy(
  chain: TestChain,
  change: Record<string, unknown> = {},
  insurer = 'insurer',
): Promise<string> {
  const policyId = (await chain.ok(insurer, 'policy.issue', policyFields(chain, change))).policyId as string;
  await chain.ok('alice', 'policy.accept', { policyId });
  return policyId;
}

test('policy.issue offers a policy; policy.accept pays the premium to the insurer', async () => {
  const chain = await insuredMarket();
  const receipt = await coverage.expect(chain, 'insurer', 'policy.issue', policyFields(chain), 'ok');
  assert.is(receipt.policyId, 'pol-1');
  const offered = await chain.ledger.getPolicy('pol-1');
  assert.equal(
    offered && [offered.status, offered.insurer, offered.holder, offered.premium, offered.coverage, offered.paidOut],
    ['offered', chain.address('insurer'), chain.address('alice'), '50000', '1000000', '0'],
  );
  await coverage.expect(chain, 'insurer', 'policy.issue', policyFields(chain, { vin: VIN2 }), 'NOT_FOUND');
  await coverage.expect(
    chain,
    'insurer',
    'policy.issue',
    policyFields(chain, { holder: testKey('ghost').address }),
    'NOT_FOUND',
  );
  await coverage.expect(
    chain,
    'insurer',
    'policy.issue',
    policyFields(chain, { holder: chain.address('insurer') }),
    'SELF_DEALING',
  );
  await coverage.expect(
    chain,
    'insurer',
    'policy.issue',
    policyFields(chain, { start: 1, end: chain.time }),
    'DEADLINE',
  );
  await coverage.expect(chain, 'dealer', 'policy.issue', policyFields(chain), 'UNAUTHORIZED');
  await coverage.expect(chain, 'bob', 'policy.accept', { policyId: 'pol-1' }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'policy.accept', { policyId: 'pol-99' }, 'NOT_FOUND');
  const insurerBefore = await chain.balance('insurer');
  await coverage.expect(chain, 'alice', 'policy.accept', { policyId: 'pol-1' }, 'ok');
  assert.is(await chain.balance('insurer'), insurerBefore + 50_000n);
  assert.is(await chain.balance('alice'), START_BALANCE - 50_000n);
  assert.is((await chain.ledger.getPolicy('pol-1'))?.status, 'active');
  await coverage.expect(chain, 'alice', 'policy.accept', { policyId: 'pol-1' }, 'INVALID_STATE');
  const expensive = (await chain.ok('insurer', 'policy.issue', policyFields(chain, { premium: String(START_BALANCE) })))
    .policyId;
  await coverage.expect(chain, 'alice', 'policy.accept', { policyId: expensive }, 'INSUFFICIENT_FUNDS');
  const shortLived = (await chain.ok('insurer', 'policy.issue', policyFields(chain, { end: chain.time + 5_000 })))
    .policyId;
  await coverage.expect(chain, 'alice', 'policy.accept', { policyId: shortLived }, 'DEADLINE', 10_000);
});

test('claim.file: the holder claims within the period and the remaining coverage', async () => {
  const chain = await insuredMarket();
  const offered = (await chain.ok('insurer', 'policy.issue', policyFields(chain))).policyId;
  const claim = { policyId: offered, amount: '300000', severity: 'major', incidentHash: hashOf('crash') };
  await coverage.expect(chain, 'alice', 'claim.file', claim, 'INVALID_STATE');
  const policyId = await activePolicy(chain);
  const receipt = await coverage.expect(chain, 'alice', 'claim.file', { ...claim, policyId }, 'ok');
  assert.is(receipt.claimId, 'clm-1');
  const filed = await chain.ledger.getClaim('clm-1');
  assert.equal(filed && [filed.status, filed.vin, filed.holder, filed.insurer, filed.amount, filed.payout], [
    'filed',
    VIN,
    chain.address('alice'),
    chain.address('insurer'),
    '300000',
    null,
  ]);
  await coverage.expect(chain, 'bob', 'claim.file', { ...claim, policyId }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'alice', 'claim.file', { ...claim, policyId: 'pol-99' }, 'NOT_FOUND');
  await coverage.expect(chain, 'alice', 'claim.file', { ...claim, policyId, amount: '1000001' }, 'EXCEEDS_COVERAGE');
  const future = await activePolicy(chain, { start: chain.time + 10 * DAY });
  await coverage.expect(chain, 'alice', 'claim.file', { ...claim, policyId: future }, 'DEADLINE');
  const ending = await activePolicy(chain, { end: chain.time + 5_000 });
  await coverage.expect(chain, 'alice', 'claim.file', { ...claim, policyId: ending }, 'DEADLINE', 5_000);
});

test('claim.decide: approval pays the holder within coverage and records the accident; denial pays nothing', async () => {
  const chain = await insuredMarket();
  const policyId = await activePolicy(chain);
  const file = async (amount: string, severity = 'major') =>
    (await chain.ok('alice', 'claim.file', { policyId, amount, severity, incidentHash: hashOf(`incident ${amount}`) }))
      .claimId as string;
  const first = await file('300000');
  await coverage.expect(
    chain,
    'insurer2',
    'claim.decide',
    { claimId: first, approve: true, payout: '1' },
    'UNAUTHORIZED',
  );
  await coverage.expect(
    chain,
    'dealer',
    'claim.decide',
    { claimId: first, approve: true, payout: '1' },
    'UNAUTHORIZED',
  );
  await coverage.expect(chain, 'insurer', 'claim.decide', { claimId: 'clm-99', approve: false }, 'NOT_FOUND');
  const holderBefore = await chain.balance('alice');
  await coverage.expect(chain, 'insurer', 'claim.decide', { claimId: first, approve: true, payout: '250000' }, 'ok');
  assert.is(await chain.balance('alice'), holderBefore + 250_000n);
  const paid = await chain.ledger.getClaim(first);
  assert.equal([paid?.status, paid?.payout], ['paid', '250000']);
  assert.is((await chain.ledger.getPolicy(policyId))?.paidOut, '250000');
  const accident = (await chain.ledger.getHistory(VIN))?.events.at(-1) as Record<string, unknown>;
  assert.equal(
    [accident.kind, accident.severity, accident.claimId, accident.reportHash, accident.actor],
    ['vehicle.accident', 'major', first, hashOf('incident 300000'), chain.address('insurer')],
  );
  await coverage.expect(chain, 'insurer', 'claim.decide', { claimId: first, approve: false }, 'INVALID_STATE');
  const second = await file('700000', 'total_loss');
  await coverage.expect(
    chain,
    'insurer',
    'claim.decide',
    { claimId: second, approve: true, payout: '750001' },
    'EXCEEDS_COVERAGE',
  );
  const denied = await file('10');
  await coverage.expect(chain, 'insurer', 'claim.decide', { claimId: denied, approve: false }, 'ok');
  assert.equal(
    [(await chain.ledger.getClaim(denied))?.status, (await chain.ledger.getClaim(denied))?.payout],
    ['denied', null],
  );
  await coverage.expect(chain, 'insurer', 'claim.decide', { claimId: second, approve: true, payout: '750000' }, 'ok');
  assert.equal(
    (await chain.ledger.getVehicle(VIN))?.brands,
    ['salvage'],
    'an approved total-loss claim brands the title',
  );
  // An insurer that cannot pay: insurer2 was registered without funds.
  assert.is(await chain.balance('insurer2'), 0n);
  const poorPolicy = await activePolicy(chain, { premium: '0' }, 'insurer2');
  const poorClaim = (
    await chain.ok('alice', 'claim.file', {
      policyId: poorPolicy,
      amount: '500',
      severity: 'minor',
      incidentHash: hashOf('dent'),
    })
  ).claimId;
  await coverage.expect(
    chain,
    'insurer2',
    'claim.decide',
    { claimId: poorClaim, approve: true, payout: '500' },
    'INSUFFICIENT_FUNDS',
  );
});

test('every declared outcome of policy.* and claim.* was exercised', () => {
  assert.equal(coverage.missing(['policy.issue', 'policy.accept', 'claim.file', 'claim.decide']), []);
});

test.run();
