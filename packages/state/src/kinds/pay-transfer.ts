import { CREDIT_OVERFLOW, fail, OK } from '../context.ts';
import { defineKind } from './types.ts';

interface Fields {
  to: string;
  amount: string;
  reference?: string;
}

export const payTransfer = defineKind<Fields>({
  name: 'pay.transfer',
  group: 'pay',
  action: 'transfer',
  tag: 22,
  description: 'Pays settlement money to another account.',
  signers: 'any account',
  fields: [
    { name: 'to', type: 'address', description: 'the payee' },
    { name: 'amount', type: 'amount', positive: true, description: 'minor units' },
    { name: 'reference', type: 'string', optional: true, maxBytes: 64, description: "payer's reference" },
  ],
  roles: 'any',
  rejections: ['NOT_FOUND', 'INSUFFICIENT_FUNDS'],
  async execute(ctx, fields) {
    const amount = BigInt(fields.amount);
    if ((await ctx.account(fields.to)) === null) return fail('NOT_FOUND', `account ${fields.to} is not registered`);
    if (!(await ctx.debit(ctx.actor.address, amount))) return fail('INSUFFICIENT_FUNDS', 'balance below the amount');
    if (!(await ctx.credit(fields.to, amount))) return CREDIT_OVERFLOW;
    ctx.emit('pay.transfer', { from: ctx.actor.address, to: fields.to, amount, reference: fields.reference ?? null });
    return OK;
  },
});
