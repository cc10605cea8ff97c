// Typed failures. Transactions fail with a stable UPPER_SNAKE code (the receipt's `code`);
// the message is for people and may change.

/** Codes a transaction or a block can fail with. The contract fixes the first group. */
export const ERROR_CODES = [
  // Named by the public contract.
  'UNAUTHORIZED',
  'NOT_FOUND',
  'INSUFFICIENT_FUNDS',
  'BAD_NONCE',
  'INVALID_VIN',
  'DUPLICATE_VIN',
  'ODOMETER_ROLLBACK',
  'VEHICLE_LOCKED',
  'VEHICLE_STOLEN',
  'INVALID_STATE',
  'DEADLINE',
  // Admission and decoding (refused before a block).
  'WRONG_CHAIN',
  'UNKNOWN_SIGNER',
  'ACCOUNT_FROZEN',
  'TX_TOO_LARGE',
  'MALFORMED_TX',
  'UNKNOWN_KIND',
  'MISSING_FIELD',
  'INVALID_FIELD',
  'FIELD_TOO_LONG',
  'INVALID_AMOUNT',
  /** A time field past the year 9999, or a deadline derived from one that would be. */
  'DEADLINE_OUT_OF_RANGE',
  /** A nonce more than MAX_NONCE_AHEAD past the account's next nonce. */
  'NONCE_TOO_FAR',
  // Business rules.
  'DUPLICATE_MEMBER',
  'SELF_DEALING',
  'AMOUNT_OVERFLOW',
  'EXCEEDS_COVERAGE',
  'ALREADY_REVIEWED',
  /** An id sequence or a reputation count would leave its declared range. */
  'COUNTER_OVERFLOW',
  // Validator-set governance.
  /** The signer's validator has already voted on the proposal. */
  'ALREADY_VOTED',
  /** An open proposal already names that validator. */
  'PROPOSAL_OPEN',
  /** The proposing validator already has MAX_OPEN_PROPOSALS_PER_VALIDATOR open proposals. */
  'TOO_MANY_PROPOSALS',
  /** The name, public key or operator is already in the validator set. */
  'DUPLICATE_VALIDATOR',
  /** The change would leave fewer than 4 validators (a removal) or no regulator. */
  'VALIDATOR_FLOOR',
  /** The change would take the set past MAX_VALIDATORS. */
  'VALIDATOR_SET_LIMIT',
  // Observer nodes.
  /** The key is already a registered observer or a validator. */
  'DUPLICATE_NODE',
  /** MAX_OBSERVERS observers are registered already. */
  'OBSERVER_LIMIT',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Thrown by encodeTxBody (and used inside decoding) when a transaction's fields are invalid. */
export class TxError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'TxError';
    this.code = code;
    this.field = field;
  }
}

/** A broken invariant: a bug, never a user error. The node crashes rather than diverge. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`state invariant violated: ${message}`);
}
