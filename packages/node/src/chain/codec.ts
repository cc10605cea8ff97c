import { scanWire, type WireShape } from '@autoledger/consensus';
import type protobuf from 'protobufjs';

/**
 * protobufjs decodes 64-bit fields as Long objects (or numbers when small on some paths).
 * Heights and times must be exact, so anything beyond 2^53 - 1 is refused rather than rounded.
 */
export function toSafeInteger(value: unknown, field: string): number {
  const number =
    typeof value === 'number'
      ? value
      : value !== null && typeof value === 'object'
        ? Number(String(value))
        : Number.NaN;
  if (!Number.isSafeInteger(number) || number < 0) throw new CodecError(`${field} is not a safe unsigned integer`);
  return number;
}

export class CodecError extends Error {
  readonly code = 'MALFORMED';
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

/**
 * Decodes `bytes` with `type`, turning every protobufjs failure into a CodecError. With a
 * `shape`, the bytes are first scanned against it, so that untrusted bytes with more fields
 * than the shape allows are refused before protobufjs allocates an object per field.
 */
export function decodeMessage<T>(type: protobuf.Type, bytes: Uint8Array, what: string, shape?: WireShape): T {
  if (shape !== undefined) {
    const scan = scanWire(bytes, shape);
    if (!scan.ok) throw new CodecError(`${what} is not a valid protobuf message: ${scan.reason}`);
  }
  try {
    return type.decode(bytes) as unknown as T;
  } catch (error) {
    throw new CodecError(`${what} is not a valid protobuf message: ${(error as Error).message}`);
  }
}
