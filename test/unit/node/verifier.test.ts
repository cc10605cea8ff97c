// Signature verification in worker threads: the same verdicts as the event loop's verifier,
// whatever the batch; a dead worker's checks answered all the same; and admission answering
// submissions while block work holds the event loop's executor (it no longer waits for it).

import { bytesToHex, PUBLIC_KEY_LENGTH, Signer, sha256, utf8ToBytes } from '@autoledger/crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Mempool, type MempoolOptions } from '../../../packages/node/src/mempool.ts';
import {
  INLINE_VERIFIER,
  type SignatureCheck,
  SignatureVerifier,
  verifyInline,
} from '../../../packages/node/src/verifier.ts';
import { testAdmission } from '../../support/admission.ts';
import { waitFor } from '../../support/wait.ts';
import { TestChain } from '../state/support/chain.ts';

function checks(count: number): SignatureCheck[] {
  const signer = new Signer(new Uint8Array(32).fill(7));
  const other = new Signer(new Uint8Array(32).fill(9));
  const out: SignatureCheck[] = [];
  for (let i = 0; i < count; i++) {
    const message = utf8ToBytes(`message ${i}`.repeat(1 + (i % 5)));
    const signature = signer.sign(message);
    switch (i % 7) {
      case 0: // genuine
        out.push({ publicKey: signer.publicKey, message, signature });
        break;
      case 1: // another key's signature
        out.push({ publicKey: signer.publicKey, message, signature: other.sign(message) });
        break;
      case 2: {
        // one bit of the message flipped
        const flipped = message.slice();
        flipped[0] = (flipped[0] as number) ^ 1;
        out.push({ publicKey: signer.publicKey, message: flipped, signature });
        break;
      }
      case 3: // wrong lengths: never packed, refused all the same
        out.push({ publicKey: signer.publicKey.subarray(1), message, signature });
        out.push({ publicKey: signer.publicKey, message, signature: signature.subarray(0, 63) });
        break;
      case 4: {
        // S + L: the malleable twin of a genuine signature
        const twin = signature.slice();
        let carry = 0;
        const order = [
          0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
          0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        for (let b = 0; b < 32; b++) {
          const sum = (twin[32 + b] as number) + (order[b] as number) + carry;
          twin[32 + b] = sum & 0xff;
          carry = sum >> 8;
        }
        out.push({ publicKey: signer.publicKey, message, signature: twin });
        break;
      }
      case 5: // a small-order public key (the identity point)
        out.push({ publicKey: ed25519.Point.ZERO.toBytes(), message, signature });
        break;
      default: // the empty message
        out.push({ publicKey: other.publicKey, message: new Uint8Array(0), signature: other.sign(new Uint8Array(0)) });
    }
  }
  return out;
}

test('workers give the event loop’s verdicts, in order, for every kind of check and batch size', async () => {
  const verifier = new SignatureVerifier({ workers: 2 });
  try {
    assert.is(verifier.offloads, true);
    for (const size of [0, 1, 31, 700]) {
      const batch = checks(size);
      const expected = verifyInline(batch);
      assert.equal(await verifier.verifyMany(batch), expected, `batch of ${batch.length}`);
      if (size === 700) assert.ok(expected.includes(true) && expected.includes(false));
    }
    // Batches in flight at once come back to their own callers.
    const batches = [checks(50), checks(9), checks(120)];
    const answers = await Promise.all(batches.map((batch) => verifier.verifyMany(batch)));
    answers.forEach((answer, i) => {
      assert.equal(answer, verifyInline(batches[i] as SignatureCheck[]));
    });
    assert.is(verifier.fallbackChecks, 0);
    assert.ok(checks(3)[0]?.publicKey.length === PUBLIC_KEY_LENGTH);
  } finally {
    await verifier.close();
  }
});

test('a worker that dies is answered for on the event loop, replaced, and given up on when it keeps dying', async () => {
  const errors: Error[] = [];
  const verifier = new SignatureVerifier(
    { workers: 1, script: new URL('../../support/dying-verify-worker.ts', import.meta.url) },
    (error) => errors.push(error),
  );
  try {
    const batch = checks(40);
    // Each batch kills its worker; the verdicts still come, from the event loop.
    for (let round = 0; round < 5; round++) {
      assert.equal(await verifier.verifyMany(batch), verifyInline(batch), `round ${round}`);
    }
    // Three replacements, then the fourth death is the last: four rounds' packable checks fell back.
    const packable = batch.filter((check) => check.publicKey.length === 32 && check.signature.length === 64).length;
    assert.is(verifier.fallbackChecks, 4 * packable);
    assert.is(
      errors.filter((error) => /exited with \d+ checks out/.test(error.message)).length,
      4,
      'each loss reported',
    );
    assert.ok(
      errors.some((error) => /keep dying/.test(error.message)),
      'and the give-up',
    );
    assert.is(verifier.workers, 0, 'given up on after repeated deaths');
    assert.is(verifier.offloads, false);
  } finally {
    await verifier.close();
  }
});

test('an answer that does not fit its request is verified here, and a worker that cannot start is given up on', async () => {
  const batch = checks(30);
  const packable = batch.filter((check) => check.publicKey.length === 32 && check.signature.length === 64).length;
  const lying = new SignatureVerifier({
    workers: 1,
    script: new URL('../../support/lying-verify-worker.ts', import.meta.url),
  });
  try {
    assert.equal(await lying.verifyMany(batch), verifyInline(batch));
    assert.is(lying.fallbackChecks, packable);
    assert.is(lying.offloadedChecks, 0);
  } finally {
    await lying.close();
  }
  const errors: Error[] = [];
  const missing = new SignatureVerifier(
    { workers: 2, script: new URL('../../support/no-such-worker.ts', import.meta.url) },
    (error) => errors.push(error),
  );
  try {
    for (let round = 0; round < 6; round++) assert.equal(await missing.verifyMany(batch), verifyInline(batch));
    await waitFor(() => missing.workers === 0, { timeoutMs: 20_000, what: 'the workers given up on' });
    assert.ok(
      errors.some((error) => /keep dying/.test(error.message)),
      'the give-up is reported',
    );
    assert.equal(await missing.verifyMany(batch), verifyInline(batch));
  } finally {
    await missing.close();
  }
});

test('a closed verifier answers on the event loop', async () => {
  const verifier = new SignatureVerifier({ workers: 1 });
  await verifier.close();
  const batch = checks(10);
  assert.equal(await verifier.verifyMany(batch), verifyInline(batch));
});

const POOL: MempoolOptions = { maxTxs: 1_000, maxBytes: 1 << 20, maxPerSender: 100, maxNonceAhead: 64, ttlMs: 60_000 };

test('with verify workers, admission answers submissions while block work is running', async () => {
  const chain = await TestChain.create({ realSignatures: true });
  const mempool = new Mempool(POOL, { ledger: chain.ledger });
  const verifier = new SignatureVerifier({ workers: 1 });
  // Block work that never ends: admission that waited for the executor would never answer.
  const busy = () => new Promise<void>(() => {});
  const admission = testAdmission(mempool, { verifier, whenIdle: busy, blockWorkRunning: () => true });
  try {
    const txs = Array.from({ length: 60 }, (_, nonce) =>
      chain.tx('alice', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce }),
    );
    const forged = (txs[59] as { bytes: Uint8Array }).bytes.slice();
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    const results = await Promise.race([
      admission.submit([...txs.slice(0, 59).map((tx) => tx.bytes), forged], 'client'),
      new Promise<'timed out'>((resolve) => setTimeout(() => resolve('timed out'), 10_000)),
    ]);
    assert.ok(results !== 'timed out', 'answered beside block work');
    assert.equal(
      results.map((result) => (result.ok ? 'ok' : result.code)),
      [...Array(59).fill('ok'), 'BAD_SIGNATURE'],
    );
    assert.is(mempool.size, 59);
    assert.is(mempool.signaturesVerified, 60);
    assert.is(verifier.offloadedChecks, 60, 'verified by the worker');
    // The same admission with signatures on the event loop still waits for block work.
    const waiting = testAdmission(mempool, { whenIdle: busy });
    const held = waiting.submit(
      [chain.tx('bob', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: 0 }).bytes],
      'client',
    );
    const outcome = await Promise.race([
      held.then(() => 'answered'),
      new Promise((resolve) => setTimeout(() => resolve('waiting'), 300)),
    ]);
    assert.is(outcome, 'waiting');
    waiting.stop();
    assert.is(((await held)[0] as { code?: string }).code, 'SHUTTING_DOWN');
  } finally {
    admission.stop();
    await verifier.close();
  }
});

