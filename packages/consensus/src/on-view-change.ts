import { bytesToHex } from '@autoledger/crypto';
import type { EngineContext } from './context.ts';
import { assert } from './errors.ts';
import type { ConsensusMessage } from './messages.ts';
import { considerPrepare, storeBlock, tryProposeNewView } from './on-proposal.ts';
import { reconsiderPrepares } from './on-vote.ts';
import { raiseSyncTarget } from './sync.ts';

/**
 * View changes. A validator that sees no decision before its view timer fires asks for the
 * next view with a VIEW-CHANGE carrying its highest prepared certificate. Timers double per
 * view, so validators whose clocks (ticks) drift apart still end up sharing a view long
 * enough to decide. View changes for higher views from more than a third of the power pull a
 * lagging validator forward: at least one of them is honest and timed out legitimately.
 */

/**
 * A leader's NEW-VIEW (sender, block hash and justification already checked). Its quorum of
 * view changes proves the view was entered legitimately, so a validator still in an earlier
 * view follows it there.
 */
export function onNewView(context: EngineContext, message: ConsensusMessage): void {
  assert(message.block !== null, 'parsing guarantees a proposal carries its block');
  storeBlock(context, message.blockHash, message.block);
  context.log.round(message.view).proposal = message;
  if (message.view > context.view && context.decision === null) moveToView(context, message.view, false);
  else if (message.view === context.view) {
    // Its justification proves a quorum is in this view: the timer runs from here at the latest.
    if (!context.viewTimerRunning) {
      context.viewTimerRunning = true;
      context.viewStartTick = context.ticks;
    }
    considerPrepare(context);
  }
}

export function onViewChange(context: EngineContext, message: ConsensusMessage, index: number): void {
  context.log.addViewChange(index, context.powerOf(index), message);
  maybeStartViewTimer(context);
  if (message.block !== null) storeBlock(context, message.blockHash, message.block);
  if (context.decision === null) followViewChanges(context);
  if (message.view === context.view) tryProposeNewView(context);
}

/**
 * Starts the current view's timer once validators with a quorum of power have asked for this
 * view or a later one (a later VIEW-CHANGE counts: its sender timed out of this view too, and
 * only the current view's messages are retransmitted).
 */
function maybeStartViewTimer(context: EngineContext): void {
  if (context.viewTimerRunning) return;
  let power = 0;
  for (const index of context.log.viewChangeViews.keys()) {
    if (context.log.highestViewChange(index) >= context.view) power += context.powerOf(index);
  }
  if (power < context.quorumPower) return;
  context.viewTimerRunning = true;
  context.viewStartTick = context.ticks;
}

/** Moves to the highest view that validators with more than a third of the power asked for. */
function followViewChanges(context: EngineContext): void {
  const asked: Array<{ view: number; power: number }> = [];
  for (const index of context.log.viewChangeViews.keys()) {
    const view = context.log.highestViewChange(index);
    if (view > context.view) asked.push({ view, power: context.powerOf(index) });
  }
  asked.sort((a, b) => b.view - a.view);
  let power = 0;
  for (const { view, power: validatorPower } of asked) {
    power += validatorPower;
    if (power >= context.weakQuorumPower) {
      moveToView(context, view, true);
      return;
    }
  }
}

export function onViewTimeout(context: EngineContext): void {
  moveToView(context, context.view + 1, true);
  // A height that does not finish may have finished elsewhere without enough evidence
  // reaching this node (most validators ahead may be faulty or out of reach): ask the node.
  raiseSyncTarget(context, context.height, false);
}

/**
 * Enters a higher view of the current height. `sendViewChange` is false when a NEW-VIEW
 * brought the validator here: the view is already under way and its vote is not needed.
 */
export function moveToView(context: EngineContext, view: number, sendViewChange: boolean): void {
  if (view <= context.view) throw new Error(`views only move forward (${context.view} → ${view})`);
  context.view = view;
  context.viewStartTick = context.ticks;
  context.viewPausedTicks = 0;
  // A NEW-VIEW proves a quorum entered the view; a validator's own timeout proves nothing.
  context.viewTimerRunning = !sendViewChange;
  // Statements of earlier views no longer bind: this validator never signs in them again.
  for (const slot of [...context.own.keys()]) {
    if (slot !== 'seal') context.own.delete(slot);
  }
  if (context.proposalRequest !== null && context.proposalRequest.view < view) context.proposalRequest = null;
  context.emit({ type: 'viewChanged', height: context.height, view });
  if (context.isValidator) {
    context.dirty = true;
    if (sendViewChange) {
      const prepared = context.prepared;
      if (prepared !== null && prepared.view >= view) throw new Error('a prepared certificate from a later view');
      const viewChange = context.signNew(
        {
          type: 'viewChange',
          chainId: context.chainId,
          height: context.height,
          view,
          blockHash: prepared?.blockHash ?? new Uint8Array(0),
          preparedView: prepared?.view ?? 0,
        },
        prepared === null
          ? {}
          : {
              block: context.log.blocks.get(bytesToHex(prepared.blockHash)) ?? null,
              preparedCertificate: prepared.prepares,
            },
      );
      if (viewChange !== null) context.cast(viewChange);
    }
  }
  tryProposeNewView(context);
  considerPrepare(context);
  reconsiderPrepares(context);
}
