import { fail, OK } from '../context.ts';
import { orderIdField } from './common.ts';
import { orderFor } from './order-settlement.ts';
import { defineKind } from './types.ts';

interface Fields {
  orderId: string;
}

export const orderAccept = defineKind<Fields>({
  name: 'order.accept',
  group: 'order',
  action: 'accept',
  tag: 51,
  description:
    'The seller accepts a funded order; the vehicle is locked to it (one active order per vehicle). State accepted.',
  signers: 'the seller',
  fields: [orderIdField],
  roles: 'any',
  rejections: ['NOT_FOUND', 'UNAUTHORIZED', 'INVALID_STATE', 'DEADLINE', 'VEHICLE_STOLEN', 'VEHICLE_LOCKED'],
  async execute(ctx, fields) {
    const found = await orderFor(ctx, fields.orderId, 'seller');
    if ('outcome' in found) return found.outcome;
    const { order } = found;
    if (order.status !== 'funded') return fail('INVALID_STATE', `order is ${order.status}, not funded`);
    if (ctx.time > order.deliverBy) return fail('DEADLINE', 'the delivery deadline has passed');
    // Admission bounds deliverBy so that its refund deadline is storable; an order admitted
    // under older rules is refused here rather than let the deadline leave the safe range.
    if (ctx.deadline(order.deliverBy, ctx.env.params.deliveryGraceMs) === undefined) {
      return fail('DEADLINE_OUT_OF_RANGE', 'deliverBy plus the delivery grace is past the latest storable time');
    }
    const vehicle = await ctx.vehicle(order.vin);
    if (vehicle === null || vehicle.owner !== order.seller) {
      return fail('INVALID_STATE', 'the seller no longer owns the vehicle');
    }
    if (vehicle.stolen) return fail('VEHICLE_STOLEN', 'the vehicle is flagged stolen');
    if (vehicle.lien !== null) return fail('VEHICLE_LOCKED', `the vehicle is under a lien held by ${vehicle.lien}`);
    if (vehicle.activeOrder !== null)
      return fail('VEHICLE_LOCKED', `the vehicle is held by order ${vehicle.activeOrder}`);
    ctx.putVehicle({ ...vehicle, activeOrder: order.orderId });
    ctx.putOrder({ ...order, status: 'accepted', acceptedAt: ctx.time });
    ctx.emit('order.accept', { orderId: order.orderId, vin: order.vin });
    return OK;
  },
});
