import { bytesEqual, bytesToHex } from '@autoledger/crypto';
import type { EngineContext } from './context.ts';
import { type ConsensusMessage, verifyConsensusMessageSignature } from './messages.ts';

/**
 * Falling behind and catching up. The engine never fetches blocks itself: when it has
 * evidence that heights it has not committed are final elsewhere, it asks the node with a
 * `requestSync` action and continues from the `synced` inputs.
 *
 * Evidence is either signed messages from validators holding more than a third of the power
 * at heights above the current one (one of them is honest, and an honest validator at height
 * H has committed H - 1), or a commit certificate for the current height whose block this
 * node never received.
 */

/**
 * Records the height a validator (by key, hex) was seen at. Power is counted in the set of the
 * height being decided; a signer outside it counts nothing (sync is only a hint: what it
 * fetches is checked against certificates). The map holds members of known sets only
 * (`admitFuture` and `admitCurrent` screen signers first) and is pruned when the set changes.
 */
const EMPTY = new Uint8Array(0);

export function noteHeightSeen(context: EngineContext, sender: string, height: number): void {
  if ((context.highestHeightSeen.get(sender) ?? 0) >= height) return;
  context.highestHeightSeen.set(sender, height);
  followPastKnownSets(context);
  const ahead = [...context.highestHeightSeen.entries()]
    .filter(([, seen]) => seen > context.height)
    .sort(([, a], [, b]) => b - a);
  let power = 0;
  for (const [validator, seen] of ahead) {
    const index = context.validators.indexOfHex(validator);
    if (index === -1) continue;
    power += context.powerOf(index);
    if (power >= context.weakQuorumPower) {
      raiseSyncTarget(context, seen - 1, false);
      return;
    }
  }
}

/**
 * A node outside the set it decides with (an observer, or a validator added or rotated in at a
 * later height) learns of committed heights from the members it hears from, and the set in use
 * may not weigh them: a validator added while it lagged finds the members deciding the height
 * it must vote in hold little power in its old set, while they wait for its vote. One member's
 * word fetches the heights up to the one before the highest seen, and no further than the last
 * height whose set this node knows (the change delay past its head): a false claim costs a
 * sync request for heights this node is about to decide anyway.
 *
 * Only a node outside the set it is deciding with takes one member's word: a member weighs
 * heights seen ahead by its set, or one Byzantine member could, with a message from a far height
 * now and then, keep every honest validator believing it is behind (and so forgiving floods it
 * would otherwise penalise).
 *
 * Called when a sender is seen higher and again each time a height is entered: a sync fetches
 * only up to the horizon (the change delay ahead), and the validators waiting further on only
 * retransmit the height they are stuck at, which raises no sender's height; without the
 * second call the node would stop after one hop, for good.
 */
export function followPastKnownSets(context: EngineContext): void {
  if (context.awaitingValidators || context.isValidator) return;
  let highest = 0;
  for (const seen of context.highestHeightSeen.values()) highest = Math.max(highest, seen);
  if (highest <= context.height) return;
  // Up to the height before the one seen, and no further than the sets this node knows.
  raiseSyncTarget(context, Math.min(highest - 1, knownSetHorizon(context, highest)), false);
}

/**
 * The last height, from the current one up to `limit` - 1 (and at most the future-height window
 * ahead), whose validator set this node knows.
 */
function knownSetHorizon(context: EngineContext, limit: number): number {
  const last = Math.min(limit - 1, context.height + context.options.futureHeightWindow);
  let horizon = context.height;
  while (horizon < last && context.validatorsAt(horizon + 1) !== undefined) horizon += 1;
  return horizon;
}

/**
 * Records that `target` is committed elsewhere. Being one height behind is usually a race
 * with the last seals of the height, so the request waits a retransmission interval; a
 * missing block (`urgent`) or a larger gap is requested at once.
 */
export function raiseSyncTarget(context: EngineContext, target: number, urgent: boolean): void {
  if (target < context.height) return;
  if (target > context.syncTarget) {
    context.syncTarget = target;
    context.syncTargetSinceTick = context.ticks;
  }
  if (urgent) context.syncUrgent = true;
  maybeRequestSync(context);
}

