import { fail } from '../context.ts';
import { orderIdField } from './common.ts';
import { orderFor, refundOrder } from './order-settlement.ts';
import { defineKind } from './types.ts';

interface Fields {
  orderId: string;
}

export const orderReject = defineKind<Fields>({
  name: 'order.reject',
  group: 'order',
  action: 'reject',
  tag: 52,
  description: 'The seller declines a funded order; the buyer is refunded. State refunded.',
  signers: 'the seller',
  fields: [orderIdField],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE'],
  async execute(ctx, fields) {
    const found = await orderFor(ctx, fields.orderId, 'seller');
    if ('outcome' in found) return found.outcome;
    if (found.order.status !== 'funded') return fail('INVALID_STATE', `order is ${found.order.status}, not funded`);
    return refundOrder(ctx, found.order, 'rejected');
  },
});
