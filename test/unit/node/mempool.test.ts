// The mempool against a real ledger: admission checks and their codes, nonce ordering, caps,
// expiry, the signature cache and the bookkeeping after a block.

import { bytesToHex, sha256 } from '@autoledger/crypto';
import { type DecodedTx, decodeTx } from '@autoledger/state';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { envelopeHash, Mempool, type MempoolOptions } from '../../../packages/node/src/mempool.ts';
import { INLINE_VERIFIER, type SignatureCheck, verifyInline } from '../../../packages/node/src/verifier.ts';
import { waitFor } from '../../support/wait.ts';
import { TestChain } from '../state/support/chain.ts';

const OPTIONS: MempoolOptions = {
  maxTxs: 100,
  maxBytes: 1024 * 1024,
  maxPerSender: 10,
  maxNonceAhead: 64,
  ttlMs: 60_000,
};
const never = async () => false;
const inline = INLINE_VERIFIER;

async function setup(options: Partial<MempoolOptions> = {}) {
  const chain = await TestChain.create({ realSignatures: true });
  let now = 1_000;
  const mempool = new Mempool({ ...OPTIONS, ...options }, { ledger: chain.ledger, now: () => now });
  const transfer = (from: string, nonce: number, amount = '1') =>
    chain.tx(from, 'pay.transfer', { to: chain.address('carol'), amount }, { nonce });
  return { chain, mempool, transfer, advance: (ms: number) => (now += ms) };
}

async function codeOf(mempool: Mempool, tx: DecodedTx | Uint8Array, isCommitted = never) {
  const result = await mempool.add(tx instanceof Uint8Array ? tx : tx.bytes, isCommitted);
  return result.ok ? (result.duplicate ? 'duplicate' : 'ok') : result.code;
}

test('admission refuses bad input with its code and keeps nothing of it', async () => {
  const { chain, mempool, transfer } = await setup();
  const good = transfer('alice', 0);
  assert.is(await codeOf(mempool, good), 'ok');
  assert.is(await codeOf(mempool, good), 'duplicate');
  const forged = transfer('alice', 1).bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
  assert.is(await codeOf(mempool, forged), 'BAD_SIGNATURE');
  assert.is(await codeOf(mempool, new Uint8Array([1, 2, 3])), 'MALFORMED_TX');
  assert.is(
    await codeOf(
      mempool,
      chain.tx('alice', 'pay.transfer', { to: chain.address('bob'), amount: '1' }, { nonce: 1, chainId: 'elsewhere' }),
    ),
    'WRONG_CHAIN',
  );
  assert.is(
    await codeOf(mempool, chain.tx('mallory', 'pay.transfer', { to: chain.address('bob'), amount: '1' }, { nonce: 0 })),
    'UNKNOWN_SIGNER',
  );
  assert.is(await codeOf(mempool, transfer('alice', 0, '2')), 'NONCE_TAKEN');
  assert.is(await codeOf(mempool, transfer('alice', 10)), 'BAD_NONCE', 'nonces may run at most maxPerSender ahead');
  assert.is(mempool.size, 1);
});

test('a stale nonce is BAD_NONCE, and ALREADY_COMMITTED when that very transaction is in a block', async () => {
  const { chain, mempool, transfer } = await setup();
  const first = transfer('alice', 0);
  await chain.block([first]);
  assert.is(await codeOf(mempool, transfer('alice', 0, '5')), 'BAD_NONCE');
  assert.is(await codeOf(mempool, first, async () => true), 'ALREADY_COMMITTED');
});

test('a copy that arrives after its block is ALREADY_COMMITTED at once, without reading the index', async () => {
  const { chain, mempool, transfer } = await setup();
  const first = transfer('alice', 0);
  await chain.block([first]);
  mempool.afterBlock([first]);
  let indexReads = 0;
  const result = await mempool.add(first.bytes, async () => {
    indexReads++;
    return true;
  });
  assert.equal(result, {
    ok: false,
    hash: first.hashHex,
    code: 'ALREADY_COMMITTED',
    message: 'this transaction is already in a block',
  });
  assert.is(indexReads, 0);
  assert.is(mempool.size, 0);
  // Other bytes for the same body (another signature) are not that transaction: full checks,
  // of which the stale nonce refuses it before its signature is looked at.
  const forged = first.bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
  const verified = mempool.signaturesVerified;
  assert.is(await codeOf(mempool, forged), 'BAD_NONCE');
  assert.is(mempool.signaturesVerified, verified);
});

