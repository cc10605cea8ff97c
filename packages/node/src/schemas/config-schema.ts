// The JSON Schema of `<home>/config.json`. It is built from the defaults, so that every
// field the node reads is in the schema with its default and nothing else is allowed (a typo
// never falls back to a default silently); FIELDS adds what each field means and its bounds.
// Cross-field rules (minBlockIntervalMs ≤ emptyBlockIntervalMs, …) stay in parseNodeConfig.

import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from '../chain/executor.ts';
import { MIN_KEEP_BLOCKS } from '../chain/pruning.ts';
import type { NodeConfig } from '../config.ts';
import { MAX_VERIFY_WORKERS } from '../verifier.ts';
import { compileSchema, EXPECT_KEYWORD, type JsonSchema, type SchemaProblem } from './validate.ts';

type Defaults = Omit<NodeConfig, 'moniker'>;

const HOST_PORT = {
  pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^:\\s]+|[0-9A-Fa-f:]+):[0-9]{1,5}$',
  [EXPECT_KEYWORD]: 'host:port',
};
const HOST_PORT_OR_EMPTY = {
  pattern: `^$|${HOST_PORT.pattern}`,
  [EXPECT_KEYWORD]: 'host:port, or "" to turn it off',
};
const MULTIADDR = { type: 'string', pattern: '^/', [EXPECT_KEYWORD]: 'a multiaddr such as /ip4/0.0.0.0/tcp/26656' };

/** Meaning and bounds per field, by dotted path; types and defaults come from the defaults. */
const FIELDS: Record<string, JsonSchema> = {
  genesisFile: { description: 'Path of genesis.json, relative to the home directory unless absolute', minLength: 1 },
  nodeKeyFile: { description: 'Path of the node key file (its ed25519 key is also its libp2p identity)', minLength: 1 },
  dataDir: { description: 'Directory of the level store (blocks, state, consensus WAL)', minLength: 1 },
  p2p: { description: 'libp2p networking' },
  'p2p.listen': { description: 'Multiaddrs to listen on', items: MULTIADDR },
  'p2p.peers': {
    description: 'Multiaddrs with /p2p/<peer id> of the peers to keep connected (usually every validator)',
    items: {
      type: 'string',
      pattern: '^/.*/p2p/[1-9A-HJ-NP-Za-km-z]+$',
      [EXPECT_KEYWORD]: 'a multiaddr ending in /p2p/<peer id>',
    },
  },
  'p2p.observers': {
    description: 'Peer ids of observers (non-validator full nodes) allowed to connect',
    items: { type: 'string', pattern: '^[1-9A-HJ-NP-Za-km-z]{32,128}$', [EXPECT_KEYWORD]: 'a libp2p peer id' },
  },
  'p2p.maxFrameBytes': {
    description: 'Largest p2p frame accepted; a proposal carries a whole block',
    minimum: MAX_BLOCK_BYTES + 1024 * 1024,
  },
  rpc: { description: 'JSON-RPC, WebSocket, /health and /metrics' },
  'rpc.listen': { description: 'host:port of the JSON-RPC server; "" turns it off', ...HOST_PORT_OR_EMPTY },
  'rpc.tokens': {
    description: 'Bearer tokens; when any is set, every request but /health needs one',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['token', 'scope'],
      properties: {
        token: { type: 'string', minLength: 16, [EXPECT_KEYWORD]: 'a string of at least 16 characters' },
        scope: { enum: ['read', 'submit'] },
      },
    },
  },
  'rpc.metricsListen': {
    description: 'host:port of a /metrics listener of its own; "" serves /metrics on the RPC port',
    ...HOST_PORT_OR_EMPTY,
  },
  'rpc.maxBodyBytes': { description: 'Largest HTTP request body', minimum: 1 },
  'rpc.maxBatchLength': { description: 'Most requests in one JSON-RPC batch', minimum: 1 },
  'rpc.maxConnections': { description: 'Most concurrent HTTP and WebSocket connections', minimum: 1 },
  'rpc.maxInFlightRequests': { description: 'Most requests one WebSocket client may have in flight', minimum: 1 },
  'rpc.corsOrigins': {
    description:
      'Origins whose browser apps may call the RPC (CORS allow-list, exact match; "*" allows any); empty sends no CORS headers',
    items: {
      type: 'string',
      pattern: '^(\\*|https?://[^/\\s]+)$',
      [EXPECT_KEYWORD]: 'an origin such as https://app.example.com:8443, or *',
    },
  },
  consensus: { description: 'Consensus timing' },
  'consensus.tickMs': { description: 'Length of a consensus tick', minimum: 10 },
  'consensus.timeoutBaseTicks': {
    description: 'View timeout at view 0, in ticks; it doubles with every view change',
    minimum: 1,
  },
  'consensus.emptyBlockIntervalMs': {
    description: 'The longest a leader waits for transactions before proposing an empty block',
  },
  'consensus.minBlockIntervalMs': {
    description:
      'The shortest time from a commit to the next proposal unless a full block waits (at most emptyBlockIntervalMs)',
  },
  'consensus.compactProposals': {
    description:
      "Send this node's proposals as header and transaction hashes (validators fill in the transactions from their mempools and fetch the rest); false sends whole blocks",
  },
  'consensus.blockPreviews': {
    description:
      "Preview this node's blocks (transactions and time) to the validators before executing them, so they execute beside it; false: they execute after the proposal arrives",
  },
  block: { description: 'Blocks this node proposes' },
  'block.maxTxs': {
    description: 'Most transactions in a block this node proposes',
    minimum: 1,
    maximum: MAX_BLOCK_TXS,
  },
  'block.maxBytes': { description: 'Largest block this node proposes', minimum: 64 * 1024, maximum: MAX_BLOCK_BYTES },
  'block.maxFutureDriftMs': { description: "How far ahead of this node's clock a proposed block time may be" },
  mempool: { description: 'Pending transactions' },
  'mempool.maxTxs': { description: 'Most transactions waiting', minimum: 1 },
  'mempool.maxBytes': { description: 'Most bytes of transactions waiting' },
  'mempool.maxPerSender': { description: 'Most pending transactions of one account', minimum: 1 },
  'mempool.maxNonceAhead': {
    description: "How far past its account's committed nonce a pending transaction's nonce may run",
  },
  'mempool.ttlMs': { description: 'How long a transaction may wait before it is dropped' },
  admission: { description: 'Admitting submitted and relayed transactions' },
  'admission.verifyWorkers': {
    description:
      'Worker threads verifying transaction signatures beside consensus; 0 verifies them on the event loop, and admission then waits while a block is built, validated or committed',
    maximum: MAX_VERIFY_WORKERS,
  },
  cache: { description: 'Memory of the state machine' },
  'cache.stateMb': {
    description:
      'MiB all state caches together may hold (tree nodes, records, key hashes); changes speed only, never a state root',
    minimum: 1,
  },
  leveldb: { description: 'LevelDB tuning of the store in dataDir' },
  'leveldb.blockCacheMb': { description: 'MiB of decompressed table blocks LevelDB keeps in memory' },
  'leveldb.writeBufferMb': { description: 'MiB of writes LevelDB buffers before writing a table', minimum: 1 },
  'leveldb.maxFileMb': { description: 'Target MiB of a LevelDB table file', minimum: 1 },
  'leveldb.maxOpenFiles': {
    description:
      'Most table files LevelDB keeps open, each with its index and filter in memory; LevelDB raises it to at least 74, cuts it to at most 50,000 and holds 10 fewer',
    minimum: 16,
  },
  'leveldb.blockKb': {
    description: 'KiB of a LevelDB data block, the unit of a read; tables written before a change keep theirs',
    minimum: 1,
    maximum: 1024,
  },
  snapshots: { description: 'State snapshots written in the background into <home>/snapshots' },
  'snapshots.intervalBlocks': {
    description: 'Write a snapshot at every height that is a multiple of this; 0 writes none',
  },
  'snapshots.keep': { description: 'Most snapshots kept (the newest); older ones are deleted', minimum: 1 },
  sync: { description: 'How a node started on an empty data directory gets the chain' },
  'sync.mode': {
    description:
      '"blocks" replays every block from genesis; "snapshot" fetches a peer\'s verified snapshot, then block-syncs from its height',
    enum: ['blocks', 'snapshot'],
  },
  pruning: { description: 'Deleting old blocks' },
  'pruning.keepBlocks': {
    description: `Keep the newest this many blocks (with receipts and index entries) and delete older ones; 0 keeps every block, otherwise at least ${MIN_KEEP_BLOCKS}`,
    not: { minimum: 1, maximum: MIN_KEEP_BLOCKS - 1 },
    [EXPECT_KEYWORD]: `0 (keep every block) or at least ${MIN_KEEP_BLOCKS}`,
  },
  log: { description: 'Logging' },
  'log.level': { description: 'Least severe level written', enum: ['debug', 'info', 'warn', 'error'] },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field's schema: its type from its default (as parseNodeConfig checks it), then FIELDS. */
