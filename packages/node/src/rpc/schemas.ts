// One schema per JSON-RPC method: its params and result as JSON Schema (draft-07), the error
// codes it answers and an example. The dispatcher compiles the params into its ajv validator
// and rpc.discover prints the same objects as the OpenRPC document, so what the document
// promises and what the server accepts cannot drift apart. Handlers keep only the checks a
// schema cannot express (a VIN's letters are here; cursors are opaque and parsed by the query).

import {
  GOV_ACTIONS,
  ID_PATTERN as ID_SYNTAX,
  PROPOSAL_QUERY_LIMITS,
  PROPOSAL_STATUSES,
  QUERY_LIMITS,
  VIN_SYNTAX,
} from '@autoledger/state';
import type { JsonSchema } from '../schemas/validate.ts';
import type { ParamSpec, RpcErrorSpec, RpcExample, Scope } from './jsonrpc.ts';

export type { JsonSchema };

/** The schema half of a method; methods.ts joins each with its handler. */
export interface MethodSchema {
  summary: string;
  scope: Scope;
  params: readonly ParamSpec[];
  result: { name: string; schema: JsonSchema };
  errors: readonly RpcErrorSpec[];
  examples: readonly RpcExample[];
}

// The syntaxes the state machine defines, as JSON Schema patterns: one rule, one place.
export const VIN_PATTERN = VIN_SYNTAX.source;
export const HASH_PATTERN = '^[0-9a-f]{64}$';
export const ADDRESS_PATTERN = '^al[0-9a-f]{40}$';
export const ID_PATTERN = ID_SYNTAX.source;
/** A WebSocket topic: blocks, or the transaction, vehicle or account it follows. */
export const TOPIC_PATTERN = `^(blocks|tx:${HASH_PATTERN.slice(1, -1)}|vehicle:${VIN_PATTERN.slice(1, -1)}|account:${ADDRESS_PATTERN.slice(1, -1)})$`;
/** Cursors are short: an order id, a history index or a (height, index) pair. */
export const MAX_CURSOR_LENGTH = 64;
/** Base64 of the largest transaction the node accepts, with headroom. */
export const MAX_TX_BASE64 = 128 * 1024;
export const MAX_BATCH_SUBMIT = 1_000;
export const TX_SEARCH_LIMITS = { default: 20, max: 100 } as const;
export const MEMPOOL_LIST_LIMITS = { default: 100, max: 1_000 } as const;

const hex = (bytes: number): JsonSchema => ({ type: 'string', pattern: `^[0-9a-f]{${bytes * 2}}$` });
const hash: JsonSchema = { type: 'string', pattern: HASH_PATTERN };
const vin: JsonSchema = { type: 'string', pattern: VIN_PATTERN };
const address: JsonSchema = { type: 'string', pattern: ADDRESS_PATTERN };
const id: JsonSchema = { type: 'string', pattern: ID_PATTERN };
const height: JsonSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const positiveHeight: JsonSchema = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };
const count: JsonSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const time: JsonSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const amount: JsonSchema = { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]{1,2})?$' };
const nullable = (schema: JsonSchema): JsonSchema => ({ oneOf: [schema, { type: 'null' }] });
const object = (properties: Record<string, JsonSchema>, required: readonly string[] = Object.keys(properties)) => ({
  type: 'object',
  properties,
  required: [...required],
});
const arrayOf = (items: JsonSchema): JsonSchema => ({ type: 'array', items });

const EXAMPLE_VIN = '1HGCM82633A004352';
const EXAMPLE_HASH = '9f2c1b6f0ad1c0b5e3d1f0e4a7c2b9d8e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1';
const EXAMPLE_ADDRESS = 'al3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a';

// Error codes, each with what it means for a client (README, "JSON-RPC").
const INVALID_PARAMS: RpcErrorSpec = { code: -32602, message: 'invalid params: the message names the param' };
const NOT_FOUND: RpcErrorSpec = { code: -32004, message: 'not found' };
const BLOCK_NOT_FOUND: RpcErrorSpec = {
  code: -32004,
  message:
    'not found; data.earliestHeight when the height is below the lowest block this node keeps (pruned): ask a node that keeps more',
};
/** The lowest block this node holds; present on answers that list what it holds from there on. */
const earliestHeightSchema: JsonSchema = { type: 'integer', minimum: 2, maximum: Number.MAX_SAFE_INTEGER };
const BUSY: RpcErrorSpec = {
  code: -32005,
  message: 'busy or timed out (retry later; data.retryAfterMs when rate-limited)',
};
const FORBIDDEN: RpcErrorSpec = { code: -32003, message: 'the token lacks the submit scope' };
const REFUSED: RpcErrorSpec = { code: -32000, message: 'refused: data.code says why (BAD_NONCE, ...)' };

function param(name: string, description: string, schema: JsonSchema, required = true): ParamSpec {
  return { name, description, required, schema };
}

const limitParam = (bounds: { default: number; max: number }) =>
  param(
    'limit',
    `at most this many per page (default ${bounds.default}, at most ${bounds.max}; more is refused with -32602)`,
    { type: 'integer', minimum: 1, maximum: bounds.max },
    false,
  );
