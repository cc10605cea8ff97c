import { bytesEqual } from '@autoledger/crypto';
import {
  type ConsensusMessage,
  contentKey,
  encodeConsensusMessage,
  type ParseResult,
  parseConsensusMessage,
  parseSignedPart,
  phaseOf,
  slotKey,
  verifyConsensusMessageSignature,
  withoutAttachments,
} from './messages.ts';
import type { ValidatorSet } from './validators.ts';

/**
 * Two different signed statements of one validator in one slot (same height, view and phase):
 * something no honest validator does. Both messages are kept encoded without their
 * attachments: the signed fields and the signature are all the proof needs, so anyone holding
 * the validator set can check the evidence, and a piece of evidence costs a few hundred bytes
 * however large the blocks the equivocator attached.
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
    first: encodeConsensusMessage(withoutAttachments(first)),
    second: encodeConsensusMessage(withoutAttachments(second)),
  };
}

/** A message of evidence: bare, as kept now, or with its attachments, as kept by earlier versions. */
function parseEvidenceMessage(bytes: Uint8Array): ParseResult {
  const bare = parseSignedPart(bytes);
  return bare.ok ? bare : parseConsensusMessage(bytes);
}

/** True when the evidence proves equivocation by a member of `validators` on `chainId`. */
export function verifyEquivocation(evidence: Equivocation, validators: ValidatorSet, chainId: string): boolean {
  const first = parseEvidenceMessage(evidence.first);
  const second = parseEvidenceMessage(evidence.second);
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
