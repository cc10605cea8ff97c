// The declared ranges of every number the state stores or derives. Admission refuses a field
// whose value, or a value later derived from it (a deadline = a time + a duration), would
// leave these ranges, and execution checks every derived value again, so that no arithmetic
// in a block can leave the safe-integer range and make execution throw.
//
// The bounds are chosen so that each sum the state ever forms stays far below 2^53 - 1:
// a time (≤ MAX_TIME_MS, about 2.5 × 10^14) plus a duration (≤ MAX_DURATION_MS) is below
// 2^53 by more than an order of magnitude.

import { AMOUNT_LIMIT } from './amount.ts';

export { AMOUNT_LIMIT };

/** Largest odometer reading accepted: ten million kilometres. */
export const MAX_ODOMETER_KM = 10_000_000;

/** The last millisecond of the year 9999 (UTC): no time field, block time or deadline goes past it. */
export const MAX_TIME_MS = 253_402_300_799_999;

/** The longest duration a field may carry: 10 years of 365 days. */
export const MAX_DURATION_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/**
 * The latest block time (and genesis time) the state executes: every deadline it derives from
 * a block time adds at most MAX_DURATION_MS, so it stays within MAX_TIME_MS.
 */
export const MAX_BLOCK_TIME_MS = MAX_TIME_MS - MAX_DURATION_MS;

/** The longest delivery grace genesis may set: 30 days. */
export const MAX_DELIVERY_GRACE_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * The latest delivery deadline an order may name: its automatic refund comes a delivery
 * grace later, and that must stay within MAX_TIME_MS too.
 */
export const MAX_DELIVER_BY_MS = MAX_TIME_MS - MAX_DELIVERY_GRACE_MS;

/**
 * The largest sequence number behind an order, policy or claim id (15 digits, the form the
 * order indexes parse back); the id after it is refused with COUNTER_OVERFLOW.
 */
export const MAX_ID_SEQUENCE = 999_999_999_999_999;

/** The largest nonce a transaction may carry, so that the account's next nonce stays safe. */
export const MAX_NONCE = Number.MAX_SAFE_INTEGER - 1;

/**
 * How far ahead of its account's committed nonce a transaction's nonce may run: an account
 * cannot park more never-executable transactions than this in a mempool.
 */
export const MAX_NONCE_AHEAD = 64;

/** True when `value` is a safe integer from 0 to MAX_TIME_MS: a time the state can store. */
export function isStorableTime(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_TIME_MS;
}
