import { castVote, proposalIdField, VOTE_REJECTIONS } from './gov-vote.ts';
import { defineKind } from './types.ts';

interface Fields {
  proposalId: string;
}

export const govApprove = defineKind<Fields>({
  name: 'gov.approve',
  group: 'gov',
  action: 'approve',
  tag: 91,
  description:
    "Approves an open proposal for the signer's validator (once). When approvals hold at least two thirds of the voting power in force, a regulator's among them, the proposal is approved and its change takes effect validatorChangeDelay blocks later.",
  signers: 'the operator of a current validator, once per validator',
  fields: [proposalIdField],
  roles: 'any',
  rejections: [...VOTE_REJECTIONS, 'DUPLICATE_VALIDATOR', 'VALIDATOR_FLOOR', 'VALIDATOR_SET_LIMIT'],
  execute(ctx, fields) {
    return castVote(ctx, fields.proposalId, 'approve');
  },
});