test('a block’s transactions: pooled ones are reused, others decoded and verified once, forgeries refused', async () => {
  const { mempool, transfer } = await setup();
  const pooled = transfer('alice', 0);
  await codeOf(mempool, pooled);
  const verified = mempool.signaturesVerified;
  const reused = await mempool.decodeBlockTxs([pooled.bytes], inline);
  assert.ok(reused.ok && reused.txs[0] === mempool.get(pooled.hashHex), 'the pooled object itself');
  assert.is(mempool.signaturesVerified, verified);
  const unseen = transfer('bob', 0);
  const decoded = await mempool.decodeBlockTxs([pooled.bytes, unseen.bytes], inline);
  assert.ok(decoded.ok && decoded.txs[1]?.hashHex === unseen.hashHex);
  assert.ok((await mempool.decodeBlockTxs([unseen.bytes], inline)).ok);
  assert.is(mempool.signaturesVerified, verified + 1, 'verified once across both validations');
  const forged = unseen.bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
  const refused = await mempool.decodeBlockTxs([pooled.bytes, forged], inline);
  assert.equal(refused.ok ? 'ok' : [refused.index, refused.code], [1, 'BAD_SIGNATURE']);
  const malformed = await mempool.decodeBlockTxs([pooled.bytes, new Uint8Array([1, 2, 3])], inline);
  assert.equal(malformed.ok ? 'ok' : [malformed.index, malformed.code], [1, 'MALFORMED_TX']);
  // The first failure by position is the answer, whichever check found it.
  const both = await mempool.decodeBlockTxs([forged, new Uint8Array([1, 2, 3])], inline);
  assert.equal(both.ok ? 'ok' : [both.index, both.code], [0, 'BAD_SIGNATURE']);
});

test('a block’s envelope hashes, when the caller has them, find pooled copies and key fresh ones without hashing again', async () => {
  const { mempool, transfer } = await setup();
  const pooled = transfer('alice', 0);
  await codeOf(mempool, pooled);
  const unseen = transfer('bob', 0);
  const hashes = [sha256(pooled.bytes), sha256(unseen.bytes)];
  const decoded = await mempool.decodeBlockTxs([pooled.bytes, unseen.bytes], inline, hashes);
  assert.ok(decoded.ok && decoded.txs[0] === mempool.get(pooled.hashHex), 'the pooled copy, found by the given hash');
  assert.is(bytesToHex(envelopeHash(decoded.txs[1] as DecodedTx)), bytesToHex(hashes[1] as Uint8Array));
  // A list that does not fit the block is not used: the hashes are computed from the bytes.
  const mismatched = await mempool.decodeBlockTxs([pooled.bytes, unseen.bytes], inline, [hashes[0] as Uint8Array]);
  assert.ok(mismatched.ok && mismatched.txs[0] === mempool.get(pooled.hashHex));
  // Signatures are still verified: the hashes say which bytes, not that they are signed.
  const forged = unseen.bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
  const refused = await mempool.decodeBlockTxs([forged], inline, [sha256(forged)]);
  assert.equal(refused.ok ? 'ok' : [refused.index, refused.code], [0, 'BAD_SIGNATURE']);
});

test('a signature being verified is waited for, not verified again, whichever path asks second', async () => {
  const { mempool, transfer } = await setup();
  const tx = transfer('bob', 0);
  const forged = transfer('bob', 1).bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
  const forgedTx = decodeTx(forged);
  assert.ok(forgedTx.ok);
  // A worker that answers only when told to: the proposal's batch stays in flight meanwhile.
  let release: (() => void) | undefined;
  let batches = 0;
  const slow = {
    verifyMany: async (checks: readonly SignatureCheck[]) => {
      batches++;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return verifyInline(checks);
    },
  };
  const proposal = mempool.decodeBlockTxs([tx.bytes, forged], slow);
  await waitFor(() => release !== undefined);
  // Admission meets the same bytes (another decoded copy) while that batch runs.
  let admissionChecks = 0;
  const admission = mempool.verifySignatures([tx, forgedTx.tx], (checks) => {
    admissionChecks += checks.length;
    return verifyInline(checks);
  });
  (release as () => void)();
  assert.equal(await admission, [true, false]);
  const refused = await proposal;
  assert.equal(refused.ok ? 'ok' : [refused.index, refused.code], [1, 'BAD_SIGNATURE']);
  assert.is(batches, 1);
  assert.is(admissionChecks, 0, 'admission waited for the running verdicts');
  assert.is(mempool.signaturesVerified, 2, 'each envelope verified once');

  // The other way round, and a verifier that fails: the waiter verifies for itself.
  const late = transfer('dave', 0);
  const failing = mempool.verifySignatures([late], () => Promise.reject(new Error('worker gone')));
  const waiter = mempool.decodeBlockTxs([late.bytes], slow);
  assert.is(
    await failing.then(
      () => 'answered',
      (error: Error) => error.message,
    ),
    'worker gone',
  );
  const validated = await waiter;
  assert.ok(validated.ok, 'verified by the waiter itself');
  assert.is(batches, 1, 'without a batch of its own');
  assert.is(mempool.signaturesVerified, 3);
});

