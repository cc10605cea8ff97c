// The node configuration file (`<home>/config.json`). Every field has a default except what
// identifies the node; unknown fields are refused so that a typo never silently falls back
// to a default.

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from './chain/executor.ts';
import { MIN_KEEP_BLOCKS } from './chain/pruning.ts';
import { DEFAULT_LEVEL_OPTIONS, type LevelOptions } from './level-kv.ts';
import { isLogLevel, type LogLevel } from './log.ts';
import { DEFAULT_MEMPOOL_OPTIONS, type MempoolOptions } from './mempool.ts';
import { DEFAULT_RPC_LIMITS } from './rpc/server.ts';
import { configSchemaProblems } from './schemas/config-schema.ts';
import { formatSchemaProblems } from './schemas/validate.ts';
import { MAX_VERIFY_WORKERS } from './verifier.ts';

export interface NodeConfig {
  moniker: string;
  /** Paths are relative to the home directory unless absolute. */
  genesisFile: string;
  nodeKeyFile: string;
  dataDir: string;
  p2p: {
    listen: string[];
    /** Multiaddrs with /p2p/<peer id> of the peers to keep connected (usually every validator). */
    peers: string[];
    /** Peer ids of observers (non-validator full nodes) allowed to connect. */
    observers: string[];
    maxFrameBytes: number;
  };
  rpc: {
    /** host:port; an empty string disables the RPC server. */
    listen: string;
    tokens: { token: string; scope: 'read' | 'submit' }[];
    /** host:port for a /metrics listener of its own; empty to serve /metrics on the RPC port. */
    metricsListen: string;
    maxBodyBytes: number;
    maxBatchLength: number;
    maxConnections: number;
    maxInFlightRequests: number;
    /** Origins (scheme://host[:port]) whose web apps may call the RPC from a browser; empty: no CORS headers. */
    corsOrigins: string[];
  };
  consensus: {
    tickMs: number;
    /** View timeout at view 0, in ticks; it doubles with every view change. */
    timeoutBaseTicks: number;
    /** The longest a leader waits for transactions before proposing an empty block. */
    emptyBlockIntervalMs: number;
    /**
     * The shortest time from one commit to the next proposal, unless a full block waits: under
     * light load, transactions arriving within it share a block instead of each paying for a
     * whole round of consensus, signatures and synced writes.
     */
    minBlockIntervalMs: number;
    /**
     * Send this node's proposals to the validators as header + transaction hashes; they take the
     * transactions from their mempools and ask for the rest (chain/compact.ts). Receiving compact
     * proposals is always on; this only chooses how this node sends its own.
     */
    compactProposals: boolean;
    /**
     * Preview this node's blocks to the validators when their transactions are chosen, so they
     * execute them beside it instead of after it (chain/preview.ts). Receiving previews is
     * always on; this only chooses whether this node sends them.
     */
    blockPreviews: boolean;
  };
  block: {
    maxTxs: number;
    maxBytes: number;
    /** How far ahead of this node's clock a proposed block time may be. */
    maxFutureDriftMs: number;
  };
  mempool: MempoolOptions;
  /**
   * Worker threads that verify transaction signatures, for admission and for proposals'
   * transactions not seen before (verifier.ts); 0 verifies them on the event loop that runs
   * consensus, and admission then waits while a block is built, validated or committed.
   * Admission sends one slice at a time, so more than one worker speeds up only proposals.
   */
  admission: { verifyWorkers: number };
  log: { level: LogLevel };
  /**
   * The memory the state machine may keep, all its caches together (tree nodes, records, key
   * hashes). Bounds the node's memory whatever the state's size; only speed depends on it,
   * never a state root. 512 suits a validator with 2 GB.
   */
  cache: { stateMb: number };
  /** LevelDB tuning of the data directory's store. */
  leveldb: LevelOptions;
  /**
   * State snapshots written in the background (chain/snapshot.ts) into `<home>/snapshots`:
   * one at every height that is a multiple of `intervalBlocks` (0: none), the newest `keep`
   * kept.
   */
  snapshots: { intervalBlocks: number; keep: number };
  /**
   * How a node started on an empty data directory gets the chain: "blocks" replays every block
   * from genesis; "snapshot" fetches a peer's snapshot, verified (chain/state-sync.ts), then
   * block-syncs from its height. A node with a data directory always runs on from it.
   */
  sync: { mode: 'blocks' | 'snapshot' };
  /**
   * Pruning (chain/pruning.ts): keep the newest `keepBlocks` blocks with their receipts and
   * index entries and delete older ones in the background; 0 keeps every block.
   */
  pruning: { keepBlocks: number };
}