/**
 * Emits `requestSync` when behind. While an earlier request is outstanding (its target not
 * reached) it is not repeated, even for a higher target, until the base timeout has passed.
 */
export function maybeRequestSync(context: EngineContext): void {
  const target = context.syncTarget;
  if (target < context.height) return;
  const waited = context.ticks - context.syncTargetSinceTick;
  if (target === context.height && !context.syncUrgent && waited < context.options.retransmitIntervalTicks) return;
  const last = context.lastSyncRequest;
  if (last !== null && last.target >= context.height && context.ticks - last.tick < context.options.timeoutBaseTicks) {
    return;
  }
  context.lastSyncRequest = { target, tick: context.ticks };
  context.emit({ type: 'requestSync', targetHeight: target });
}

/**
 * A validator still deciding the height this node committed a while ago gets the commit
 * certificate (as seal messages) and the block's proposal, which is all it needs to commit:
 * the most common lag, one height, then heals without block sync. The grace period keeps the
 * messages of validators finishing the height a moment later (late seals, mostly) from
 * triggering it; a validator that is stuck retransmits and is helped then. Rate-limited per
 * validator (once a retransmission interval), and only for a message whose signature holds.
 */
export function helpLaggingValidator(
  context: EngineContext,
  message: ConsensusMessage,
): 'helped' | 'not needed' | 'bad signature' {
  const last = context.lastCommitted;
  if (!context.isValidator || last === null) return 'not needed';
  if (last.certificate.height !== message.height) return 'not needed';
  // Only a member of the set that decided that height is helped (a stranger's message costs
  // no verification here), and never this validator itself.
  if (!last.validators.has(message.signer) || bytesEqual(message.signer, context.options.self?.publicKey ?? EMPTY)) {
    return 'not needed';
  }
  const sender = bytesToHex(message.signer);
  // Seen at a later height, the signer is not behind: this is a replay (by anyone connected)
  // of one of its old messages, and answering it would send a whole block on demand.
  if ((context.highestHeightSeen.get(sender) ?? 0) > message.height) return 'not needed';
  if (context.ticks - last.tick < Math.ceil(context.options.retransmitIntervalTicks / 2)) return 'not needed';
  const sentTick = context.helpSentTick.get(sender);
  if (sentTick !== undefined && context.ticks - sentTick < context.options.retransmitIntervalTicks) {
    return 'not needed';
  }
  // The answer can be a whole block: only a genuine validator's own message earns it, or any
  // connected peer could make this validator send blocks on demand.
  if (!verifyConsensusMessageSignature(message)) return 'bad signature';
  context.helpSentTick.set(sender, context.ticks);
  if (last.proposal !== null) context.sendTo(message.signer, last.proposal);
  for (const seal of last.certificate.seals) {
    const sealMessage: ConsensusMessage = {
      type: 'seal',
      chainId: context.chainId,
      height: message.height,
      view: 0,
      blockHash: last.certificate.blockHash,
      preparedView: 0,
      signer: seal.validator,
      signature: seal.signature,
      block: null,
      preparedCertificate: [],
      viewChanges: [],
      commits: [],
    };
    context.sendTo(message.signer, sealMessage);
  }
  return 'helped';
}

/**
 * Forgets what is kept per validator key (heights seen, help and verification rate limits) for
 * keys outside the set just taken up, so that the maps stay bounded by the set's size however
 * many validators came and went. (The future buffer's byte counts go with the buffer.)
 */
export function pruneDepartedValidators(context: EngineContext): void {
  for (const map of [context.highestHeightSeen, context.helpSentTick, context.farFutureVerifiedTick]) {
    for (const key of [...map.keys()]) {
      // A key seen above the current height stays: it may be a member of a later set, and it is
      // what a node behind past its known sets follows (followPastKnownSets). Such entries were
      // screened against a known set when they came, so they stay bounded by the sets' sizes.
      const aheadOfUs = map === context.highestHeightSeen && (map.get(key) ?? 0) > context.height;
      if (context.validators.indexOfHex(key) === -1 && !aheadOfUs) map.delete(key);
    }
  }
}