test('reap takes each sender’s run of consecutive nonces, oldest sender first, within the limits', async () => {
  const { mempool, transfer, advance } = await setup();
  for (const nonce of [0, 1, 3]) assert.is(await codeOf(mempool, transfer('bob', nonce)), 'ok');
  advance(10);
  for (const nonce of [0, 1]) assert.is(await codeOf(mempool, transfer('alice', nonce)), 'ok');
  const reaped = mempool.reap(100, 1024 * 1024);
  assert.equal(
    reaped.map((tx) => [tx.signerAddress === transfer('bob', 9).signerAddress ? 'bob' : 'alice', tx.nonce]),
    [
      ['bob', 0],
      ['bob', 1],
      ['alice', 0],
      ['alice', 1],
    ],
    'bob nonce 3 waits for nonce 2',
  );
  assert.is(mempool.reap(3, 1024 * 1024).length, 3);
  const twoTxBytes = (reaped[0] as DecodedTx).bytes.length + (reaped[1] as DecodedTx).bytes.length;
  assert.is(mempool.reap(100, twoTxBytes).length, 2);
  assert.is(mempool.reap(100, twoTxBytes - 1).length, 1);
  assert.equal(mempool.ready(100, 1024 * 1024), { txs: 4, full: false }, 'bob 0-1 and alice 0-1; bob 3 waits');
  assert.equal(mempool.ready(4, 1024 * 1024), { txs: 4, full: true }, 'as many as a block takes');
  assert.equal(mempool.ready(100, twoTxBytes), { txs: 2, full: true }, 'as many bytes as a block takes');
  assert.is(mempool.nextNonce((reaped[0] as DecodedTx).signerAddress, 0), 2);
});

test('caps: a full pool refuses with MEMPOOL_FULL; a client share leaves room for relayed transactions', async () => {
  const { mempool, transfer } = await setup({ maxTxs: 4 });
  for (const nonce of [0, 1, 2]) assert.is(await codeOf(mempool, transfer('alice', nonce)), 'ok');
  const clientOnly = await mempool.add(transfer('bob', 0).bytes, never, 0.75);
  assert.is(clientOnly.ok ? 'ok' : clientOnly.code, 'MEMPOOL_FULL');
  assert.is(await codeOf(mempool, transfer('bob', 0)), 'ok', 'a relayed transaction may use the rest');
  assert.is(await codeOf(mempool, transfer('carol', 0)), 'MEMPOOL_FULL');
});

test('after a block: committed transactions leave, nonces move on, stale copies go; expiry after the TTL', async () => {
  const { chain, mempool, transfer, advance } = await setup();
  const txs = [transfer('alice', 0), transfer('alice', 1), transfer('alice', 2)];
  for (const tx of txs) await codeOf(mempool, tx);
  // The block commits nonces 0 and 1 from another copy of nonce 1 (same sender, other bytes).
  const otherOne = transfer('alice', 1, '9');
  await chain.block([txs[0] as DecodedTx, otherOne]);
  mempool.afterBlock([txs[0] as DecodedTx, otherOne]);
  assert.not.ok(mempool.has((txs[0] as DecodedTx).hashHex));
  assert.not.ok(mempool.has((txs[1] as DecodedTx).hashHex), 'the superseded nonce 1 is dropped');
  assert.equal(
    mempool.reap(10, 1024 * 1024).map((tx) => tx.nonce),
    [2],
  );
  advance(OPTIONS.ttlMs + 1);
  mempool.afterBlock([]);
  assert.is(mempool.size, 0, 'expired');
});

test('the re-check drops transactions whose signer lost the right to sign', async () => {
  const { chain, mempool, transfer } = await setup();
  for (const nonce of [0, 1]) await codeOf(mempool, transfer('bob', nonce));
  const freeze = chain.tx('regulator', 'member.freeze', { address: chain.address('bob'), reason: 'court order' });
  await chain.block([freeze]);
  const recheck = mempool.afterBlock([freeze]);
  assert.is(recheck.length, 2, 'a membership change re-checks every pending transaction');
  assert.is(await mempool.recheck(recheck), 2);
  assert.is(mempool.size, 0);
});

test('each signature is verified once: block validation reuses the admission verdict', async () => {
  const { mempool, transfer } = await setup();
  const tx = transfer('alice', 0);
  await codeOf(mempool, tx);
  const verified = mempool.signaturesVerified;
  // Pooled or not (the block's commit removes it), the verdict is remembered by envelope.
  mempool.afterBlock([tx]);
  assert.ok((await mempool.decodeBlockTxs([tx.bytes], inline)).ok);
  assert.is(mempool.signaturesVerified, verified);
  const unseen = transfer('alice', 1);
  assert.ok((await mempool.decodeBlockTxs([unseen.bytes], inline)).ok);
  assert.is(mempool.signaturesVerified, verified + 1);
});

test('a verdict on one signature never vouches for another signature on the same body', async () => {
  const { mempool, transfer, advance } = await setup({ ttlMs: 1_000 });
  const genuine = transfer('alice', 1);
  assert.is(await codeOf(mempool, genuine), 'ok');
  // The genuine copy expires; a copy with the same body and a forged signature arrives.
  advance(2_000);
  mempool.afterBlock([]);
  assert.not.ok(mempool.has(genuine.hashHex));
  const forged = genuine.bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 0x40;
  assert.is(await codeOf(mempool, forged), 'BAD_SIGNATURE');
  const inBlock = await mempool.decodeBlockTxs([forged], inline);
  assert.is(inBlock.ok ? 'ok' : inBlock.code, 'BAD_SIGNATURE', 'block validation refuses it too');
});

test.run();
