// Byte helpers shared by every package. They live here because crypto is the one package
// every other package may import.

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const HEX_PATTERN = /^(?:[0-9a-f]{2})*$/i;

/** Parses lowercase or uppercase hex; throws on odd length or a non-hex character. */
export function hexToBytes(hex: string): Uint8Array {
  if (!HEX_PATTERN.test(hex)) throw new TypeError('invalid hex string');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function isHex(value: string, byteLength?: number): boolean {
  if (!HEX_PATTERN.test(value)) return false;
  return byteLength === undefined || value.length === byteLength * 2;
}

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict base64 (RFC 4648 §4, padded): Buffer.from silently skips invalid characters,
 * which would let two different strings decode to the same transaction.
 */
export function base64ToBytes(text: string): Uint8Array {
  if (!BASE64_PATTERN.test(text)) throw new TypeError('invalid base64 string');
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (bytesToBase64(bytes) !== text) throw new TypeError('non-canonical base64 string');
  return bytes;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic comparison, for deterministic sorting of byte strings. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
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

/** Throws on invalid UTF-8 rather than substituting U+FFFD. */
export function bytesToUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}
