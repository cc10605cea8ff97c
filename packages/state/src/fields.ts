// Field types of transaction kinds and their validation. The same checks run when a client
// encodes a transaction (encodeTxBody) and when a node decodes one (decodeTx), so whatever a
// client can build, every node accepts, and nothing else.

import { bytesToHex, isAddress, isHex } from '@autoledger/crypto';
import { AMOUNT_LIMIT, isCanonicalAmount } from './amount.ts';
import { TxError } from './errors.ts';
import { MAX_DURATION_MS, MAX_TIME_MS } from './limits.ts';
import { isRole } from './roles.ts';
import { isVinSyntax } from './vin.ts';

export type FieldType =
  | 'address'
  | 'amount'
  | 'string'
  | 'text'
  | 'hash'
  | 'vin'
  | 'uint'
  | 'time'
  | 'duration'
  | 'bool'
  | 'id'
  | { enum: readonly string[] }
  | 'role';

export interface FieldSpec {
  name: string;
  type: FieldType;
  optional?: boolean;
  /** For string and text fields: the limit in UTF-8 bytes. */
  maxBytes?: number;
  /**
   * For uint, time and duration fields: inclusive bounds. Defaults: 0, and 2^53 - 1 for uint,
   * MAX_TIME_MS for time, MAX_DURATION_MS for duration.
   */
  min?: number;
  max?: number;
  /** For amount fields: the amount must be at least 1. */
  positive?: boolean;
  description: string;
}

/** Ids the state creates (orders, policies, claims) and accepts back. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const HASH_BYTES = 32;
/**
 * True when `text` holds a C0 or C1 control character. Single-line strings (names, makes,
 * references) refuse all of them; free text (summaries, reasons, memos) may hold line breaks
 * and tabs.
 */
function hasControlCharacter(text: string, allowLineBreaks: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code < 0x7f) continue;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) {
      if (allowLineBreaks && (code === 0x09 || code === 0x0a)) continue;
      return true;
    }
  }
  return false;
}
const DEFAULT_STRING_BYTES = 64;
const DEFAULT_TEXT_BYTES = 256;

const utf8 = new TextEncoder();

export function utf8Length(text: string): number {
  // Fast path: ASCII strings are as long in bytes as in UTF-16 code units.
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return utf8.encode(text).length;
  return text.length;
}

/** How a field travels in protobuf. */
export function wireType(type: FieldType): 'string' | 'bytes' | 'uint64' | 'bool' {
  if (typeof type === 'object') return 'string';
  switch (type) {
    case 'hash':
      return 'bytes';
    case 'uint':
    case 'time':
    case 'duration':
      return 'uint64';
    case 'bool':
      return 'bool';
    default:
      return 'string';
  }
}

function invalid(field: FieldSpec, message: string): TxError {
  return new TxError('INVALID_FIELD', `${field.name}: ${message}`, field.name);
}

/** The largest value of each integer field type, whatever a kind declares. */
const DEFAULT_MAX = { uint: Number.MAX_SAFE_INTEGER, time: MAX_TIME_MS, duration: MAX_DURATION_MS } as const;

/** True for a non-negative integer above 2^53 - 1 (as a number, a bigint or a Long-like object). */
function isBeyondSafeInteger(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER;
  if (typeof value === 'bigint') return value > BigInt(Number.MAX_SAFE_INTEGER);
  if (typeof value === 'object' && value !== null && 'high' in value) {
    // Integer fields are uint64 on the wire: a negative high word is a value of 2^63 or more.
    return (value as { high: number }).high >>> 0 > 0x1fffff;
  }
  return false;
}

/** Integer fields arrive as numbers, bigints or (from protobufjs) Long-like objects. */
export function toSafeInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === 'bigint') {
    return value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
  }
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    // 2^53 - 1 has high word 0x1fffff; anything above cannot be represented exactly.
    if (high < 0 || high > 0x1fffff) return undefined;
    return high * 0x1_0000_0000 + (low >>> 0);
  }
  return undefined;
}

