import { fail, OK } from '../context.ts';
import { orderIdField } from './common.ts';
import { orderFor } from './order-settlement.ts';
import { defineKind } from './types.ts';

interface Fields {
  orderId: string;
}

export const orderDeliver = defineKind<Fields>({
  name: 'order.deliver',
  group: 'order',
  action: 'deliver',
  tag: 54,
  description: "The seller declares delivery; the buyer's confirmation window starts. State delivered.",
  signers: 'the seller',
  fields: [orderIdField],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE'],
  async execute(ctx, fields) {
    const found = await orderFor(ctx, fields.orderId, 'seller');
    if ('outcome' in found) return found.outcome;
    const { order } = found;
    if (order.status !== 'accepted') return fail('INVALID_STATE', `order is ${order.status}, not accepted`);
    const confirmBy = ctx.deadline(ctx.time, order.confirmWindowMs);
    if (confirmBy === undefined) {
      return fail('DEADLINE_OUT_OF_RANGE', 'the confirmation deadline is past the latest storable time');
    }
    ctx.putOrder({ ...order, status: 'delivered', deliveredAt: ctx.time });
    ctx.emit('order.deliver', { orderId: order.orderId, vin: order.vin, confirmBy });
    return OK;
  },
});
