import { AMOUNT_LIMIT } from '../amount.ts';
import { CREDIT_OVERFLOW, fail, OK } from '../context.ts';
import { defineKind } from './types.ts';

interface Fields {
  to: string;
  amount: string;
}

export const payMint = defineKind<Fields>({
  name: 'pay.mint',
  group: 'pay',
  action: 'mint',
  tag: 20,
  description: 'Creates settlement money in an account. Supply changes only by mint and burn.',
  signers: 'issuer',
  fields: [
    { name: 'to', type: 'address', description: 'the account credited' },
    { name: 'amount', type: 'amount', positive: true, description: 'minor units' },
  ],
  roles: ['issuer'],
  rejections: ['NOT_FOUND', 'AMOUNT_OVERFLOW'],
  async execute(ctx, fields) {
    const amount = BigInt(fields.amount);
    if ((await ctx.account(fields.to)) === null) return fail('NOT_FOUND', `account ${fields.to} is not registered`);
    const supply = await ctx.supply();
    if (supply.minted - supply.burned + amount >= AMOUNT_LIMIT) {
      return fail('AMOUNT_OVERFLOW', 'the total supply must stay below 10^30 minor units');
    }
    if (!(await ctx.credit(fields.to, amount))) return CREDIT_OVERFLOW;
    await ctx.changeSupply({ minted: amount });
    ctx.emit('pay.mint', { to: fields.to, amount });
    return OK;
  },
});
