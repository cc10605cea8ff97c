// Rules every kind shares: a signer frozen earlier in the block gets ACCOUNT_FROZEN and keeps
// nothing but a used nonce; a role the kind does not allow gets UNAUTHORIZED, at admission
// (checkTx) and in a block alike.

import { KIND_BY_NAME, ROLES, TX_KINDS } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ACCOUNTS, hashOf, TestChain } from './support/chain.ts';
import { SAMPLE_FIELDS } from './support/samples.ts';

test('every kind: a signer frozen earlier in the same block fails with ACCOUNT_FROZEN and uses its nonce', async () => {
  const chain = await TestChain.create();
  for (const kind of TX_KINDS) {
    const name = `frozen-${kind.name}`;
    await chain.ok('regulator', 'member.register', {
      address: chain.address(name),
      role: 'person',
      name,
      kycHash: hashOf(name),
    });
    const execution = await chain.block([
      chain.tx('regulator', 'member.freeze', { address: chain.address(name), reason: 'test' }),
      chain.tx(name, kind.name, SAMPLE_FIELDS[kind.name] as Record<string, unknown>),
    ]);
    assert.is(execution.receipts[1]?.code, 'ACCOUNT_FROZEN', kind.name);
    assert.is((await chain.ledger.getAccount(chain.address(name)))?.nonce, 1, kind.name);
    const check = await chain.ledger.checkTx(
      chain.tx(name, kind.name, SAMPLE_FIELDS[kind.name] as Record<string, unknown>),
    );
    assert.equal(check.ok ? 'ok' : check.code, 'ACCOUNT_FROZEN', kind.name);
  }
});

test('every kind restricted to roles: every other role is refused with UNAUTHORIZED, at admission and in a block', async () => {
  const chain = await TestChain.create();
  let refusals = 0;
  for (const kind of TX_KINDS) {
    const allowed = (KIND_BY_NAME.get(kind.name) as { roles: readonly string[] | 'any' }).roles;
    if (allowed === 'any') continue;
    for (const role of ROLES) {
      if (allowed.includes(role)) continue;
      const name = `${role}-for-${kind.name}`;
      await chain.ok('regulator', 'member.register', {
        address: chain.address(name),
        role,
        name,
        kycHash: hashOf(name),
      });
      const tx = chain.tx(name, kind.name, SAMPLE_FIELDS[kind.name] as Record<string, unknown>);
      const check = await chain.ledger.checkTx(tx);
      assert.equal(check.ok ? 'ok' : check.code, 'UNAUTHORIZED', `${kind.name} by ${role} (checkTx)`);
      const execution = await chain.block([tx]);
      assert.is(execution.receipts[0]?.code, 'UNAUTHORIZED', `${kind.name} by ${role}`);
      refusals++;
    }
  }
  assert.ok(refusals > 50, `${refusals} refusals`);
});

test('signer rules follow the contract table', () => {
  const rolesOf = (name: string) => (KIND_BY_NAME.get(name) as { roles: readonly string[] | 'any' }).roles;
  assert.equal(rolesOf('member.register'), ['regulator', 'dealer', 'insurer']);
  assert.equal(rolesOf('member.freeze'), ['regulator']);
  assert.equal(rolesOf('pay.mint'), ['issuer']);
  assert.equal(rolesOf('pay.transfer'), 'any');
  assert.equal(rolesOf('vehicle.register'), ['dealer']);
  assert.equal(rolesOf('vehicle.odometer'), ['dealer', 'service', 'insurer', 'regulator']);
  assert.equal(rolesOf('vehicle.service'), ['dealer', 'service']);
  assert.equal(rolesOf('vehicle.accident'), ['insurer']);
  assert.equal(rolesOf('vehicle.flag'), ['regulator']);
  assert.equal(rolesOf('vehicle.odometerCorrection'), ['regulator']);
  // The owner adds a lien and the lienholder (or the regulator) releases it: a state rule.
  assert.equal(rolesOf('vehicle.lien'), 'any');
  assert.equal(rolesOf('vehicle.document'), ['regulator', 'dealer', 'insurer', 'service', 'issuer']);
  assert.equal(rolesOf('order.resolve'), ['regulator']);
  assert.equal(rolesOf('policy.issue'), ['insurer']);
  assert.equal(rolesOf('claim.decide'), ['insurer']);
  assert.ok(Object.keys(ACCOUNTS).length > 0);
});

test('a multi-role account acts in the role the kind allows (the regulator mints as issuer)', async () => {
  const chain = await TestChain.create();
  await chain.ok('regulator', 'pay.mint', { to: chain.address('alice'), amount: '5' });
  await chain.ok('dealer', 'vehicle.register', {
    vin: '1HGCM82633A004352',
    make: 'Honda',
    model: 'Accord',
    year: 2003,
    owner: chain.address('alice'),
    odometerKm: 1,
  });
  await chain.ok('regulator', 'vehicle.odometer', { vin: '1HGCM82633A004352', km: 2 });
  const entry = (await chain.ledger.getHistory('1HGCM82633A004352'))?.events.at(-1) as Record<string, unknown>;
  assert.equal([entry.actorRole, entry.actor], ['regulator', chain.address('regulator')]);
  await chain.ok('regulator', 'vehicle.document', { vin: '1HGCM82633A004352', kind: 'title', docHash: hashOf('t') });
});

test.run();
