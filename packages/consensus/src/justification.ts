import { bytesEqual } from '@autoledger/crypto';
import { type ConsensusMessage, verifyConsensusMessageSignature } from './messages.ts';
import type { ValidatorSet } from './validators.ts';

/**
 * The rules that keep a decided block decided across view changes (PBFT's view-change
 * safety, in the IBFT 2.0 / QBFT shape):
 * - a prepared certificate is a quorum of PREPAREs for one (height, view, block);
 * - a VIEW-CHANGE carries the sender's highest prepared certificate;
 * - a NEW-VIEW carries a quorum of VIEW-CHANGEs and must propose the block of the highest
 *   prepared certificate among them.
 * If a block was decided in view v, a quorum holds a prepared certificate from v; any quorum
 * of view changes for a later view includes one of them, so the next leader must re-propose
 * that block.
 */
export interface JustificationContext {
  chainId: string;
  validators: ValidatorSet;
  /** The quorum the engine counts with (the validator set's, unless a fault is planted). */
  quorumPower: number;
  /** Planted fault: accept a NEW-VIEW whatever block it proposes. */
  ignorePrepared: boolean;
}

/** Signers of `messages` as validator indices, or `null` if one is unknown or appears twice. */
function distinctSigners(messages: readonly ConsensusMessage[], validators: ValidatorSet): number[] | null {
  const indices: number[] = [];
  const seen = new Set<number>();
  for (const message of messages) {
    const index = validators.indexOf(message.signer);
    if (index === -1 || seen.has(index)) return null;
    seen.add(index);
    indices.push(index);
  }
  return indices;
}

/** True when `prepares` is a quorum of valid PREPAREs for exactly (height, view, blockHash). */
export function isValidPreparedCertificate(
  context: JustificationContext,
  prepares: readonly ConsensusMessage[],
  height: number,
  view: number,
  blockHash: Uint8Array,
): boolean {
  for (const prepare of prepares) {
    if (
      prepare.type !== 'prepare' ||
      prepare.chainId !== context.chainId ||
      prepare.height !== height ||
      prepare.view !== view ||
      !bytesEqual(prepare.blockHash, blockHash)
    ) {
      return false;
    }
  }
  const signers = distinctSigners(prepares, context.validators);
  if (signers === null || context.validators.powerOf(signers) < context.quorumPower) return false;
  return prepares.every(verifyConsensusMessageSignature);
}

/** True when a VIEW-CHANGE's prepared claim (if any) is backed by its attached certificate. */
export function isValidViewChangeCertificate(context: JustificationContext, viewChange: ConsensusMessage): boolean {
  if (viewChange.blockHash.length === 0) return true;
  return isValidPreparedCertificate(
    context,
    viewChange.preparedCertificate,
    viewChange.height,
    viewChange.preparedView,
    viewChange.blockHash,
  );
}

/** The highest prepared claim among view changes, or `null` when none claims one. */
export function highestPreparedClaim(
  viewChanges: readonly ConsensusMessage[],
): { view: number; blockHash: Uint8Array; from: ConsensusMessage } | null {
  let best: { view: number; blockHash: Uint8Array; from: ConsensusMessage } | null = null;
  for (const viewChange of viewChanges) {
    if (viewChange.blockHash.length === 0) continue;
    if (best === null || viewChange.preparedView > best.view) {
      best = { view: viewChange.preparedView, blockHash: viewChange.blockHash, from: viewChange };
    }
  }
  return best;
}

export type JustificationVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks that a NEW-VIEW is justified: a quorum of valid VIEW-CHANGEs for its (height, view)
 * and, when any of them claims a prepared block, the proposal is the block of the highest
 * claim, proved by the NEW-VIEW's prepared certificate.
 */
export function checkNewViewJustification(
  context: JustificationContext,
  newView: ConsensusMessage,
): JustificationVerdict {
  const viewChanges = newView.viewChanges;
  for (const viewChange of viewChanges) {
    if (
      viewChange.type !== 'viewChange' ||
      viewChange.chainId !== context.chainId ||
      viewChange.height !== newView.height ||
      viewChange.view !== newView.view
    ) {
      return { ok: false, reason: 'a view change for another height or view' };
    }
  }
  const signers = distinctSigners(viewChanges, context.validators);
  if (signers === null) return { ok: false, reason: 'view changes from unknown or repeated validators' };
  if (context.validators.powerOf(signers) < context.quorumPower) {
    return { ok: false, reason: 'view changes hold less than a quorum of power' };
  }
  if (!viewChanges.every(verifyConsensusMessageSignature)) {
    return { ok: false, reason: 'a view change with a bad signature' };
  }
  const highest = highestPreparedClaim(viewChanges);
  if (highest === null) {
    // Nothing to prove, so an attached certificate would go unchecked — and a certificate is
    // what marks a re-proposal, validated without the clock check: a Byzantine leader could
    // pass a block stamped years ahead with a junk PREPARE attached.
    if (newView.preparedCertificate.length > 0) {
      return { ok: false, reason: 'a prepared certificate that no view change claims' };
    }
    return { ok: true };
  }
  if (context.ignorePrepared) return { ok: true };
  for (const viewChange of viewChanges) {
    if (viewChange.preparedView === highest.view && viewChange.blockHash.length > 0) {
      if (!bytesEqual(viewChange.blockHash, highest.blockHash)) {
        return { ok: false, reason: 'conflicting prepared claims in one view' };
      }
    }
  }
  if (!bytesEqual(newView.blockHash, highest.blockHash)) {
    return { ok: false, reason: 'the proposal is not the block of the highest prepared certificate' };
  }
  if (
    !isValidPreparedCertificate(context, newView.preparedCertificate, newView.height, highest.view, highest.blockHash)
  ) {
    return { ok: false, reason: 'the prepared certificate does not prove the highest prepared claim' };
  }
  return { ok: true };
}

/**
 * True when `commits` is a quorum of valid COMMITs for `blockHash` at `height`, all in one
 * view: proof that the block was decided. It is checked as a whole, like a prepared
 * certificate, so that an equivocating validator whose other COMMIT a receiver saw first
 * cannot keep the receiver from accepting it.
 */
export function isValidDecisionProof(
  context: JustificationContext,
  commits: readonly ConsensusMessage[],
  height: number,
  blockHash: Uint8Array,
): boolean {
  const view = commits[0]?.view;
  for (const commit of commits) {
    if (
      commit.type !== 'commit' ||
      commit.chainId !== context.chainId ||
      commit.height !== height ||
      commit.view !== view ||
      !bytesEqual(commit.blockHash, blockHash)
    ) {
      return false;
    }
  }
  const signers = distinctSigners(commits, context.validators);
  if (signers === null || context.validators.powerOf(signers) < context.quorumPower) return false;
  return commits.every(verifyConsensusMessageSignature);
}
