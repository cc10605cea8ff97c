// The state machine over a KV store: executes blocks on an overlay of the committed state,
// hands the node the writes of a decided block for its atomic batch, and answers queries
// (with Merkle proofs on request) from the committed state.
//
// Queries read one store snapshot each (KVStore.snapshot), taken at a moment when the store
// holds exactly the committed head: a query sees one state however many blocks commit while
// it runs, and never starts over. Before snapshots, a query re-ran whenever a commit began
// during it, and a long one (a vehicle's whole history, a page of orders read from disk)
// could re-run for as long as blocks kept committing. A snapshot is the simplest correct
// answer: LevelDB keeps the versions a snapshot needs for as long as it is open, and every
// query closes its snapshot when it returns.
//
// Store layout: every key starts with the byte 0x53 ('S') and the state never reads or
// writes outside [0x53, 0x54). Under it: 'r' records, 't' tree nodes, 'm' metadata,
// 'i' order indexes, 'd' the deadline queue (see state-view.ts and indexes.ts).

import { bytesToHex, concatBytes, hexToBytes, isAddress, sha256, utf8ToBytes } from '@autoledger/crypto';
import { authorizeSigner } from './authorize.ts';
import { BytePool } from './byte-pool.ts';
import type { BlockEnv, TxEvent } from './context.ts';
import { assert, type ErrorCode } from './errors.ts';
import { executeTx, type Receipt, runDeadlines } from './execute.ts';
import type { Genesis } from './genesis.ts';
import {
  type GovernanceQueryRefusal,
  getProposal,
  listProposals,
  type ProposalJson,
  type ProposalPage,
  type ValidatorChangeJson,
  type ValidatorSetJson,
  validatorChanges,
  validatorSetAt,
  writeGenesisGovernance,
} from './governance.ts';
import {
  ALL_ORDERS_PREFIX,
  DEADLINE_PREFIX,
  historyCursor,
  INDEX_VERSION,
  INDEX_VERSION_KEY,
  type OrderFilter,
  orderCursor,
  orderFilterPrefix,
  orderIndexKeys,
  parseHistoryCursor,
  parseOrderCursor,
  prefixEnd,
  readUint64,
  uint64Bytes,
} from './indexes.ts';
import { KIND_BY_NAME } from './kinds/index.ts';
import type { KVOp, KVSnapshot, KVStore } from './kv.ts';
import { MAX_BLOCK_TIME_MS, MAX_NONCE_AHEAD } from './limits.ts';
import {
  type Account,
  accountCodec,
  accountToJson,
  type ChainParams,
  type Claim,
  type Codec,
  chainCodec,
  claimCodec,
  claimToJson,
  countersCodec,
  historyCodec,
  historyEntryToJson,
  ID_PREFIXES,
  keys,
  type ObserverEntry,
  ORDER_STATUSES,
  type Order,
  observerListCodec,
  orderCodec,
  orderToJson,
  type Policy,
  policyCodec,
  policyToJson,
  supplyCodec,
  vehicleCodec,
  vehicleToJson,
} from './records.ts';
import { proveVehicleRecords, type RecordProof, type VehicleProofBundle } from './report.ts';
import {
  type Child,
  decodeRootRef,
  encodeRootRef,
  hashOf,
  SparseMerkleTree,
  StaleTreeError,
  TreeNodeCache,
} from './smt.ts';
import { proofToJson } from './smt-proof.ts';
import {
  ByteBudgetLru,
  CommittedRecords,
  META_SPACE,
  type RecordWrite,
  recordStoreKey,
  SnapshotRecords,
  STATE_PREFIX,
  TREE_SPACE,
  WriteLayer,
} from './state-view.ts';
import type { DecodedTx } from './tx.ts';
import { isVinSyntax } from './vin.ts';

export interface LedgerOptions {
  /**
   * The memory budget of every state cache together, in bytes (config `cache.stateMb`):
   * default 512 MiB, sized for a validator with 2 GB of memory. It is shared out by
   * STATE_CACHE_SHARES; the memory the state keeps does not grow with the state's size.
   * What the caches hold changes speed only: the same blocks give the same state root
   * whatever the budget.
   */
  cacheBytes?: number;
  /** Most decoded records kept in memory, on top of their byte budget (tests use 0 or 1). */
  recordCacheSize?: number;
  /**
   * Tree nodes at level ≤ this stay in memory as objects once read (16^level nodes at most);
   * deeper ones go through the byte-budgeted node cache. Default: from the budget (3 from
   * 64 MiB: at most 4,369 nodes, about 20 MB).
   */
  treeCacheLevel?: number;
}

export const DEFAULT_STATE_CACHE_BYTES = 512 * 1024 * 1024;
/**
 * How the state's budget is shared: tree nodes (encodings in one byte arena), decoded
 * records, key hashes; the rest covers the pinned top of the tree (treeCacheLevel).
 */
export const STATE_CACHE_SHARES = { treeNodes: 0.5, records: 0.4, keyHashes: 0.04 } as const;

/** The deepest pinned tree level a budget affords (level 3 holds about 20 MB of objects). */
function treeCacheLevelFor(cacheBytes: number): number {
  if (cacheBytes >= 64 * 1024 * 1024) return 3;
  if (cacheBytes >= 4 * 1024 * 1024) return 2;
  return 1;
}
/** The state's metadata key of its head (height, time, root); snapshot-state.ts reads and writes it too. */
export const HEAD_KEY = concatBytes(new Uint8Array([STATE_PREFIX, META_SPACE]), utf8ToBytes('head'));
const TREE_PREFIX = new Uint8Array([STATE_PREFIX, TREE_SPACE]);

