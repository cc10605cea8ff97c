import { fail, OK } from '../context.ts';
import { TxError } from '../errors.ts';
import type { Role } from '../roles.ts';
import { defineKind } from './types.ts';

interface Fields {
  address: string;
  role: Role;
  name: string;
  kycHash?: string;
}

export const memberRegister = defineKind<Fields>({
  name: 'member.register',
  group: 'member',
  action: 'register',
  tag: 10,
  description:
    'Registers a new account with one role. Persons are registered with the hash of their off-chain KYC record.',
  signers: 'regulator (any role); dealer or insurer (person only)',
  fields: [
    { name: 'address', type: 'address', description: 'address of the new account' },
    { name: 'role', type: 'role', description: 'its role' },
    { name: 'name', type: 'string', maxBytes: 64, description: 'display name (organisation or pseudonym)' },
    {
      name: 'kycHash',
      type: 'hash',
      optional: true,
      description: 'sha256 of the off-chain KYC record; required for a person',
    },
  ],
  roles: ['regulator', 'dealer', 'insurer'],
  authorize(signerRoles, fields) {
    if (signerRoles.includes('regulator') || fields.role === 'person') return undefined;
    return 'dealers and insurers may register persons only';
  },
  validate(fields) {
    if (fields.role === 'person' && fields.kycHash === undefined) {
      throw new TxError('MISSING_FIELD', 'kycHash: a person is registered with the hash of a KYC record', 'kycHash');
    }
  },
  rejections: ['DUPLICATE_MEMBER'],
  async execute(ctx, fields) {
    if ((await ctx.account(fields.address)) !== null) {
      return fail('DUPLICATE_MEMBER', `account ${fields.address} is already registered`);
    }
    ctx.putAccount({
      address: fields.address,
      roles: [fields.role],
      name: fields.name,
      balance: 0n,
      nonce: 0,
      frozen: false,
      kycHash: fields.kycHash ?? null,
      reputationCount: 0,
      reputationSum: 0,
      registeredHeight: ctx.env.height,
    });
    ctx.emit('member.register', { address: fields.address, role: fields.role, by: ctx.actor.address });
    return OK;
  },
});
