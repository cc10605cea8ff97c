/**
 * A cheap pre-scan of protobuf bytes from outside, run before protobufjs decodes them.
 *
 * A generic decoder materialises every field it meets before the caller can count them: two
 * bytes `2a 00` decode to one empty embedded message, so 2 MiB of them become a million
 * objects (seconds of CPU and about a gigabyte, some 75 times the input). The scan walks the
 * wire format without allocating, counts the fields of each message level against a shape,
 * and refuses bytes that break it; only bytes that pass are decoded, so decoding allocates at
 * most a constant times what the shape allows. It also refuses what no honest encoder writes:
 * unknown fields, a singular field twice, groups.
 *
 * It lives in the consensus package because consensus messages need it first; the node's
 * block codec imports it too (node may import consensus, never the reverse).
 */

import { readVarint, type Varint } from '@autoledger/crypto';

/** What a message level may hold. Fields not listed are refused. */
export interface WireShape {
  /** Fields that may occur at most once, with the shape of their content when it is an embedded message. */
  readonly singular: ReadonlyMap<number, WireShape | null>;
  /** Repeated fields: the most occurrences allowed, and each occurrence's shape when it is an embedded message. */
  readonly repeated: ReadonlyMap<number, { readonly max: number; readonly shape: WireShape | null }>;
}

export type WireScan = { ok: true } | { ok: false; reason: string };

/** Embedded messages nest at most this deep; the shapes used here nest two or three levels. */
const MAX_SCAN_DEPTH = 8;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** A varint of this scan: at most 10 bytes, exact up to 2^53, within `end`; `null` otherwise. */
function readVarintBefore(bytes: Uint8Array, offset: number, end: number): Varint | null {
  return readVarint(bytes, offset, { end }) ?? null;
}

/**
 * Checks `bytes` against `shape` without decoding it: every field is known, singular fields
 * occur once, repeated ones at most their bound, embedded messages fit their own shapes. Runs
 * in time linear in the input and allocates one small counter map per message level.
 */
export function scanWire(bytes: Uint8Array, shape: WireShape): WireScan {
  return scanLevel(bytes, 0, bytes.length, shape, 0);
}

function scanLevel(bytes: Uint8Array, start: number, end: number, shape: WireShape, depth: number): WireScan {
  if (depth > MAX_SCAN_DEPTH) return { ok: false, reason: 'embedded messages nest too deep' };
  const counts = new Map<number, number>();
  let offset = start;
  while (offset < end) {
    const tag = readVarintBefore(bytes, offset, end);
    if (tag === null || tag.value > 0xffffffff) return { ok: false, reason: `bad field tag at byte ${offset}` };
    offset = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    const repeated = shape.repeated.get(field);
    const singular = shape.singular.get(field);
    if (repeated === undefined && singular === undefined && !shape.singular.has(field)) {
      return { ok: false, reason: `unknown field ${field}` };
    }
    const count = (counts.get(field) ?? 0) + 1;
    if (repeated !== undefined ? count > repeated.max : count > 1) {
      return { ok: false, reason: `field ${field} occurs more than ${repeated?.max ?? 1} times` };
    }
    counts.set(field, count);
    const embedded = repeated !== undefined ? repeated.shape : (singular ?? null);
    switch (wireType) {
      case WIRE_VARINT: {
        const value = readVarintBefore(bytes, offset, end);
        if (value === null) return { ok: false, reason: `bad varint in field ${field}` };
        offset = value.next;
        break;
      }
      case WIRE_FIXED64:
        offset += 8;
        break;
      case WIRE_FIXED32:
        offset += 4;
        break;
      case WIRE_LENGTH_DELIMITED: {
        const length = readVarintBefore(bytes, offset, end);
        if (length === null || length.next + length.value > end) {
          return { ok: false, reason: `field ${field} runs past the end` };
        }
        if (embedded !== null) {
          const inner = scanLevel(bytes, length.next, length.next + length.value, embedded, depth + 1);
          if (!inner.ok) return { ok: false, reason: `field ${field}: ${inner.reason}` };
        }
        offset = length.next + length.value;
        break;
      }
      default:
        return { ok: false, reason: `field ${field} has unsupported wire type ${wireType}` };
    }
    if (embedded !== null && wireType !== WIRE_LENGTH_DELIMITED) {
      return { ok: false, reason: `field ${field} must be an embedded message` };
    }
    if (offset > end) return { ok: false, reason: `field ${field} runs past the end` };
  }
  return { ok: true };
}

/** A shape from field lists: `singular` and `repeated` entries as [field, embedded shape or null]. */
export function wireShape(
  singular: ReadonlyArray<readonly [number, WireShape | null]>,
  repeated: ReadonlyArray<readonly [number, number, WireShape | null]> = [],
): WireShape {
  return {
    singular: new Map(singular),
    repeated: new Map(repeated.map(([field, max, shape]) => [field, { max, shape }])),
  };
}