/**
 * Page sizes of the list queries: `limit` defaults to `default` and may not exceed `max`.
 * A vehicle's history defaults to the largest page so that a client that does not page gets
 * the whole history of any vehicle with up to that many entries, as it always did.
 */
export const QUERY_LIMITS = {
  orders: { default: 100, max: 1000 },
  history: { default: 1000, max: 1000 },
} as const;

/** Why a list query was refused; nothing was read past the cheap checks. */
export type QueryRefusal = {
  ok: false;
  code: 'LIMIT_OUT_OF_RANGE' | 'BAD_CURSOR' | 'ABORTED';
  message: string;
};

export interface OrderPage {
  ok: true;
  orders: ReturnType<typeof orderToJson>[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

export interface HistoryPage {
  ok: true;
  /** Undefined when there is no such vehicle. */
  vehicle: ReturnType<typeof vehicleToJson> | undefined;
  events: ReturnType<typeof historyEntryToJson>[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

export interface ProvenHistory {
  ok: true;
  history: {
    vehicle: ReturnType<typeof vehicleToJson>;
    events: ReturnType<typeof historyEntryToJson>[];
    proof: VehicleProofBundle;
  } | null;
}

/** Thrown inside a snapshot read when its request has given up; becomes an ABORTED refusal. */
class QueryAborted extends Error {}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new QueryAborted('the query was abandoned');
}

const ABORTED: QueryRefusal = {
  ok: false,
  code: 'ABORTED',
  message: 'the query was abandoned (its request timed out)',
};
const BAD_CURSOR: QueryRefusal = {
  ok: false,
  code: 'BAD_CURSOR',
  message: 'after is not a cursor this query returned',
};

/** One snapshot of the committed state: its head, its records and a tree that reads it. */
interface StateSnapshot {
  head: Head;
  records: SnapshotRecords;
  kv: KVSnapshot;
  tree: SparseMerkleTree;
}

/** A snapshot as a store for the tree's reads; it is never written. */
function readOnlyStore(snapshot: KVSnapshot): KVStore {
  const refuse = async (): Promise<never> => {
    throw new Error('a snapshot is read-only');
  };
  return {
    get: (key) => snapshot.get(key),
    iterate: (range) => snapshot.iterate(range),
    put: refuse,
    del: refuse,
    batch: refuse,
    snapshot: () => ({
      get: (key) => snapshot.get(key),
      iterate: (range) => snapshot.iterate(range),
      close: async () => {},
    }),
  };
}

function checkLimit(limit: number | undefined, bounds: { default: number; max: number }): number | QueryRefusal {
  if (limit === undefined) return bounds.default;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > bounds.max) {
    return { ok: false, code: 'LIMIT_OUT_OF_RANGE', message: `limit must be an integer from 1 to ${bounds.max}` };
  }
  return limit;
}

export type CheckResult = { ok: true; accountNonce: number } | { ok: false; code: ErrorCode; message: string };

/** Which records a block changed, for notifications (WebSocket topics). */
export interface ChangedRecords {
  accounts: string[];
  vehicles: string[];
  orders: string[];
  policies: string[];
  claims: string[];
}

/** What executing a block produced, held until the node commits it or drops it. */
export class ExecutionOverlay {
  readonly ledger: Ledger;
  readonly baseHeight: number;
  readonly root: Child;
  /** The store operations, encoded when the block commits. */
  readonly ops: () => KVOp[];
  readonly writes: ReadonlyMap<string, RecordWrite>;
  constructor(
    ledger: Ledger,
    baseHeight: number,
    root: Child,
    ops: () => KVOp[],
    writes: ReadonlyMap<string, RecordWrite>,
  ) {
    this.ledger = ledger;
    this.baseHeight = baseHeight;
    this.root = root;
    this.ops = ops;
    this.writes = writes;
  }
}

export interface BlockExecutionOk {
  ok: true;
  height: number;
  time: number;
  stateRoot: Uint8Array;
  receipts: Receipt[];
  /** Events of the automatic block-time transitions, which run before the transactions. */
  systemEvents: TxEvent[];
  changed: ChangedRecords;
  /** Opaque: pass the execution back to commit/committed. */
  overlay: ExecutionOverlay;
}

/** Why a block cannot execute at all (a transaction's own failure is a receipt code instead). */
export type BlockRefusalCode =
  | 'BAD_HEIGHT'
  | 'BAD_TIME'
  | 'WRONG_CHAIN'
  | 'UNKNOWN_KIND'
  | 'UNKNOWN_SIGNER'
  | 'BAD_NONCE'
  | 'EXECUTION_FAILED';

export type BlockExecution =
  | BlockExecutionOk
  | { ok: false; code: BlockRefusalCode; message: string; txIndex?: number };

export interface Head {
  height: number;
  time: number;
  root: Child;
}

export function encodeHead(head: Head): Uint8Array {
  return utf8ToBytes(
    JSON.stringify({ height: head.height, time: head.time, root: bytesToHex(encodeRootRef(head.root)) }),
  );
}

export function decodeHead(bytes: Uint8Array): Head {
  const json = JSON.parse(new TextDecoder().decode(bytes)) as { height: number; time: number; root: string };
  return { height: json.height, time: json.time, root: decodeRootRef(hexToBytes(json.root)) };
}

/** Key hashes are needed for every write; hot keys (accounts, vehicles) repeat block after block. */
class KeyHashes {
  readonly #cache: ByteBudgetLru<Uint8Array>;
  constructor(budgetBytes: number) {
    this.#cache = new ByteBudgetLru(budgetBytes);
  }
  get(key: string): Uint8Array {
    let hash = this.#cache.get(key);
    if (hash === undefined) {
      hash = sha256(utf8ToBytes(key));
      // The key string, the hash and its typed array, the entry.
      this.#cache.set(key, hash, 2 * key.length + 160);
    }
    return hash;
  }
}

/** Record keys named by a transaction's fields, and the codec each is read with. */
const PREFETCH_FIELDS: readonly [field: string, keyOf: (id: string) => string, codec: Codec<unknown>][] = [
  ['vin', keys.vehicle, vehicleCodec as Codec<unknown>],
  ['to', keys.account, accountCodec as Codec<unknown>],
  ['address', keys.account, accountCodec as Codec<unknown>],
  ['seller', keys.account, accountCodec as Codec<unknown>],
  ['owner', keys.account, accountCodec as Codec<unknown>],
  ['holder', keys.account, accountCodec as Codec<unknown>],
  ['lienholder', keys.account, accountCodec as Codec<unknown>],
  ['orderId', keys.order, orderCodec as Codec<unknown>],
  ['policyId', keys.policy, policyCodec as Codec<unknown>],
  ['claimId', keys.claim, claimCodec as Codec<unknown>],
];

/**
 * The records a block's transactions will probably read: signers, and the accounts,
 * vehicles, orders, policies and claims their fields name. A guess that only warms the
 * cache: a record missed is read during execution, one not needed costs a cache slot.
 */
function prefetchRequests(txs: readonly DecodedTx[]): { key: string; codec: Codec<unknown> }[] {
  const requests: { key: string; codec: Codec<unknown> }[] = [
    { key: keys.supply, codec: supplyCodec as Codec<unknown> },
    { key: keys.counters, codec: countersCodec as Codec<unknown> },
  ];
  for (const tx of txs) {
    requests.push({ key: keys.account(tx.signerAddress), codec: accountCodec as Codec<unknown> });
    for (const [field, keyOf, codec] of PREFETCH_FIELDS) {
      const value = tx.fields[field];
      if (typeof value === 'string' && value.length > 0 && value.length <= 128)
        requests.push({ key: keyOf(value), codec });
    }
  }
  return requests;
}

/**
 * Turns a set of record writes into store operations: the records, the tree nodes and the
 * order indexes. Shared by genesis and by every block.
 */
async function writeOps(
  writes: ReadonlyMap<string, RecordWrite>,
  committed: CommittedRecords,
  tree: SparseMerkleTree,
  keyHashes: KeyHashes,
  baseRoot: Child,
  params: ChainParams,
): Promise<{ root: Child; ops: () => KVOp[] }> {
  // The record bytes are needed now (their hashes go into the tree); the store operations
  // only when the block commits.
  const encoded: { key: string; bytes: Uint8Array | null }[] = [];
  // The orders' previous versions (their index keys change): read together first.
  await committed.prefetch(
    [...writes]
      .filter(([, write]) => write.codec === (orderCodec as unknown))
      .map(([key]) => ({ key, codec: orderCodec as Codec<unknown> })),
  );
  const updates: { keyHash: Uint8Array; valueHash: Uint8Array | null }[] = [];
  const indexOps = new Map<string, KVOp>();
  const pool = new BytePool();
  for (const [key, write] of writes) {
    const bytes = write.value === null ? null : pool.utf8(write.codec.text(write.value));
    write.encodedBytes = bytes?.length ?? 0;
    encoded.push({ key, bytes });
    updates.push({ keyHash: keyHashes.get(key), valueHash: bytes === null ? null : sha256(bytes) });
    if (write.codec === (orderCodec as unknown)) {
      const before = await committed.read(key, orderCodec);
      const after = write.value as Order | null;
      const oldKeys = before === null ? [] : orderIndexKeys(before, params.deliveryGraceMs);
      const newKeys = after === null ? [] : orderIndexKeys(after, params.deliveryGraceMs);
      const kept = new Set(newKeys.map(bytesToHex));
      for (const old of oldKeys)
        if (!kept.has(bytesToHex(old))) indexOps.set(bytesToHex(old), { type: 'del', key: old });
      for (const added of newKeys)
        indexOps.set(bytesToHex(added), { type: 'put', key: added, value: new Uint8Array(0) });
    }
  }
  const result = await tree.update(baseRoot, updates);
  const ops = (): KVOp[] => {
    // Each key appears once, so the order of these operations does not matter.
    const recordOps: KVOp[] = encoded.map(({ key, bytes }) =>
      bytes === null
        ? { type: 'del', key: recordStoreKey(key) }
        : { type: 'put', key: recordStoreKey(key), value: bytes },
    );
    return [...recordOps, ...indexOps.values(), ...result.ops()];
  };
  return { root: result.root, ops };
}

function changedRecords(writes: ReadonlyMap<string, RecordWrite>): ChangedRecords {
  const sets = {
    account: new Set<string>(),
    vehicle: new Set<string>(),
    order: new Set<string>(),
    policy: new Set<string>(),
    claim: new Set<string>(),
  };
  for (const key of writes.keys()) {
    const [space, id] = key.split('/') as [string, string];
    if (space in sets) sets[space as keyof typeof sets].add(id);
  }
  const sorted = (set: Set<string>) => [...set].sort();
  return {
    accounts: sorted(sets.account),
    vehicles: sorted(sets.vehicle),
    orders: sorted(sets.order),
    policies: sorted(sets.policy),
    claims: sorted(sets.claim),
  };
}

/**
 * Writes the height-0 state of `genesis` in one batch. Refuses a store that already holds a
 * state.
 */
export async function initGenesisState(
  kv: KVStore,
  genesis: Genesis,
  options: LedgerOptions = {},
): Promise<{ stateRoot: Uint8Array }> {
  if (await Ledger.isInitialised(kv)) throw new Error('the store already holds a state');
  const layer = new WriteLayer({ read: async () => null });
  const memberAddresses = new Set(genesis.members.map((member) => member.address));
  const account = (fields: Pick<Account, 'address' | 'roles' | 'name' | 'balance' | 'kycHash'>): Account => ({
    ...fields,
    nonce: 0,
    frozen: false,
    reputationCount: 0,
    reputationSum: 0,
    registeredHeight: 0,
  });
  for (const validator of genesis.validators) {
    if (memberAddresses.has(validator.address)) continue; // the member entry defines the account
    layer.write(
      keys.account(validator.address),
      accountCodec,
      account({
        address: validator.address,
        roles: [validator.role],
        name: validator.name,
        balance: 0n,
        kycHash: null,
      }),
    );
  }
  let minted = 0n;
  for (const member of genesis.members) {
    const balance = BigInt(member.balance);
    minted += balance;
    layer.write(
      keys.account(member.address),
      accountCodec,
      account({ address: member.address, roles: member.roles, name: member.name, balance, kycHash: member.kycHash }),
    );
  }
  layer.write(keys.supply, supplyCodec, { minted, burned: 0n, escrow: 0n });
  layer.write(keys.counters, countersCodec, { orders: 0, policies: 0, claims: 0 });
  layer.write(keys.chain, chainCodec, {
    chainId: genesis.chainId,
    genesisTime: genesis.genesisTime,
    params: genesis.params,
  });
  writeGenesisGovernance(layer, genesis);
  const tree = new SparseMerkleTree(kv, TREE_PREFIX, options.treeCacheLevel ?? 0);
  const committed = new CommittedRecords(kv, 0);
  const { root, ops } = await writeOps(layer.writes, committed, tree, new KeyHashes(0), null, genesis.params);
  await kv.batch([
    ...ops(),
    { type: 'put', key: HEAD_KEY, value: encodeHead({ height: 0, time: genesis.genesisTime, root }) },
    { type: 'put', key: INDEX_VERSION_KEY, value: utf8ToBytes(String(INDEX_VERSION)) },
  ]);
  return { stateRoot: new Uint8Array(hashOf(root)) };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** History entries read from the store at once by a page (bounded; see SnapshotRecords.readMany). */
const HISTORY_READ_BATCH = 64;

export class Ledger {
  readonly chainId: string;
  readonly genesisTime: number;
  readonly params: ChainParams;
  readonly #kv: KVStore;
  readonly #records: CommittedRecords;
  readonly #tree: SparseMerkleTree;
  /** Deep tree nodes by hash, shared by execution and every query's snapshot tree. */
  readonly #nodeCache: TreeNodeCache;
  readonly #keyHashes: KeyHashes;
  #head: Head;
  /** Changes whenever a commit starts or ends, so a read can tell it raced one. */
  #epoch = 0;
  #pending: BlockExecutionOk | undefined;
  #barrier: Promise<void> = Promise.resolve();
  #release: () => void = () => {};

  private constructor(
    kv: KVStore,
    head: Head,
    chain: { chainId: string; genesisTime: number; params: ChainParams },
    options: LedgerOptions,
  ) {
    this.#kv = kv;
    this.#head = head;
    this.chainId = chain.chainId;
    this.genesisTime = chain.genesisTime;
    this.params = chain.params;
    const cacheBytes = options.cacheBytes ?? DEFAULT_STATE_CACHE_BYTES;
    this.#records = new CommittedRecords(kv, cacheBytes * STATE_CACHE_SHARES.records, options.recordCacheSize);
    this.#nodeCache = new TreeNodeCache(cacheBytes * STATE_CACHE_SHARES.treeNodes);
    this.#keyHashes = new KeyHashes(cacheBytes * STATE_CACHE_SHARES.keyHashes);
    this.#tree = new SparseMerkleTree(
      kv,
      TREE_PREFIX,
      options.treeCacheLevel ?? treeCacheLevelFor(cacheBytes),
      this.#nodeCache,
    );
  }

  static async isInitialised(kv: KVStore): Promise<boolean> {
    return (await kv.get(HEAD_KEY)) !== undefined;
  }

  /** Opens the committed state of a store that initGenesisState (and commits) wrote. */
  static async open(kv: KVStore, options: LedgerOptions = {}): Promise<Ledger> {
    const headBytes = await kv.get(HEAD_KEY);
    if (headBytes === undefined) throw new Error('the store holds no state: write genesis first (initGenesisState)');
    const head = decodeHead(headBytes);
    const chainBytes = await kv.get(recordStoreKey(keys.chain));
    assert(chainBytes !== undefined, 'an initialised state has its chain record');
    const ledger = new Ledger(kv, head, chainCodec.decode(chainBytes), options);
    ledger.#head = { ...head, root: await ledger.#tree.loadRoot(head.root) };
    await ledger.#completeIndexes();
    return ledger;
  }

  /**
   * Adds the index keys a store written by an older version lacks (the combined order
   * indexes), once: every index key is derived from its order alone, so writing them again is
   * harmless, and the version marker goes last. Indexes are outside the state root.
   */
  async #completeIndexes(): Promise<void> {
    const marker = await this.#kv.get(INDEX_VERSION_KEY);
    if (marker !== undefined && Number(new TextDecoder().decode(marker)) >= INDEX_VERSION) return;
    const CHUNK = 5_000;
    let ops: KVOp[] = [];
    for await (const [key] of this.#kv.iterate({ gte: ALL_ORDERS_PREFIX, lt: prefixEnd(ALL_ORDERS_PREFIX) })) {
      const orderId = `${ID_PREFIXES.orders}${readUint64(key, key.length - 8)}`;
      const bytes = await this.#kv.get(recordStoreKey(keys.order(orderId)));
      assert(bytes !== undefined, `indexed order ${orderId} exists`);
      for (const indexKey of orderIndexKeys(orderCodec.decode(bytes), this.params.deliveryGraceMs))
        ops.push({ type: 'put', key: indexKey, value: new Uint8Array(0) });
      if (ops.length >= CHUNK) {
        await this.#kv.batch(ops);
        ops = [];
      }
    }
    ops.push({ type: 'put', key: INDEX_VERSION_KEY, value: utf8ToBytes(String(INDEX_VERSION)) });
    await this.#kv.batch(ops);
  }

  /** Height of the last committed block (0: genesis). */
  get height(): number {
    return this.#head.height;
  }

  /** Time of the last committed block (the genesis time at height 0). */
  get time(): number {
    return this.#head.time;
  }

  get stateRoot(): Uint8Array {
    return new Uint8Array(hashOf(this.#head.root));
  }

  /**
   * The mempool's admission check against the committed state: chain, registered and unfrozen
   * signer, role allowed for the kind, the VIN check digit for a registration, and a nonce not
   * already used nor more than `maxNonceAhead` (default MAX_NONCE_AHEAD) past the account's
   * next one. Everything here is cheap (one cached record read), so the caller runs it BEFORE
   * the signature check (verifyTxSignature), which is the expensive part of admission.
   */
  async checkTx(tx: DecodedTx, options: { maxNonceAhead?: number } = {}): Promise<CheckResult> {
    if (tx.chainId !== this.chainId)
      return { ok: false, code: 'WRONG_CHAIN', message: `this is chain ${this.chainId}` };
    const kind = KIND_BY_NAME.get(tx.kind);
    if (kind === undefined) return { ok: false, code: 'UNKNOWN_KIND', message: `unknown kind ${tx.kind}` };
    const account = await this.#consistent(async () =>
      this.#records.read(keys.account(tx.signerAddress), accountCodec),
    );
    if (account === null)
      return { ok: false, code: 'UNKNOWN_SIGNER', message: `${tx.signerAddress} is not a registered account` };
    const authorization = authorizeSigner(account, kind, tx.fields);
    if (!authorization.ok) return { ok: false, code: authorization.code, message: authorization.message };
    if (tx.nonce < account.nonce) {
      return {
        ok: false,
        code: 'BAD_NONCE',
        message: `nonce ${tx.nonce} is used; the account's next nonce is ${account.nonce}`,
      };
    }
    const maxNonceAhead = options.maxNonceAhead ?? MAX_NONCE_AHEAD;
    if (tx.nonce > account.nonce + maxNonceAhead) {
      return {
        ok: false,
        code: 'NONCE_TOO_FAR',
        message: `nonce ${tx.nonce} is more than ${maxNonceAhead} ahead of the account's next nonce ${account.nonce}`,
      };
    }
    const refused = kind.admit?.(tx.fields, this.params);
    if (refused !== undefined) return { ok: false, code: refused.code, message: refused.message };
    return { ok: true, accountNonce: account.nonce };
  }

  /**
   * Executes a block on an overlay of the committed state. Changes nothing: the result is
   * committed with commit/committed, or dropped. Signatures must have been verified.
   */
  async executeBlock(block: { height: number; time: number; txs: readonly DecodedTx[] }): Promise<BlockExecution> {
    assert(this.#pending === undefined, 'no block executes while a commit is being written');
    const epoch = this.#epoch;
    const base = this.#head;
    if (block.height !== base.height + 1) {
      return { ok: false, code: 'BAD_HEIGHT', message: `the next block is ${base.height + 1}, not ${block.height}` };
    }
    if (!Number.isSafeInteger(block.time) || block.time <= base.time) {
      return { ok: false, code: 'BAD_TIME', message: `block time ${block.time} is not after ${base.time}` };
    }
    // Every deadline derived from a block time must stay a storable time.
    if (block.time > MAX_BLOCK_TIME_MS) {
      return { ok: false, code: 'BAD_TIME', message: `block time ${block.time} is after ${MAX_BLOCK_TIME_MS}` };
    }
    const env: BlockEnv = { chainId: this.chainId, height: block.height, time: block.time, params: this.params };
    // One batched read of what the transactions will touch, so that execution runs on the
    // cache instead of awaiting one store read at a time.
    await this.#records.prefetch(prefetchRequests(block.txs));
    const layer = new WriteLayer(this.#records);
    let systemEvents: TxEvent[];
    try {
      systemEvents = await runDeadlines(layer, env, await this.#dueOrders(block.time));
    } catch (error) {
      return { ok: false, code: 'EXECUTION_FAILED', message: `block-time transitions: ${errorMessage(error)}` };
    }
    const receipts: Receipt[] = [];
    for (const [index, tx] of block.txs.entries()) {
      const invalid = (code: BlockRefusalCode, message: string): BlockExecution => ({
        ok: false,
        code,
        message,
        txIndex: index,
      });
      if (tx.chainId !== this.chainId) return invalid('WRONG_CHAIN', `transaction for chain ${tx.chainId}`);
      if (!KIND_BY_NAME.has(tx.kind)) return invalid('UNKNOWN_KIND', `unknown kind ${tx.kind}`);
      const signer = await layer.read(keys.account(tx.signerAddress), accountCodec);
      if (signer === null) return invalid('UNKNOWN_SIGNER', `${tx.signerAddress} is not a registered account`);
      if (tx.nonce !== signer.nonce) {
        return invalid('BAD_NONCE', `nonce ${tx.nonce} from ${tx.signerAddress}; the next nonce is ${signer.nonce}`);
      }
      // The nonce is used whatever the transaction's fate.
      const advanced = { ...signer, nonce: signer.nonce + 1 };
      layer.write(keys.account(signer.address), accountCodec, advanced);
      // Admission and the kinds' own checks keep every admitted transaction from throwing. If
      // one still does (a bug, a damaged record), the block is refused and names it, so that
      // a proposer drops that transaction instead of failing every proposal, and a validator
      // refuses the block instead of crashing. A transaction's writes reach the block only
      // when it succeeds, so nothing of it is left behind.
      try {
        receipts.push(await executeTx(layer, env, tx, advanced));
      } catch (error) {
        return invalid('EXECUTION_FAILED', `transaction ${tx.hashHex} failed to execute: ${errorMessage(error)}`);
      }
    }
    const { root, ops } = await writeOps(
      layer.writes,
      this.#records,
      this.#tree,
      this.#keyHashes,
      base.root,
      this.params,
    );
    const head = { height: block.height, time: block.time, root };
    assert(this.#epoch === epoch, 'the committed state did not change while a block executed');
    return {
      ok: true,
      height: block.height,
      time: block.time,
      stateRoot: new Uint8Array(hashOf(root)),
      receipts,
      systemEvents,
      // Computed when asked for: only notifications need it, after the commit.
      get changed() {
        return changedRecords(layer.writes);
      },
      overlay: new ExecutionOverlay(
        this,
        base.height,
        root,
        () => [...ops(), { type: 'put', key: HEAD_KEY, value: encodeHead(head) }],
        layer.writes,
      ),
    };
  }

  /** Orders whose deadline is before `time`, in deadline order then order number. */
  async #dueOrders(time: number): Promise<string[]> {
    const due: string[] = [];
    const lt = concatBytes(DEADLINE_PREFIX, uint64Bytes(time));
    for await (const [key] of this.#kv.iterate({ gte: DEADLINE_PREFIX, lt })) {
      due.push(`${ID_PREFIXES.orders}${readUint64(key, DEADLINE_PREFIX.length + 8)}`);
    }
    return due;
  }

  /**
   * Begins committing an executed block: returns its store writes, for the node's atomic batch
   * (with its own block, receipts...), and holds queries back until `finishCommit`, called once
   * that batch is durable. It writes nothing itself.
   */
  beginCommit(execution: BlockExecutionOk): KVOp[] {
    const { overlay } = execution;
    assert(overlay.ledger === this, 'the execution belongs to this ledger');
    assert(this.#pending === undefined, 'one commit at a time');
    assert(overlay.baseHeight === this.#head.height, 'the execution was built on the committed state');
    this.#pending = execution;
    this.#epoch++;
    this.#barrier = new Promise((resolve) => {
      this.#release = resolve;
    });
    return overlay.ops();
  }

  /** Advances the committed state once the batch from `beginCommit` is durable. */
  finishCommit(execution: BlockExecutionOk): void {
    assert(this.#pending === execution, 'finishCommit follows beginCommit of the same execution');
    const { overlay } = execution;
    this.#head = { height: execution.height, time: execution.time, root: overlay.root };
    for (const [key, write] of overlay.writes) this.#records.remember(key, write.value, write.encodedBytes);
    this.#pending = undefined;
    this.#epoch++;
    this.#release();
  }

  /**
   * Runs a read of the committed state so that it sees one state: it waits out a commit in
   * progress and starts over if one began meanwhile (reads are asynchronous). Admission uses
   * it for its one cached record read; queries read a snapshot instead (#atSnapshot).
   */
  async #consistent<T>(read: () => Promise<T>): Promise<T> {
    for (;;) {
      await this.#barrier;
      const epoch = this.#epoch;
      try {
        const result = await read();
        if (epoch === this.#epoch) return result;
      } catch (error) {
        if (!(error instanceof StaleTreeError) || epoch === this.#epoch) throw error;
      }
    }
  }

  /**
   * Runs `read` on one snapshot of the committed state, whatever commits meanwhile. The
   * snapshot is taken when no commit is in progress, so the store holds exactly the head:
   * between `beginCommit` and `finishCommit` it may hold the next block's writes already.
   */
  async #atSnapshot<T>(read: (state: StateSnapshot) => Promise<T>): Promise<T> {
    while (this.#pending !== undefined) await this.#barrier;
    const head = this.#head;
    const epoch = this.#epoch;
    const kv = this.#kv.snapshot();
    try {
      // Nodes the head keeps in memory are that version's (the tree is persistent); the
      // rest come from the snapshot, and none is kept.
      const tree = new SparseMerkleTree(readOnlyStore(kv), TREE_PREFIX, -1, this.#nodeCache);
      const records = new SnapshotRecords(kv, this.#records, () => this.#epoch === epoch);
      return await read({ head, records, kv, tree });
    } finally {
      await kv.close();
    }
  }

  /** A proof for one record key against a snapshot's root (inclusion or non-inclusion). */
  async #proveKey(key: string, state: StateSnapshot): Promise<RecordProof> {
    const { proof } = await state.tree.prove(state.head.root, this.#keyHashes.get(key));
    const bytes = await state.kv.get(recordStoreKey(key));
    return { key, value: bytes === undefined ? null : bytesToHex(bytes), proof: proofToJson(proof) };
  }

  async #withProof<T extends object>(
    key: string,
    value: T | null,
    prove: boolean | undefined,
    state: StateSnapshot,
  ): Promise<(T & { proof?: RecordProof & { height: number; stateRoot: string } }) | null> {
    if (value === null || !prove) return value;
    const { head } = state;
    const proof = await this.#proveKey(key, state);
    return { ...value, proof: { height: head.height, stateRoot: bytesToHex(hashOf(head.root)), ...proof } };
  }

  /** Any record with its proof, or its absence proven. */
  proveRecord(key: string): Promise<RecordProof & { height: number; stateRoot: string }> {
    return this.#atSnapshot(async (state) => ({
      height: state.head.height,
      stateRoot: bytesToHex(hashOf(state.head.root)),
      ...(await this.#proveKey(key, state)),
    }));
  }

  getAccount(address: string, options: { prove?: boolean } = {}) {
    return this.#atSnapshot(async (state) => {
      const account = await state.records.read(keys.account(address), accountCodec);
      return this.#withProof(
        keys.account(address),
        account === null ? null : accountToJson(account),
        options.prove,
        state,
      );
    });
  }

  getVehicle(vin: string, options: { prove?: boolean } = {}) {
    return this.#atSnapshot(async (state) => {
      const vehicle = await state.records.read(keys.vehicle(vin), vehicleCodec);
      return this.#withProof(keys.vehicle(vin), vehicle === null ? null : vehicleToJson(vehicle), options.prove, state);
    });
  }

  /**
   * The vehicle and every history entry, oldest first; with `prove`, the full proof bundle.
   * Unbounded (a history only grows): the RPC serves histories in pages (getHistoryPage) and
   * proven ones with a request's signal (getHistoryProven).
   */
  async getHistory(vin: string, options: { prove?: boolean } = {}) {
    if (options.prove) {
      const proven = await this.getHistoryProven(vin);
      return proven.ok ? proven.history : null;
    }
    const page = await this.#historyPage(vin, 0, Number.MAX_SAFE_INTEGER, undefined);
    return page.ok && page.vehicle !== undefined ? { vehicle: page.vehicle, events: page.events } : null;
  }

  /**
   * A vehicle's record with every history entry and the proof bundle that makes them
   * verifiable (complete, against one state root); history null when there is no such
   * vehicle. Checks `signal` between proofs: work stops when the request gives up.
   */
  async getHistoryProven(vin: string, options: { signal?: AbortSignal } = {}): Promise<ProvenHistory | QueryRefusal> {
    if (options.signal?.aborted) return ABORTED;
    try {
      return await this.#atSnapshot(async (state) => {
        const { head } = state;
        const { bundle, report } = await proveVehicleRecords(
          vin,
          (key) => {
            checkAborted(options.signal);
            return this.#proveKey(key, state);
          },
          { height: head.height, stateRoot: bytesToHex(hashOf(head.root)) },
        );
        const history =
          report?.vehicle == null ? null : { vehicle: report.vehicle, events: report.history, proof: bundle };
        return { ok: true as const, history };
      });
    } catch (error) {
      if (error instanceof QueryAborted) return ABORTED;
      throw error;
    }
  }

  /**
   * One page of a vehicle's history, oldest first: at most `limit` entries (default and
   * maximum in QUERY_LIMITS.history) after the cursor `after`, and `next` when more follow;
   * `vehicle` undefined when there is no such vehicle. Entries are only ever appended, so
   * pages read while blocks commit fit together without gaps or repeats. Checks `signal`
   * between entries.
   */
  async getHistoryPage(
    vin: string,
    options: { limit?: number; after?: string | undefined; signal?: AbortSignal } = {},
  ): Promise<HistoryPage | QueryRefusal> {
    const limit = checkLimit(options.limit, QUERY_LIMITS.history);
    if (typeof limit !== 'number') return limit;
    let start = 0;
    if (options.after !== undefined) {
      const after = parseHistoryCursor(options.after);
      if (after === undefined) return BAD_CURSOR;
      start = after + 1;
    }
    return this.#historyPage(vin, start, limit, options.signal);
  }

  async #historyPage(
    vin: string,
    start: number,
    limit: number,
    signal: AbortSignal | undefined,
  ): Promise<HistoryPage | QueryRefusal> {
    if (signal?.aborted) return ABORTED;
    try {
      // One snapshot: the vehicle record and its entries are of one state.
      return await this.#atSnapshot(async ({ records }) => {
        const vehicle = await records.read(keys.vehicle(vin), vehicleCodec);
        if (vehicle === null) return { ok: true as const, vehicle: undefined, events: [] };
        const end = Math.min(vehicle.historyCount, start + limit);
        const events: ReturnType<typeof historyEntryToJson>[] = [];
        for (let from = start; from < end; from += HISTORY_READ_BATCH) {
          checkAborted(signal);
          const indices = Array.from({ length: Math.min(HISTORY_READ_BATCH, end - from) }, (_, i) => from + i);
          const entries = await records.readMany(
            indices.map((index) => keys.history(vin, index)),
            historyCodec,
          );
          entries.forEach((entry, i) => {
            assert(entry !== null, `history entry ${indices[i]} of ${vin} exists`);
            events.push(historyEntryToJson(entry));
          });
        }
        const page: HistoryPage = { ok: true, vehicle: vehicleToJson(vehicle), events };
        if (end < vehicle.historyCount) page.next = historyCursor(end - 1);
        return page;
      });
    } catch (error) {
      if (error instanceof QueryAborted) return ABORTED;
      throw error;
    }
  }

  /**
   * Everything a vehicle report needs, each record with an inclusion or non-inclusion proof
   * against the committed state root: the record, every history entry, and the stolen, lien
   * and brand facts. `height` names the block whose header carries the root.
   */
  proveVehicle(vin: string): Promise<VehicleProofBundle> {
    return this.#atSnapshot(async (state) => {
      const { head } = state;
      const { bundle } = await proveVehicleRecords(vin, (key) => this.#proveKey(key, state), {
        height: head.height,
        stateRoot: bytesToHex(hashOf(head.root)),
      });
      return bundle;
    });
  }

  getOrder(orderId: string, options: { prove?: boolean } = {}) {
    return this.#atSnapshot(async (state) => {
      const order = await state.records.read(keys.order(orderId), orderCodec);
      return this.#withProof(
        keys.order(orderId),
        order === null ? null : orderToJson(order, this.params.deliveryGraceMs),
        options.prove,
        state,
      );
    });
  }

  getPolicy(policyId: string, options: { prove?: boolean } = {}) {
    return this.#atSnapshot(async (state) => {
      const policy: Policy | null = await state.records.read(keys.policy(policyId), policyCodec);
      return this.#withProof(
        keys.policy(policyId),
        policy === null ? null : policyToJson(policy),
        options.prove,
        state,
      );
    });
  }

  getClaim(claimId: string, options: { prove?: boolean } = {}) {
    return this.#atSnapshot(async (state) => {
      const claim: Claim | null = await state.records.read(keys.claim(claimId), claimCodec);
      return this.#withProof(keys.claim(claimId), claim === null ? null : claimToJson(claim), options.prove, state);
    });
  }

  /**
   * Orders by party (buyer or seller), vehicle and/or status, oldest first; `after` continues
   * after an order id, `limit` is at most 1,000 (default 100). Kept for callers of the list
   * form; listOrdersPage refuses what this quietly corrects.
   */
  async listOrders(filter: { address?: string; vin?: string; status?: string; limit?: number; after?: string }) {
    const limit = Math.min(Math.max(filter.limit ?? QUERY_LIMITS.orders.default, 1), QUERY_LIMITS.orders.max);
    const after = filter.after !== undefined && parseOrderCursor(filter.after) !== undefined ? filter.after : undefined;
    const page = await this.listOrdersPage({ ...filter, limit, after });
    return page.ok ? page.orders : [];
  }

  /**
   * One page of orders matching every filter given (party: buyer or seller; vehicle; status),
   * oldest first: at most `limit` (default and maximum in QUERY_LIMITS.orders) after the
   * cursor `after`, and `next` when more follow. Every combination of filters has an index of
   * its own, so the page reads `limit + 1` index keys and `limit` orders at most, however
   * many orders match part of the filter. Order numbers only grow, so pages read while
   * blocks commit fit together: an order that matches throughout is returned exactly once.
   * Checks `signal` between orders.
   */
  async listOrdersPage(
    query: OrderFilter & { limit?: number; after?: string | undefined; signal?: AbortSignal },
  ): Promise<OrderPage | QueryRefusal> {
    const limit = checkLimit(query.limit, QUERY_LIMITS.orders);
    if (typeof limit !== 'number') return limit;
    let afterNumber = 0;
    if (query.after !== undefined) {
      const after = parseOrderCursor(query.after);
      if (after === undefined) return BAD_CURSOR;
      afterNumber = after;
    }
    // A value no order can hold matches nothing; it is not worth a read.
    const { address, vin, status } = query;
    if (status !== undefined && !(ORDER_STATUSES as readonly string[]).includes(status))
      return { ok: true, orders: [] };
    if (address !== undefined && !isAddress(address)) return { ok: true, orders: [] };
    if (vin !== undefined && !isVinSyntax(vin)) return { ok: true, orders: [] };
    if (query.signal?.aborted) return ABORTED;
    const prefix = orderFilterPrefix({ address, vin, status });
    try {
      return await this.#atSnapshot(async ({ kv, records }) => {
        const numbers: number[] = [];
        const range = {
          gte: concatBytes(prefix, uint64Bytes(afterNumber + 1)),
          lt: prefixEnd(prefix),
          limit: limit + 1,
        };
        for await (const [key] of kv.iterate(range)) numbers.push(readUint64(key, key.length - 8));
        const orders: ReturnType<typeof orderToJson>[] = [];
        for (const number of numbers.slice(0, limit)) {
          checkAborted(query.signal);
          const orderId = `${ID_PREFIXES.orders}${number}`;
          const order = await records.read(keys.order(orderId), orderCodec);
          assert(order !== null, `indexed order ${orderId} exists`);
          orders.push(orderToJson(order, this.params.deliveryGraceMs));
        }
        const page: OrderPage = { ok: true, orders };
        const last = orders.at(-1);
        if (numbers.length > limit && last !== undefined) page.next = orderCursor(last.orderId);
        return page;
      });
    } catch (error) {
      if (error instanceof QueryAborted) return ABORTED;
      throw error;
    }
  }

  // ---- validator-set governance ----------------------------------------------------------

  /**
   * The validator set in force at `height` (default: the head), the set that signs block
   * `height`, in set order; heights up to the head + validatorChangeDelay are known and final.
   */
  validatorSetAt(height?: number): Promise<ValidatorSetJson | GovernanceQueryRefusal> {
    return this.#atSnapshot(({ head, records }) =>
      validatorSetAt(
        records,
        { height: head.height, validatorChangeDelay: this.params.validatorChangeDelay },
        height ?? head.height,
      ),
    );
  }

  /** Every approved validator-set change, in order, with its approving and effective heights. */
  validatorChanges(): Promise<ValidatorChangeJson[]> {
    return this.#atSnapshot(({ records }) => validatorChanges(records));
  }

  /** The observer nodes registered on chain (node.register), in registration order. */
  observers(): Promise<readonly ObserverEntry[]> {
    return this.#atSnapshot(async ({ records }) => (await records.read(keys.observers, observerListCodec)) ?? []);
  }

  getProposal(proposalId: string): Promise<ProposalJson | null> {
    return this.#atSnapshot(({ records }) => getProposal(records, proposalId));
  }

  /** Proposals oldest first, by status if given; pages as listOrdersPage does. */
  listProposals(
    query: { status?: string; limit?: number; after?: string } = {},
  ): Promise<ProposalPage | GovernanceQueryRefusal> {
    return this.#atSnapshot(({ records }) => listProposals(records, query));
  }
}
