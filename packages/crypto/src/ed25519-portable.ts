// The strict ed25519 verifier in portable JavaScript (no node:crypto), for browsers and any
// runtime without OpenSSL. It must give exactly the verdict of `verify` in ed25519.ts, the
// verifier every validator runs: a report that verifies on the command line and fails in a
// browser (or the other way round) would make the page lie. The rules, in the order they are
// checked, are those of ed25519.ts; the final check is OpenSSL's own formulation of the
// cofactorless equation: compute R' = [S]B - [k]A with k = SHA-512(R || A || M) mod L, encode
// R' canonically and compare the bytes with R. Comparing encodings (rather than decoding R)
// refuses an R that is off the curve or a non-canonical encoding exactly as OpenSSL does.

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';

export const PUBLIC_KEY_LENGTH = 32;
export const SECRET_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

/** L = 2^252 + 27742317777372353535851937790883648493, the order of the base point. */
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
const FIELD_PRIME = 2n ** 255n - 19n;

type Point = InstanceType<typeof ed25519.Point>;

function littleEndianToBigInt(bytes: Uint8Array, offset: number, length: number): bigint {
  let value = 0n;
  for (let i = offset + length - 1; i >= offset; i--) value = (value << 8n) | BigInt(bytes[i] as number);
  return value;
}

/** True when the encoded y (the low 255 bits) is below p: encodings of y in [p, 2^255) alias y - p. */
function isCanonicalPointEncoding(bytes: Uint8Array, offset: number): boolean {
  const y = littleEndianToBigInt(bytes, offset, 32) & ((1n << 255n) - 1n);
  return y < FIELD_PRIME;
}

const KEY_CACHE_LIMIT = 4_096;
/** Decoded public keys, or null for keys that never verify anything (bounded, oldest evicted). */
const publicKeyCache = new Map<string, Point | null>();

function hexKey(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** The key as a point of large order, or null: off the curve, non-canonical or small order. */
function decodePublicKey(publicKey: Uint8Array): Point | null {
  const cacheKey = hexKey(publicKey);
  const cached = publicKeyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  let point: Point | null = null;
  if (isCanonicalPointEncoding(publicKey, 0)) {
    try {
      const decoded = ed25519.Point.fromBytes(publicKey, false);
      point = decoded.isSmallOrder() ? null : decoded;
    } catch {
      point = null; // not a point on the curve
    }
  }
  if (publicKeyCache.size >= KEY_CACHE_LIMIT) {
    const oldest = publicKeyCache.keys().next().value;
    if (oldest !== undefined) publicKeyCache.delete(oldest);
  }
  publicKeyCache.set(cacheKey, point);
  return point;
}

/**
 * The portable twin of `verify` (ed25519.ts): same inputs, same verdict, never throws.
 * - public key 32 bytes, a canonical encoding of a point that is not of small order;
 * - signature 64 bytes, R a canonical point encoding, S < L;
 * - the cofactorless equation, as OpenSSL checks it: encode([S]B - [k mod L]A) == R.
 */
export function verifyPortable(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
      return false;
    }
    if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
    const s = littleEndianToBigInt(signature, 32, 32);
    if (s >= GROUP_ORDER || !isCanonicalPointEncoding(signature, 0)) return false;
    const key = decodePublicKey(publicKey);
    if (key === null) return false;
    const hashInput = new Uint8Array(64 + message.length);
    hashInput.set(signature.subarray(0, 32), 0);
    hashInput.set(publicKey, 32);
    hashInput.set(message, 64);
    const k = littleEndianToBigInt(sha512(hashInput), 0, 64) % GROUP_ORDER;
    // multiplyUnsafe accepts a zero scalar (S = 0 or k = 0), which multiply refuses; the
    // verifier handles public data only, so constant time is not needed.
    const expectedR = ed25519.Point.BASE.multiplyUnsafe(s).subtract(key.multiplyUnsafe(k));
    const encoded = expectedR.toBytes();
    for (let i = 0; i < 32; i++) if (encoded[i] !== signature[i]) return false;
    return true;
  } catch {
    return false;
  }
}

/** The portable twin of `isValidPublicKey`. */
export function isValidPublicKeyPortable(publicKey: Uint8Array): boolean {
  return (
    publicKey instanceof Uint8Array && publicKey.length === PUBLIC_KEY_LENGTH && decodePublicKey(publicKey) !== null
  );
}
