import { CREDIT_OVERFLOW, fail, OK } from '../context.ts';
import { defineKind } from './types.ts';

interface Fields {
  policyId: string;
}

export const policyAccept = defineKind<Fields>({
  name: 'policy.accept',
  group: 'policy',
  action: 'accept',
  tag: 71,
  description: 'The holder accepts an offered policy and pays its premium to the insurer. State active.',
  signers: 'the holder',
  fields: [{ name: 'policyId', type: 'id', description: 'the policy' }],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE', 'DEADLINE', 'INSUFFICIENT_FUNDS'],
  async execute(ctx, fields) {
    const policy = await ctx.policy(fields.policyId);
    if (policy === null) return fail('NOT_FOUND', `policy ${fields.policyId} does not exist`);
    if (policy.holder !== ctx.actor.address) return fail('UNAUTHORIZED', 'only the holder accepts a policy');
    if (policy.status !== 'offered') return fail('INVALID_STATE', `policy is ${policy.status}, not offered`);
    if (ctx.time >= policy.end) return fail('DEADLINE', 'the policy period has ended');
    if (!(await ctx.debit(policy.holder, policy.premium)))
      return fail('INSUFFICIENT_FUNDS', 'balance below the premium');
    if (!(await ctx.credit(policy.insurer, policy.premium))) return CREDIT_OVERFLOW;
    ctx.putPolicy({ ...policy, status: 'active', acceptedAt: ctx.time });
    ctx.emit('policy.accept', { policyId: policy.policyId, holder: policy.holder, premium: policy.premium });
    return OK;
  },
});