/**
 * Validates one field value and returns it in its canonical JavaScript form: strings for
 * addresses, amounts, ids, VINs and enums; lowercase hex for hashes; numbers for integers;
 * booleans. Throws a TxError naming the field.
 */
export function normalizeField(field: FieldSpec, value: unknown): unknown {
  const { type } = field;
  if (typeof type === 'object') {
    if (typeof value !== 'string' || !type.enum.includes(value)) {
      throw invalid(field, `must be one of ${type.enum.join(', ')}`);
    }
    return value;
  }
  switch (type) {
    case 'address':
      if (!isAddress(value)) throw invalid(field, 'must be an address (al + 40 lowercase hex characters)');
      return value;
    case 'amount': {
      if (typeof value === 'bigint' && value >= 0n && value < AMOUNT_LIMIT) value = value.toString();
      if (!isCanonicalAmount(value)) {
        throw new TxError(
          'INVALID_AMOUNT',
          `${field.name}: amounts are canonical decimal strings of minor units (digits, no leading zeros, < 10^30)`,
          field.name,
        );
      }
      if (field.positive && value === '0')
        throw new TxError('INVALID_AMOUNT', `${field.name}: must be at least 1`, field.name);
      return value;
    }
    case 'string':
    case 'text': {
      if (typeof value !== 'string') throw invalid(field, 'must be a string');
      const limit = field.maxBytes ?? (type === 'string' ? DEFAULT_STRING_BYTES : DEFAULT_TEXT_BYTES);
      if (utf8Length(value) > limit) {
        throw new TxError('FIELD_TOO_LONG', `${field.name}: at most ${limit} bytes of UTF-8`, field.name);
      }
      if (hasControlCharacter(value, type === 'text')) {
        throw invalid(field, 'must not contain control characters');
      }
      if (!value.isWellFormed()) throw invalid(field, 'must be well-formed Unicode');
      return value;
    }
    case 'hash': {
      if (value instanceof Uint8Array) {
        if (value.length !== HASH_BYTES) throw invalid(field, 'must be 32 bytes');
        return bytesToHex(value);
      }
      if (typeof value !== 'string' || !isHex(value, HASH_BYTES)) throw invalid(field, 'must be 64 hex characters');
      return value.toLowerCase();
    }
    case 'vin':
      if (!isVinSyntax(value)) {
        throw new TxError(
          'INVALID_VIN',
          `${field.name}: a VIN is 17 characters, digits and capital letters except I, O and Q`,
          field.name,
        );
      }
      return value;
    case 'uint':
    case 'time':
    case 'duration': {
      const number = toSafeInteger(value);
      const min = field.min ?? 0;
      const max = Math.min(field.max ?? Number.MAX_SAFE_INTEGER, DEFAULT_MAX[type]);
      // A time past its bound (including one beyond 2^53) is refused with its own code: the
      // state derives deadlines from times, and every derived deadline must stay storable.
      if (type === 'time' && (number === undefined ? isBeyondSafeInteger(value) : number > max)) {
        throw new TxError('DEADLINE_OUT_OF_RANGE', `${field.name}: at most ${max} (ms since the epoch)`, field.name);
      }
      if (number === undefined) throw invalid(field, 'must be a non-negative safe integer');
      if (number < min || number > max) throw invalid(field, `must be between ${min} and ${max}`);
      return number;
    }
    case 'bool':
      if (typeof value !== 'boolean') throw invalid(field, 'must be true or false');
      return value;
    case 'id':
      if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
        throw invalid(field, 'must be an id (1 to 64 letters, digits, - or _)');
      }
      return value;
    case 'role':
      if (!isRole(value)) throw invalid(field, 'must be a role');
      return value;
  }
}

/** True when a decoded protobuf value is the proto3 default, i.e. the field was not sent. */
export function isWireDefault(type: FieldType, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  switch (wireType(type)) {
    case 'string':
      return value === '';
    case 'bytes':
      return (value as Uint8Array).length === 0;
    default:
      return false; // 0 and false are values, not absences, for integers and booleans
  }
}
