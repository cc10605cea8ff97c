// The one protobuf varint reader of the project. Code that reads untrusted protobuf bytes by
// hand (to scan before decoding, or to skip a decode on the hot path) uses it, so that every
// such place bounds the length, the value and — where the encoding must be canonical — the
// form the same way.

/** A varint's value and the offset just after it. */
export interface Varint {
  value: number;
  next: number;
}

export interface VarintOptions {
  /** Where the readable bytes end (default: the array's end). */
  end?: number;
  /** The most bytes the varint may take (default 10, protobuf's maximum; 4 bounds it below 2^28). */
  maxBytes?: number;
  /** Refuse an encoding that is not the shortest for its value (a last byte of zero after others). */
  minimal?: boolean;
}

/**
 * Reads the varint at `offset`. Undefined — never a throw — when the bytes end first, the
 * varint runs past `maxBytes`, its value passes 2^53 − 1, or, with `minimal`, it is not the
 * shortest encoding of its value.
 */
export function readVarint(bytes: Uint8Array, offset: number, options: VarintOptions = {}): Varint | undefined {
  const end = Math.min(options.end ?? bytes.length, bytes.length);
  const maxBytes = options.maxBytes ?? 10;
  let value = 0;
  let scale = 1;
  for (let index = 0; index < maxBytes; index++) {
    const position = offset + index;
    if (position < 0 || position >= end) return undefined;
    const byte = bytes[position] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (options.minimal === true && byte === 0 && index > 0) return undefined;
      if (!Number.isSafeInteger(value)) return undefined;
      return { value, next: position + 1 };
    }
    scale *= 128;
  }
  return undefined;
}
