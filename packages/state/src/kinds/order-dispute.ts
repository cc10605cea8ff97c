import { fail, OK } from '../context.ts';
import { orderIdField } from './common.ts';
import { orderFor } from './order-settlement.ts';
import { defineKind } from './types.ts';

interface Fields {
  orderId: string;
  reasonHash: string;
}

export const orderDispute = defineKind<Fields>({
  name: 'order.dispute',
  group: 'order',
  action: 'dispute',
  tag: 56,
  description:
    'Either party stops the clock on an accepted or delivered order; the regulator arbitrates. State disputed.',
  signers: 'the buyer or the seller',
  fields: [orderIdField, { name: 'reasonHash', type: 'hash', description: 'sha256 of the off-chain statement' }],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE'],
  async execute(ctx, fields) {
    const found = await orderFor(ctx, fields.orderId, 'either');
    if ('outcome' in found) return found.outcome;
    const { order } = found;
    if (order.status !== 'accepted' && order.status !== 'delivered') {
      return fail('INVALID_STATE', `order is ${order.status}; only accepted or delivered orders can be disputed`);
    }
    ctx.putOrder({
      ...order,
      status: 'disputed',
      disputedAt: ctx.time,
      disputedBy: ctx.actor.address,
      disputeReasonHash: fields.reasonHash,
    });
    ctx.emit('order.dispute', { orderId: order.orderId, by: ctx.actor.address, reasonHash: fields.reasonHash });
    return OK;
  },
});
