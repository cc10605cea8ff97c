// How an escrow order ends. Completion is delivery versus payment in one step: the price goes
// from escrow to the seller and the title from the seller to the buyer in the same write
// layer, so either both happen or neither does. A refund returns the price to the buyer.

import { type Context, CREDIT_OVERFLOW, fail, OK, type Outcome } from '../context.ts';
import { assert } from '../errors.ts';
import type { Order } from '../records.ts';

export type CompleteSettlement = 'confirmed' | 'auto_completed' | 'resolved_complete';
export type RefundSettlement = 'rejected' | 'cancelled' | 'auto_refunded' | 'resolved_refund';

export async function completeOrder(ctx: Context, order: Order, settlement: CompleteSettlement): Promise<Outcome> {
  const vehicle = await ctx.vehicle(order.vin);
  assert(vehicle !== null, `vehicle of order ${order.orderId} exists`);
  assert(
    vehicle.activeOrder === order.orderId && vehicle.owner === order.seller && vehicle.lien === null,
    `order ${order.orderId} holds the seller's unencumbered vehicle until it settles`,
  );
  if (vehicle.stolen) return fail('VEHICLE_STOLEN', 'the vehicle is flagged stolen; the title cannot move');
  const buyer = await ctx.account(order.buyer);
  assert(buyer !== null, 'the buyer exists');
  if (buyer.frozen) return fail('ACCOUNT_FROZEN', 'the buyer is frozen and can receive no vehicle');
  if (!(await ctx.credit(order.seller, order.price))) return CREDIT_OVERFLOW;
  await ctx.changeSupply({ escrow: -order.price });
  const updated = ctx.appendHistory(vehicle, 'order.completed', {
    orderId: order.orderId,
    from: order.seller,
    to: order.buyer,
    price: order.price.toString(),
  });
  ctx.putVehicle({ ...updated, owner: order.buyer, activeOrder: null });
  ctx.putOrder({ ...order, status: 'completed', settledAt: ctx.time, settlement });
  ctx.emit('order.completed', {
    orderId: order.orderId,
    vin: order.vin,
    buyer: order.buyer,
    seller: order.seller,
    price: order.price,
    settlement,
  });
  return OK;
}

export async function refundOrder(ctx: Context, order: Order, settlement: RefundSettlement): Promise<Outcome> {
  if (!(await ctx.credit(order.buyer, order.price))) return CREDIT_OVERFLOW;
  await ctx.changeSupply({ escrow: -order.price });
  const vehicle = await ctx.vehicle(order.vin);
  assert(vehicle !== null, `vehicle of order ${order.orderId} exists`);
  if (vehicle.activeOrder === order.orderId) ctx.putVehicle({ ...vehicle, activeOrder: null });
  ctx.putOrder({ ...order, status: 'refunded', settledAt: ctx.time, settlement });
  ctx.emit('order.refunded', {
    orderId: order.orderId,
    vin: order.vin,
    buyer: order.buyer,
    price: order.price,
    settlement,
  });
  return OK;
}

/** Loads an order and checks the actor is one of the parties allowed to act on it. */
export async function orderFor(
  ctx: Context,
  orderId: string,
  party: 'buyer' | 'seller' | 'either',
): Promise<{ order: Order } | { outcome: Outcome }> {
  const order = await ctx.order(orderId);
  if (order === null) return { outcome: fail('NOT_FOUND', `order ${orderId} does not exist`) };
  const actor = ctx.actor.address;
  const allowed = party === 'either' ? actor === order.buyer || actor === order.seller : actor === order[party];
  if (!allowed) {
    const who = party === 'either' ? 'the buyer or the seller' : `the ${party}`;
    return { outcome: fail('UNAUTHORIZED', `only ${who} of order ${orderId} may do this`) };
  }
  return { order };
}
