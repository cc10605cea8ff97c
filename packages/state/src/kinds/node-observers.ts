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
/**
 * The most observers one account may have registered at a time (the regulator included): a
 * single validator's operator must not be able to take every slot.
 */
export const MAX_OBSERVERS_PER_REGISTRANT = 32;

const SIGNERS = 'the regulator, or the operator of a current validator';

async function isRegulator(ctx: Context): Promise<boolean> {
  return (await ctx.account(ctx.actor.address))?.roles.includes('regulator') === true;
}

/** Refuses a signer that is neither a regulator nor the operator of a validator in force. */
async function mayManageObservers(ctx: Context): Promise<Outcome | null> {
  if (await isRegulator(ctx)) return null;
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
    if (list.filter((entry) => entry.registeredBy === ctx.actor.address).length >= MAX_OBSERVERS_PER_REGISTRANT) {
      return fail('OBSERVER_LIMIT', `this account has registered ${MAX_OBSERVERS_PER_REGISTRANT} observers already`);
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
  description:
    "Removes a registered observer node: every validator's gater drops it at once. Signed by the regulator, or by the account that registered it while it still operates a validator.",
  signers: 'the regulator, or the account that registered the observer (while the operator of a current validator)',
  fields: [{ name: 'publicKey', type: 'hash', description: "the observer's ed25519 public key" }],
  roles: 'any',
  rejections: ['UNAUTHORIZED', 'NOT_FOUND'],
  async execute(ctx, fields) {
    const refused = await mayManageObservers(ctx);
    if (refused !== null) return refused;
    const list = await observers(ctx);
    const entry = list.find((candidate) => candidate.publicKey === fields.publicKey);
    if (entry === undefined) return fail('NOT_FOUND', `node ${fields.publicKey} is not a registered observer`);
    // One validator's operator may not cut off another's observers.
    if (entry.registeredBy !== ctx.actor.address && !(await isRegulator(ctx))) {
      return fail('UNAUTHORIZED', 'only the regulator or the account that registered it may remove an observer');
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
