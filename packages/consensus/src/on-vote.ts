import { bytesEqual, bytesToHex } from '@autoledger/crypto';
import type { EngineContext } from './context.ts';
import { assert } from './errors.ts';
import { orderedMessages, type Tally } from './height-log.ts';
import { type ConsensusMessage, withoutAttachments } from './messages.ts';
import { raiseSyncTarget } from './sync.ts';

/**
 * Votes: PREPARE and COMMIT (per view) and the commit seal (per height).
 *
 * A quorum of PREPAREs for a block in a view makes it prepared: the validator keeps the
 * certificate (it carries it into view changes) and sends its COMMIT. A quorum of COMMITs
 * in one view decides the block. Only then does a validator sign its commit seal, so honest
 * seals at a height never name two blocks and any quorum of them, collected in any views, is
 * a sound commit certificate. (Seals signed straight after PREPARE, as in a three-phase
 * protocol, would not be: a validator may commit to a block in one view and, if it was not
 * decided, to another in a later view; seals from different views could then certify two
 * blocks.) A seal travels with the COMMITs that decided it, so whoever receives it decides
 * too; seals of more than a third of the power include an honest validator's, so they also
 * prove the decision.
 */

export function onPrepare(context: EngineContext, message: ConsensusMessage, index: number): void {
  const tally = context.log.addVote(context.log.round(message.view).prepares, index, context.powerOf(index), message);
  if (tally.power >= context.quorumPower) becomePrepared(context, message.view, message.blockHash, tally);
}

/** Re-examines the PREPAREs of the view just entered: some may have arrived early. */
export function reconsiderPrepares(context: EngineContext): void {
  const round = context.log.rounds.get(context.view);
  if (round === undefined) return;
  for (const tally of round.prepares.values()) {
    if (tally.power >= context.quorumPower) {
      const first = tally.messages.values().next().value;
      assert(first !== undefined, 'a tally with power holds a message');
      becomePrepared(context, context.view, first.blockHash, tally);
    }
  }
}

function becomePrepared(context: EngineContext, view: number, blockHash: Uint8Array, tally: Tally): void {
  // PREPAREs of a view this validator has not reached wait until it gets there: a prepared
  // certificate always comes from a view below the one a VIEW-CHANGE asks for.
  if (view > context.view) return;
  if (context.prepared === null || context.prepared.view < view) {
    context.prepared = { view, blockHash, prepares: orderedMessages(tally).map(withoutAttachments) };
    // The certificate must be durable before the COMMIT below leaves: after a crash this
    // validator's view changes must still report it.
    context.dirty = true;
  }
  if (!context.isValidator || context.decision !== null || view !== context.view) return;
  const commit = context.signNew({
    type: 'commit',
    chainId: context.chainId,
    height: context.height,
    view,
    blockHash,
    preparedView: 0,
  });
  if (commit !== null) context.cast(commit);
}

export function onCommit(context: EngineContext, message: ConsensusMessage, index: number): void {
  const tally = context.log.addVote(context.log.round(message.view).commits, index, context.powerOf(index), message);
  if (tally.power >= context.quorumPower) decide(context, message.view, message.blockHash, orderedMessages(tally));
}

export function decide(
  context: EngineContext,
  view: number | null,
  blockHash: Uint8Array,
  commits: ConsensusMessage[],
): void {
  const decision = context.decision;
  if (decision === null) {
    context.decision = { view, blockHash, commits: commits.map(withoutAttachments) };
    context.decidedAtTick = context.ticks;
    context.dirty = true;
  } else if (decision.commits.length === 0 && commits.length > 0 && bytesEqual(decision.blockHash, blockHash)) {
    // Learned from seals first; keep the COMMITs too, to pass them on with this seal.
    context.decision = { view, blockHash, commits: commits.map(withoutAttachments) };
    context.dirty = true;
  }
  if (context.isValidator) sealOwn(context, blockHash);
}

function sealOwn(context: EngineContext, blockHash: Uint8Array): void {
  const seal = context.signNew(
    { type: 'seal', chainId: context.chainId, height: context.height, view: 0, blockHash, preparedView: 0 },
    { commits: context.decision?.commits ?? [] },
  );
  if (seal !== null) context.cast(seal);
}

export function onSeal(context: EngineContext, message: ConsensusMessage, index: number): void {
  // The attached COMMITs were checked at the boundary.
  const proof = message.commits;
  const firstCommit = proof[0];
  if (firstCommit !== undefined) decide(context, firstCommit.view, message.blockHash, [...proof]);
  const tally = context.log.addVote(context.log.seals, index, context.powerOf(index), message);
  if (tally.power >= context.weakQuorumPower) decide(context, null, message.blockHash, []);
  checkCertificate(context, message.blockHash);
}

/**
 * With seals of a quorum the block is final: it commits once the block is known, and a node
 * that never saw the block fetches it by sync.
 */
export function checkCertificate(context: EngineContext, blockHash: Uint8Array): void {
  const tally = context.log.seals.get(bytesToHex(blockHash));
  if (tally === undefined || tally.power < context.quorumPower || context.committable !== null) return;
  if (context.log.blocks.has(bytesToHex(blockHash))) context.committable = blockHash;
  else raiseSyncTarget(context, context.height, true);
}
