// The genesis document: chain id, start time, parameters, validators and the accounts that
// exist from the start. Parsing is strict (unknown fields are errors) because every validator
// must derive exactly the same initial state from it.

import { addressFromPublicKey, hexToBytes, isAddress, isHex, isValidPublicKey } from '@autoledger/crypto';
import { AMOUNT_LIMIT, isCanonicalAmount } from './amount.ts';
import { type FieldSpec, normalizeField } from './fields.ts';
import {
  genesisValidatorEntries,
  MAX_PROPOSAL_TTL_MS,
  MAX_VALIDATOR_CHANGE_DELAY,
  MAX_VALIDATOR_POWER,
  MAX_VALIDATORS,
} from './governance.ts';
import { MAX_BLOCK_TIME_MS, MAX_DELIVERY_GRACE_MS } from './limits.ts';
import { type ChainParams, DEFAULT_PROPOSAL_TTL_MS, DEFAULT_VALIDATOR_CHANGE_DELAY } from './records.ts';
import { isRole, type Role } from './roles.ts';
import { CHAIN_ID_PATTERN } from './tx.ts';

export interface GenesisValidator {
  name: string;
  role: Role;
  /** Hex of the 32-byte ed25519 public key. */
  publicKey: string;
  address: string;
  power: number;
}

export interface GenesisMember {
  name: string;
  roles: Role[];
  address: string;
  /** Hex, when the genesis gave the public key rather than the address. */
  publicKey: string | null;
  /** Canonical decimal string of minor units. */
  balance: string;
  kycHash: string | null;
}

export interface Genesis {
  chainId: string;
  genesisTime: number;
  params: ChainParams;
  validators: GenesisValidator[];
  members: GenesisMember[];
}

export { MAX_DELIVERY_GRACE_MS, MAX_PROPOSAL_TTL_MS, MAX_VALIDATOR_CHANGE_DELAY, MAX_VALIDATOR_POWER, MAX_VALIDATORS };

export const DEFAULT_PARAMS: ChainParams = {
  vinCheckDigit: 'required',
  deliveryGraceMs: 24 * 60 * 60 * 1000,
  validatorChangeDelay: DEFAULT_VALIDATOR_CHANGE_DELAY,
  proposalTtlMs: DEFAULT_PROPOSAL_TTL_MS,
};

/** An integer param from `min` to `max`, or the GenesisError naming it. */
function integerParam(value: unknown, name: string, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new GenesisError(`params.${name}: an integer from ${min} to ${max}`);
  }
  return value as number;
}

export type GenesisResult = { ok: true; genesis: Genesis } | { ok: false; code: 'INVALID_GENESIS'; message: string };

class GenesisError extends Error {}

type Json = Record<string, unknown>;

function object(value: unknown, path: string, allowed: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new GenesisError(`${path}: must be an object`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new GenesisError(`${path}.${key}: unknown field`);
  }
  return value as Json;
}

const NAME_FIELD: FieldSpec = { name: 'name', type: 'string', maxBytes: 64, description: '' };

function name(value: unknown, path: string): string {
  try {
    const text = normalizeField(NAME_FIELD, value) as string;
    if (text === '') throw new GenesisError(`${path}: must not be empty`);
    return text;
  } catch (error) {
    if (error instanceof GenesisError) throw error;
    throw new GenesisError(`${path}: a name of 1 to 64 bytes without control characters`);
  }
}

function publicKey(value: unknown, path: string): string {
  if (typeof value !== 'string' || !isHex(value, 32) || !isValidPublicKey(hexToBytes(value))) {
    throw new GenesisError(`${path}: an ed25519 public key (64 hex characters)`);
  }
  return value.toLowerCase();
}

function parseParams(value: unknown): ChainParams {
  if (value === undefined) return { ...DEFAULT_PARAMS };
  const json = object(value, 'params', ['vinCheckDigit', 'deliveryGraceMs', 'validatorChangeDelay', 'proposalTtlMs']);
  const params = { ...DEFAULT_PARAMS };
  if (json.vinCheckDigit !== undefined) {
    if (json.vinCheckDigit !== 'required' && json.vinCheckDigit !== 'off') {
      throw new GenesisError('params.vinCheckDigit: "required" or "off"');
    }
    params.vinCheckDigit = json.vinCheckDigit;
  }
  if (json.deliveryGraceMs !== undefined) {
    const grace = json.deliveryGraceMs;
    if (!Number.isSafeInteger(grace) || (grace as number) < 0 || (grace as number) > MAX_DELIVERY_GRACE_MS) {
      throw new GenesisError(`params.deliveryGraceMs: an integer from 0 to ${MAX_DELIVERY_GRACE_MS}`);
    }
    params.deliveryGraceMs = grace as number;
  }
  // A change takes effect at least one block after the block that approves it, so the set
  // that signs the next block is always known when a block commits.
  if (json.validatorChangeDelay !== undefined) {
    params.validatorChangeDelay = integerParam(
      json.validatorChangeDelay,
      'validatorChangeDelay',
      1,
      MAX_VALIDATOR_CHANGE_DELAY,
    );
  }
  if (json.proposalTtlMs !== undefined) {
    params.proposalTtlMs = integerParam(json.proposalTtlMs, 'proposalTtlMs', 1, MAX_PROPOSAL_TTL_MS);
  }
  return params;
}