function fieldSchema(path: string, defaults: unknown): JsonSchema {
  const extra = FIELDS[path] ?? {};
  if (isPlainObject(defaults)) {
    const properties: Record<string, JsonSchema> = {};
    for (const [key, value] of Object.entries(defaults)) {
      properties[key] = fieldSchema(path ? `${path}.${key}` : key, value);
    }
    return { type: 'object', additionalProperties: false, properties, ...extra };
  }
  const base: JsonSchema = Array.isArray(defaults)
    ? { type: 'array', items: { type: 'string' } }
    : typeof defaults === 'number'
      ? { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }
      : { type: typeof defaults };
  return { ...base, default: defaults, ...extra };
}

/** The schema of config.json for these defaults (the node's DEFAULT_CONFIG). */
export function buildConfigSchema(defaults: Defaults): JsonSchema {
  const body = fieldSchema('', defaults);
  const properties = body.properties as Record<string, JsonSchema>;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://autoledger.example/schemas/config.schema.json',
    title: 'Autoledger node configuration (<home>/config.json)',
    description: 'Every field but moniker has a default; unknown fields are refused.',
    type: 'object',
    additionalProperties: false,
    required: ['moniker'],
    properties: {
      moniker: {
        type: 'string',
        description: "This node's name in logs and node_status",
        pattern: '^[A-Za-z0-9._-]{1,64}$',
        [EXPECT_KEYWORD]: '1 to 64 letters, digits, ".", "_" or "-"',
      },
      ...properties,
    },
  };
}

const validators = new WeakMap<object, (document: unknown) => SchemaProblem[]>();

/**
 * The schema problems of a config document (empty when it passes), each at a JSON pointer.
 * The defaults come in as an argument so that this module needs nothing from config.ts at
 * run time (config.ts calls it).
 */
export function configSchemaProblems(document: unknown, defaults: Defaults): SchemaProblem[] {
  let validate = validators.get(defaults);
  if (validate === undefined) {
    validate = compileSchema(buildConfigSchema(defaults));
    validators.set(defaults, validate);
  }
  return validate(document);
}
