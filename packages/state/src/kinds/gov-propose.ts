import { hexToBytes, isValidPublicKey } from '@autoledger/crypto';
import { fail, IDS_EXHAUSTED } from '../context.ts';
import { TxError } from '../errors.ts';
import {
  checkChange,
  contextReader,
  governedBySigner,
  MAX_OPEN_PROPOSALS_PER_VALIDATOR,
  MAX_VALIDATOR_POWER,
  projectedSet,
} from '../governance.ts';
import { MAX_ID_SEQUENCE } from '../limits.ts';
import { type GovAction, governanceCodec, keys, PROPOSAL_ID_PREFIX, proposalCodec } from '../records.ts';
import type { Role } from '../roles.ts';
import { defineKind } from './types.ts';

interface Fields {
  action: GovAction;
  name: string;
  role?: Role;
  publicKey?: string;
  power?: number;
  operator?: string;
}

const CHANGE_FIELDS = ['role', 'publicKey', 'power', 'operator'] as const;

export const govPropose = defineKind<Fields>({
  name: 'gov.propose',
  group: 'gov',
  action: 'propose',
  tag: 90,
  description:
    'Proposes a change of the validator set: add a validator, remove one, or update one (rotate its key, change its power or operator). Opens proposal gov-N; approved by two thirds of the voting power including the regulator, the change takes effect validatorChangeDelay blocks later.',
  signers: 'the operator of a current validator',
  fields: [
    { name: 'action', type: { enum: ['add', 'remove', 'update'] }, description: 'add, remove or update' },
    { name: 'name', type: 'string', maxBytes: 64, description: 'the validator name' },
    {
      name: 'role',
      type: 'role',
      optional: true,
      description: 'its role (an organisation role; add: required, update: unchanged if given)',
    },
    {
      name: 'publicKey',
      type: 'hash',
      optional: true,
      description: 'its ed25519 consensus public key, 32 bytes (add: required; update: the new key)',
    },
    {
      name: 'power',
      type: 'uint',
      min: 1,
      max: MAX_VALIDATOR_POWER,
      optional: true,
      description: 'its voting power (add: required; update: the new power)',
    },
    {
      name: 'operator',
      type: 'address',
      optional: true,
      description: 'the account that votes for it (add: required; update: the new operator)',
    },
  ],
  roles: 'any',
  validate(fields) {
    if (fields.action === 'add') {
      for (const name of CHANGE_FIELDS) {
        if (fields[name] === undefined) throw new TxError('MISSING_FIELD', `${name}: required to add`, name);
      }
    } else if (fields.action === 'remove') {
      for (const name of CHANGE_FIELDS) {
        if (fields[name] !== undefined)
          throw new TxError('INVALID_FIELD', `${name}: a removal names only the validator`, name);
      }
    } else if (fields.publicKey === undefined && fields.power === undefined && fields.operator === undefined) {
      throw new TxError('MISSING_FIELD', 'publicKey, power or operator: an update changes at least one', 'publicKey');
    }
    if (fields.role === 'person') throw new TxError('INVALID_FIELD', 'role: a validator is an organisation', 'role');
    if (fields.publicKey !== undefined && !isValidPublicKey(hexToBytes(fields.publicKey))) {
      throw new TxError('INVALID_FIELD', 'publicKey: not an ed25519 public key', 'publicKey');
    }
  },
  rejections: [
    'UNAUTHORIZED',
    'NOT_FOUND',
    'INVALID_STATE',
    'PROPOSAL_OPEN',
    'TOO_MANY_PROPOSALS',
    'DUPLICATE_VALIDATOR',
    'VALIDATOR_FLOOR',
    'VALIDATOR_SET_LIMIT',
  ],
  async execute(ctx, fields) {
    const governed = await governedBySigner(ctx);
    if (!governed.ok) return governed.outcome;
    const { governance, voter } = governed;
    const pending = governance.open.find((open) => open.name === fields.name);
    if (pending !== undefined) {
      return fail('PROPOSAL_OPEN', `proposal ${pending.proposalId} for validator ${fields.name} is still open`);
    }
    if (governance.open.filter((open) => open.proposer === voter.name).length >= MAX_OPEN_PROPOSALS_PER_VALIDATOR) {
      return fail(
        'TOO_MANY_PROPOSALS',
        `validator ${voter.name} already has ${MAX_OPEN_PROPOSALS_PER_VALIDATOR} open proposals`,
      );
    }
    const request = {
      action: fields.action,
      name: fields.name,
      role: fields.role ?? null,
      publicKey: fields.publicKey ?? null,
      power: fields.power ?? null,
      operator: fields.operator ?? null,
    };
    const checked = checkChange(await projectedSet(contextReader(ctx), governance), request);
    if (!checked.ok) return fail(checked.code, checked.message);
    if (request.operator !== null && (await ctx.account(request.operator)) === null) {
      return fail('NOT_FOUND', `operator ${request.operator} is not a registered account`);
    }
    if (governance.proposals >= MAX_ID_SEQUENCE) return IDS_EXHAUSTED;
    const expiresAt = ctx.deadline(ctx.time, ctx.env.params.proposalTtlMs);
    if (expiresAt === undefined)
      return fail('DEADLINE_OUT_OF_RANGE', 'the proposal would expire past the latest storable time');
    const number = governance.proposals + 1;
    const proposalId = `${PROPOSAL_ID_PREFIX}${number}`;
    ctx.putRecord(keys.proposal(proposalId), proposalCodec, {
      proposalId,
      ...request,
      proposedBy: ctx.actor.address,
      proposer: voter.name,
      status: 'open',
      createdHeight: ctx.env.height,
      createdAt: ctx.time,
      expiresAt,
      approvals: [],
      rejections: [],
      decidedHeight: null,
      decidedAt: null,
      effectiveHeight: null,
      changeIndex: null,
    });
    ctx.putRecord(keys.governance, governanceCodec, {
      ...governance,
      proposals: number,
      open: [...governance.open, { proposalId, name: fields.name, proposer: voter.name, expiresAt }],
    });
    ctx.emit('gov.propose', {
      proposalId,
      action: fields.action,
      name: fields.name,
      by: ctx.actor.address,
      validator: voter.name,
      expiresAt,
    });
    return { ok: true };
  },
});
