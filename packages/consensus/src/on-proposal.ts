import { bytesEqual, bytesToHex } from '@autoledger/crypto';
import type { EngineContext } from './context.ts';
import { assert } from './errors.ts';
import { highestPreparedClaim } from './justification.ts';
import { type ConsensusMessage, withoutAttachments } from './messages.ts';
import { checkCertificate } from './on-vote.ts';

/**
 * Remembers a block of the current height by hash. A waiting certificate may now commit, and a
 * leader whose view changes proved this block prepared, but that lacked it, can now re-propose
 * it: without this retry the view would time out although every piece of its NEW-VIEW arrived.
 */
export function storeBlock(context: EngineContext, blockHash: Uint8Array, block: Uint8Array): void {
  const key = bytesToHex(blockHash);
  if (context.log.blocks.has(key)) return;
  context.log.blocks.set(key, block);
  checkCertificate(context, blockHash);
  tryProposeNewView(context);
}

/** A leader's PRE-PREPARE for view 0 (sender and block hash already checked). */
export function onPrePrepare(context: EngineContext, message: ConsensusMessage): void {
  assert(message.block !== null, 'parsing guarantees a proposal carries its block');
  storeBlock(context, message.blockHash, message.block);
  context.log.round(message.view).proposal = message;
  if (message.view === context.view) considerPrepare(context);
}

/**
 * Sends this validator's PREPARE for the current view's proposal once the node has judged the
 * block valid, asking the node first when it has not.
 */
export function considerPrepare(context: EngineContext): void {
  if (!context.isValidator || context.decision !== null) return;
  const proposal = context.log.rounds.get(context.view)?.proposal;
  if (proposal === undefined || proposal === null || context.own.has(`prepare/${context.view}`)) return;
  assert(proposal.block !== null, 'parsing guarantees a proposal carries its block');
  const key = bytesToHex(proposal.blockHash);
  const valid = context.validity.get(key);
  if (valid === undefined) {
    const refusedIn = context.refusedForView.get(key);
    if (!context.validationsPending.has(key) && (refusedIn === undefined || refusedIn < context.view)) {
      context.validationsPending.add(key);
      context.emit({
        type: 'validate',
        height: context.height,
        view: context.view,
        blockHash: proposal.blockHash,
        block: proposal.block,
        checkTimeliness: !isJustifiedReproposal(proposal),
      });
    }
    return;
  }
  if (!valid) return;
  const prepare = context.signNew({
    type: 'prepare',
    chainId: context.chainId,
    height: context.height,
    view: context.view,
    blockHash: proposal.blockHash,
    preparedView: 0,
  });
  if (prepare === null) return;
  context.votedBlocks.set(key, proposal.block);
  context.cast(prepare);
}

/**
 * True for a NEW-VIEW whose block is the highest prepared block its view changes claim (the
 * justification proved that claim): a quorum prepared it, so it is judged without the clock.
 */
function isJustifiedReproposal(proposal: ConsensusMessage): boolean {
  if (proposal.type !== 'newView') return false;
  const highest = highestPreparedClaim(proposal.viewChanges);
  return highest !== null && bytesEqual(highest.blockHash, proposal.blockHash);
}

/**
 * The node's verdict on a block: remembered per block hash for the rest of the height, except
 * a retryable refusal, which holds for the view it was given in only.
 */
export function onValidated(
  context: EngineContext,
  height: number,
  view: number,
  blockHash: Uint8Array,
  valid: boolean,
  retryable: boolean,
): void {
  if (height !== context.height) return;
  const key = bytesToHex(blockHash);
  context.validationsPending.delete(key);
  if (!valid && retryable) context.refusedForView.set(key, Math.max(view, context.refusedForView.get(key) ?? 0));
  else context.validity.set(key, valid);
  considerPrepare(context);
}

/**
 * True while the node validates the current view's proposal for this validator: those ticks do
 * not count against the view timer (see `viewPausedTicks`).
 */
