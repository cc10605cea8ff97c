import { fail } from '../context.ts';
import { orderIdField } from './common.ts';
import { orderFor, refundOrder } from './order-settlement.ts';
import { defineKind } from './types.ts';

interface Fields {
  orderId: string;
}

export const orderCancel = defineKind<Fields>({
  name: 'order.cancel',
  group: 'order',
  action: 'cancel',
  tag: 53,
  description: 'The buyer withdraws: from funded at any time, from accepted once deliverBy has passed. State refunded.',
  signers: 'the buyer',
  fields: [orderIdField],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE', 'DEADLINE'],
  async execute(ctx, fields) {
    const found = await orderFor(ctx, fields.orderId, 'buyer');
    if ('outcome' in found) return found.outcome;
    const { order } = found;
    if (order.status === 'accepted') {
      if (ctx.time <= order.deliverBy)
        return fail('DEADLINE', 'an accepted order can be cancelled only after deliverBy');
    } else if (order.status !== 'funded') {
      return fail('INVALID_STATE', `order is ${order.status}; only funded or overdue accepted orders can be cancelled`);
    }
    return refundOrder(ctx, order, 'cancelled');
  },
});
