import { bytesEqual } from '@autoledger/crypto';
import type { EngineContext } from './context.ts';
import { assert, type DropCode } from './errors.ts';
import { checkNewViewJustification, isValidDecisionProof, isValidViewChangeCertificate } from './justification.ts';
import {
  type ConsensusMessage,
  contentKey,
  parseConsensusMessage,
  slotKey,
  verifyConsensusMessageSignature,
} from './messages.ts';
import { onNewView, onPrePrepare } from './on-proposal.ts';
import { onViewChange } from './on-view-change.ts';
import { onCommit, onPrepare, onSeal } from './on-vote.ts';
import { helpLaggingValidator, noteHeightSeen } from './sync.ts';

/**
 * PRE-PREPAREs, PREPAREs and COMMITs are kept up to this many views ahead of the current one;
 * later ones are dropped (they are retransmitted) so that a Byzantine validator cannot fill
 * memory with votes for far views. VIEW-CHANGEs and NEW-VIEWs are exempt: they are how a
 * validator that fell behind in views catches up, and are bounded otherwise.
 */
export const FUTURE_VIEW_WINDOW = 16;
// Messages buffered for one future height, per validator of the set.
const FUTURE_MESSAGES_PER_VALIDATOR = 32;

interface Refusal {
  code: DropCode;
  reason: string;
}

function refuse(code: DropCode, reason: string): Refusal {
  return { code, reason };
}

/**
 * The boundary: every byte string from the network enters here, and leaves either as an
 * accepted message or as a `dropped` action with a code. Nothing here throws on input.
 */
export function receiveBytes(context: EngineContext, bytes: Uint8Array): void {
  const refusal = admitBytes(context, bytes);
  if (refusal !== null) context.drop(refusal.code, refusal.reason);
}

function admitBytes(context: EngineContext, bytes: Uint8Array): Refusal | null {
  if (bytes.length > context.options.maxMessageBytes) {
    return refuse('OVERSIZED', `${bytes.length} bytes; the limit is ${context.options.maxMessageBytes}`);
  }
  const parsed = parseConsensusMessage(bytes);
  if (!parsed.ok) return refuse('MALFORMED', parsed.reason);
  const message = parsed.message;
  if (message.chainId !== context.chainId) {
    return refuse('WRONG_CHAIN', `chain ${JSON.stringify(message.chainId)}, expected ${context.chainId}`);
  }
  const index = context.validators.indexOf(message.signer);
  if (index === -1) return refuse('NOT_VALIDATOR', 'signed by a key outside the validator set');
  if (message.height < context.height) {
    helpLaggingValidator(context, message, index);
    return refuse('HEIGHT_TOO_OLD', `height ${message.height}; deciding ${context.height}`);
  }
  if (message.height > context.height) return admitFuture(context, message, index);
  return admitCurrent(context, message, index, false);
}

function admitFuture(context: EngineContext, message: ConsensusMessage, index: number): Refusal | null {
  const window = context.options.futureHeightWindow;
  if (message.height > context.height + window) {
    // Still evidence that this node is behind, once the signature holds.
    if (verifyConsensusMessageSignature(message)) noteHeightSeen(context, index, message.height);
    return refuse('HEIGHT_TOO_FAR_AHEAD', `height ${message.height}; buffering up to ${context.height + window}`);
  }
  let bucket = context.future.get(message.height);
  const key = `${index}:${slotKey(message)}:${contentKey(message)}`;
  if (bucket?.has(key)) return refuse('DUPLICATE', 'already buffered');
  if ((bucket?.size ?? 0) >= FUTURE_MESSAGES_PER_VALIDATOR * context.validators.size) {
    return refuse('BUFFER_FULL', `buffer for height ${message.height} is full`);
  }
  if (!verifyConsensusMessageSignature(message)) return refuse('BAD_SIGNATURE', 'signature does not verify');
  if (bucket === undefined) {
    bucket = new Map();
    context.future.set(message.height, bucket);
  }
  bucket.set(key, message);
  noteHeightSeen(context, index, message.height);
  return null;
}

function viewRefusal(context: EngineContext, message: ConsensusMessage): Refusal | null {
  switch (message.type) {
    case 'prePrepare':
    case 'prepare':
    case 'commit':
      if (message.view > context.view + FUTURE_VIEW_WINDOW) {
        return { code: 'VIEW_TOO_FAR_AHEAD', reason: `view ${message.view}; at view ${context.view}` };
      }
      return null;
    case 'viewChange':
      if (message.view < context.view) {
        return { code: 'VIEW_TOO_OLD', reason: `view change to ${message.view}; already at view ${context.view}` };
      }
      return null;
    case 'newView':
    case 'seal':
      return null;
  }
}