export const DEFAULT_CONFIG: Omit<NodeConfig, 'moniker'> = {
  genesisFile: 'genesis.json',
  nodeKeyFile: 'node-key.json',
  dataDir: 'data',
  p2p: { listen: ['/ip4/0.0.0.0/tcp/26656'], peers: [], observers: [], maxFrameBytes: 16 * 1024 * 1024 },
  rpc: {
    listen: '127.0.0.1:26657',
    tokens: [],
    metricsListen: '',
    maxBodyBytes: DEFAULT_RPC_LIMITS.maxBodyBytes,
    maxBatchLength: DEFAULT_RPC_LIMITS.maxBatchLength,
    maxConnections: DEFAULT_RPC_LIMITS.maxConnections,
    maxInFlightRequests: DEFAULT_RPC_LIMITS.maxInFlightRequests,
    corsOrigins: [],
  },
  consensus: {
    tickMs: 100,
    timeoutBaseTicks: 40,
    emptyBlockIntervalMs: 1_000,
    minBlockIntervalMs: 50,
    compactProposals: true,
    blockPreviews: true,
  },
  block: { maxTxs: 2_000, maxBytes: 4 * 1024 * 1024, maxFutureDriftMs: 10_000 },
  mempool: DEFAULT_MEMPOOL_OPTIONS,
  admission: { verifyWorkers: 1 },
  log: { level: 'info' },
  cache: { stateMb: 512 },
  leveldb: { ...DEFAULT_LEVEL_OPTIONS },
  snapshots: { intervalBlocks: 1_000, keep: 2 },
  sync: { mode: 'blocks' },
  pruning: { keepBlocks: 0 },
};

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Overlays `input` on `defaults`, checking every key and type against the defaults. */
function overlay(defaults: Json, input: unknown, path: string): Json {
  if (!isObject(input)) throw new ConfigError(`${path || 'config'} must be an object`);
  const out: Json = { ...defaults };
  for (const [key, value] of Object.entries(input)) {
    const where = path ? `${path}.${key}` : key;
    if (!Object.hasOwn(defaults, key)) throw new ConfigError(`unknown config field ${where}`);
    const fallback = defaults[key];
    if (isObject(fallback)) out[key] = overlay(fallback, value, where);
    else if (Array.isArray(fallback)) {
      if (!Array.isArray(value)) throw new ConfigError(`${where} must be an array`);
      out[key] = value;
    } else if (typeof fallback === 'number') {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new ConfigError(`${where} must be a non-negative integer`);
      }
      out[key] = value;
    } else if (typeof value !== typeof fallback) throw new ConfigError(`${where} must be a ${typeof fallback}`);
    else out[key] = value;
  }
  return out;
}

