// The state machine over a KV store: executes blocks on an overlay of the committed state,
// hands the node the writes of a decided block for its atomic batch, and answers queries
// (with Merkle proofs on request) from the committed state.
//
// Store layout: every key starts with the byte 0x53 ('S') and the state never reads or
// writes outside [0x53, 0x54). Under it: 'r' records, 't' tree nodes, 'm' metadata,
// 'i' order indexes, 'd' the deadline queue (see state-view.ts and indexes.ts).

import { bytesToHex, concatBytes, hexToBytes, isAddress, sha256, utf8ToBytes } from '@autoledger/crypto';
import { BytePool } from './byte-pool.ts';
import type { BlockEnv, TxEvent } from './context.ts';
import { assert } from './errors.ts';
import { executeTx, type Receipt, runDeadlines } from './execute.ts';
import type { Genesis } from './genesis.ts';
import {
  ALL_ORDERS_PREFIX,
  addressIndexPrefix,
  DEADLINE_PREFIX,
  orderIndexKeys,
  orderNumber,
  prefixEnd,
  readUint64,
  statusIndexPrefix,
  uint64Bytes,
  vinIndexPrefix,
} from './indexes.ts';
import { KIND_BY_NAME } from './kinds/index.ts';
import type { KVOp, KVStore } from './kv.ts';
import { MAX_BLOCK_TIME_MS, MAX_NONCE_AHEAD } from './limits.ts';
import {
  type Account,
  accountCodec,
  accountToJson,
  type ChainParams,
  type Claim,
  chainCodec,
  claimCodec,
  claimToJson,
  countersCodec,
  historyCodec,
  historyEntryToJson,
  ID_PREFIXES,
  keys,
  ORDER_STATUSES,
  type Order,
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
import { type Child, decodeRootRef, encodeRootRef, hashOf, SparseMerkleTree, StaleTreeError } from './smt.ts';
import { proofToJson } from './smt-proof.ts';
import {
  CommittedRecords,
  META_SPACE,
  type RecordWrite,
  recordStoreKey,
  STATE_PREFIX,
  TREE_SPACE,
  WriteLayer,
} from './state-view.ts';
import type { DecodedTx } from './tx.ts';
import { checkVin } from './vin.ts';

export interface LedgerOptions {
  /** Decoded records kept in memory (accounts, vehicles, ...). Default 200,000. */
  recordCacheSize?: number;
  /**
   * Tree nodes at level ≤ this stay in memory once read; deeper ones are read from the store
   * when a block or a proof needs them. Default 5: up to 16^5 ≈ 10^6 nodes at the deepest
   * level, so a state of up to about a million keys stays in memory (a few hundred bytes per
   * key) and a transfer reads no tree node from the store; lower it for larger states.
   */
  treeCacheLevel?: number;
}

const DEFAULT_RECORD_CACHE = 200_000;
const DEFAULT_TREE_CACHE_LEVEL = 5;
const HEAD_KEY = concatBytes(new Uint8Array([STATE_PREFIX, META_SPACE]), utf8ToBytes('head'));
const TREE_PREFIX = new Uint8Array([STATE_PREFIX, TREE_SPACE]);
const MAX_ORDER_LIST = 1000;

export type CheckResult = { ok: true; accountNonce: number } | { ok: false; code: string; message: string };

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

export type BlockExecution = BlockExecutionOk | { ok: false; code: string; message: string; txIndex?: number };

interface Head {
  height: number;
  time: number;
  root: Child;
}

function encodeHead(head: Head): Uint8Array {
  return utf8ToBytes(
    JSON.stringify({ height: head.height, time: head.time, root: bytesToHex(encodeRootRef(head.root)) }),
  );
}

function decodeHead(bytes: Uint8Array): Head {
  const json = JSON.parse(new TextDecoder().decode(bytes)) as { height: number; time: number; root: string };
  return { height: json.height, time: json.time, root: decodeRootRef(hexToBytes(json.root)) };
}

/** Key hashes are needed for every write; hot keys (accounts, vehicles) repeat block after block. */
class KeyHashes {
  readonly #cache = new Map<string, Uint8Array>();
  readonly #limit: number;
  constructor(limit: number) {
    this.#limit = limit;
  }
  get(key: string): Uint8Array {
    let hash = this.#cache.get(key);
    if (hash === undefined) {
      hash = sha256(utf8ToBytes(key));
      if (this.#cache.size >= this.#limit) this.#cache.clear();
      this.#cache.set(key, hash);
    }
    return hash;
  }
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
  const updates: { keyHash: Uint8Array; valueHash: Uint8Array | null }[] = [];
  const indexOps = new Map<string, KVOp>();
  const pool = new BytePool();
  for (const [key, write] of writes) {
    const bytes = write.value === null ? null : pool.utf8(write.codec.text(write.value));
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
  const tree = new SparseMerkleTree(kv, TREE_PREFIX, options.treeCacheLevel ?? DEFAULT_TREE_CACHE_LEVEL);
  const committed = new CommittedRecords(kv, 0);
  const { root, ops } = await writeOps(layer.writes, committed, tree, new KeyHashes(0), null, genesis.params);
  await kv.batch([
    ...ops(),
    { type: 'put', key: HEAD_KEY, value: encodeHead({ height: 0, time: genesis.genesisTime, root }) },
  ]);
  return { stateRoot: new Uint8Array(hashOf(root)) };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Ledger {
  readonly chainId: string;
  readonly genesisTime: number;
  readonly params: ChainParams;
  readonly #kv: KVStore;
  readonly #records: CommittedRecords;
  readonly #tree: SparseMerkleTree;
  readonly #keyHashes = new KeyHashes(100_000);
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
    this.#records = new CommittedRecords(kv, options.recordCacheSize ?? DEFAULT_RECORD_CACHE);
    this.#tree = new SparseMerkleTree(kv, TREE_PREFIX, options.treeCacheLevel ?? DEFAULT_TREE_CACHE_LEVEL);
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
    return ledger;
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
    if (account.frozen) return { ok: false, code: 'ACCOUNT_FROZEN', message: 'a frozen account can sign nothing' };
    if (kind.roles !== 'any' && !account.roles.some((role) => (kind.roles as readonly string[]).includes(role))) {
      return { ok: false, code: 'UNAUTHORIZED', message: `${kind.name} is signed by: ${kind.signers}` };
    }
    const refusal = kind.authorize?.(account.roles, tx.fields);
    if (refusal !== undefined) return { ok: false, code: 'UNAUTHORIZED', message: refusal };
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
    if (kind.name === 'vehicle.register') {
      const verdict = checkVin(tx.fields.vin, this.params.vinCheckDigit);
      if (!verdict.ok) return { ok: false, code: 'INVALID_VIN', message: verdict.message };
    }
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
    const layer = new WriteLayer(this.#records);
    let systemEvents: TxEvent[];
    try {
      systemEvents = await runDeadlines(layer, env, await this.#dueOrders(block.time));
    } catch (error) {
      return { ok: false, code: 'EXECUTION_FAILED', message: `block-time transitions: ${errorMessage(error)}` };
    }
    const receipts: Receipt[] = [];
    for (const [index, tx] of block.txs.entries()) {
      const invalid = (code: string, message: string): BlockExecution => ({ ok: false, code, message, txIndex: index });
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
   * The store operations of an executed block, for the node's atomic batch (with its own
   * block, receipts...). Call `committed` once the batch is durable.
   */
  commit(execution: BlockExecutionOk): KVOp[] {
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

  /** Advances the committed state once the batch from `commit` is durable. */
  committed(execution: BlockExecutionOk): void {
    assert(this.#pending === execution, 'committed follows commit of the same execution');
    const { overlay } = execution;
    this.#head = { height: execution.height, time: execution.time, root: overlay.root };
    for (const [key, write] of overlay.writes) this.#records.remember(key, write.value);
    this.#pending = undefined;
    this.#epoch++;
    this.#release();
  }

  /**
   * Runs a read of the committed state so that it sees one state: it waits out a commit in
   * progress and starts over if one began meanwhile (reads are asynchronous).
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

  /** A proof for one record key against the committed root (inclusion or non-inclusion). */
  async #proveKey(key: string, root: Child): Promise<RecordProof> {
    const { proof } = await this.#tree.prove(root, this.#keyHashes.get(key));
    const bytes = await this.#kv.get(recordStoreKey(key));
    return { key, value: bytes === undefined ? null : bytesToHex(bytes), proof: proofToJson(proof) };
  }

  async #withProof<T extends object>(
    key: string,
    value: T | null,
    prove: boolean | undefined,
  ): Promise<(T & { proof?: RecordProof & { height: number; stateRoot: string } }) | null> {
    if (value === null || !prove) return value;
    const head = this.#head;
    const proof = await this.#proveKey(key, head.root);
    return { ...value, proof: { height: head.height, stateRoot: bytesToHex(hashOf(head.root)), ...proof } };
  }

  /** Any record with its proof, or its absence proven. */
  proveRecord(key: string): Promise<RecordProof & { height: number; stateRoot: string }> {
    return this.#consistent(async () => {
      const head = this.#head;
      return {
        height: head.height,
        stateRoot: bytesToHex(hashOf(head.root)),
        ...(await this.#proveKey(key, head.root)),
      };
    });
  }

  getAccount(address: string, options: { prove?: boolean } = {}) {
    return this.#consistent(async () => {
      const account = await this.#records.read(keys.account(address), accountCodec);
      return this.#withProof(keys.account(address), account === null ? null : accountToJson(account), options.prove);
    });
  }

  getVehicle(vin: string, options: { prove?: boolean } = {}) {
    return this.#consistent(async () => {
      const vehicle = await this.#records.read(keys.vehicle(vin), vehicleCodec);
      return this.#withProof(keys.vehicle(vin), vehicle === null ? null : vehicleToJson(vehicle), options.prove);
    });
  }

  /** The vehicle and every history entry, oldest first; with `prove`, the full proof bundle. */
  getHistory(vin: string, options: { prove?: boolean } = {}) {
    return this.#consistent(async () => {
      if (options.prove) {
        const head = this.#head;
        const { bundle, report } = await proveVehicleRecords(vin, (key) => this.#proveKey(key, head.root), {
          height: head.height,
          stateRoot: bytesToHex(hashOf(head.root)),
        });
        return report === null ? null : { vehicle: report.vehicle, events: report.history, proof: bundle };
      }
      const vehicle = await this.#records.read(keys.vehicle(vin), vehicleCodec);
      if (vehicle === null) return null;
      const events = [];
      for (let index = 0; index < vehicle.historyCount; index++) {
        const entry = await this.#records.read(keys.history(vin, index), historyCodec);
        assert(entry !== null, `history entry ${index} of ${vin} exists`);
        events.push(historyEntryToJson(entry));
      }
      return { vehicle: vehicleToJson(vehicle), events };
    });
  }

  /**
   * Everything a vehicle report needs, each record with an inclusion or non-inclusion proof
   * against the committed state root: the record, every history entry, and the stolen, lien
   * and brand facts. `height` names the block whose header carries the root.
   */
  proveVehicle(vin: string): Promise<VehicleProofBundle> {
    return this.#consistent(async () => {
      const head = this.#head;
      const { bundle } = await proveVehicleRecords(vin, (key) => this.#proveKey(key, head.root), {
        height: head.height,
        stateRoot: bytesToHex(hashOf(head.root)),
      });
      return bundle;
    });
  }

  getOrder(orderId: string, options: { prove?: boolean } = {}) {
    return this.#consistent(async () => {
      const order = await this.#records.read(keys.order(orderId), orderCodec);
      return this.#withProof(
        keys.order(orderId),
        order === null ? null : orderToJson(order, this.params.deliveryGraceMs),
        options.prove,
      );
    });
  }

  getPolicy(policyId: string, options: { prove?: boolean } = {}) {
    return this.#consistent(async () => {
      const policy: Policy | null = await this.#records.read(keys.policy(policyId), policyCodec);
      return this.#withProof(keys.policy(policyId), policy === null ? null : policyToJson(policy), options.prove);
    });
  }

  getClaim(claimId: string, options: { prove?: boolean } = {}) {
    return this.#consistent(async () => {
      const claim: Claim | null = await this.#records.read(keys.claim(claimId), claimCodec);
      return this.#withProof(keys.claim(claimId), claim === null ? null : claimToJson(claim), options.prove);
    });
  }

  /**
   * Orders by party (buyer or seller), vehicle and/or status, oldest first; `after` continues
   * after an order id, `limit` is at most 1,000 (default 100).
   */
  listOrders(filter: { address?: string; vin?: string; status?: string; limit?: number; after?: string }) {
    return this.#consistent(async () => {
      const limit = Math.min(Math.max(filter.limit ?? 100, 1), MAX_ORDER_LIST);
      if (filter.status !== undefined && !(ORDER_STATUSES as readonly string[]).includes(filter.status)) return [];
      if (filter.address !== undefined && !isAddress(filter.address)) return [];
      let prefix: Uint8Array;
      if (filter.address !== undefined) prefix = addressIndexPrefix(filter.address);
      else if (filter.vin !== undefined) prefix = vinIndexPrefix(filter.vin);
      else if (filter.status !== undefined) prefix = statusIndexPrefix(filter.status);
      else prefix = ALL_ORDERS_PREFIX;
      const afterNumber = filter.after === undefined ? 0 : (orderNumber(filter.after) ?? 0);
      const orders: ReturnType<typeof orderToJson>[] = [];
      const range = { gte: concatBytes(prefix, uint64Bytes(afterNumber + 1)), lt: prefixEnd(prefix) };
      for await (const [key] of this.#kv.iterate(range)) {
        const orderId = `${ID_PREFIXES.orders}${readUint64(key, key.length - 8)}`;
        const order = await this.#records.read(keys.order(orderId), orderCodec);
        assert(order !== null, `indexed order ${orderId} exists`);
        if (filter.vin !== undefined && order.vin !== filter.vin) continue;
        if (filter.status !== undefined && order.status !== filter.status) continue;
        if (filter.address !== undefined && order.buyer !== filter.address && order.seller !== filter.address) continue;
        orders.push(orderToJson(order, this.params.deliveryGraceMs));
        if (orders.length >= limit) break;
      }
      return orders;
    });
  }
}
