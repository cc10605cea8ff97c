import { CREDIT_OVERFLOW, fail, OK } from '../context.ts';
import { assert, TxError } from '../errors.ts';
import { withBrand } from './brands.ts';
import { defineKind } from './types.ts';

interface Fields {
  claimId: string;
  approve: boolean;
  payout?: string;
}

export const claimDecide = defineKind<Fields>({
  name: 'claim.decide',
  group: 'claim',
  action: 'decide',
  tag: 81,
  description:
    "The policy's insurer approves (paying the payout to the holder and recording the accident on the vehicle) or denies a filed claim. State paid or denied.",
  signers: "the policy's insurer",
  fields: [
    { name: 'claimId', type: 'id', description: 'the claim' },
    { name: 'approve', type: 'bool', description: 'true to pay, false to deny' },
    {
      name: 'payout',
      type: 'amount',
      optional: true,
      description: 'minor units paid; required to approve, absent to deny',
    },
  ],
  roles: ['insurer'],
  validate(fields) {
    if (fields.approve && fields.payout === undefined) {
      throw new TxError('MISSING_FIELD', 'payout: an approval names the payout', 'payout');
    }
    if (fields.approve && fields.payout === '0')
      throw new TxError('INVALID_AMOUNT', 'payout: must be at least 1', 'payout');
    if (!fields.approve && fields.payout !== undefined) {
      throw new TxError('INVALID_FIELD', 'payout: a denial pays nothing', 'payout');
    }
  },
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE', 'EXCEEDS_COVERAGE', 'INSUFFICIENT_FUNDS'],
  async execute(ctx, fields) {
    const claim = await ctx.claim(fields.claimId);
    if (claim === null) return fail('NOT_FOUND', `claim ${fields.claimId} does not exist`);
    if (claim.insurer !== ctx.actor.address)
      return fail('UNAUTHORIZED', "only the policy's insurer decides its claims");
    if (claim.status !== 'filed') return fail('INVALID_STATE', `claim is ${claim.status}, not filed`);
    if (!fields.approve) {
      ctx.putClaim({ ...claim, status: 'denied', decidedAt: ctx.time });
      ctx.emit('claim.decide', { claimId: claim.claimId, approve: false });
      return OK;
    }
    const payout = BigInt(fields.payout as string);
    const policy = await ctx.policy(claim.policyId);
    assert(policy !== null, 'a claim has a policy');
    if (policy.paidOut + payout > policy.coverage) {
      return fail('EXCEEDS_COVERAGE', 'the payout exceeds the remaining coverage');
    }
    if (!(await ctx.debit(claim.insurer, payout)))
      return fail('INSUFFICIENT_FUNDS', "the insurer's balance is below the payout");
    if (!(await ctx.credit(claim.holder, payout))) return CREDIT_OVERFLOW;
    ctx.putPolicy({ ...policy, paidOut: policy.paidOut + payout });
    ctx.putClaim({ ...claim, status: 'paid', payout, decidedAt: ctx.time });
    const vehicle = await ctx.vehicle(claim.vin);
    assert(vehicle !== null, 'an insured vehicle exists');
    let updated = ctx.appendHistory(vehicle, 'vehicle.accident', {
      severity: claim.severity,
      reportHash: claim.incidentHash,
      claimId: claim.claimId,
    });
    if (claim.severity === 'total_loss') updated = withBrand(ctx, updated, 'salvage');
    ctx.putVehicle(updated);
    ctx.emit('claim.decide', { claimId: claim.claimId, approve: true, payout, holder: claim.holder });
    return OK;
  },
});
