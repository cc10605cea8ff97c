// The machine's own ceiling, measured in the same run as the benchmark: these machines' speed
// swings about 2x from hour to hour, so only ratios measured together mean anything.

import { availableParallelism } from 'node:os';
import { generateKeyPair, Signer, verify } from '@autoledger/crypto';

/** Single-core ed25519 verifications per second with the node's verifier (cached keys). */
export function measureVerifyPerCore(durationMs = 1_500): number {
  const keys = Array.from({ length: 64 }, () => generateKeyPair());
  const samples = keys.map((key, index) => {
    const message = new TextEncoder().encode(`sample transaction body ${index} with some bytes in it`.repeat(3));
    return { publicKey: key.publicKey, message, signature: new Signer(key.secretKey).sign(message) };
  });
  // Warm the key cache and the JIT first.
  for (const sample of samples) verify(sample.publicKey, sample.message, sample.signature);
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    for (const sample of samples) {
      if (!verify(sample.publicKey, sample.message, sample.signature)) throw new Error('verification failed');
    }
    count += samples.length;
  }
  return Math.round(count / ((performance.now() - started) / 1000));
}

export function cores(): number {
  return availableParallelism();
}