export function isValidatingViewProposal(context: EngineContext): boolean {
  if (context.validationsPending.size === 0) return false;
  const proposal = context.log.rounds.get(context.view)?.proposal;
  return proposal !== undefined && proposal !== null && context.validationsPending.has(bytesToHex(proposal.blockHash));
}

/** Whether the node is executing the block the current view's leader previewed (see `previewExecution`). */
export function isExecutingViewPreview(context: EngineContext): boolean {
  const running = context.previewExecution;
  return running !== null && running.height === context.height && running.view === context.view;
}

/** Asks the node for a block when this validator leads the current view of the height. */
export function requestProposal(context: EngineContext, viewChanges: ConsensusMessage[]): void {
  context.proposalRequest = { view: context.view, viewChanges, tick: context.ticks };
  context.emit({ type: 'requestProposal', height: context.height, view: context.view });
}

/** The node's block for a proposal this leader asked for; stale answers are ignored. */
export function onProposalReady(context: EngineContext, height: number, view: number, block: Uint8Array): void {
  const request = context.proposalRequest;
  if (request === null || height !== context.height || view !== context.view || request.view !== view) return;
  if (context.decision !== null || context.own.has(`proposal/${view}`)) return;
  const hashed = context.hashBlock(block);
  // The node's own block should always hash; if it does not, proposing nothing lets the view
  // time out, which is safe, where signing an unhashable block would not be.
  if (!hashed.ok) {
    context.drop('MALFORMED_BLOCK', `this node's own proposal: ${hashed.code}: ${hashed.reason}`);
    return;
  }
  context.proposalRequest = null;
  // The leader's wait for its own block, counted when the block arrives rather than paused
  // while it is built, so that a node that never answers leaves the view on time.
  if (context.viewTimerRunning) context.pauseViewTimer(context.ticks - Math.max(request.tick, context.viewStartTick));
  const blockHash = hashed.hash;
  // The node executed the block while building it.
  context.validity.set(bytesToHex(blockHash), true);
  const fields = {
    type: view === 0 ? ('prePrepare' as const) : ('newView' as const),
    chainId: context.chainId,
    height,
    view,
    blockHash,
    preparedView: 0,
  };
  const proposal = context.signNew(
    fields,
    view === 0 ? { block } : { block, viewChanges: request.viewChanges.map(withoutAttachments) },
  );
  if (proposal !== null) context.cast(proposal);
}

/**
 * A leader of view ≥ 1 with a quorum of view changes proposes: the block of the highest
 * prepared certificate among them if there is one (it may already be decided somewhere),
 * otherwise a new block from the node.
 */
export function tryProposeNewView(context: EngineContext): void {
  const view = context.view;
  if (view === 0 || context.decision !== null || !context.isProposer(context.height, view)) return;
  if (context.own.has(`proposal/${view}`) || context.proposalRequest?.view === view) return;
  const round = context.log.rounds.get(view);
  if (round === undefined || round.viewChangePower < context.quorumPower) return;
  const viewChanges = [...round.viewChanges.entries()].sort(([a], [b]) => a - b).map(([, message]) => message);
  const highest = highestPreparedClaim(viewChanges);
  if (highest === null || context.options.newViewIgnoresPrepared) {
    requestProposal(context, viewChanges);
    return;
  }
  const block = context.log.blocks.get(bytesToHex(highest.blockHash));
  // Without the block there is nothing to re-propose yet; a later view change may bring it.
  if (block === undefined) return;
  const proposal = context.signNew(
    {
      type: 'newView',
      chainId: context.chainId,
      height: context.height,
      view,
      blockHash: highest.blockHash,
      preparedView: 0,
    },
    {
      block,
      viewChanges: viewChanges.map(withoutAttachments),
      preparedCertificate: highest.from.preparedCertificate,
    },
  );
  if (proposal !== null) context.cast(proposal);
}
