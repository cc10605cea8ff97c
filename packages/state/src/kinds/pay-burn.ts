import { fail, OK } from '../context.ts';
import { defineKind } from './types.ts';

interface Fields {
  amount: string;
}

export const payBurn = defineKind<Fields>({
  name: 'pay.burn',
  group: 'pay',
  action: 'burn',
  tag: 21,
  description: "Destroys settlement money from the issuer's own balance.",
  signers: 'issuer',
  fields: [{ name: 'amount', type: 'amount', positive: true, description: 'minor units' }],
  roles: ['issuer'],
  rejections: ['INSUFFICIENT_FUNDS'],
  async execute(ctx, fields) {
    const amount = BigInt(fields.amount);
    if (!(await ctx.debit(ctx.actor.address, amount))) return fail('INSUFFICIENT_FUNDS', 'balance below the amount');
    await ctx.changeSupply({ burned: amount });
    ctx.emit('pay.burn', { from: ctx.actor.address, amount });
    return OK;
  },
});
