// member.* and pay.*: the happy path and every rejection, with the contract's signer rules.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashOf, START_BALANCE, TestChain, testKey } from './support/chain.ts';
import { CodeCoverage } from './support/coverage.ts';

const coverage = new CodeCoverage();
const kyc = hashOf('kyc record');

test('member.register: the regulator registers any role; dealers and insurers register persons only', async () => {
  const chain = await TestChain.create();
  const newDealer = testKey('new-dealer').address;
  await coverage.expect(
    chain,
    'regulator',
    'member.register',
    { address: newDealer, role: 'dealer', name: 'Dealer Three' },
    'ok',
  );
  const account = await chain.ledger.getAccount(newDealer);
  assert.equal(
    [account?.role, account?.roles, account?.name, account?.balance, account?.nonce, account?.frozen],
    ['dealer', ['dealer'], 'Dealer Three', '0', 0, false],
  );
  await coverage.expect(
    chain,
    'dealer',
    'member.register',
    { address: testKey('p1').address, role: 'person', name: 'P1', kycHash: kyc },
    'ok',
  );
  await coverage.expect(
    chain,
    'insurer',
    'member.register',
    { address: testKey('p2').address, role: 'person', name: 'P2', kycHash: kyc },
    'ok',
  );
  assert.is((await chain.ledger.getAccount(testKey('p2').address))?.kycHash, kyc);
  await coverage.expect(
    chain,
    'dealer',
    'member.register',
    { address: testKey('d4').address, role: 'dealer', name: 'D4' },
    'UNAUTHORIZED',
  );
  await coverage.expect(
    chain,
    'alice',
    'member.register',
    { address: testKey('p3').address, role: 'person', name: 'P3', kycHash: kyc },
    'UNAUTHORIZED',
  );
  await coverage.expect(
    chain,
    'service',
    'member.register',
    { address: testKey('p3').address, role: 'person', name: 'P3', kycHash: kyc },
    'UNAUTHORIZED',
  );
  await coverage.expect(
    chain,
    'regulator',
    'member.register',
    { address: chain.address('alice'), role: 'person', name: 'Again', kycHash: kyc },
    'DUPLICATE_MEMBER',
  );
  // The new account can sign once registered: its first transaction uses nonce 0.
  const registered = await chain.ledger.getAccount(testKey('p1').address);
  assert.is(registered?.nonce, 0);
});

