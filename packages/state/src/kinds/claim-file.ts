import { fail, IDS_EXHAUSTED } from '../context.ts';
import { severityField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  policyId: string;
  amount: string;
  severity: string;
  incidentHash: string;
}

export const claimFile = defineKind<Fields>({
  name: 'claim.file',
  group: 'claim',
  action: 'file',
  tag: 80,
  description: 'The holder claims on a policy that is active at block time. State filed.',
  signers: 'the holder',
  fields: [
    { name: 'policyId', type: 'id', description: 'the policy' },
    { name: 'amount', type: 'amount', positive: true, description: 'minor units claimed' },
    severityField,
    { name: 'incidentHash', type: 'hash', description: 'sha256 of the incident report' },
  ],
  roles: 'any',
  createsId: 'claimId',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE', 'DEADLINE', 'EXCEEDS_COVERAGE'],
  async execute(ctx, fields) {
    const policy = await ctx.policy(fields.policyId);
    if (policy === null) return fail('NOT_FOUND', `policy ${fields.policyId} does not exist`);
    if (policy.holder !== ctx.actor.address) return fail('UNAUTHORIZED', 'only the holder files claims');
    if (policy.status !== 'active') return fail('INVALID_STATE', `policy is ${policy.status}, not active`);
    if (ctx.time < policy.start || ctx.time >= policy.end)
      return fail('DEADLINE', 'the policy is not in force at block time');
    const amount = BigInt(fields.amount);
    if (amount > policy.coverage - policy.paidOut)
      return fail('EXCEEDS_COVERAGE', 'the amount exceeds the remaining coverage');
    const claimId = await ctx.nextId('claims');
    if (claimId === undefined) return IDS_EXHAUSTED;
    ctx.putClaim({
      claimId,
      policyId: policy.policyId,
      vin: policy.vin,
      holder: policy.holder,
      insurer: policy.insurer,
      amount,
      severity: fields.severity,
      incidentHash: fields.incidentHash,
      status: 'filed',
      payout: null,
      filedAt: ctx.time,
      decidedAt: null,
    });
    ctx.emit('claim.file', { claimId, policyId: policy.policyId, amount, severity: fields.severity });
    return { ok: true, claimId };
  },
});
