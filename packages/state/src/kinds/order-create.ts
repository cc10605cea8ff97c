import { fail, IDS_EXHAUSTED } from '../context.ts';
import { MAX_DELIVER_BY_MS } from '../limits.ts';
import { vinField } from './common.ts';
import { defineKind } from './types.ts';

interface Fields {
  vin: string;
  seller: string;
  price: string;
  deliverBy: number;
  confirmWindowMs: number;
}

/** The longest confirmation window an order may give its buyer: 90 days. */
export const MAX_CONFIRM_WINDOW_MS = 90 * 24 * 60 * 60 * 1000;

export const orderCreate = defineKind<Fields>({
  name: 'order.create',
  group: 'order',
  action: 'create',
  tag: 50,
  description: "Offers to buy a vehicle: locks the price from the buyer's balance in escrow. State funded.",
  signers: 'the buyer (any account)',
  fields: [
    vinField,
    { name: 'seller', type: 'address', description: 'the current owner' },
    { name: 'price', type: 'amount', positive: true, description: 'minor units, locked now' },
    {
      name: 'deliverBy',
      type: 'time',
      min: 1,
      // Its automatic refund, a delivery grace later, must be a storable time too.
      max: MAX_DELIVER_BY_MS,
      description: 'delivery deadline (ms since epoch)',
    },
    {
      name: 'confirmWindowMs',
      type: 'duration',
      max: MAX_CONFIRM_WINDOW_MS,
      description: 'how long after delivery the buyer has to confirm or dispute before the order completes by itself',
    },
  ],
  roles: 'any',
  createsId: 'orderId',
  rejections: [
    'NOT_FOUND',
    'INVALID_STATE',
    'SELF_DEALING',
    'VEHICLE_STOLEN',
    'VEHICLE_LOCKED',
    'ACCOUNT_FROZEN',
    'DEADLINE',
    'INSUFFICIENT_FUNDS',
  ],
  async execute(ctx, fields) {
    const buyer = ctx.actor.address;
    const price = BigInt(fields.price);
    const vehicle = await ctx.vehicle(fields.vin);
    if (vehicle === null) return fail('NOT_FOUND', `VIN ${fields.vin} is not registered`);
    if (fields.seller === buyer) return fail('SELF_DEALING', 'the buyer cannot be the seller');
    if (vehicle.owner !== fields.seller) return fail('INVALID_STATE', `${fields.seller} does not own the vehicle`);
    if (vehicle.stolen) return fail('VEHICLE_STOLEN', 'a stolen vehicle cannot be ordered');
    if (vehicle.lien !== null) return fail('VEHICLE_LOCKED', `the vehicle is under a lien held by ${vehicle.lien}`);
    if (vehicle.activeOrder !== null)
      return fail('VEHICLE_LOCKED', `the vehicle is held by order ${vehicle.activeOrder}`);
    const seller = await ctx.account(fields.seller);
    if (seller === null) return fail('NOT_FOUND', `seller ${fields.seller} is not registered`);
    if (seller.frozen) return fail('ACCOUNT_FROZEN', 'the seller is frozen');
    if (fields.deliverBy <= ctx.time) return fail('DEADLINE', 'deliverBy is not after the block time');
    if (!(await ctx.debit(buyer, price))) return fail('INSUFFICIENT_FUNDS', 'balance below the price');
    await ctx.changeSupply({ escrow: price });
    const orderId = await ctx.nextId('orders');
    if (orderId === undefined) return IDS_EXHAUSTED;
    ctx.putOrder({
      orderId,
      vin: fields.vin,
      buyer,
      seller: fields.seller,
      price,
      deliverBy: fields.deliverBy,
      confirmWindowMs: fields.confirmWindowMs,
      status: 'funded',
      createdAt: ctx.time,
      acceptedAt: null,
      deliveredAt: null,
      disputedAt: null,
      disputedBy: null,
      disputeReasonHash: null,
      settledAt: null,
      settlement: null,
      buyerReviewed: false,
      sellerReviewed: false,
    });
    ctx.emit('order.create', { orderId, vin: fields.vin, buyer, seller: fields.seller, price });
    return { ok: true, orderId };
  },
});
