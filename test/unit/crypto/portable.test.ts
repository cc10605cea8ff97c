// The portable (browser) entry point of @autoledger/crypto must agree with the node entry
// point on every verdict: the buyer's page verifies reports with it, validators with OpenSSL.

import { readFileSync } from 'node:fs';
import * as nodeCrypto from '@autoledger/crypto';
import * as portable from '@autoledger/crypto/portable';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

interface Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}
const { vectors } = JSON.parse(readFileSync(new URL('./rfc8032-vectors.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
};

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;
const { hexToBytes, concatBytes } = nodeCrypto;

function toLittleEndian32(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

function fromLittleEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] as number);
  return value;
}

/** A small deterministic generator, so a failing case replays. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

function assertSameVerdict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, what: string): boolean {
  const expected = nodeCrypto.verify(publicKey, message, signature);
  assert.is(portable.verify(publicKey, message, signature), expected, what);
  return expected;
}

const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '0000000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
];

test('both entry points export the same names', () => {
  assert.equal(Object.keys(portable).sort(), Object.keys(nodeCrypto).sort());
});

test('RFC 8032 §7.1 vectors: same keys, signatures and verdicts, and every one-bit flip agrees', () => {
  for (const vector of vectors) {
    const secretKey = hexToBytes(vector.secretKey);
    const message = hexToBytes(vector.message);
    const publicKey = hexToBytes(vector.publicKey);
    const signature = hexToBytes(vector.signature);
    assert.is(portable.bytesToHex(portable.publicKeyFromSecret(secretKey)), vector.publicKey);
    assert.is(portable.bytesToHex(portable.sign(secretKey, message)), vector.signature);
    assert.ok(assertSameVerdict(publicKey, message, signature, vector.name));
    for (let bit = 0; bit < 512; bit++) {
      const flipped = signature.slice();
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      assertSameVerdict(publicKey, message, flipped, `${vector.name} signature bit ${bit}`);
    }
    for (let bit = 0; bit < 256; bit += 3) {
      const flipped = publicKey.slice();
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      assertSameVerdict(flipped, message, signature, `${vector.name} key bit ${bit}`);
      assert.is(portable.isValidPublicKey(flipped), nodeCrypto.isValidPublicKey(flipped));
    }
  }
});

test('edge cases: S >= L, non-canonical R and keys, small-order keys, wrong lengths', () => {
  const vector = vectors[1] as Vector;
  const publicKey = hexToBytes(vector.publicKey);
  const message = hexToBytes(vector.message);
  const signature = hexToBytes(vector.signature);
  const s = fromLittleEndian(signature.subarray(32));
  for (const bad of [s + L, L, L - 1n, 0n, 2n ** 256n - 1n]) {
    assertSameVerdict(publicKey, message, concatBytes(signature.subarray(0, 32), toLittleEndian32(bad)), `S=${bad}`);
  }
  for (const y of [P, P + 1n, 2n ** 255n - 1n, 1n, P - 1n, 0n, (1n << 255n) | 1n, (1n << 255n) | (P - 1n)]) {
    const encoded = toLittleEndian32(y);
    assertSameVerdict(publicKey, message, concatBytes(encoded, signature.subarray(32)), `R y=${y}`);
    assertSameVerdict(encoded, message, signature, `A y=${y}`);
    assert.is(portable.isValidPublicKey(encoded), nodeCrypto.isValidPublicKey(encoded), `A y=${y}`);
  }
  for (const hex of SMALL_ORDER) {
    const key = hexToBytes(hex);
    assert.not.ok(portable.isValidPublicKey(key), hex);
    for (const r of SMALL_ORDER) {
      assertSameVerdict(key, new Uint8Array([1, 2, 3]), concatBytes(hexToBytes(r), new Uint8Array(32)), `${hex}/${r}`);
    }
  }
  const empty = new Uint8Array(0);
  assertSameVerdict(publicKey.subarray(0, 31), message, signature, 'short key');
  assertSameVerdict(publicKey, message, signature.subarray(0, 63), 'short signature');
  assertSameVerdict(publicKey, message, concatBytes(signature, new Uint8Array(1)), 'long signature');
  assertSameVerdict(empty, empty, empty, 'empty');
});

test('a torsion component in R (or in A) gets the cofactorless verdict in both', () => {
  const secretKey = hexToBytes((vectors[2] as Vector).secretKey);
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(secretKey);
  const message = new TextEncoder().encode('mixed-order R');
  for (const torsionHex of SMALL_ORDER) {
    const torsion = ed25519.Point.fromBytes(hexToBytes(torsionHex));
    const r = 123456789n;
    const R = ed25519.Point.BASE.multiply(r).add(torsion).toBytes();
    const k = fromLittleEndian(sha512(concatBytes(R, pointBytes, message))) % L;
    const signature = concatBytes(R, toLittleEndian32((r + k * scalar) % L));
    assertSameVerdict(pointBytes, message, signature, `R + ${torsionHex}`);
    // A mixed-order public key A' = aB + T with a signature made for it: OpenSSL judges
    // [S]B - [k]A' against R, and so must the portable verifier.
    const mixedKey = ed25519.Point.BASE.multiply(scalar).add(torsion).toBytes();
    const R2 = ed25519.Point.BASE.multiply(r).toBytes();
    const k2 = fromLittleEndian(sha512(concatBytes(R2, mixedKey, message))) % L;
    const signature2 = concatBytes(R2, toLittleEndian32((r + k2 * scalar) % L));
    assertSameVerdict(mixedKey, message, signature2, `A + ${torsionHex}`);
  }
});

test('3,000 random valid, mutated and misdirected signatures get the same verdict', () => {
  const random = prng(0x5eed);
  let valid = 0;
  let invalid = 0;
  for (let i = 0; i < 1_000; i++) {
    const secretKey = randomBytes(random, 32);
    const publicKey = nodeCrypto.publicKeyFromSecret(secretKey);
    const message = randomBytes(random, Math.floor(random() * 200));
    const signature = nodeCrypto.sign(secretKey, message);
    if (assertSameVerdict(publicKey, message, signature, `valid #${i}`)) valid++;
    const mutated = signature.slice();
    const mutation = Math.floor(random() * 4);
    if (mutation === 0) {
      const index = Math.floor(random() * 64);
      mutated[index] = (mutated[index] as number) ^ (1 << Math.floor(random() * 8));
    } else if (mutation === 1) mutated.set(randomBytes(random, 32), 0);
    else if (mutation === 2) mutated.set(toLittleEndian32(fromLittleEndian(mutated.subarray(32)) + L), 32);
    else mutated[31] = (mutated[31] as number) ^ 0x80;
    if (!assertSameVerdict(publicKey, message, mutated, `mutated #${i} (${mutation})`)) invalid++;
    const otherMessage = message.length === 0 ? new Uint8Array([0]) : message.slice(1);
    assertSameVerdict(publicKey, otherMessage, signature, `other message #${i}`);
  }
  assert.is(valid, 1_000);
  assert.ok(invalid >= 990, `${invalid} mutations were refused`);
});

test('byte helpers, hashing and addresses agree', () => {
  const random = prng(7);
  for (let i = 0; i < 300; i++) {
    const bytes = randomBytes(random, Math.floor(random() * 70));
    assert.is(portable.bytesToHex(bytes), nodeCrypto.bytesToHex(bytes));
    assert.is(portable.bytesToBase64(bytes), nodeCrypto.bytesToBase64(bytes));
    assert.is(portable.bytesToHex(portable.base64ToBytes(nodeCrypto.bytesToBase64(bytes))), portable.bytesToHex(bytes));
    assert.is(portable.bytesToHex(portable.sha256(bytes)), nodeCrypto.bytesToHex(nodeCrypto.sha256(bytes)));
    const other = randomBytes(random, Math.floor(random() * 4));
    assert.is(Math.sign(portable.compareBytes(bytes, other)), Math.sign(nodeCrypto.compareBytes(bytes, other)));
  }
  for (const text of ['', 'QQ==', 'QUI=', 'QUJD', 'QR==', 'QUJ=', 'Q', 'QQ', '====', 'QUJD\n', 'QU JD']) {
    let nodeVerdict: string;
    let portableVerdict: string;
    try {
      nodeVerdict = nodeCrypto.bytesToHex(nodeCrypto.base64ToBytes(text));
    } catch {
      nodeVerdict = 'throws';
    }
    try {
      portableVerdict = portable.bytesToHex(portable.base64ToBytes(text));
    } catch {
      portableVerdict = 'throws';
    }
    assert.is(portableVerdict, nodeVerdict, JSON.stringify(text));
  }
  const { publicKey } = nodeCrypto.generateKeyPair();
  assert.is(portable.addressFromPublicKey(publicKey), nodeCrypto.addressFromPublicKey(publicKey));
});

test.run();