/** Checks that an attached block is a block (the host can hash it) and hashes to the signed hash. */
function blockRefusal(context: EngineContext, block: Uint8Array, blockHash: Uint8Array): Refusal | null {
  const hashed = context.hashBlock(block);
  if (!hashed.ok) return refuse('MALFORMED_BLOCK', `${hashed.code}: ${hashed.reason}`);
  if (!bytesEqual(hashed.hash, blockHash)) {
    return refuse('BLOCK_HASH_MISMATCH', 'the attached block does not hash to the signed hash');
  }
  return null;
}

/** Checks that depend on the message's content: who may send it and what its attachments prove. */
function contentRefusal(context: EngineContext, message: ConsensusMessage): Refusal | null {
  switch (message.type) {
    case 'prePrepare':
    case 'newView': {
      if (
        context.validators.proposerIndex(message.height, message.view) !== context.validators.indexOf(message.signer)
      ) {
        return { code: 'WRONG_PROPOSER', reason: `not the leader of view ${message.view}` };
      }
      assert(message.block !== null, 'parsing guarantees a proposal carries its block');
      const refusedBlock = blockRefusal(context, message.block, message.blockHash);
      if (refusedBlock !== null) return refusedBlock;
      if (message.type === 'newView') {
        const verdict = checkNewViewJustification(context.justification, message);
        if (!verdict.ok) return { code: 'INVALID_JUSTIFICATION', reason: verdict.reason };
      }
      return null;
    }
    case 'viewChange':
      if (!isValidViewChangeCertificate(context.justification, message)) {
        return { code: 'INVALID_PREPARED_CERTIFICATE', reason: 'the prepared claim is not proved' };
      }
      return message.block === null ? null : blockRefusal(context, message.block, message.blockHash);
    case 'seal':
      if (
        message.commits.length > 0 &&
        !isValidDecisionProof(context.justification, message.commits, message.height, message.blockHash)
      ) {
        return { code: 'INVALID_DECISION_PROOF', reason: 'the attached COMMITs do not prove the decision' };
      }
      return null;
    case 'prepare':
    case 'commit':
      return null;
  }
}

/**
 * Accepts a message for the current height. `verified` skips the signature check for messages
 * already verified (buffered ones) or trusted (this validator's own, restored from disk).
 */
export function receiveCurrent(
  context: EngineContext,
  message: ConsensusMessage,
  index: number,
  verified: boolean,
): void {
  const refusal = admitCurrent(context, message, index, verified);
  if (refusal !== null) context.drop(refusal.code, refusal.reason);
}

function admitCurrent(
  context: EngineContext,
  message: ConsensusMessage,
  index: number,
  verified: boolean,
): Refusal | null {
  const slot = `${index}:${slotKey(message)}`;
  const first = context.log.firstInSlot.get(slot);
  // An exact copy is refused before the costly checks; a rejected copy never gets here, so a
  // relay that mangles attachments cannot shadow the genuine message.
  if (first !== undefined && contentKey(first) === contentKey(message)) {
    return refuse('DUPLICATE', `${message.type} already accepted`);
  }
  const refusedView = viewRefusal(context, message);
  if (refusedView !== null) return refusedView;
  if (!verified && !verifyConsensusMessageSignature(message)) {
    return refuse('BAD_SIGNATURE', 'signature does not verify');
  }
  if (first !== undefined) {
    context.recordEquivocation(first, message);
    return refuse('EQUIVOCATION', `a second ${message.type} from validator ${index} in one slot`);
  }
  const refusedContent = contentRefusal(context, message);
  if (refusedContent !== null) return refusedContent;
  context.log.firstInSlot.set(slot, message);
  dispatch(context, message, index);
  return null;
}

/** Records a message this validator just signed as if received, then lets the handlers react. */
export function acceptOwn(context: EngineContext, message: ConsensusMessage): void {
  context.log.firstInSlot.set(`${context.selfIndex}:${slotKey(message)}`, message);
  dispatch(context, message, context.selfIndex);
}

function dispatch(context: EngineContext, message: ConsensusMessage, index: number): void {
  switch (message.type) {
    case 'prePrepare':
      onPrePrepare(context, message);
      break;
    case 'newView':
      onNewView(context, message);
      break;
    case 'prepare':
      onPrepare(context, message, index);
      break;
    case 'commit':
      onCommit(context, message, index);
      break;
    case 'viewChange':
      onViewChange(context, message, index);
      break;
    case 'seal':
      onSeal(context, message, index);
      break;
  }
}

/** Replays the buffered messages of the height just entered. */
export function replayBuffered(context: EngineContext): void {
  for (const height of [...context.future.keys()]) {
    if (height < context.height) context.future.delete(height);
  }
  const bucket = context.future.get(context.height);
  if (bucket === undefined) return;
  context.future.delete(context.height);
  for (const message of bucket.values()) {
    receiveCurrent(context, message, context.validators.indexOf(message.signer), true);
  }
}