export function parseNodeConfig(input: unknown): NodeConfig {
  if (!isObject(input)) throw new ConfigError('config must be a JSON object');
  const { moniker, ...rest } = input;
  if (typeof moniker !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(moniker)) {
    throw new ConfigError('moniker must be 1-64 characters of letters, digits, ".", "_" or "-"');
  }
  // A copy: sections the input omits would otherwise be DEFAULT_CONFIG's own objects and
  // arrays, and an adjustment below (or a caller's change) would rewrite the defaults of every
  // node parsed after it in this process.
  const defaults = structuredClone(DEFAULT_CONFIG) as unknown as Json;
  const config = { moniker, ...overlay(defaults, rest, '') } as unknown as NodeConfig;
  for (const entry of config.rpc.tokens) {
    if (
      !isObject(entry) ||
      typeof entry.token !== 'string' ||
      entry.token.length < 16 ||
      !['read', 'submit'].includes(entry.scope as string)
    ) {
      throw new ConfigError(
        'rpc.tokens entries are { token: string of at least 16 characters, scope: "read" | "submit" }',
      );
    }
  }
  if (!isLogLevel(config.log.level)) throw new ConfigError('log.level must be debug, info, warn or error');
  if (config.rpc.listen !== '') parseHostPort(config.rpc.listen, 'rpc.listen');
  if (config.rpc.metricsListen !== '') parseHostPort(config.rpc.metricsListen, 'rpc.metricsListen');
  if (config.consensus.tickMs < 10) throw new ConfigError('consensus.tickMs must be at least 10');
  const { consensus } = config;
  // Unset, the minimum block interval never exceeds a shorter empty-block interval, so a
  // config written before the setting existed keeps its meaning.
  const explicitMin = (input.consensus as Json | undefined)?.minBlockIntervalMs !== undefined;
  if (!explicitMin)
    consensus.minBlockIntervalMs = Math.min(consensus.minBlockIntervalMs, consensus.emptyBlockIntervalMs);
  if (!(consensus.minBlockIntervalMs <= consensus.emptyBlockIntervalMs)) {
    throw new ConfigError('consensus.minBlockIntervalMs must be at most consensus.emptyBlockIntervalMs');
  }
  if (!(consensus.minBlockIntervalMs < consensus.timeoutBaseTicks * consensus.tickMs)) {
    throw new ConfigError(
      'consensus.minBlockIntervalMs must be shorter than the view timeout (timeoutBaseTicks × tickMs)',
    );
  }
  if (config.block.maxTxs < 1 || config.block.maxTxs > MAX_BLOCK_TXS) {
    throw new ConfigError(`block.maxTxs must be from 1 to ${MAX_BLOCK_TXS} (the protocol's limit)`);
  }
  if (config.block.maxBytes < 64 * 1024 || config.block.maxBytes > MAX_BLOCK_BYTES) {
    throw new ConfigError(`block.maxBytes must be from 65536 to ${MAX_BLOCK_BYTES} (the protocol's limit)`);
  }
  if (config.p2p.maxFrameBytes < MAX_BLOCK_BYTES + 1024 * 1024) {
    throw new ConfigError(
      `p2p.maxFrameBytes must be at least ${MAX_BLOCK_BYTES + 1024 * 1024}: a proposal carries a whole block`,
    );
  }
  const { mempool } = config;
  if (mempool.maxTxs < 1) throw new ConfigError('mempool.maxTxs must be at least 1');
  if (mempool.maxPerSender < 1) throw new ConfigError('mempool.maxPerSender must be at least 1');
  // 0 admits only each account's next nonce; a window wider than the pool itself would let
  // one account park the whole pool's worth of transactions that cannot execute yet.
  if (mempool.maxNonceAhead > mempool.maxTxs) {
    throw new ConfigError(`mempool.maxNonceAhead must be from 0 to mempool.maxTxs (${mempool.maxTxs})`);
  }
  if (config.admission.verifyWorkers > MAX_VERIFY_WORKERS) {
    throw new ConfigError(`admission.verifyWorkers must be from 0 to ${MAX_VERIFY_WORKERS}`);
  }
  if (config.snapshots.keep < 1) throw new ConfigError('snapshots.keep must be at least 1');
  if (config.sync.mode !== 'blocks' && config.sync.mode !== 'snapshot') {
    throw new ConfigError('sync.mode must be "blocks" or "snapshot"');
  }
  if (config.pruning.keepBlocks !== 0 && config.pruning.keepBlocks < MIN_KEEP_BLOCKS) {
    throw new ConfigError(`pruning.keepBlocks must be 0 (keep every block) or at least ${MIN_KEEP_BLOCKS}`);
  }
  const strings = (list: unknown[], where: string) => {
    if (!list.every((item) => typeof item === 'string')) throw new ConfigError(`${where} must hold strings`);
  };
  strings(config.p2p.listen, 'p2p.listen');
  strings(config.p2p.peers, 'p2p.peers');
  strings(config.p2p.observers, 'p2p.observers');
  return config;
}

export function parseHostPort(value: string, where: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match?.[1] || port > 65_535) throw new ConfigError(`${where} must be host:port, got "${value}"`);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

export const CONFIG_FILE = 'config.json';

export function loadNodeConfig(home: string): NodeConfig {
  const path = join(home, CONFIG_FILE);
  if (!existsSync(path)) throw new ConfigError(`no node config at ${path} (run autoledger init)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  // The schema names every problem at its JSON pointer; parseNodeConfig adds cross-field rules.
  const problems = configSchemaProblems(json, DEFAULT_CONFIG);
  if (problems.length > 0) throw new ConfigError(`invalid config ${path}: ${formatSchemaProblems(problems, '; ')}`);
  return parseNodeConfig(json);
}

export function resolveHomePath(home: string, path: string): string {
  return isAbsolute(path) ? path : join(home, path);
}