const afterParam = param(
  'after',
  'continue after this cursor: the next of the previous page (opaque; a malformed one is refused with -32602)',
  { type: 'string', minLength: 1, maxLength: MAX_CURSOR_LENGTH },
  false,
);
const proveParam = param('prove', 'include Merkle proofs against the latest state root', { type: 'boolean' }, false);
const vinParam = param('vin', 'vehicle identification number (17 characters, no I, O or Q)', vin);

const headerSchema = object({
  chainId: { type: 'string' },
  height,
  view: count,
  time,
  parentHash: hash,
  txRoot: hash,
  stateRoot: hash,
  proposer: hex(32),
  lastCertificateHash: hash,
});
const certificateSchema = object({
  height,
  view: count,
  blockHash: hash,
  signatures: arrayOf(object({ validator: hex(32), signature: hex(64) })),
});
const eventSchema: JsonSchema = {
  type: 'object',
  properties: { type: { type: 'string' }, attributes: { type: 'object', additionalProperties: { type: 'string' } } },
  required: ['type', 'attributes'],
};
const receiptSchema: JsonSchema = {
  type: 'object',
  properties: {
    txHash: hash,
    code: { type: 'string' },
    error: { type: 'string' },
    events: arrayOf(eventSchema),
    orderId: { type: 'string' },
    policyId: { type: 'string' },
    claimId: { type: 'string' },
  },
  required: ['txHash', 'code', 'error', 'events'],
};
const accountSchema = object(
  {
    address,
    role: { type: 'string' },
    roles: arrayOf({ type: 'string' }),
    name: { type: 'string' },
    balance: amount,
    nonce: count,
    frozen: { type: 'boolean' },
    reputation: object({ count, average: { type: ['string', 'number', 'null'] } }, ['count']),
    pendingNonce: count,
    proof: { type: 'object' },
  },
  ['address', 'role', 'name', 'balance', 'nonce', 'frozen', 'reputation', 'pendingNonce'],
);
const vehicleSchema = object(
  {
    vin,
    make: { type: 'string' },
    model: { type: 'string' },
    year: count,
    owner: address,
    odometerKm: count,
    brands: arrayOf({ type: 'string' }),
    stolen: { type: 'boolean' },
    lien: nullable({ type: ['string', 'object'] }),
    activeOrder: nullable({ type: 'string' }),
    historyLength: count,
    proof: { type: 'object' },
  },
  ['vin', 'make', 'model', 'year', 'owner', 'odometerKm', 'brands', 'stolen', 'lien', 'activeOrder'],
);
const historyEntrySchema = object(
  {
    kind: { type: 'string' },
    height,
    time,
    actor: { type: 'string' },
    actorRole: { type: 'string' },
    txHash: nullable(hash),
  },
  ['kind', 'height', 'time', 'actor', 'actorRole', 'txHash'],
);
const orderSchema = object(
  {
    orderId: id,
    vin,
    buyer: address,
    seller: address,
    price: amount,
    status: { type: 'string', pattern: '^[a-z_]+$' },
    deliverBy: time,
    createdAt: time,
  },
  ['orderId', 'vin', 'buyer', 'seller', 'price', 'status', 'deliverBy', 'createdAt'],
);
const policySchema = object(
  {
    policyId: id,
    vin,
    insurer: address,
    holder: address,
    premium: amount,
    coverage: amount,
    status: { type: 'string' },
  },
  ['policyId', 'vin', 'insurer', 'holder', 'premium', 'coverage', 'status'],
);
const claimSchema = object(
  { claimId: id, policyId: id, vin, holder: address, insurer: address, amount, status: { type: 'string' } },
  ['claimId', 'policyId', 'vin', 'holder', 'insurer', 'amount', 'status'],
);
const txStatusSchema = object(
  {
    hash,
    status: { enum: ['pending', 'committed', 'unknown'] },
    height: nullable(positiveHeight),
    index: nullable(count),
    code: nullable({ type: 'string' }),
    error: { type: 'string' },
    events: arrayOf(eventSchema),
    orderId: { type: 'string' },
    policyId: { type: 'string' },
    claimId: { type: 'string' },
    tx: { type: 'object' },
    earliestHeight: earliestHeightSchema,
  },
  ['hash', 'status', 'height', 'index', 'code', 'error', 'events'],
);
const validatorSchema = object(
  {
    name: { type: 'string' },
    role: { type: 'string' },
    publicKey: hex(32),
    address,
    peerId: { type: 'string' },
    power: { type: 'integer', minimum: 1 },
    operator: address,
  },
  ['name', 'role', 'publicKey', 'address', 'peerId', 'power', 'operator'],
);
/** A proposal id as the chain numbers them: gov-1, gov-2, … */
const PROPOSAL_ID_PATTERN = '^gov-[1-9][0-9]{0,14}$';
const proposalId: JsonSchema = { type: 'string', pattern: PROPOSAL_ID_PATTERN };
const proposalSchema = object({
  proposalId,
  action: { enum: [...GOV_ACTIONS] },
  name: { type: 'string' },
  // What an addition or update sets; null where the proposal leaves it unchanged (a removal: all).
  role: nullable({ type: 'string' }),
  publicKey: nullable(hex(32)),
  power: nullable({ type: 'integer', minimum: 1 }),
  operator: nullable(address),
  proposedBy: address,
  proposer: { type: 'string' },
  status: { enum: [...PROPOSAL_STATUSES] },
  createdHeight: positiveHeight,
  createdAt: time,
  expiresAt: time,
  approvals: arrayOf({ type: 'string' }),
  rejections: arrayOf({ type: 'string' }),
  decidedHeight: nullable(positiveHeight),
  decidedAt: nullable(time),
  effectiveHeight: nullable(positiveHeight),
  changeIndex: nullable(count),
});
const pageOf = (key: string, items: JsonSchema): JsonSchema => ({
  type: 'object',
  properties: { [key]: arrayOf(items), next: { type: 'string', minLength: 1, maxLength: MAX_CURSOR_LENGTH } },
  required: [key],
});
const txRefSchema = object(
  { hash, height: positiveHeight, index: count, code: { type: 'string' }, kind: { type: 'string' } },
  ['hash', 'height', 'index', 'code'],
);

