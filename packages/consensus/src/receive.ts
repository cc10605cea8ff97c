import { bytesEqual, bytesToHex } from '@autoledger/crypto';
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
import { onPrePrepare } from './on-proposal.ts';
import { onNewView, onViewChange } from './on-view-change.ts';
import { onCommit, onPrepare, onSeal } from './on-vote.ts';
import { helpLaggingValidator, noteHeightSeen } from './sync.ts';
import type { ValidatorSet } from './validators.ts';

/**
 * PRE-PREPAREs, PREPAREs and COMMITs are kept up to this many views ahead of the current one;
 * later ones are dropped (they are retransmitted) so that a Byzantine validator cannot fill
 * memory with votes for far views. VIEW-CHANGEs and NEW-VIEWs are exempt: they are how a
 * validator that fell behind in views catches up, and are bounded otherwise.
 */
export const FUTURE_VIEW_WINDOW = 16;
// Messages buffered for one future height, per validator.
const FUTURE_MESSAGES_PER_VALIDATOR = 32;
/**
 * Bytes buffered for future heights, per validator, over all heights together: room for two
 * proposals of the largest size (a leader of the next height and a view change carrying its
 * prepared block) plus votes. A Byzantine validator fills its own share, never another's.
 */
export function futureBytesPerValidator(maxMessageBytes: number): number {
  return 2 * maxMessageBytes + 64 * 1024;
}

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
  // Cheap checks first, the signature last: a message refused by its header costs no
  // verification, whoever sent it.
  if (message.height < context.height) {
    if (helpLaggingValidator(context, message) === 'bad signature') {
      return refuse('BAD_SIGNATURE', 'signature does not verify');
    }
    return refuse('HEIGHT_TOO_OLD', `height ${message.height}; deciding ${context.height}`);
  }
  if (message.height > context.height || context.awaitingValidators) return admitFuture(context, message, bytes.length);
  const index = context.validators.indexOf(message.signer);
  if (index === -1) return refuse('NOT_VALIDATOR', 'signed by a key outside the validator set');
  const refusedProposer = proposerRefusal(context.validators, message, index);
  if (refusedProposer !== null) return refusedProposer;
  return admitCurrent(context, message, index, false);
}

/** Only the leader of a (height, view) proposes in it; anyone else's proposal is refused unverified. */
function proposerRefusal(validators: ValidatorSet, message: ConsensusMessage, index: number): Refusal | null {
  if (message.type !== 'prePrepare' && message.type !== 'newView') return null;
  if (validators.proposerIndex(message.height, message.view) === index) return null;
  return refuse('WRONG_PROPOSER', `not the leader of height ${message.height} view ${message.view}`);
}

/**
 * Screens a message for a height above the one being decided against the set of its height.
 * That set is known up to the node's head plus the validator-change delay; beyond, the set in
 * use stands in, and a signer outside it is turned away without blame (it may be a validator
 * the next change adds; it retransmits).
 */
function futureSignerRefusal(context: EngineContext, message: ConsensusMessage): Refusal | null {
  const known = context.validatorsAt(message.height);
  const validators = known ?? context.validators;
  const index = validators.indexOf(message.signer);
  if (index === -1) {
    return known === undefined
      ? refuse('SET_UNKNOWN', `the validator set of height ${message.height} is not known yet`)
      : refuse('NOT_VALIDATOR', 'signed by a key outside the validator set of its height');
  }
  return known === undefined ? null : proposerRefusal(known, message, index);
}

function admitFuture(context: EngineContext, message: ConsensusMessage, size: number): Refusal | null {
  const refusedSigner = futureSignerRefusal(context, message);
  if (refusedSigner !== null) return refusedSigner;
  const sender = bytesToHex(message.signer);
  const window = context.options.futureHeightWindow;
  if (message.height > context.height + window) {
    // Still evidence that this node is behind once the signature holds; verified only when it
    // would raise what this sender was seen at, and at most once a retransmission interval per
    // sender, so a flood of far heights costs the receiver next to nothing.
    const lastVerified = context.farFutureVerifiedTick.get(sender);
    const raises = (context.highestHeightSeen.get(sender) ?? 0) < message.height;
    if (
      raises &&
      (lastVerified === undefined || context.ticks - lastVerified >= context.options.retransmitIntervalTicks)
    ) {
      if (!verifyConsensusMessageSignature(message)) return refuse('BAD_SIGNATURE', 'signature does not verify');
      // Counted only for a genuine message, so forgeries in a validator's name (each penalised
      // as BAD_SIGNATURE) cannot use up its one verification per interval.
      context.farFutureVerifiedTick.set(sender, context.ticks);
      noteHeightSeen(context, sender, message.height);
    }
    return refuse('HEIGHT_TOO_FAR_AHEAD', `height ${message.height}; buffering up to ${context.height + window}`);
  }
  let bucket = context.future.get(message.height);
  const key = `${sender}:${slotKey(message)}:${contentKey(message)}`;
  if (bucket?.has(key)) return refuse('DUPLICATE', 'already buffered');
  const senderCount = [...(bucket?.values() ?? [])].filter((buffered) => buffered.sender === sender).length;
  if (senderCount >= FUTURE_MESSAGES_PER_VALIDATOR) {
    return refuse(
      'BUFFER_FULL',
      `validator ${sender} has ${senderCount} messages buffered for height ${message.height}`,
    );
  }
  const senderBytes = context.futureBytesBySender.get(sender) ?? 0;
  const budget = futureBytesPerValidator(context.options.maxMessageBytes);
  if (senderBytes + size > budget) {
    return refuse('BUFFER_FULL', `validator ${sender} has ${senderBytes} bytes buffered; the limit is ${budget}`);
  }
  if (!verifyConsensusMessageSignature(message)) return refuse('BAD_SIGNATURE', 'signature does not verify');
  if (bucket === undefined) {
    bucket = new Map();
    context.future.set(message.height, bucket);
  }
  bucket.set(key, { message, sender, bytes: size });
  context.futureBytesBySender.set(sender, senderBytes + size);
  noteHeightSeen(context, sender, message.height);
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
  // A validator heard at this height is not lagging: replays of its older messages earn no help.
  noteHeightSeen(context, bytesToHex(message.signer), message.height);
  dispatch(context, message, index);
  return null;
}

/**
 * Processes the messages this validator signed, as if received, in the order it signed them;
 * what they trigger may sign more, which joins the queue. A message of a height the validator
 * has left since it signed it was sent already and has nothing left to do here.
 */
export function drainLoopback(context: EngineContext): void {
  for (let message = context.loopback.shift(); message !== undefined; message = context.loopback.shift()) {
    if (message.height !== context.height) continue;
    context.log.firstInSlot.set(`${context.selfIndex}:${slotKey(message)}`, message);
    dispatch(context, message, context.selfIndex);
  }
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

/**
 * Replays the buffered messages of the height just entered. They were screened against the
 * set known when they arrived, which may not have been this height's: each is checked again
 * against the set in force now.
 */
export function replayBuffered(context: EngineContext): void {
  for (const height of [...context.future.keys()]) {
    if (height < context.height) context.forgetFuture(height);
  }
  const bucket = context.forgetFuture(context.height);
  for (const { message } of bucket) {
    // Refused as SET_CHANGED, which costs no one anything: the peer that delivered this
    // message is long gone from the step that replays it.
    const index = context.validators.indexOf(message.signer);
    if (index === -1 || proposerRefusal(context.validators, message, index) !== null) {
      context.drop('SET_CHANGED', `buffered under another validator set than height ${context.height}'s`);
    } else {
      receiveCurrent(context, message, index, true);
    }
  }
}