test('a proposal’s transactions: the same verdict and the same first failure through workers as inline', async () => {
  const chain = await TestChain.create({ realSignatures: true });
  const txs = Array.from({ length: 80 }, (_, i) =>
    chain.tx(i % 2 ? 'alice' : 'bob', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: i >> 1 }),
  );
  const forged = (txs[57] as { bytes: Uint8Array }).bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
  const good = txs.map((tx) => tx.bytes);
  const bad = good.map((bytes, i) => (i === 57 ? forged : bytes));
  const verifier = new SignatureVerifier({ workers: 2 });
  try {
    const answers = [];
    for (const batcher of [INLINE_VERIFIER, verifier]) {
      const mempool = new Mempool(POOL, { ledger: chain.ledger });
      const ok = await mempool.decodeBlockTxs(good, batcher);
      const refused = await mempool.decodeBlockTxs(bad, batcher);
      answers.push([
        ok.ok && ok.txs.length,
        refused.ok ? 'ok' : [refused.index, refused.code],
        mempool.signaturesVerified,
      ]);
    }
    assert.equal(answers[0], [80, [57, 'BAD_SIGNATURE'], 81]);
    assert.equal(answers[1], answers[0]);
    assert.is(verifier.offloadedChecks, 81);
  } finally {
    await verifier.close();
  }
});

