import { fail } from '../context.ts';
import { orderIdField } from './common.ts';
import { completeOrder, orderFor } from './order-settlement.ts';
import { defineKind } from './types.ts';

interface Fields {
  orderId: string;
}

export const orderConfirm = defineKind<Fields>({
  name: 'order.confirm',
  group: 'order',
  action: 'confirm',
  tag: 55,
  description:
    'The buyer confirms delivery: funds to the seller and title to the buyer in one atomic step. State completed.',
  signers: 'the buyer',
  fields: [orderIdField],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE', 'VEHICLE_STOLEN'],
  async execute(ctx, fields) {
    const found = await orderFor(ctx, fields.orderId, 'buyer');
    if ('outcome' in found) return found.outcome;
    if (found.order.status !== 'delivered') {
      return fail('INVALID_STATE', `order is ${found.order.status}, not delivered`);
    }
    return completeOrder(ctx, found.order, 'confirmed');
  },
});
