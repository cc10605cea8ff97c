// The JSON Schema of genesis.json: the shape parseGenesis (packages/state) accepts. What a
// schema cannot say — a public key is a point on the curve, names and keys are unique, the
// supply stays below 10^30 — parseGenesis still checks; `autoledger config validate` runs both.

import {
  CHAIN_ID_PATTERN,
  MAX_BLOCK_TIME_MS,
  MAX_DELIVERY_GRACE_MS,
  MAX_PROPOSAL_TTL_MS,
  MAX_VALIDATOR_CHANGE_DELAY,
  MAX_VALIDATOR_POWER,
  MAX_VALIDATORS,
  ORGANISATION_ROLES,
  ROLES,
} from '@autoledger/state';
import { compileSchema, EXPECT_KEYWORD, type JsonSchema, type SchemaProblem } from './validate.ts';

const HEX32 = { type: 'string', pattern: '^[0-9a-fA-F]{64}$', [EXPECT_KEYWORD]: '64 hex characters' };
const NAME = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  // Control characters are refused (C0, DEL and C1).
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$',
  [EXPECT_KEYWORD]: 'a name of 1 to 64 characters without control characters',
};

export const GENESIS_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://autoledger.example/schemas/genesis.schema.json',
  title: 'Autoledger genesis document (genesis.json)',
  description:
    'Chain id, start time, parameters, validators and the accounts that exist from the start. Every validator must hold the byte-identical file: its hash is the parent of block 1.',
  type: 'object',
  additionalProperties: false,
  required: ['chainId', 'genesisTime', 'validators'],
  properties: {
    chainId: {
      type: 'string',
      description: 'Chain id signed into every transaction',
      pattern: CHAIN_ID_PATTERN.source,
      [EXPECT_KEYWORD]: '1 to 64 characters of a-z, 0-9 and -',
    },
    genesisTime: {
      type: 'integer',
      description: 'Start time, milliseconds since the epoch',
      minimum: 0,
      maximum: MAX_BLOCK_TIME_MS,
    },
    params: {
      type: 'object',
      description: 'Chain parameters',
      additionalProperties: false,
      properties: {
        vinCheckDigit: { enum: ['required', 'off'], default: 'required', description: 'ISO 3779 check digit' },
        deliveryGraceMs: {
          type: 'integer',
          minimum: 0,
          maximum: MAX_DELIVERY_GRACE_MS,
          default: 24 * 60 * 60 * 1000,
          description: 'Time after deliverBy before an undelivered accepted order is refunded',
        },
        validatorChangeDelay: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_VALIDATOR_CHANGE_DELAY,
          default: 2,
          description: 'A validator-set change approved at height H signs from height H + this',
        },
        proposalTtlMs: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_PROPOSAL_TTL_MS,
          default: 7 * 24 * 60 * 60 * 1000,
          description: 'How long a governance proposal stays open before it expires',
        },
      },
    },
    validators: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_VALIDATORS,
      description: 'The validator set at height 1',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'role', 'publicKey'],
        properties: {
          name: NAME,
          role: { enum: [...ORGANISATION_ROLES] },
          publicKey: { ...HEX32, description: 'ed25519 public key, hex' },
          power: { type: 'integer', minimum: 1, maximum: MAX_VALIDATOR_POWER, default: 1 },
        },
      },
    },
    members: {
      type: 'array',
      description: 'Accounts registered from the start (validators are accounts too)',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'roles'],
        oneOf: [{ required: ['publicKey'] }, { required: ['address'] }],
        [EXPECT_KEYWORD]: 'an object with exactly one of publicKey and address',
        properties: {
          name: NAME,
          roles: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...ROLES] } },
          publicKey: HEX32,
          address: {
            type: 'string',
            pattern: '^al[0-9a-f]{40}$',
            [EXPECT_KEYWORD]: 'an address (al + 40 lowercase hex)',
          },
          balance: {
            type: 'string',
            pattern: '^(0|[1-9][0-9]{0,29})$',
            default: '0',
            [EXPECT_KEYWORD]: 'a decimal string of minor units (cents), no sign, no leading zeros',
          },
          kycHash: { ...HEX32, description: 'sha256 of the off-chain KYC record' },
        },
      },
    },
  },
};

let validate: ((document: unknown) => SchemaProblem[]) | undefined;

/** The schema problems of a genesis document (empty when it passes), each at a JSON pointer. */
export function genesisSchemaProblems(document: unknown): SchemaProblem[] {
  validate ??= compileSchema(GENESIS_SCHEMA);
  return validate(document);
}
