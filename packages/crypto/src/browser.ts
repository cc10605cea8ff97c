// The browser entry point of @autoledger/crypto: the same exports as index.ts, with no
// node:crypto and no Buffer. Bundlers pick it through the "browser" condition of the package's
// exports, so code that imports '@autoledger/crypto' (state's proof checks, consensus's
// certificate checks, the client's report verifier) runs unchanged in a browser. Node keeps
// index.ts, whose verifier uses OpenSSL; test/unit/crypto/portable.test.ts proves that both
// entry points export the same names and give the same verdicts.

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import {
  isValidPublicKeyPortable,
  PUBLIC_KEY_LENGTH,
  SECRET_KEY_LENGTH,
  SIGNATURE_LENGTH,
  verifyPortable,
} from './ed25519-portable.ts';

export { readVarint, type Varint, type VarintOptions } from './varint.ts';
export { PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH, SIGNATURE_LENGTH };

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

const HEX_DIGITS = '0123456789abcdef';

export function bytesToHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += (HEX_DIGITS[byte >> 4] as string) + (HEX_DIGITS[byte & 15] as string);
  return hex;
}

const HEX_PATTERN = /^(?:[0-9a-f]{2})*$/i;

/** Parses lowercase or uppercase hex; throws on odd length or a non-hex character (as index.ts). */
export function hexToBytes(hex: string): Uint8Array {
  if (!HEX_PATTERN.test(hex)) throw new TypeError('invalid hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function isHex(value: string, byteLength?: number): boolean {
  if (!HEX_PATTERN.test(value)) return false;
  return byteLength === undefined || value.length === byteLength * 2;
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUES = new Map([...BASE64_ALPHABET].map((character, index) => [character, index]));

export function bytesToBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const triple = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += BASE64_ALPHABET[(triple >> 18) & 63];
    out += BASE64_ALPHABET[(triple >> 12) & 63];
    out += b === undefined ? '=' : BASE64_ALPHABET[(triple >> 6) & 63];
    out += c === undefined ? '=' : BASE64_ALPHABET[triple & 63];
  }
  return out;
}

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict, padded, canonical base64 (as index.ts): anything else throws. */
export function base64ToBytes(text: string): Uint8Array {
  if (!BASE64_PATTERN.test(text)) throw new TypeError('invalid base64 string');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let written = 0;
  for (let i = 0; i < text.length; i += 4) {
    let quad = 0;
    for (let j = 0; j < 4; j++) quad = (quad << 6) | (BASE64_VALUES.get(text[i + j] as string) ?? 0);
    for (const shift of [16, 8, 0]) if (written < out.length) out[written++] = (quad >> shift) & 255;
  }
  if (bytesToBase64(out) !== text) throw new TypeError('non-canonical base64 string');
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic comparison, for deterministic sorting of byte strings (sign as Buffer.compare). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number) ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export function utf8ToBytes(text: string): Uint8Array {
  return textEncoder.encode(text);
}

export function bytesToUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

export const ADDRESS_PREFIX = 'al';
const ADDRESS_PATTERN = /^al[0-9a-f]{40}$/;

export function addressFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== PUBLIC_KEY_LENGTH) throw new TypeError('ed25519 public key must be 32 bytes');
  return ADDRESS_PREFIX + bytesToHex(sha256(publicKey).subarray(0, 20));
}

export function isAddress(value: unknown): value is string {
  return typeof value === 'string' && ADDRESS_PATTERN.test(value);
}

export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function publicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== SECRET_KEY_LENGTH) throw new TypeError('ed25519 secret key must be 32 bytes');
  return ed25519.getPublicKey(secretKey);
}

/** A signing key; in a browser it signs with @noble/curves (deterministic: same bytes as OpenSSL). */
export class Signer {
  readonly publicKey: Uint8Array;
  readonly #secretKey: Uint8Array;

  constructor(secretKey: Uint8Array) {
    this.publicKey = publicKeyFromSecret(secretKey);
    this.#secretKey = secretKey.slice();
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#secretKey);
  }
}

export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return new Signer(secretKey).sign(message);
}

/** THE verifier's portable twin (ed25519-portable.ts): same rules, same verdicts. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return verifyPortable(publicKey, message, signature);
}

export function isValidPublicKey(publicKey: Uint8Array): boolean {
  return isValidPublicKeyPortable(publicKey);
}
