// A batch of signature checks packed into one buffer, so that a batch crosses to a verify
// worker as one transferred ArrayBuffer instead of thousands of structured-cloned objects.
// Layout per check: message length (u32 big-endian), public key (32), signature (64), message.

import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from '@autoledger/crypto';

export interface SignatureCheck {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

const HEADER_BYTES = 4 + PUBLIC_KEY_LENGTH + SIGNATURE_LENGTH;

/**
 * Packs checks whose key and signature have the lengths ed25519 uses. The caller answers the
 * others `false` itself (crypto's verify refuses them by length), so every packed check is
 * well-formed.
 */
export function packChecks(checks: readonly SignatureCheck[]): Uint8Array {
  let size = 0;
  for (const check of checks) size += HEADER_BYTES + check.message.length;
  const packed = new Uint8Array(size);
  const view = new DataView(packed.buffer);
  let offset = 0;
  for (const check of checks) {
    view.setUint32(offset, check.message.length);
    packed.set(check.publicKey, offset + 4);
    packed.set(check.signature, offset + 4 + PUBLIC_KEY_LENGTH);
    packed.set(check.message, offset + HEADER_BYTES);
    offset += HEADER_BYTES + check.message.length;
  }
  return packed;
}

/** The checks in a packed batch (views into it), or undefined when it is not one. */
export function unpackChecks(packed: unknown): SignatureCheck[] | undefined {
  if (!(packed instanceof Uint8Array)) return undefined;
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const checks: SignatureCheck[] = [];
  let offset = 0;
  while (offset < packed.length) {
    if (packed.length - offset < HEADER_BYTES) return undefined;
    const length = view.getUint32(offset);
    const end = offset + HEADER_BYTES + length;
    if (end > packed.length) return undefined;
    checks.push({
      publicKey: packed.subarray(offset + 4, offset + 4 + PUBLIC_KEY_LENGTH),
      signature: packed.subarray(offset + 4 + PUBLIC_KEY_LENGTH, offset + HEADER_BYTES),
      message: packed.subarray(offset + HEADER_BYTES, end),
    });
    offset = end;
  }
  return checks;
}

/** True when a check's key and signature have ed25519's lengths (the others never verify). */
export function isPackable(check: SignatureCheck): boolean {
  return check.publicKey.length === PUBLIC_KEY_LENGTH && check.signature.length === SIGNATURE_LENGTH;
}