export const METHOD_SCHEMAS = {
  node_status: {
    summary: 'Identity, height and health of this node.',
    scope: 'read',
    params: [],
    result: {
      name: 'status',
      schema: object(
        {
          chainId: { type: 'string' },
          nodeId: { type: 'string' },
          listenAddrs: arrayOf({ type: 'string' }),
          moniker: { type: 'string' },
          height,
          blockHash: { type: 'string', pattern: '^([0-9a-f]{64})?$' },
          blockTime: time,
          view: count,
          validator: { type: 'boolean' },
          peers: count,
          syncing: { type: 'boolean' },
          version: { type: 'string' },
          genesisHash: hash,
          proposer: nullable({ type: 'string' }),
          mempool: count,
          earliestHeight: positiveHeight,
          syncMode: { enum: ['blocks', 'snapshot'] },
        },
        [
          'chainId',
          'nodeId',
          'listenAddrs',
          'moniker',
          'height',
          'blockHash',
          'blockTime',
          'view',
          'validator',
          'peers',
          'syncing',
          'version',
          'genesisHash',
        ],
      ),
    },
    errors: [],
    examples: [
      {
        name: 'a validator in sync',
        params: [],
        result: {
          name: 'status',
          value: {
            chainId: 'autoledger-devnet',
            nodeId: '12D3KooWExample',
            listenAddrs: ['/ip4/127.0.0.1/tcp/26656'],
            moniker: 'dealer-1',
            height: 42,
            blockHash: EXAMPLE_HASH,
            blockTime: 1767225600000,
            view: 0,
            validator: true,
            peers: 3,
            syncing: false,
            version: '0.1.0',
            genesisHash: EXAMPLE_HASH,
            proposer: 'dealer-2',
            mempool: 0,
            earliestHeight: 1,
            syncMode: 'blocks',
          },
        },
      },
    ],
  },
  chain_getBlock: {
    summary: 'A committed block: header, transaction hashes and commit certificate.',
    scope: 'read',
    params: [param('height', 'block height (default: the latest)', positiveHeight, false)],
    result: {
      name: 'block',
      schema: object({ hash, header: headerSchema, txs: arrayOf(hash), certificate: certificateSchema }),
    },
    errors: [INVALID_PARAMS, BLOCK_NOT_FOUND],
    examples: [
      {
        name: 'block 1',
        params: [{ name: 'height', value: 1 }],
        result: {
          name: 'block',
          value: {
            hash: EXAMPLE_HASH,
            header: {
              chainId: 'autoledger-devnet',
              height: 1,
              view: 0,
              time: 1767225600000,
              parentHash: EXAMPLE_HASH,
              txRoot: EXAMPLE_HASH,
              stateRoot: EXAMPLE_HASH,
              proposer: EXAMPLE_HASH,
              lastCertificateHash: EXAMPLE_HASH,
            },
            txs: [EXAMPLE_HASH],
            certificate: { height: 1, view: 0, blockHash: EXAMPLE_HASH, signatures: [] },
          },
        },
      },
    ],
  },
  chain_getBlockResults: {
    summary:
      'The results of a committed block: one receipt per transaction, in block order, and the events of block-time transitions (deadlines).',
    scope: 'read',
    params: [param('height', 'block height (default: the latest)', positiveHeight, false)],
    result: {
      name: 'blockResults',
      schema: object({
        height: positiveHeight,
        hash,
        receipts: arrayOf(receiptSchema),
        systemEvents: arrayOf(eventSchema),
      }),
    },
    errors: [INVALID_PARAMS, BLOCK_NOT_FOUND],
    examples: [
      {
        name: 'one transaction',
        params: [{ name: 'height', value: 3 }],
        result: {
          name: 'blockResults',
          value: {
            height: 3,
            hash: EXAMPLE_HASH,
            receipts: [{ txHash: EXAMPLE_HASH, code: 'ok', error: '', events: [] }],
            systemEvents: [],
          },
        },
      },
    ],
  },
  chain_getGenesis: {
    summary: 'The genesis document this node runs (as genesis.json holds it) and its hash.',
    scope: 'read',
    params: [],
    result: {
      name: 'genesis',
      schema: object({ genesisHash: hash, chainId: { type: 'string' }, genesis: { type: 'object' } }),
    },
    errors: [],
    examples: [
      {
        name: 'the devnet',
        params: [],
        result: {
          name: 'genesis',
          value: { genesisHash: EXAMPLE_HASH, chainId: 'autoledger-devnet', genesis: { chainId: 'autoledger-devnet' } },
        },
      },
    ],
  },
  chain_getValidators: {
    summary:
      'The validator set in force at a height (the set that signs that block), in set order (leaders rotate over it), each validator with its operator (the account that votes for it on governance proposals). Heights up to the latest + validatorChangeDelay are known (approved changes take effect that many blocks later); a higher one is not found (-32004, data.maxHeight the highest known).',
    scope: 'read',
    params: [param('height', 'block height (default: the latest)', height, false)],
    result: { name: 'validators', schema: arrayOf(validatorSchema) },
    errors: [INVALID_PARAMS, NOT_FOUND],
    examples: [
      {
        name: 'one validator',
        params: [],
        result: {
          name: 'validators',
          value: [
            {
              name: 'dealer-1',
              role: 'dealer',
              publicKey: EXAMPLE_HASH,
              address: EXAMPLE_ADDRESS,
              peerId: '12D3KooWExample',
              power: 1,
              operator: EXAMPLE_ADDRESS,
            },
          ],
        },
      },
      {
        name: 'the genesis set',
        params: [{ name: 'height', value: 0 }],
        result: {
          name: 'validators',
          value: [
            {
              name: 'dealer-1',
              role: 'dealer',
              publicKey: EXAMPLE_HASH,
              address: EXAMPLE_ADDRESS,
              peerId: '12D3KooWExample',
              power: 1,
              operator: EXAMPLE_ADDRESS,
            },
          ],
        },
      },
    ],
  },
  consensus_getEvidence: {
    summary:
      'Equivocation evidence this validator proved (two conflicting signed statements of one validator), newest first.',
    scope: 'read',
    params: [
      param('height', 'only evidence of this height', positiveHeight, false),
      param(
        'limit',
        'at most this many records (default 20, at most 100)',
        { type: 'integer', minimum: 1, maximum: 100 },
        false,
      ),
    ],
    result: {
      name: 'evidence',
      schema: arrayOf(
        object(
          {
            validator: { type: 'string' },
            height: positiveHeight,
            view: count,
            phase: { type: 'string' },
            first: { type: 'string' },
            second: { type: 'string' },
          },
          ['validator', 'height', 'view', 'phase', 'first', 'second'],
        ),
      ),
    },
    errors: [INVALID_PARAMS],
    examples: [{ name: 'none', params: [], result: { name: 'evidence', value: [] } }],
  },
  consensus_getState: {
    summary:
      "The consensus round being decided, for diagnosing a stall: height, view, the view's proposer, what the engine buffers, and the driver's inputs (null on an observer).",
    scope: 'read',
    params: [],
    result: {
      name: 'consensusState',
      schema: object(
        {
          validator: { type: 'boolean' },
          height: positiveHeight,
          heightCommitted: height,
          view: count,
          proposer: nullable({ type: 'string' }),
          syncing: { type: 'boolean' },
          bestKnownHeight: height,
          lastCommitTime: time,
          engine: nullable({
            type: 'object',
            properties: {
              rounds: count,
              blocks: count,
              futureMessages: count,
              futureBytes: count,
              evidence: count,
            },
            required: ['rounds', 'blocks', 'futureMessages'],
          }),
          round: nullable({
            type: 'object',
            properties: {
              height: positiveHeight,
              view: count,
              step: {
                enum: ['view-change', 'proposing', 'validating', 'preparing', 'committing', 'sealing', 'following'],
              },
              proposal: nullable({ type: 'string', pattern: HASH_PATTERN }),
              votes: {
                type: 'object',
                properties: { prepare: count, commit: count, viewChange: count, seal: count },
                required: ['prepare', 'commit', 'viewChange', 'seal'],
              },
              quorumPower: count,
              viewTimerRunning: { type: 'boolean' },
            },
            required: ['height', 'view', 'step', 'proposal', 'votes', 'quorumPower', 'viewTimerRunning'],
          }),
        },
        ['validator', 'height', 'heightCommitted', 'view', 'proposer', 'syncing', 'bestKnownHeight', 'engine'],
      ),
    },
    errors: [],
    examples: [
      {
        name: 'a validator deciding height 43',
        params: [],
        result: {
          name: 'consensusState',
          value: {
            validator: true,
            height: 43,
            heightCommitted: 42,
            view: 0,
            proposer: 'dealer-2',
            syncing: false,
            bestKnownHeight: 42,
            lastCommitTime: 1767225600000,
            engine: { rounds: 1, blocks: 1, futureMessages: 0, futureBytes: 0, evidence: 0 },
            round: {
              height: 43,
              view: 0,
              step: 'preparing',
              proposal: '5b8b56a4c0f3d0e1a7b2c9d8e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7',
              votes: { prepare: 2, commit: 0, viewChange: 0, seal: 0 },
              quorumPower: 3,
              viewTimerRunning: true,
            },
          },
        },
      },
    ],
  },
  net_info: {
    summary: 'Peers: every connected libp2p peer (with the validator it is, if any) and the validators not connected.',
    scope: 'read',
    params: [],
    result: {
      name: 'netInfo',
      schema: object({
        nodeId: { type: 'string' },
        listenAddrs: arrayOf({ type: 'string' }),
        peerCount: count,
        peers: arrayOf(
          object({ peerId: { type: 'string' }, validator: nullable({ type: 'string' }), banned: { type: 'boolean' } }, [
            'peerId',
            'validator',
          ]),
        ),
        missingValidators: arrayOf({ type: 'string' }),
        bannedPeers: arrayOf({ type: 'string' }),
      }),
    },
    errors: [],
    examples: [
      {
        name: 'one peer of four validators',
        params: [],
        result: {
          name: 'netInfo',
          value: {
            nodeId: '12D3KooWSelf',
            listenAddrs: ['/ip4/127.0.0.1/tcp/26656'],
            peerCount: 1,
            peers: [{ peerId: '12D3KooWPeer', validator: 'dealer-2' }],
            missingValidators: ['insurer-1', 'regulator-1'],
            bannedPeers: [],
          },
        },
      },
    ],
  },
  tx_submit: {
    summary: 'Submits one signed transaction (base64 of the encoded Tx). Refusals are error -32000 with data.code.',
    scope: 'submit',
    params: [
      param('tx', 'base64 of the encoded Tx envelope', {
        type: 'string',
        minLength: 1,
        maxLength: MAX_TX_BASE64,
        contentEncoding: 'base64',
      }),
    ],
    result: { name: 'submitted', schema: object({ hash }) },
    errors: [INVALID_PARAMS, REFUSED, FORBIDDEN, BUSY],
    examples: [
      {
        name: 'accepted',
        params: [{ name: 'tx', value: 'CgR0ZXN0' }],
        result: { name: 'submitted', value: { hash: EXAMPLE_HASH } },
      },
    ],
  },
  tx_submitBatch: {
    summary: 'Submits many signed transactions at once; answers per transaction, in order.',
    scope: 'submit',
    params: [
      param('txs', `array of base64 Tx envelopes (at most ${MAX_BATCH_SUBMIT})`, {
        type: 'array',
        minItems: 1,
        maxItems: MAX_BATCH_SUBMIT,
        // Entries are not constrained here: a malformed one is answered in place, not refused as a whole.
        items: {},
      }),
    ],
    result: {
      name: 'results',
      schema: arrayOf({
        oneOf: [
          object({ ok: { const: true }, hash }),
          object({ ok: { const: false }, code: { type: 'string' }, message: { type: 'string' }, hash }, [
            'ok',
            'code',
            'message',
          ]),
        ],
      }),
    },
    errors: [INVALID_PARAMS, FORBIDDEN, BUSY],
    examples: [
      {
        name: 'one accepted, one malformed',
        params: [{ name: 'txs', value: ['CgR0ZXN0', '!'] }],
        result: {
          name: 'results',
          value: [
            { ok: true, hash: EXAMPLE_HASH },
            { ok: false, code: 'MALFORMED_TX', message: 'txs[1] is not the base64 of a transaction' },
          ],
        },
      },
    ],
  },
  tx_get: {
    summary:
      'Status and receipt of a transaction: pending, committed or unknown. A transaction of a pruned block is unknown, with earliestHeight: the lowest block this node keeps.',
    scope: 'read',
    params: [param('hash', 'transaction hash (hex)', hash)],
    result: { name: 'transaction', schema: txStatusSchema },
    errors: [INVALID_PARAMS],
    examples: [
      {
        name: 'unknown',
        params: [{ name: 'hash', value: EXAMPLE_HASH }],
        result: {
          name: 'transaction',
          value: {
            hash: EXAMPLE_HASH,
            status: 'unknown',
            height: null,
            index: null,
            code: null,
            error: '',
            events: [],
          },
        },
      },
    ],
  },
  tx_search: {
    summary:
      'Committed transactions of an account (those it signed) or of a vehicle (those that wrote its history), oldest first, a page at a time: give exactly one of address and vin; next, when present, is the after of the next page. On a node that keeps blocks from earliestHeight on (pruning), transactions of older blocks are not listed.',
    scope: 'read',
    params: [
      param('address', 'the signing account', address, false),
      param('vin', 'the vehicle', vin, false),
      limitParam(TX_SEARCH_LIMITS),
      afterParam,
    ],
    result: {
      name: 'transactions',
      schema: (() => {
        const page = pageOf('txs', txRefSchema) as { properties: Record<string, JsonSchema> };
        return { ...page, properties: { ...page.properties, earliestHeight: earliestHeightSchema } };
      })(),
    },
    errors: [INVALID_PARAMS, NOT_FOUND, BUSY],
    examples: [
      {
        name: "an account's first page",
        params: [
          { name: 'address', value: EXAMPLE_ADDRESS },
          { name: 'limit', value: 1 },
        ],
        result: {
          name: 'transactions',
          value: {
            txs: [{ hash: EXAMPLE_HASH, height: 3, index: 0, code: 'ok', kind: 'vehicle.register' }],
            next: '3.0',
          },
        },
      },
    ],
  },
  mempool_list: {
    summary:
      "Transactions waiting in this node's mempool, oldest first, a page at a time (next is the after of the next page; a cursor whose transaction has left the pool is refused with -32602: start again).",
    scope: 'read',
    params: [
      limitParam(MEMPOOL_LIST_LIMITS),
      param('after', 'continue after this transaction hash: the next of the previous page', hash, false),
    ],
    result: {
      name: 'pending',
      schema: {
        type: 'object',
        properties: {
          total: count,
          txs: arrayOf(object({ hash, signer: address, nonce: count, kind: { type: 'string' } })),
          next: hash,
        },
        required: ['total', 'txs'],
      },
    },
    errors: [INVALID_PARAMS],
    examples: [
      {
        name: 'one pending',
        params: [],
        result: {
          name: 'pending',
          value: { total: 1, txs: [{ hash: EXAMPLE_HASH, signer: EXAMPLE_ADDRESS, nonce: 4, kind: 'pay.transfer' }] },
        },
      },
    ],
  },
  account_get: {
    summary: 'An account: role, name, balance (minor units, decimal string), nonce, frozen, reputation.',
    scope: 'read',
    params: [param('address', 'account address', address), proveParam],
    result: { name: 'account', schema: accountSchema },
    errors: [INVALID_PARAMS, NOT_FOUND],
    examples: [
      {
        name: 'alice',
        params: [{ name: 'address', value: EXAMPLE_ADDRESS }],
        result: {
          name: 'account',
          value: {
            address: EXAMPLE_ADDRESS,
            role: 'person',
            roles: ['person'],
            name: 'alice',
            balance: '1000000.00',
            nonce: 0,
            frozen: false,
            reputation: { count: 0, average: null },
            pendingNonce: 0,
          },
        },
      },
    ],
  },
  vehicle_get: {
    summary: 'A vehicle record.',
    scope: 'read',
    params: [vinParam, proveParam],
    result: { name: 'vehicle', schema: vehicleSchema },
    errors: [INVALID_PARAMS, NOT_FOUND],
    examples: [
      {
        name: 'a registered car',
        params: [{ name: 'vin', value: EXAMPLE_VIN }],
        result: {
          name: 'vehicle',
          value: {
            vin: EXAMPLE_VIN,
            make: 'Honda',
            model: 'Accord',
            year: 2003,
            owner: EXAMPLE_ADDRESS,
            odometerKm: 120000,
            brands: [],
            stolen: false,
            lien: null,
            activeOrder: null,
          },
        },
      },
    ],
  },
  vehicle_history: {
    summary:
      "A vehicle's record and its history entries, oldest first, a page at a time: next, when present, is the after of the next page. With prove, the whole history in one proof bundle (not paged; limit and after are then refused).",
    scope: 'read',
    params: [vinParam, proveParam, limitParam(QUERY_LIMITS.history), afterParam],
    result: {
      name: 'history',
      schema: {
        type: 'object',
        properties: { vehicle: { type: 'object' }, events: arrayOf(historyEntrySchema), next: { type: 'string' } },
        required: ['vehicle', 'events'],
      },
    },
    errors: [INVALID_PARAMS, NOT_FOUND, BUSY],
    examples: [
      {
        name: 'first page',
        params: [
          { name: 'vin', value: EXAMPLE_VIN },
          { name: 'limit', value: 1 },
        ],
        result: {
          name: 'history',
          value: {
            vehicle: { vin: EXAMPLE_VIN },
            events: [
              {
                kind: 'registered',
                height: 3,
                time: 1767225600000,
                actor: EXAMPLE_ADDRESS,
                actorRole: 'dealer',
                txHash: EXAMPLE_HASH,
              },
            ],
            next: 'h0',
          },
        },
      },
    ],
  },
  vehicle_report: {
    summary:
      'A self-contained vehicle history report with Merkle proofs, block header and commit certificate, verifiable offline.',
    scope: 'read',
    params: [vinParam],
    result: {
      name: 'report',
      schema: object(
        {
          format: { const: 'autoledger-vehicle-report/1' },
          chainId: { type: 'string' },
          genesisHash: hash,
          vin,
          block: object({ height: positiveHeight, hash, time, header: { type: 'string' }, headerJson: headerSchema }),
          certificate: certificateSchema,
          proofs: { type: 'object' },
          // The validator set in force at the block, proven from genesis (chain/validator-chain.ts).
          governance: { type: 'object', description: 'system/governance proven against the block state root' },
          validatorChain: arrayOf(
            object({
              index: count,
              header: { type: 'string' },
              certificate: certificateSchema,
              record: { type: 'object' },
            }),
          ),
        },
        ['format', 'chainId', 'genesisHash', 'vin', 'block', 'certificate', 'proofs'],
      ),
    },
    errors: [INVALID_PARAMS, NOT_FOUND],
    examples: [
      {
        name: 'a report (abridged)',
        params: [{ name: 'vin', value: EXAMPLE_VIN }],
        result: {
          name: 'report',
          value: {
            format: 'autoledger-vehicle-report/1',
            chainId: 'autoledger-devnet',
            genesisHash: EXAMPLE_HASH,
            vin: EXAMPLE_VIN,
            block: {
              height: 3,
              hash: EXAMPLE_HASH,
              time: 1767225600000,
              header: 'CgR0ZXN0',
              headerJson: {
                chainId: 'autoledger-devnet',
                height: 3,
                view: 0,
                time: 1767225600000,
                parentHash: EXAMPLE_HASH,
                txRoot: EXAMPLE_HASH,
                stateRoot: EXAMPLE_HASH,
                proposer: EXAMPLE_HASH,
                lastCertificateHash: EXAMPLE_HASH,
              },
            },
            certificate: { height: 3, view: 0, blockHash: EXAMPLE_HASH, signatures: [] },
            proofs: {},
          },
        },
      },
    ],
  },
  order_get: {
    summary: 'An escrow order with its state and timestamps.',
    scope: 'read',
    params: [param('orderId', 'order id', id), proveParam],
    result: { name: 'order', schema: orderSchema },
    errors: [INVALID_PARAMS, NOT_FOUND],
    examples: [
      {
        name: 'an accepted order (abridged)',
        params: [{ name: 'orderId', value: 'order-1' }],
        result: {
          name: 'order',
          value: {
            orderId: 'order-1',
            vin: EXAMPLE_VIN,
            buyer: EXAMPLE_ADDRESS,
            seller: EXAMPLE_ADDRESS,
            price: '25000.00',
            status: 'accepted',
            deliverBy: 1767830400000,
            createdAt: 1767225600000,
          },
        },
      },
    ],
  },
  order_list: {
    summary:
      'Orders matching every filter given (party address, vehicle, status), oldest first, a page at a time. Each combination of filters is served from an index of its own. With page: true the answer is { orders, next? }, next being the after of the next page; without it, the array of orders as before.',
    scope: 'read',
    params: [
      param('address', 'buyer or seller address', address, false),
      param('vin', 'vehicle identification number', vin, false),
      param('status', 'order status', { type: 'string', maxLength: 32, pattern: '^[a-z_]+$' }, false),
      limitParam(QUERY_LIMITS.orders),
      afterParam,
      param('page', 'answer { orders, next? } instead of the array of orders', { type: 'boolean' }, false),
    ],
    result: { name: 'orders', schema: { oneOf: [arrayOf(orderSchema), pageOf('orders', orderSchema)] } },
    errors: [INVALID_PARAMS, BUSY],
    examples: [{ name: 'no orders', params: [], result: { name: 'orders', value: [] } }],
  },
  policy_get: {
    summary: 'An insurance policy.',
    scope: 'read',
    params: [param('policyId', 'policy id', id), proveParam],
    result: { name: 'policy', schema: policySchema },
    errors: [INVALID_PARAMS, NOT_FOUND],
    examples: [
      {
        name: 'an active policy (abridged)',
        params: [{ name: 'policyId', value: 'policy-1' }],
        result: {
          name: 'policy',
          value: {
            policyId: 'policy-1',
            vin: EXAMPLE_VIN,
            insurer: EXAMPLE_ADDRESS,
            holder: EXAMPLE_ADDRESS,
            premium: '500.00',
            coverage: '20000.00',
            status: 'active',
          },
        },
      },
    ],
  },
  claim_get: {
    summary: 'An insurance claim.',
    scope: 'read',
    params: [param('claimId', 'claim id', id), proveParam],
    result: { name: 'claim', schema: claimSchema },
    errors: [INVALID_PARAMS, NOT_FOUND],
    examples: [
      {
        name: 'a filed claim (abridged)',
        params: [{ name: 'claimId', value: 'claim-1' }],
        result: {
          name: 'claim',
          value: {
            claimId: 'claim-1',
            policyId: 'policy-1',
            vin: EXAMPLE_VIN,
            holder: EXAMPLE_ADDRESS,
            insurer: EXAMPLE_ADDRESS,
            amount: '1500.00',
            status: 'filed',
          },
        },
      },
    ],
  },
  gov_getProposal: {
    summary:
      'A validator-set governance proposal (gov.propose): the change it asks for, its status (open, approved, rejected, expired), the validators that approved and rejected it, and, once approved, the height its change takes effect.',
    scope: 'read',
    params: [param('proposalId', 'proposal id (gov-N)', id)],
    result: { name: 'proposal', schema: proposalSchema },
    errors: [INVALID_PARAMS, NOT_FOUND],
    examples: [
      {
        name: 'an approved addition',
        params: [{ name: 'proposalId', value: 'gov-1' }],
        result: {
          name: 'proposal',
          value: {
            proposalId: 'gov-1',
            action: 'add',
            name: 'dealer-3',
            role: 'dealer',
            publicKey: EXAMPLE_HASH,
            power: 1,
            operator: EXAMPLE_ADDRESS,
            proposedBy: EXAMPLE_ADDRESS,
            proposer: 'regulator-1',
            status: 'approved',
            createdHeight: 40,
            createdAt: 1767225600000,
            expiresAt: 1767830400000,
            approvals: ['regulator-1', 'dealer-1', 'dealer-2'],
            rejections: [],
            decidedHeight: 42,
            decidedAt: 1767225602000,
            effectiveHeight: 44,
            changeIndex: 0,
          },
        },
      },
    ],
  },
  gov_listProposals: {
    summary:
      'Validator-set governance proposals, oldest first, with the given status if any, a page at a time: next, when present, is the after of the next page.',
    scope: 'read',
    params: [
      param('status', 'only proposals with this status', { enum: [...PROPOSAL_STATUSES] }, false),
      limitParam(PROPOSAL_QUERY_LIMITS),
      param(
        'after',
        'continue after this proposal id: the next of the previous page (a malformed one is refused with -32602)',
        { type: 'string', minLength: 1, maxLength: MAX_CURSOR_LENGTH },
        false,
      ),
    ],
    result: { name: 'proposals', schema: pageOf('proposals', proposalSchema) },
    errors: [INVALID_PARAMS],
    examples: [
      {
        name: 'none open',
        params: [{ name: 'status', value: 'open' }],
        result: { name: 'proposals', value: { proposals: [] } },
      },
    ],
  },
  admin_setLogLevel: {
    summary:
      "Changes this node's log level at run time (not persisted: config.json's log.level holds after a restart). Needs a submit-scope token.",
    scope: 'submit',
    params: [param('level', 'the least severe level written', { enum: ['debug', 'info', 'warn', 'error'] })],
    result: {
      name: 'levels',
      schema: object({
        previous: { enum: ['debug', 'info', 'warn', 'error'] },
        level: { enum: ['debug', 'info', 'warn', 'error'] },
      }),
    },
    errors: [INVALID_PARAMS, FORBIDDEN],
    examples: [
      {
        name: 'debug for a while',
        params: [{ name: 'level', value: 'debug' }],
        result: { name: 'levels', value: { previous: 'info', level: 'debug' } },
      },
    ],
  },
  'rpc.discover': {
    summary: 'The OpenRPC document of this node.',
    scope: 'read',
    params: [],
    result: {
      name: 'openrpc',
      schema: object({ openrpc: { type: 'string' }, info: { type: 'object' }, methods: arrayOf({ type: 'object' }) }),
    },
    errors: [],
    examples: [
      {
        name: 'the document (abridged)',
        params: [],
        result: {
          name: 'openrpc',
          value: { openrpc: '1.2.6', info: { title: 'Autoledger node JSON-RPC', version: '0.1.0' }, methods: [] },
        },
      },
    ],
  },
} satisfies Record<string, MethodSchema>;

