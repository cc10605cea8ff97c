import { fail, OK } from '../context.ts';
import { defineKind } from './types.ts';

interface Fields {
  address: string;
}

export const memberUnfreeze = defineKind<Fields>({
  name: 'member.unfreeze',
  group: 'member',
  action: 'unfreeze',
  tag: 12,
  description: 'Unfreezes a frozen account.',
  signers: 'regulator',
  fields: [{ name: 'address', type: 'address', description: 'the account to unfreeze' }],
  roles: ['regulator'],
  rejections: ['NOT_FOUND', 'INVALID_STATE'],
  async execute(ctx, fields) {
    const account = await ctx.account(fields.address);
    if (account === null) return fail('NOT_FOUND', `account ${fields.address} is not registered`);
    if (!account.frozen) return fail('INVALID_STATE', 'the account is not frozen');
    ctx.putAccount({ ...account, frozen: false });
    ctx.emit('member.unfreeze', { address: account.address });
    return OK;
  },
});
