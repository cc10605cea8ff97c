import { fail, OK } from '../context.ts';
import { assert } from '../errors.ts';
import { orderIdField } from './common.ts';
import { orderFor } from './order-settlement.ts';
import { defineKind } from './types.ts';

interface Fields {
  orderId: string;
  rating: number;
  commentHash?: string;
}

export const orderReview = defineKind<Fields>({
  name: 'order.review',
  group: 'order',
  action: 'review',
  tag: 58,
  description: "Rates the other party of a completed order (1 to 5) once; it counts towards that account's reputation.",
  signers: 'the buyer or the seller, once each',
  fields: [
    orderIdField,
    { name: 'rating', type: 'uint', min: 1, max: 5, description: '1 (worst) to 5 (best)' },
    { name: 'commentHash', type: 'hash', optional: true, description: 'sha256 of an off-chain comment' },
  ],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE', 'ALREADY_REVIEWED'],
  async execute(ctx, fields) {
    const found = await orderFor(ctx, fields.orderId, 'either');
    if ('outcome' in found) return found.outcome;
    const { order } = found;
    if (order.status !== 'completed') return fail('INVALID_STATE', `order is ${order.status}, not completed`);
    const byBuyer = ctx.actor.address === order.buyer;
    if (byBuyer ? order.buyerReviewed : order.sellerReviewed) {
      return fail('ALREADY_REVIEWED', 'each party reviews an order once');
    }
    const subject = byBuyer ? order.seller : order.buyer;
    const account = await ctx.account(subject);
    assert(account !== null, 'the reviewed party exists');
    const reputationCount = account.reputationCount + 1;
    const reputationSum = account.reputationSum + fields.rating;
    if (!Number.isSafeInteger(reputationSum)) return fail('COUNTER_OVERFLOW', 'the reputation sum is at its limit');
    ctx.putAccount({ ...account, reputationCount, reputationSum });
    ctx.putOrder(byBuyer ? { ...order, buyerReviewed: true } : { ...order, sellerReviewed: true });
    ctx.emit('order.review', {
      orderId: order.orderId,
      by: ctx.actor.address,
      subject,
      rating: fields.rating,
      commentHash: fields.commentHash ?? null,
    });
    return OK;
  },
});
