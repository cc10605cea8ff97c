import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as opensslSign,
  verify as opensslVerify,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from './bytes.ts';

export const PUBLIC_KEY_LENGTH = 32;
export const SECRET_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

export interface KeyPair {
  /** The 32-byte RFC 8032 seed. */
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

// DER prefixes that wrap a raw 32-byte ed25519 key into the PKCS#8 / SPKI structures OpenSSL
// imports (RFC 8410). Only the trailing 32 bytes vary.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function generateKeyPair(): KeyPair {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function publicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== SECRET_KEY_LENGTH) throw new TypeError('ed25519 secret key must be 32 bytes');
  return ed25519.getPublicKey(secretKey);
}

/**
 * A signing key held as an OpenSSL KeyObject: importing the key once makes each signature
 * several times cheaper than a pure JavaScript signer.
 */
export class Signer {
  readonly publicKey: Uint8Array;
  readonly #key: KeyObject;

  constructor(secretKey: Uint8Array) {
    this.publicKey = publicKeyFromSecret(secretKey);
    this.#key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(opensslSign(null, message, this.#key));
  }
}

export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return new Signer(secretKey).sign(message);
}

// The order of the ed25519 base point, L = 2^252 + 27742317777372353535851937790883648493,
// little-endian, for the S < L check.
const GROUP_ORDER_LE = Uint8Array.from(
  Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'),
);

/** True when the little-endian 32-byte scalar at `offset` is below L (RFC 8032 §5.1.7). */
function isCanonicalScalar(bytes: Uint8Array, offset: number): boolean {
  for (let i = 31; i >= 0; i--) {
    const byte = bytes[offset + i] as number;
    const limit = GROUP_ORDER_LE[i] as number;
    if (byte < limit) return true;
    if (byte > limit) return false;
  }
  return false; // equal to L
}

/**
 * True when the encoded y coordinate at `offset` is below p = 2^255 - 19. Encodings of
 * y in [p, 2^255) name the same point as y - p, so accepting them would make signatures
 * malleable.
 */
function isCanonicalPointEncoding(bytes: Uint8Array, offset: number): boolean {
  if (((bytes[offset + 31] as number) & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (bytes[offset + i] !== 0xff) return true;
  return (bytes[offset] as number) < 0xed;
}

const KEY_CACHE_LIMIT = 16_384;

/**
 * A public key imported for verification, or `null` when the key is not a canonical encoding
 * of a point of large order: such keys never verify anything.
 */
const publicKeyCache = new Map<string, KeyObject | null>();

function importPublicKey(publicKey: Uint8Array): KeyObject | null {
  const cacheKey = bytesToHex(publicKey);
  const cached = publicKeyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  let imported: KeyObject | null = null;
  if (isCanonicalPointEncoding(publicKey, 0)) {
    try {
      const point = ed25519.Point.fromBytes(publicKey, false);
      if (!point.isSmallOrder()) {
        imported = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
      }
    } catch {
      imported = null; // not a point on the curve
    }
  }
  if (publicKeyCache.size >= KEY_CACHE_LIMIT) {
    const oldest = publicKeyCache.keys().next().value;
    if (oldest !== undefined) publicKeyCache.delete(oldest);
  }
  publicKeyCache.set(cacheKey, imported);
  return imported;
}

/**
 * THE signature verifier. Every package and every validator uses this function, because a
 * signature verdict decides what enters a block: two verifiers that disagree on one edge case
 * would fork the chain.
 *
 * Rules (strict RFC 8032 with explicit pre-checks so the verdict does not depend on the
 * OpenSSL build):
 * - public key 32 bytes, a canonical encoding of a point that is not of small order;
 * - signature 64 bytes, R a canonical point encoding, S < L;
 * - the cofactorless equation [S]B = R + [k]A, as OpenSSL checks it.
 *
 * Deliberate difference from @noble/curves `verify(..., { zip215: false })`: noble checks the
 * cofactored equation [8][S]B = [8]R + [8][k]A, so it also accepts a signature whose R carries
 * a small-order (torsion) component that OpenSSL rejects. Honest signers never produce one.
 */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
  if (!isCanonicalScalar(signature, 32) || !isCanonicalPointEncoding(signature, 0)) return false;
  const key = importPublicKey(publicKey);
  if (key === null) return false;
  return opensslVerify(null, message, key, signature);
}

/** True when `publicKey` is one this module's verifier can ever accept a signature for. */
export function isValidPublicKey(publicKey: Uint8Array): boolean {
  return publicKey.length === PUBLIC_KEY_LENGTH && importPublicKey(publicKey) !== null;
}