test('admission after stop(): a slice waiting on a worker files and relays nothing', async () => {
  const chain = await TestChain.create({ realSignatures: true });
  const mempool = new Mempool(POOL, { ledger: chain.ledger });
  const verifier = new SignatureVerifier({ workers: 1 });
  const admitted: Uint8Array[] = [];
  const admission = testAdmission(mempool, {
    verifier,
    whenIdle: () => new Promise<void>(() => {}),
    blockWorkRunning: () => true,
    onAdmitted: (bytes) => admitted.push(bytes),
  });
  try {
    const txs = Array.from(
      { length: 40 },
      (_, nonce) => chain.tx('alice', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce }).bytes,
    );
    const answered = admission.submit(txs, 'peer');
    // The first slice is taken at once and is on its way to the worker.
    admission.stop();
    const results = await answered;
    assert.is(results.length, 40);
    assert.ok(results.every((result) => !result.ok && result.code === 'SHUTTING_DOWN'));
    assert.is(mempool.size, 0);
    assert.is(admitted.length, 0);
    assert.is(admission.queued, 0);
    for (const bytes of txs) assert.is(admission.waitingEnvelope(bytesToHex(sha256(bytes))), undefined);
  } finally {
    await verifier.close();
  }
});

test('a slice keeps the clients’ share of the pool, and verifies copies of one transaction once', async () => {
  const chain = await TestChain.create({ realSignatures: true });
  const mempool = new Mempool({ ...POOL, maxTxs: 40 }, { ledger: chain.ledger });
  const admission = testAdmission(mempool);
  const txs = Array.from(
    { length: 40 },
    (_, nonce) => chain.tx('alice', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce }).bytes,
  );
  const results = await admission.submit(txs, 'client');
  // 75% of 40: the rest is kept for transactions other validators relay.
  assert.is(results.filter((result) => result.ok).length, 30);
  assert.is(mempool.size, 30);
  const fresh = chain.tx('bob', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: 0 }).bytes;
  const before = mempool.signaturesVerified;
  const copies = await admission.submit([fresh, fresh, fresh], 'peer');
  assert.equal(
    copies.map((result) => result.ok && (result.duplicate ? 'duplicate' : 'ok')),
    ['ok', 'duplicate', 'duplicate'],
  );
  assert.is(mempool.signaturesVerified, before + 1, 'one verification for three copies');
});

test('a block committed while a signature was being verified is taken into account before filing', async () => {
  const chain = await TestChain.create({ realSignatures: true });
  const mempool = new Mempool(POOL, { ledger: chain.ledger });
  const never = async () => false;
  const pending = chain.tx('alice', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: 0 });
  const prepared = await mempool.prepare(pending.bytes, never);
  assert.ok('tx' in prepared, 'passes every check but the signature');
  // Meanwhile another transaction of alice's with nonce 0 is committed.
  const rival = chain.tx('alice', 'pay.transfer', { to: chain.address('bob'), amount: '2' }, { nonce: 0 });
  await chain.block([rival]);
  mempool.afterBlock([rival]);
  if (!('tx' in prepared)) return;
  const result = await mempool.complete(prepared, true, never);
  assert.is(result.ok ? 'ok' : result.code, 'BAD_NONCE', 'checked again against the new state');
  assert.is(mempool.size, 0);
  // Without a block in between, a prepared transaction is filed, once.
  const next = chain.tx('alice', 'pay.transfer', { to: chain.address('carol'), amount: '1' }, { nonce: 1 });
  const again = await mempool.prepare(next.bytes, never);
  const copy = await mempool.prepare(next.bytes, never);
  assert.ok('tx' in again && 'tx' in copy);
  if (!('tx' in again) || !('tx' in copy)) return;
  assert.equal(await mempool.complete(again, true, never), { ok: true, hash: next.hashHex, duplicate: false });
  assert.equal(await mempool.complete(copy, true, never), { ok: true, hash: next.hashHex, duplicate: true });
});

test.run();