export type MethodName = keyof typeof METHOD_SCHEMAS;

const topicSchema: JsonSchema = {
  type: 'string',
  maxLength: 128,
  pattern: TOPIC_PATTERN,
};
const subscriptionIdSchema: JsonSchema = { type: 'string', pattern: '^0x[0-9a-f]{1,16}$' };

/** The WebSocket-only methods; their handlers live in the server, which owns the connections. */
export const SUBSCRIPTION_SCHEMAS = {
  subscribe: {
    summary:
      'WebSocket only (/ws): receive notifications { method: "subscription", params: { topic, subscription, data } } for a topic: blocks, tx:<hash>, vehicle:<vin>, account:<address>. Subscribing to a topic twice returns the same subscription id.',
    scope: 'read',
    params: [param('topic', 'blocks, tx:<hash>, vehicle:<vin> or account:<address>', topicSchema)],
    result: { name: 'subscription', schema: object({ topic: topicSchema, subscription: subscriptionIdSchema }) },
    errors: [INVALID_PARAMS, { code: -32600, message: 'not a WebSocket connection' }],
    examples: [
      {
        name: 'blocks',
        params: [{ name: 'topic', value: 'blocks' }],
        result: { name: 'subscription', value: { topic: 'blocks', subscription: '0x1' } },
      },
    ],
  },
  unsubscribe: {
    summary: 'WebSocket only: stop a subscription, named by its topic or by its subscription id (one of the two).',
    scope: 'read',
    params: [
      param('topic', 'the topic subscribed to', { type: 'string', maxLength: 128 }, false),
      param('subscription', 'the id subscribe returned', subscriptionIdSchema, false),
    ],
    result: { name: 'removed', schema: { type: 'boolean' } },
    errors: [INVALID_PARAMS, { code: -32600, message: 'not a WebSocket connection' }],
    examples: [
      { name: 'by id', params: [{ name: 'subscription', value: '0x1' }], result: { name: 'removed', value: true } },
    ],
  },
} satisfies Record<string, MethodSchema>;
