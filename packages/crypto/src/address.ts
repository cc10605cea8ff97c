import { bytesToHex } from './bytes.ts';
import { PUBLIC_KEY_LENGTH } from './ed25519.ts';
import { sha256 } from './hash.ts';

/**
 * Account addresses: "al" followed by the first 20 bytes of sha256(publicKey) in lowercase
 * hex. The prefix keeps an address from being mistaken for a hash or a public key.
 */
export const ADDRESS_PREFIX = 'al';
const ADDRESS_PATTERN = /^al[0-9a-f]{40}$/;

export function addressFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== PUBLIC_KEY_LENGTH) throw new TypeError('ed25519 public key must be 32 bytes');
  return ADDRESS_PREFIX + bytesToHex(sha256(publicKey).subarray(0, 20));
}

export function isAddress(value: unknown): value is string {
  return typeof value === 'string' && ADDRESS_PATTERN.test(value);
}
