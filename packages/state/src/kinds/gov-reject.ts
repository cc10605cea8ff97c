import { castVote, proposalIdField, VOTE_REJECTIONS } from './gov-vote.ts';
import { defineKind } from './types.ts';

interface Fields {
  proposalId: string;
}

export const govReject = defineKind<Fields>({
  name: 'gov.reject',
  group: 'gov',
  action: 'reject',
  tag: 92,
  description:
    "Rejects an open proposal for the signer's validator (once). When rejections hold more than a third of the voting power in force, the proposal is rejected.",
  signers: 'the operator of a current validator, once per validator',
  fields: [proposalIdField],
  roles: 'any',
  rejections: [...VOTE_REJECTIONS],
  execute(ctx, fields) {
    return castVote(ctx, fields.proposalId, 'reject');
  },
});
