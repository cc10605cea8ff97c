// gov.approve and gov.reject: one vote per validator in force (cast by its operator), counted
// against the set in force at the vote's block.

import { type Context, fail, OK, type Outcome } from '../context.ts';
import { assert } from '../errors.ts';
import type { FieldSpec } from '../fields.ts';
import {
  checkChange,
  contextReader,
  governedBySigner,
  isApproved,
  isRejected,
  projectedSet,
  requestOf,
  tally,
} from '../governance.ts';
import { governanceCodec, keys, proposalCodec, validatorChangeCodec } from '../records.ts';

export const proposalIdField: FieldSpec = { name: 'proposalId', type: 'id', description: 'the proposal (gov-N)' };

export const VOTE_REJECTIONS = ['UNAUTHORIZED', 'NOT_FOUND', 'INVALID_STATE', 'ALREADY_VOTED'] as const;

/**
 * Records the signer's validator's vote and decides the proposal when the vote settles it.
 * The approving vote re-checks the change against the projected set (other changes may have
 * been approved since the proposal opened): if it no longer holds, the vote fails with the
 * rule's code and the proposal stays open, to expire or to be rejected.
 */
export async function castVote(ctx: Context, proposalId: string, vote: 'approve' | 'reject'): Promise<Outcome> {
  const governed = await governedBySigner(ctx);
  if (!governed.ok) return governed.outcome;
  const { governance, inForce, voter } = governed;
  const proposal = await ctx.record(keys.proposal(proposalId), proposalCodec);
  if (proposal === null) return fail('NOT_FOUND', `no proposal ${proposalId}`);
  if (proposal.status !== 'open') return fail('INVALID_STATE', `proposal ${proposalId} is ${proposal.status}`);
  if (proposal.approvals.includes(voter.name) || proposal.rejections.includes(voter.name)) {
    return fail('ALREADY_VOTED', `validator ${voter.name} has voted on ${proposalId}`);
  }
  let voted =
    vote === 'approve'
      ? { ...proposal, approvals: [...proposal.approvals, voter.name] }
      : { ...proposal, rejections: [...proposal.rejections, voter.name] };
  const counted = tally(voted, inForce);
  const decided = vote === 'approve' ? isApproved(counted) : isRejected(counted);
  let effectiveHeight: number | null = null;
  if (decided && vote === 'approve') {
    const checked = checkChange(await projectedSet(contextReader(ctx), governance), requestOf(proposal));
    if (!checked.ok) return fail(checked.code, `${proposalId} can no longer be approved: ${checked.message}`);
    effectiveHeight = ctx.env.height + ctx.env.params.validatorChangeDelay;
    assert(Number.isSafeInteger(effectiveHeight), 'heights and the change delay are bounded');
    const index = governance.changes;
    ctx.putRecord(keys.validatorChange(index), validatorChangeCodec, {
      index,
      proposalId,
      action: proposal.action,
      name: proposal.name,
      before: checked.before,
      after: checked.after,
      approvedHeight: ctx.env.height,
      effectiveHeight,
    });
    voted = {
      ...voted,
      status: 'approved',
      decidedHeight: ctx.env.height,
      decidedAt: ctx.time,
      effectiveHeight,
      changeIndex: index,
    };
    ctx.putRecord(keys.governance, governanceCodec, {
      ...governance,
      changes: index + 1,
      open: governance.open.filter((open) => open.proposalId !== proposalId),
    });
  } else if (decided) {
    voted = { ...voted, status: 'rejected', decidedHeight: ctx.env.height, decidedAt: ctx.time };
    ctx.putRecord(keys.governance, governanceCodec, {
      ...governance,
      open: governance.open.filter((open) => open.proposalId !== proposalId),
    });
  }
  ctx.putRecord(keys.proposal(proposalId), proposalCodec, voted);
  ctx.emit(`gov.${vote}`, {
    proposalId,
    validator: voter.name,
    by: ctx.actor.address,
    approvalPower: counted.approvalPower,
    rejectionPower: counted.rejectionPower,
    totalPower: counted.totalPower,
    status: voted.status,
  });
  if (voted.status === 'approved') {
    ctx.emit('gov.approved', {
      proposalId,
      action: proposal.action,
      name: proposal.name,
      approvedHeight: ctx.env.height,
      effectiveHeight,
      changeIndex: voted.changeIndex,
    });
  } else if (voted.status === 'rejected') {
    ctx.emit('gov.rejected', { proposalId, action: proposal.action, name: proposal.name });
  }
  return OK;
}
