// node.register and node.remove: observer nodes admitted by every validator's gater without
// a config edit or a restart. An observer follows the chain by block sync and signs nothing,
// so admitting one needs no vote: the regulator, or the operator of any current validator,
// vouches for it alone (and answers for it: the record names who registered it).

import { hexToBytes, isValidPublicKey } from '@autoledger/crypto';
import { type Context, fail, OK, type Outcome } from '../context.ts';
import { TxError } from '../errors.ts';
import { contextReader, inForceSet, readGovernance, validatorOfOperator } from '../governance.ts';
import { keys, type ObserverEntry, observerListCodec } from '../records.ts';
import { defineKind } from './types.ts';

/**
 * The most observers a chain registers: each is a peer every validator admits, and the list
 * is one record rewritten on each change.
 */
export const MAX_OBSERVERS = 256;

const SIGNERS = 'the regulator, or the operator of a current validator';

/** Refuses a signer that is neither a regulator nor the operator of a validator in force. */
async function mayManageObservers(ctx: Context): Promise<Outcome | null> {
  const account = await ctx.account(ctx.actor.address);
  if (account?.roles.includes('regulator')) return null;
  const governance = await readGovernance(contextReader(ctx));
  if (governance !== null) {
    const inForce = await inForceSet(contextReader(ctx), governance);
    if (validatorOfOperator(inForce, ctx.actor.address) !== undefined) return null;
  }
  return fail('UNAUTHORIZED', `only ${SIGNERS} may register or remove an observer`);
}

async function observers(ctx: Context): Promise<readonly ObserverEntry[]> {
  return (await ctx.record(keys.observers, observerListCodec)) ?? [];
}

function checkPublicKey(publicKey: string): void {
  if (!isValidPublicKey(hexToBytes(publicKey))) {
    throw new TxError('INVALID_FIELD', 'publicKey: not an ed25519 public key', 'publicKey');
  }
}

export const nodeRegister = defineKind<{ publicKey: string; moniker: string; operator: string }>({
  name: 'node.register',
  group: 'node',
  action: 'register',
  tag: 93,
  description:
    "Registers an observer node: every validator's gater admits its key as a peer that follows the chain (by block sync) and signs nothing, with no config edit or restart.",
  signers: SIGNERS,
  fields: [
    { name: 'publicKey', type: 'hash', description: "the node's ed25519 public key (its libp2p identity), 32 bytes" },
    { name: 'moniker', type: 'string', maxBytes: 64, description: "the node's name, for operators" },
    { name: 'operator', type: 'address', description: 'the registered account that answers for the node' },
  ],
  roles: 'any',
  validate(fields) {
    checkPublicKey(fields.publicKey);
  },
  rejections: ['UNAUTHORIZED', 'NOT_FOUND', 'DUPLICATE_NODE', 'OBSERVER_LIMIT'],
  async execute(ctx, fields) {
    const refused = await mayManageObservers(ctx);
    if (refused !== null) return refused;
    if ((await ctx.account(fields.operator)) === null) {
      return fail('NOT_FOUND', `operator ${fields.operator} is not a registered account`);
    }
    const list = await observers(ctx);
    if (list.some((entry) => entry.publicKey === fields.publicKey)) {
      return fail('DUPLICATE_NODE', `node ${fields.publicKey} is already a registered observer`);
    }
    const governance = await readGovernance(contextReader(ctx));
    if (governance !== null) {
      const inForce = await inForceSet(contextReader(ctx), governance);
      if (inForce.some((validator) => validator.publicKey === fields.publicKey)) {
        return fail('DUPLICATE_NODE', `node ${fields.publicKey} is a validator`);
      }
    }
    if (list.length >= MAX_OBSERVERS) {
      return fail('OBSERVER_LIMIT', `${MAX_OBSERVERS} observers are registered already`);
    }
    ctx.putRecord(keys.observers, observerListCodec, [
      ...list,
      {
        publicKey: fields.publicKey,
        moniker: fields.moniker,
        operator: fields.operator,
        registeredBy: ctx.actor.address,
        registeredHeight: ctx.env.height,
      },
    ]);
    ctx.emit('node.register', { publicKey: fields.publicKey, moniker: fields.moniker, operator: fields.operator });
    return OK;
  },
});

export const nodeRemove = defineKind<{ publicKey: string }>({
  name: 'node.remove',
  group: 'node',
  action: 'remove',
  tag: 94,
  description: "Removes a registered observer node: every validator's gater drops it at once.",
  signers: SIGNERS,
  fields: [{ name: 'publicKey', type: 'hash', description: "the observer's ed25519 public key" }],
  roles: 'any',
  rejections: ['UNAUTHORIZED', 'NOT_FOUND'],
  async execute(ctx, fields) {
    const refused = await mayManageObservers(ctx);
    if (refused !== null) return refused;
    const list = await observers(ctx);
    if (!list.some((entry) => entry.publicKey === fields.publicKey)) {
      return fail('NOT_FOUND', `node ${fields.publicKey} is not a registered observer`);
    }
    ctx.putRecord(
      keys.observers,
      observerListCodec,
      list.filter((entry) => entry.publicKey !== fields.publicKey),
    );
    ctx.emit('node.remove', { publicKey: fields.publicKey });
    return OK;
  },
});
