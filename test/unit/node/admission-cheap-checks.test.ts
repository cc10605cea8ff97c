// Admission spends its one expensive step, the signature verification, only on a transaction
// it would otherwise take. A flood of transactions that are oversize, for another chain, from
// an unknown, frozen or unauthorised signer, or with a stale or far-future nonce is refused by
// the cheap checks first: it costs no verification at all. Real ledger, real signatures, the
// real admission queue in front of the mempool.

import { bytesToHex, sha256 } from '@autoledger/crypto';
import { MAX_TX_BYTES } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, parseNodeConfig } from '../../../packages/node/src/config.ts';
import { type AdmitResult, Mempool, type MempoolOptions } from '../../../packages/node/src/mempool.ts';
import { testAdmission } from '../../support/admission.ts';
import { TestChain } from '../state/support/chain.ts';

const OPTIONS: MempoolOptions = {
  maxTxs: 10_000,
  maxBytes: 32 * 1024 * 1024,
  maxPerSender: 1_000,
  maxNonceAhead: 64,
  ttlMs: 60_000,
};

async function setup(options: Partial<MempoolOptions> = {}) {
  const chain = await TestChain.create({ realSignatures: true });
  const mempool = new Mempool({ ...OPTIONS, ...options }, { ledger: chain.ledger });
  const admission = testAdmission(mempool);
  const transfer = (from: string, nonce: number, amount = '1', chainId?: string) =>
    chain.tx(from, 'pay.transfer', { to: chain.address('carol'), amount }, { nonce, ...(chainId ? { chainId } : {}) });
  return { chain, mempool, admission, transfer };
}

function codes(results: AdmitResult[]): Record<string, number> {
  const counted: Record<string, number> = {};
  for (const result of results) {
    const code = result.ok ? 'ok' : result.code;
    counted[code] = (counted[code] ?? 0) + 1;
  }
  return counted;
}

test('a flood of cheaply refusable transactions costs zero signature verifications', async () => {
  const { chain, mempool, admission, transfer } = await setup();
  // Alice's nonces 0 and 1 are used; bob is frozen.
  await chain.block([transfer('alice', 0), transfer('alice', 1)]);
  await chain.block([chain.tx('regulator', 'member.freeze', { address: chain.address('bob'), reason: 'court order' })]);
  const PER_CLASS = 40;
  const flood: Uint8Array[] = [];
  for (let i = 0; i < PER_CLASS; i++) {
    const amount = String(i + 1);
    // Oversize: refused by its length alone.
    flood.push(new Uint8Array(MAX_TX_BYTES + 1 + i).fill(0x0a));
    // Validly signed, all of them: the old order verified every one before refusing it.
    flood.push(transfer('alice', 2, amount, 'another-chain').bytes);
    flood.push(transfer('mallory', 0, amount).bytes);
    flood.push(transfer('bob', 0, amount).bytes);
    flood.push(chain.tx('alice', 'pay.mint', { to: chain.address('alice'), amount }, { nonce: 2 }).bytes);
    flood.push(transfer('alice', i % 2, amount).bytes);
    flood.push(transfer('alice', 2 + 65 + i, amount).bytes);
  }
  const fromClients = await admission.submit(flood.slice(0, flood.length / 2), 'client');
  const fromPeers = await admission.submit(flood.slice(flood.length / 2), 'peer');
  assert.equal(codes([...fromClients, ...fromPeers]), {
    TX_TOO_LARGE: PER_CLASS,
    WRONG_CHAIN: PER_CLASS,
    UNKNOWN_SIGNER: PER_CLASS,
    ACCOUNT_FROZEN: PER_CLASS,
    UNAUTHORIZED: PER_CLASS,
    BAD_NONCE: PER_CLASS,
    NONCE_TOO_FAR: PER_CLASS,
  });
  assert.is(mempool.signaturesVerified, 0, 'no refused transaction had its signature verified');
  assert.is(mempool.size, 0);
  assert.is(admission.queued, 0);

  // A transaction the pool takes pays for exactly one verification.
  const [admitted] = await admission.submit([transfer('alice', 2).bytes], 'client');
  assert.ok(admitted?.ok, JSON.stringify(admitted));
  assert.is(mempool.signaturesVerified, 1);
});