test('member.freeze / member.unfreeze: a frozen account signs nothing, then can again', async () => {
  const chain = await TestChain.create();
  const bob = chain.address('bob');
  await coverage.expect(chain, 'regulator', 'member.freeze', { address: bob, reason: 'fraud investigation' }, 'ok');
  assert.is((await chain.ledger.getAccount(bob))?.frozen, true);
  const refused = await chain.ledger.checkTx(
    chain.tx('bob', 'pay.transfer', { to: chain.address('alice'), amount: '1' }, { nonce: 0 }),
  );
  assert.equal(refused.ok ? 'ok' : refused.code, 'ACCOUNT_FROZEN');
  await coverage.expect(chain, 'regulator', 'member.freeze', { address: bob, reason: 'again' }, 'INVALID_STATE');
  await coverage.expect(
    chain,
    'regulator',
    'member.freeze',
    { address: testKey('ghost').address, reason: 'x' },
    'NOT_FOUND',
  );
  await coverage.expect(
    chain,
    'regulator',
    'member.freeze',
    { address: chain.address('regulator'), reason: 'oops' },
    'INVALID_STATE',
  );
  await coverage.expect(
    chain,
    'dealer',
    'member.freeze',
    { address: chain.address('alice'), reason: 'x' },
    'UNAUTHORIZED',
  );
  // Money can still be paid to a frozen account (only signing and receiving vehicles stop).
  await coverage.expect(chain, 'alice', 'pay.transfer', { to: bob, amount: '5' }, 'ok');
  await coverage.expect(chain, 'regulator', 'member.unfreeze', { address: bob }, 'ok');
  assert.is((await chain.ledger.getAccount(bob))?.frozen, false);
  await coverage.expect(chain, 'regulator', 'member.unfreeze', { address: bob }, 'INVALID_STATE');
  await coverage.expect(chain, 'regulator', 'member.unfreeze', { address: testKey('ghost').address }, 'NOT_FOUND');
  await coverage.expect(chain, 'insurer', 'member.unfreeze', { address: bob }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bob', 'pay.transfer', { to: chain.address('alice'), amount: '5' }, 'ok');
});

test('pay.mint / pay.burn: only issuers change the supply', async () => {
  const chain = await TestChain.create();
  await coverage.expect(chain, 'bank', 'pay.mint', { to: chain.address('carol'), amount: '1234' }, 'ok');
  assert.is(await chain.balance('carol'), START_BALANCE + 1234n);
  // The regulator's organisation holds issuer too (devnet), so it mints.
  await coverage.expect(chain, 'regulator', 'pay.mint', { to: chain.address('carol'), amount: '1' }, 'ok');
  await coverage.expect(chain, 'bank', 'pay.mint', { to: testKey('ghost').address, amount: '1' }, 'NOT_FOUND');
  await coverage.expect(
    chain,
    'bank',
    'pay.mint',
    { to: chain.address('carol'), amount: (10n ** 30n - 1n).toString() },
    'AMOUNT_OVERFLOW',
  );
  await coverage.expect(chain, 'dealer', 'pay.mint', { to: chain.address('dealer'), amount: '1' }, 'UNAUTHORIZED');
  await coverage.expect(chain, 'bank', 'pay.burn', { amount: '1000' }, 'ok');
  assert.is(await chain.balance('bank'), START_BALANCE - 1000n);
  await coverage.expect(chain, 'bank', 'pay.burn', { amount: String(START_BALANCE) }, 'INSUFFICIENT_FUNDS');
  await coverage.expect(chain, 'alice', 'pay.burn', { amount: '1' }, 'UNAUTHORIZED');
});

test('pay.transfer: any account pays any registered account from its balance', async () => {
  const chain = await TestChain.create();
  const receipt = await coverage.expect(
    chain,
    'alice',
    'pay.transfer',
    { to: chain.address('bob'), amount: '2500', reference: 'rent' },
    'ok',
  );
  assert.equal(receipt.events, [
    {
      type: 'pay.transfer',
      attributes: { from: chain.address('alice'), to: chain.address('bob'), amount: '2500', reference: 'rent' },
    },
  ]);
  assert.is(await chain.balance('alice'), START_BALANCE - 2500n);
  assert.is(await chain.balance('bob'), START_BALANCE + 2500n);
  await coverage.expect(chain, 'dealer', 'pay.transfer', { to: chain.address('bob'), amount: '1' }, 'ok');
  await coverage.expect(chain, 'alice', 'pay.transfer', { to: testKey('ghost').address, amount: '1' }, 'NOT_FOUND');
  await coverage.expect(
    chain,
    'alice',
    'pay.transfer',
    { to: chain.address('bob'), amount: String(START_BALANCE) },
    'INSUFFICIENT_FUNDS',
  );
  // A failed transfer still used its nonce, and moved nothing.
  assert.is((await chain.ledger.getAccount(chain.address('alice')))?.nonce, 3);
  assert.is(await chain.balance('alice'), START_BALANCE - 2500n);
  // Paying oneself is allowed and changes nothing.
  await coverage.expect(chain, 'alice', 'pay.transfer', { to: chain.address('alice'), amount: '7' }, 'ok');
  assert.is(await chain.balance('alice'), START_BALANCE - 2500n);
});

test('every declared outcome of member.* and pay.* was exercised', () => {
  assert.equal(
    coverage.missing(['member.register', 'member.freeze', 'member.unfreeze', 'pay.mint', 'pay.burn', 'pay.transfer']),
    [],
  );
});

test.run();