function parseValidator(value: unknown, path: string): GenesisValidator {
  const json = object(value, path, ['name', 'role', 'publicKey', 'power']);
  if (!isRole(json.role) || json.role === 'person') throw new GenesisError(`${path}.role: an organisation role`);
  const key = publicKey(json.publicKey, `${path}.publicKey`);
  const power = json.power ?? 1;
  if (!Number.isSafeInteger(power) || (power as number) < 1 || (power as number) > MAX_VALIDATOR_POWER)
    throw new GenesisError(`${path}.power: an integer from 1 to ${MAX_VALIDATOR_POWER}`);
  return {
    name: name(json.name, `${path}.name`),
    role: json.role,
    publicKey: key,
    address: addressFromPublicKey(hexToBytes(key)),
    power: power as number,
  };
}

function parseMember(value: unknown, path: string): GenesisMember {
  const json = object(value, path, ['name', 'roles', 'publicKey', 'address', 'balance', 'kycHash']);
  const roles = json.roles;
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every(isRole) || new Set(roles).size !== roles.length) {
    throw new GenesisError(`${path}.roles: a non-empty list of distinct roles`);
  }
  if ((json.publicKey === undefined) === (json.address === undefined)) {
    throw new GenesisError(`${path}: exactly one of publicKey and address`);
  }
  let key: string | null = null;
  let address: string;
  if (json.publicKey !== undefined) {
    key = publicKey(json.publicKey, `${path}.publicKey`);
    address = addressFromPublicKey(hexToBytes(key));
  } else {
    if (!isAddress(json.address)) throw new GenesisError(`${path}.address: an address (al + 40 lowercase hex)`);
    address = json.address;
  }
  const balance = json.balance ?? '0';
  if (!isCanonicalAmount(balance)) throw new GenesisError(`${path}.balance: a canonical decimal string of minor units`);
  let kycHash: string | null = null;
  if (json.kycHash !== undefined) {
    if (typeof json.kycHash !== 'string' || !isHex(json.kycHash, 32))
      throw new GenesisError(`${path}.kycHash: 64 hex characters`);
    kycHash = json.kycHash.toLowerCase();
  }
  return { name: name(json.name, `${path}.name`), roles: roles as Role[], address, publicKey: key, balance, kycHash };
}

function unique<T>(items: readonly T[], keyOf: (item: T) => string, what: string): void {
  const seen = new Set<string>();
  for (const item of items) {
    const key = keyOf(item);
    if (seen.has(key)) throw new GenesisError(`duplicate ${what} ${key}`);
    seen.add(key);
  }
}

/**
 * Parses and checks a genesis document. Validators are accounts too, holding their role. A
 * member with a validator's key or address defines that account instead (for instance the
 * regulator's organisation holding ["regulator", "issuer"]); its roles must then include the
 * validator's role.
 */
export function parseGenesis(json: unknown): GenesisResult {
  try {
    const top = object(json, 'genesis', ['chainId', 'genesisTime', 'params', 'validators', 'members']);
    if (typeof top.chainId !== 'string' || !CHAIN_ID_PATTERN.test(top.chainId)) {
      throw new GenesisError('chainId: 1 to 64 characters of a-z, 0-9 and -');
    }
    if (
      !Number.isSafeInteger(top.genesisTime) ||
      (top.genesisTime as number) < 0 ||
      (top.genesisTime as number) > MAX_BLOCK_TIME_MS
    ) {
      throw new GenesisError(`genesisTime: milliseconds since the epoch, at most ${MAX_BLOCK_TIME_MS}`);
    }
    if (!Array.isArray(top.validators) || top.validators.length === 0) {
      throw new GenesisError('validators: a non-empty list');
    }
    if (top.validators.length > MAX_VALIDATORS) throw new GenesisError(`validators: at most ${MAX_VALIDATORS}`);
    const validators = top.validators.map((value, index) => parseValidator(value, `validators[${index}]`));
    if (top.members !== undefined && !Array.isArray(top.members)) throw new GenesisError('members: a list');
    const members = ((top.members as unknown[] | undefined) ?? []).map((value, index) =>
      parseMember(value, `members[${index}]`),
    );
    unique(validators, (validator) => validator.name, 'validator name');
    unique(validators, (validator) => validator.publicKey, 'validator publicKey');
    unique(members, (member) => member.name, 'member name');
    unique(members, (member) => member.address, 'member address');
    for (const member of members) {
      const validator = validators.find((candidate) => candidate.address === member.address);
      if (validator !== undefined && !member.roles.includes(validator.role)) {
        throw new GenesisError(
          `member ${member.name} is validator ${validator.name} and must hold its role ${validator.role}`,
        );
      }
    }
    // Each validator's operator (the member with its name, else its own account) votes for
    // it alone on governance proposals.
    unique(genesisValidatorEntries({ validators, members }), (entry) => entry.operator, 'validator operator');
    const supply = members.reduce((sum, member) => sum + BigInt(member.balance), 0n);
    if (supply >= AMOUNT_LIMIT) throw new GenesisError('the sum of balances must stay below 10^30');
    return {
      ok: true,
      genesis: {
        chainId: top.chainId,
        genesisTime: top.genesisTime as number,
        params: parseParams(top.params),
        validators,
        members,
      },
    };
  } catch (error) {
    if (error instanceof GenesisError) return { ok: false, code: 'INVALID_GENESIS', message: error.message };
    throw error;
  }
}
