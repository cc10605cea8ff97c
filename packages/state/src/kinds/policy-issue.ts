import { fail, IDS_EXHAUSTED } from '../context.ts';
import { TxError } from '../errors.ts';
import { vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  holder: string;
  premium: string;
  coverage: string;
  start: number;
  end: number;
}

export const policyIssue = defineKind<Fields>({
  name: 'policy.issue',
  group: 'policy',
  action: 'issue',
  tag: 70,
  description: 'Offers an insurance policy on a vehicle to a holder. State offered until the holder accepts.',
  signers: 'insurer',
  fields: [
    vinField,
    { name: 'holder', type: 'address', description: 'the policy holder' },
    { name: 'premium', type: 'amount', description: 'minor units, paid by the holder on acceptance' },
    { name: 'coverage', type: 'amount', positive: true, description: 'the most the policy pays out in total' },
    { name: 'start', type: 'time', description: 'cover starts (ms since epoch)' },
    { name: 'end', type: 'time', min: 1, description: 'cover ends, exclusive (ms since epoch)' },
  ],
  roles: ['insurer'],
  createsId: 'policyId',
  validate(fields) {
    if (fields.end <= fields.start) throw new TxError('INVALID_FIELD', 'end: must be after start', 'end');
  },
  rejections: ['NOT_FOUND', 'SELF_DEALING', 'DEADLINE'],
  async execute(ctx, fields) {
    if ((await ctx.vehicle(fields.vin)) === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    if ((await ctx.account(fields.holder)) === null)
      return fail('NOT_FOUND', `holder ${fields.holder} is not registered`);
    if (fields.holder === ctx.actor.address) return fail('SELF_DEALING', 'an insurer cannot insure itself');
    if (fields.end <= ctx.time) return fail('DEADLINE', 'the policy would already have ended');
    const policyId = await ctx.nextId('policies');
    if (policyId === undefined) return IDS_EXHAUSTED;
    ctx.putPolicy({
      policyId,
      vin: fields.vin,
      insurer: ctx.actor.address,
      holder: fields.holder,
      premium: BigInt(fields.premium),
      coverage: BigInt(fields.coverage),
      start: fields.start,
      end: fields.end,
      status: 'offered',
      paidOut: 0n,
      issuedAt: ctx.time,
      acceptedAt: null,
    });
    ctx.emit('policy.issue', { policyId, vin: fields.vin, holder: fields.holder, insurer: ctx.actor.address });
    return { ok: true, policyId };
  },
});
