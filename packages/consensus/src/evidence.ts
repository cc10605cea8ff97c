import { bytesEqual } from '@autoledger/crypto';
import {
  type ConsensusMessage,
  contentKey,
  encodeConsensusMessage,
  parseConsensusMessage,
  phaseOf,
  slotKey,
  verifyConsensusMessageSignature,
} from './messages.ts';
import type { ValidatorSet } from './validators.ts';

/**
 * Two different signed statements of one validator in one slot (same height, view and phase):
 * something no honest validator does. Both messages are kept encoded as received, so anyone
 * holding the validator set can check the evidence.
 */
export interface Equivocation {
  validator: Uint8Array;
  height: number;
  view: number;
  phase: 'proposal' | 'prepare' | 'commit' | 'viewChange' | 'seal';
  first: Uint8Array;
  second: Uint8Array;
}

export function equivocationOf(first: ConsensusMessage, second: ConsensusMessage): Equivocation {
  return {
    validator: first.signer,
    height: first.height,
    view: first.view,
    phase: phaseOf(first.type),
    first: encodeConsensusMessage(first),
    second: encodeConsensusMessage(second),
  };
}

/** True when the evidence proves equivocation by a member of `validators` on `chainId`. */
export function verifyEquivocation(evidence: Equivocation, validators: ValidatorSet, chainId: string): boolean {
  const first = parseConsensusMessage(evidence.first);
  const second = parseConsensusMessage(evidence.second);
  if (!first.ok || !second.ok) return false;
  const a = first.message;
  const b = second.message;
  return (
    validators.has(evidence.validator) &&
    bytesEqual(a.signer, evidence.validator) &&
    bytesEqual(b.signer, evidence.validator) &&
    a.chainId === chainId &&
    b.chainId === chainId &&
    a.height === evidence.height &&
    b.height === evidence.height &&
    slotKey(a) === slotKey(b) &&
    phaseOf(a.type) === evidence.phase &&
    (evidence.phase === 'seal' || a.view === evidence.view) &&
    contentKey(a) !== contentKey(b) &&
    verifyConsensusMessageSignature(a) &&
    verifyConsensusMessageSignature(b)
  );
}