test('a transaction wrong in several ways is refused by the cheapest check, not by its signature', async () => {
  const { chain, mempool, transfer } = await setup();
  const forge = (bytes: Uint8Array) => {
    const forged = bytes.slice();
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    return forged;
  };
  const codeOf = async (bytes: Uint8Array) => {
    const result = await mempool.add(bytes, async () => false);
    return result.ok ? 'ok' : result.code;
  };
  assert.is(await codeOf(forge(transfer('alice', 0, '1', 'another-chain').bytes)), 'WRONG_CHAIN');
  assert.is(await codeOf(forge(transfer('mallory', 0).bytes)), 'UNKNOWN_SIGNER');
  assert.is(await codeOf(forge(transfer('alice', 65).bytes)), 'NONCE_TOO_FAR');
  assert.is(
    await codeOf(forge(chain.tx('alice', 'pay.mint', { to: chain.address('bob'), amount: '1' }, { nonce: 0 }).bytes)),
    'UNAUTHORIZED',
  );
  assert.is(mempool.signaturesVerified, 0);
  // Only a forgery that passes every cheap check reaches the verifier, and is refused there.
  assert.is(await codeOf(forge(transfer('alice', 0).bytes)), 'BAD_SIGNATURE');
  assert.is(mempool.signaturesVerified, 1);
  assert.is(mempool.size, 0);
});

test('an oversize submission is answered at once, beside the others in the same batch, in order', async () => {
  const { mempool, admission, transfer } = await setup();
  const results = await admission.submit(
    [transfer('alice', 0).bytes, new Uint8Array(1024 * 1024), transfer('alice', 1).bytes],
    'client',
  );
  assert.equal(
    results.map((result) => (result.ok ? 'ok' : result.code)),
    ['ok', 'TX_TOO_LARGE', 'ok'],
  );
  assert.is(mempool.size, 2);
});

test('mempool.maxNonceAhead bounds how far ahead a nonce may run, at admission and at every re-check', async () => {
  const narrow = await setup({ maxNonceAhead: 3 });
  const codeOf = async (mempool: Mempool, bytes: Uint8Array) => {
    const result = await mempool.add(bytes, async () => false);
    return result.ok ? 'ok' : result.code;
  };
  assert.is(await codeOf(narrow.mempool, narrow.transfer('alice', 3).bytes), 'ok');
  assert.is(await codeOf(narrow.mempool, narrow.transfer('alice', 4).bytes), 'NONCE_TOO_FAR');

  // The default window is MAX_NONCE_AHEAD (64).
  const standard = await setup();
  assert.is(await codeOf(standard.mempool, standard.transfer('alice', 64).bytes), 'ok');
  assert.is(await codeOf(standard.mempool, standard.transfer('alice', 65).bytes), 'NONCE_TOO_FAR');

  // A wider window holds at the re-check after a block too, not just at admission.
  const wide = await setup({ maxNonceAhead: 200 });
  const parked = wide.transfer('alice', 150);
  assert.is(await codeOf(wide.mempool, parked.bytes), 'ok');
  const freeze = wide.chain.tx('regulator', 'member.freeze', { address: wide.chain.address('bob'), reason: 'audit' });
  await wide.chain.block([freeze]);
  const recheck = wide.mempool.afterBlock([freeze]);
  assert.is(recheck.length, 1, 'a membership change re-checks every pending transaction');
  assert.is(await wide.mempool.recheck(recheck), 0, 'nonce 150 stays within the configured window');
  assert.ok(wide.mempool.has(parked.hashHex));
});

