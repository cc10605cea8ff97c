// node.register / node.remove: observer nodes registered on chain, who may register them, and
// every rejection each kind declares.

import { bytesToHex } from '@autoledger/crypto';
import { encodeTxBody, MAX_OBSERVERS_PER_REGISTRANT } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CHAIN_ID, TestChain, testKey } from './support/chain.ts';
import { CodeCoverage } from './support/coverage.ts';

const coverage = new CodeCoverage();
const nodeKey = (name: string) => bytesToHex(testKey(name).publicKey);

test('the regulator or a validator operator registers an observer; anyone else is refused', async () => {
  const chain = await TestChain.create();
  const operator = chain.address('service');
  await coverage.expect(
    chain,
    'regulator',
    'node.register',
    { publicKey: nodeKey('observer-a'), moniker: 'observer-a', operator },
    'ok',
  );
  // dealer operates a genesis validator (the member with the validator's name).
  const byOperator = await coverage.expect(
    chain,
    'dealer',
    'node.register',
    { publicKey: nodeKey('observer-b'), moniker: 'observer-b', operator },
    'ok',
  );
  assert.equal(byOperator.events, [
    {
      type: 'node.register',
      attributes: { publicKey: nodeKey('observer-b'), moniker: 'observer-b', operator },
    },
  ]);
  // service and alice are members but operate no validator and are not the regulator.
  for (const signer of ['service', 'alice']) {
    await coverage.expect(
      chain,
      signer,
      'node.register',
      { publicKey: nodeKey('observer-c'), moniker: 'observer-c', operator },
      'UNAUTHORIZED',
    );
  }
  const observers = await chain.ledger.observers();
  assert.equal(
    observers.map((entry) => [entry.publicKey, entry.moniker, entry.operator, entry.registeredBy]),
    [
      [nodeKey('observer-a'), 'observer-a', operator, chain.address('regulator')],
      [nodeKey('observer-b'), 'observer-b', operator, chain.address('dealer')],
    ],
  );
});

test('a key registers once, never a validator key, with a registered operator, up to the per-account limit', async () => {
  const chain = await TestChain.create();
  const operator = chain.address('service');
  const fields = (name: string) => ({ publicKey: nodeKey(name), moniker: name, operator });
  await coverage.expect(chain, 'regulator', 'node.register', fields('observer-a'), 'ok');
  await coverage.expect(chain, 'regulator', 'node.register', fields('observer-a'), 'DUPLICATE_NODE');
  await coverage.expect(chain, 'regulator', 'node.register', fields('dealer'), 'DUPLICATE_NODE');
  await coverage.expect(
    chain,
    'regulator',
    'node.register',
    { ...fields('observer-x'), operator: testKey('nobody').address },
    'NOT_FOUND',
  );
  // One account registers at most MAX_OBSERVERS_PER_REGISTRANT.
  for (let index = 1; index < MAX_OBSERVERS_PER_REGISTRANT; index++) {
    await chain.ok('regulator', 'node.register', fields(`observer-${index}`), 1);
  }
  await coverage.expect(chain, 'regulator', 'node.register', fields('regulator-too-many'), 'OBSERVER_LIMIT');
  // Another account's quota is its own.
  await coverage.expect(chain, 'dealer', 'node.register', fields('dealer-observer'), 'ok');
  assert.is((await chain.ledger.observers()).length, MAX_OBSERVERS_PER_REGISTRANT + 1);
});

test('node.remove drops the observer; an unknown key is NOT_FOUND; only the same signers may', async () => {
  const chain = await TestChain.create();
  const operator = chain.address('service');
  await chain.ok('regulator', 'node.register', { publicKey: nodeKey('observer-a'), moniker: 'a', operator });
  await coverage.expect(chain, 'alice', 'node.remove', { publicKey: nodeKey('observer-a') }, 'UNAUTHORIZED');
  // dealer operates a validator but did not register it: another operator's observer is not its to cut off.
  await coverage.expect(chain, 'dealer', 'node.remove', { publicKey: nodeKey('observer-a') }, 'UNAUTHORIZED');
  await chain.ok('dealer', 'node.register', { publicKey: nodeKey('observer-d'), moniker: 'd', operator });
  await coverage.expect(chain, 'dealer', 'node.remove', { publicKey: nodeKey('observer-d') }, 'ok');
  const removed = await coverage.expect(chain, 'regulator', 'node.remove', { publicKey: nodeKey('observer-a') }, 'ok');
  assert.equal(removed.events, [{ type: 'node.remove', attributes: { publicKey: nodeKey('observer-a') } }]);
  assert.equal(await chain.ledger.observers(), []);
  await coverage.expect(chain, 'regulator', 'node.remove', { publicKey: nodeKey('observer-a') }, 'NOT_FOUND');
});

test('node.register refuses a public key that is not an ed25519 point before signing', () => {
  const fields = { publicKey: 'ff'.repeat(32), moniker: 'x', operator: testKey('service').address };
  const draft = { chainId: CHAIN_ID, nonce: 0, kind: 'node.register', fields };
  assert.throws(() => encodeTxBody(draft, testKey('regulator').publicKey), /publicKey: not an ed25519 public key/);
});

test('every declared rejection of node.register and node.remove is exercised', () => {
  assert.equal(coverage.missing(['node.register', 'node.remove']), []);
});

test.run();
