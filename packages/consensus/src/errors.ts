/**
 * Typed errors of the consensus package. Expected failures carry a stable `code` that callers
 * switch on; the message is for people.
 */
export type ConsensusErrorCode =
  | 'INVALID_VALIDATOR_SET'
  | 'INVALID_OPTIONS'
  | 'MALFORMED_MESSAGE'
  | 'MALFORMED_CERTIFICATE'
  | 'MALFORMED_STATE'
  | 'PERSISTED_STATE_AHEAD';

export class ConsensusError extends Error {
  readonly code: ConsensusErrorCode;
  constructor(code: ConsensusErrorCode, message: string) {
    super(message);
    this.name = 'ConsensusError';
    this.code = code;
  }
}

/** Why a message from the network was refused; reported in `dropped` actions. */
export type DropCode =
  | 'OVERSIZED'
  | 'MALFORMED'
  | 'WRONG_CHAIN'
  | 'NOT_VALIDATOR'
  /** For a height whose validator set this node does not know yet: maybe a validator to be. */
  | 'SET_UNKNOWN'
  /** Buffered for a future height under one set, replayed under another that lacks its sender. */
  | 'SET_CHANGED'
  | 'BAD_SIGNATURE'
  | 'HEIGHT_TOO_OLD'
  | 'HEIGHT_TOO_FAR_AHEAD'
  | 'VIEW_TOO_OLD'
  | 'VIEW_TOO_FAR_AHEAD'
  | 'DUPLICATE'
  | 'EQUIVOCATION'
  | 'WRONG_PROPOSER'
  | 'BLOCK_HASH_MISMATCH'
  /** An attached block the host cannot hash: it is not a block at all. */
  | 'MALFORMED_BLOCK'
  | 'INVALID_PREPARED_CERTIFICATE'
  | 'INVALID_JUSTIFICATION'
  | 'INVALID_DECISION_PROOF'
  | 'BUFFER_FULL';

/**
 * Crashes on a broken invariant of the engine's own state (never on input from outside, which
 * is refused with a drop code instead). A broken invariant means the engine can no longer
 * vouch for what it signs, so stopping is safer than going on.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`consensus invariant broken: ${message}`);
}
