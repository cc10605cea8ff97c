import { fail } from '../context.ts';
import { orderIdField } from './common.ts';
import { completeOrder, refundOrder } from './order-settlement.ts';
import { defineKind } from './types.ts';

interface Fields {
  orderId: string;
  outcome: 'complete' | 'refund';
}

export const orderResolve = defineKind<Fields>({
  name: 'order.resolve',
  group: 'order',
  action: 'resolve',
  tag: 57,
  description: 'The regulator settles a disputed order: complete (funds to seller, title to buyer) or refund.',
  signers: 'regulator',
  fields: [
    orderIdField,
    { name: 'outcome', type: { enum: ['complete', 'refund'] }, description: 'complete or refund' },
  ],
  roles: ['regulator'],
  rejections: ['NOT_FOUND', 'INVALID_STATE', 'VEHICLE_STOLEN', 'ACCOUNT_FROZEN'],
  async execute(ctx, fields) {
    const order = await ctx.order(fields.orderId);
    if (order === null) return fail('NOT_FOUND', `order ${fields.orderId} does not exist`);
    if (order.status !== 'disputed') return fail('INVALID_STATE', `order is ${order.status}, not disputed`);
    return fields.outcome === 'complete'
      ? completeOrder(ctx, order, 'resolved_complete')
      : refundOrder(ctx, order, 'resolved_refund');
  },
});
