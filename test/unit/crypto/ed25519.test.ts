import { readFileSync } from 'node:fs';
import {
  bytesToHex,
  concatBytes,
  generateKeyPair,
  hexToBytes,
  isValidPublicKey,
  publicKeyFromSecret,
  Signer,
  sign,
  verify,
} from '@autoledger/crypto';
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

function nobleStrictVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

for (const vector of vectors) {
  test(`RFC 8032 §7.1 ${vector.name}: public key, signature and verification match`, () => {
    const secretKey = hexToBytes(vector.secretKey);
    const message = hexToBytes(vector.message);
    assert.is(bytesToHex(publicKeyFromSecret(secretKey)), vector.publicKey);
    assert.is(bytesToHex(sign(secretKey, message)), vector.signature);
    assert.ok(verify(hexToBytes(vector.publicKey), message, hexToBytes(vector.signature)));
  });
}

test('a signature does not verify under another message, key or with a flipped bit', () => {
  const { secretKey, publicKey } = generateKeyPair();
  const message = new TextEncoder().encode('title transfer');
  const signature = sign(secretKey, message);
  assert.ok(verify(publicKey, message, signature));
  assert.not.ok(verify(publicKey, new TextEncoder().encode('title transfeR'), signature));
  assert.not.ok(verify(generateKeyPair().publicKey, message, signature));
  for (let bit = 0; bit < 512; bit += 7) {
    const tampered = signature.slice();
    tampered[bit >> 3] = (tampered[bit >> 3] as number) ^ (1 << (bit & 7));
    assert.not.ok(verify(publicKey, message, tampered), `bit ${bit}`);
  }
});

test('signatures with S >= L are rejected (malleability: S + L verifies in lax verifiers)', () => {
  const vector = vectors[0] as Vector;
  const signature = hexToBytes(vector.signature);
  const s = fromLittleEndian(signature.subarray(32));
  for (const bad of [s + L, L, 2n ** 256n - 1n]) {
    const malleated = concatBytes(signature.subarray(0, 32), toLittleEndian32(bad));
    assert.not.ok(verify(hexToBytes(vector.publicKey), hexToBytes(vector.message), malleated));
    assert.not.ok(nobleStrictVerify(hexToBytes(vector.publicKey), hexToBytes(vector.message), malleated));
  }
});

test('non-canonical point encodings (y >= p) are rejected for R and for the public key', () => {
  const vector = vectors[1] as Vector;
  const message = hexToBytes(vector.message);
  const signature = hexToBytes(vector.signature);
  // y = p + 1 is a non-canonical encoding of the identity's y = 1; y = 2^255 - 1 is p + 18.
  for (const y of [P, P + 1n, 2n ** 255n - 1n]) {
    const encoded = toLittleEndian32(y);
    const badR = concatBytes(encoded, signature.subarray(32));
    assert.not.ok(verify(hexToBytes(vector.publicKey), message, badR), `R with y=${y}`);
    assert.not.ok(nobleStrictVerify(hexToBytes(vector.publicKey), message, badR));
    assert.not.ok(verify(encoded, message, signature), `A with y=${y}`);
    assert.not.ok(isValidPublicKey(encoded));
  }
});

test('small-order public keys are refused: a signature under them would prove nothing', () => {
  // The eight points of order dividing 8, in canonical encoding.
  const smallOrder = [
    '0100000000000000000000000000000000000000000000000000000000000000',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    '0000000000000000000000000000000000000000000000000000000000000080',
    '0000000000000000000000000000000000000000000000000000000000000000',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  ];
  for (const hex of smallOrder) {
    const publicKey = hexToBytes(hex);
    assert.not.ok(isValidPublicKey(publicKey), hex);
    // The identity key "verifies" R = identity, S = 0 for every message in lax verifiers.
    const forged = concatBytes(hexToBytes(smallOrder[0] as string), new Uint8Array(32));
    assert.not.ok(verify(publicKey, new Uint8Array([1, 2, 3]), forged), hex);
    assert.not.ok(nobleStrictVerify(publicKey, new Uint8Array([1, 2, 3]), forged), hex);
  }
});

test('wrong lengths are rejected, never thrown', () => {
  const { secretKey, publicKey } = generateKeyPair();
  const signature = sign(secretKey, new Uint8Array(0));
  assert.not.ok(verify(publicKey.subarray(0, 31), new Uint8Array(0), signature));
  assert.not.ok(verify(publicKey, new Uint8Array(0), signature.subarray(0, 63)));
  assert.not.ok(verify(publicKey, new Uint8Array(0), concatBytes(signature, new Uint8Array(1))));
  assert.not.ok(verify(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)));
});

test('noble-made signatures verify under the hot-path verifier, and the other way round', () => {
  for (let i = 0; i < 200; i++) {
    const secretKey = ed25519.utils.randomSecretKey();
    const publicKey = ed25519.getPublicKey(secretKey);
    const message = ed25519.utils.randomSecretKey().subarray(0, i % 32);
    const nobleSignature = ed25519.sign(message, secretKey);
    assert.ok(verify(publicKey, message, nobleSignature));
    const signer = new Signer(secretKey);
    const opensslSignature = signer.sign(message);
    // Ed25519 signing is deterministic, so both signers must produce the same bytes.
    assert.is(bytesToHex(opensslSignature), bytesToHex(nobleSignature));
    assert.ok(ed25519.verify(opensslSignature, message, publicKey, { zip215: false }));
  }
});

test('edge-case corpus: the hot-path verifier and strict noble agree on random corruptions', () => {
  const { secretKey, publicKey } = generateKeyPair();
  const message = new TextEncoder().encode('odometer 120345 km');
  const signature = sign(secretKey, message);
  let checked = 0;
  for (let byte = 0; byte < 64; byte++) {
    for (const replacement of [0x00, 0xff, 0x7f, 0x80, 0xed]) {
      const corrupted = signature.slice();
      corrupted[byte] = replacement;
      assert.is(
        verify(publicKey, message, corrupted),
        nobleStrictVerify(publicKey, message, corrupted),
        `byte ${byte} = ${replacement}`,
      );
      checked++;
    }
  }
  assert.is(checked, 320);
});

test('deliberate difference: an R with a torsion component passes noble (cofactored) and fails here (cofactorless)', () => {
  // Build a signature whose R = rB + T for a point T of order 8. The cofactored equation
  // multiplies T away; the cofactorless one does not. Honest signers never do this, and every
  // validator uses the same (cofactorless) verifier, so the verdict is the same on every node.
  const secretKey = hexToBytes((vectors[2] as Vector).secretKey);
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(secretKey);
  const message = new TextEncoder().encode('mixed-order R');
  const torsion = ed25519.Point.fromBytes(
    hexToBytes('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'),
  );
  const r = 123456789n;
  const R = ed25519.Point.BASE.multiply(r).add(torsion).toBytes();
  const k = fromLittleEndian(sha512(concatBytes(R, pointBytes, message))) % L;
  const s = (r + k * scalar) % L;
  const signature = concatBytes(R, toLittleEndian32(s));
  assert.ok(nobleStrictVerify(pointBytes, message, signature), 'noble accepts (cofactored)');
  assert.not.ok(verify(pointBytes, message, signature), 'hot path rejects (cofactorless)');
});
test.run();
