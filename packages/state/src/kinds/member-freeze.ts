import { fail, OK } from '../context.ts';
import { defineKind } from './types.ts';

interface Fields {
  address: string;
  reason: string;
}

export const memberFreeze = defineKind<Fields>({
  name: 'member.freeze',
  group: 'member',
  action: 'freeze',
  tag: 11,
  description: 'Freezes an account: it can sign nothing and receive no vehicles until unfrozen.',
  signers: 'regulator',
  fields: [
    { name: 'address', type: 'address', description: 'the account to freeze' },
    { name: 'reason', type: 'text', maxBytes: 256, description: 'why, for the record' },
  ],
  roles: ['regulator'],
  rejections: ['NOT_FOUND', 'INVALID_STATE'],
  async execute(ctx, fields) {
    const account = await ctx.account(fields.address);
    if (account === null) return fail('NOT_FOUND', `account ${fields.address} is not registered`);
    if (account.frozen) return fail('INVALID_STATE', 'the account is already frozen');
    // A regulator freezing itself could leave nobody able to unfreeze it.
    if (account.address === ctx.actor.address) return fail('INVALID_STATE', 'an account cannot freeze itself');
    ctx.putAccount({ ...account, frozen: true });
    ctx.emit('member.freeze', { address: account.address, reason: fields.reason });
    return OK;
  },
});