test('config: mempool.maxNonceAhead defaults to 64 and is validated', () => {
  assert.is(parseNodeConfig({ moniker: 'x' }).mempool.maxNonceAhead, 64);
  assert.is(parseNodeConfig({ moniker: 'x', mempool: { maxNonceAhead: 8 } }).mempool.maxNonceAhead, 8);
  assert.is(parseNodeConfig({ moniker: 'x', mempool: { maxNonceAhead: 0 } }).mempool.maxNonceAhead, 0);
  const errorOf = (input: unknown) => {
    try {
      parseNodeConfig(input);
      return '';
    } catch (error) {
      assert.instance(error, ConfigError);
      return (error as Error).message;
    }
  };
  assert.match(
    errorOf({ moniker: 'x', mempool: { maxNonceAhead: -1 } }),
    /mempool\.maxNonceAhead must be a non-negative/,
  );
  assert.match(
    errorOf({ moniker: 'x', mempool: { maxNonceAhead: '64' } }),
    /mempool\.maxNonceAhead must be a non-negative/,
  );
  assert.match(
    errorOf({ moniker: 'x', mempool: { maxTxs: 100, maxNonceAhead: 101 } }),
    /mempool\.maxNonceAhead must be from 0 to mempool\.maxTxs/,
  );
});

test('a relayed transaction waiting for its slice is found by its envelope hash until admitted (compact proposals complete from it)', async () => {
  const chain = await TestChain.create({ realSignatures: true });
  const mempool = new Mempool(OPTIONS, { ledger: chain.ledger });
  // Block work holds admission back, as at saturation: everything queued waits.
  let idle: () => void = () => {};
  const blocked = new Promise<void>((resolve) => {
    idle = resolve;
  });
  const admission = testAdmission(mempool, { whenIdle: () => blocked });
  const relayed = [0, 1, 2].map(
    (nonce) => chain.tx('alice', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce }).bytes,
  );
  const fromClient = chain.tx('bob', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: 0 }).bytes;
  const key = (bytes: Uint8Array) => bytesToHex(sha256(bytes));
  const first = admission.submit(relayed, 'peer');
  // The same transaction relayed by a second validator: one entry, two copies.
  const second = admission.submit([relayed[0] as Uint8Array], 'peer');
  const client = admission.submit([fromClient], 'client');
  for (const bytes of relayed) assert.equal(admission.waitingEnvelope(key(bytes)), bytes);
  assert.is(mempool.pooledEnvelope(key(relayed[0] as Uint8Array)), undefined, 'not admitted yet');
  // A client's transaction reaches the other validators only once admitted here, so a
  // proposal cannot list it before: it is not indexed (and not hashed twice).
  assert.is(admission.waitingEnvelope(key(fromClient)), undefined);
  idle();
  assert.ok((await first).every((result) => result.ok));
  assert.ok((await second).every((result) => result.ok && result.duplicate));
  assert.ok((await client)[0]?.ok);
  for (const bytes of relayed) {
    assert.is(admission.waitingEnvelope(key(bytes)), undefined, 'released once admitted');
    assert.ok(mempool.pooledEnvelope(key(bytes)), 'in the pool');
  }
  // A refused one is released too, and stop() releases whatever still waits.
  const stale = admission.submit([relayed[0] as Uint8Array, new Uint8Array([1, 2, 3])], 'peer');
  await stale;
  assert.is(admission.waitingEnvelope(key(new Uint8Array([1, 2, 3]))), undefined);
  const held = testAdmission(mempool, { whenIdle: () => new Promise(() => {}) });
  const never = held.submit([fromClient, relayed[2] as Uint8Array], 'peer');
  assert.ok(held.waitingEnvelope(key(fromClient)));
  held.stop();
  assert.is(held.waitingEnvelope(key(fromClient)), undefined);
  assert.equal(
    (await never).map((result) => !result.ok && result.code),
    ['SHUTTING_DOWN', 'SHUTTING_DOWN'],
  );
});

test('a waiting relayed transaction does not keep its whole frame in memory', async () => {
  const chain = await TestChain.create({ realSignatures: true });
  const mempool = new Mempool(OPTIONS, { ledger: chain.ledger });
  const admission = testAdmission(mempool, { whenIdle: () => new Promise(() => {}) });
  // As the relay hands them over: views into one large frame.
  const tx = chain.tx('alice', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: 0 }).bytes;
  const frame = new Uint8Array(4 * 1024 * 1024);
  frame.set(tx, 100);
  const view = frame.subarray(100, 100 + tx.length);
  void admission.submit([view], 'peer');
  const waiting = admission.waitingEnvelope(bytesToHex(sha256(tx)));
  assert.equal(waiting, tx);
  assert.is(waiting?.buffer.byteLength, tx.length, 'an owned copy, not a view of the frame');
  admission.stop();
});

test.run();
