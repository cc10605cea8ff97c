// The scale benchmark's state: N vehicles, each with H history entries, and N accounts,
// bulk-loaded straight into a LevelDB store (records, order indexes and Merkle tree written in
// large batches, no transactions executed), identical on every machine and every run:
// everything is derived from the vehicle's index. Every state, N = 0 included, also holds the
// query fixtures: 1,000 vehicles owned by the senders (the first with 300 history entries) and
// 100,000 settled orders on them, all sold by the benchmark's dealer. The genesis names four
// validators whose node keys are derived here too, so a network can run on a copy of the
// state (network.ts). Built once and kept in
//
//   $AUTOLEDGER_BENCH_STATE_DIR/v3-<N>v-<H>h     (default ~/.cache/autoledger/bench-state)
//
// beside its genesis.json, with a READY file (keys, root, build time) written last; a
// directory without it is rebuilt. Benchmarks never write to it: the micro benchmark commits
// its blocks into an in-memory layer (OverlayKV), the network one runs on copies
// (copyScaleState), so every run starts from the same state. Delete the directory to rebuild.

import {
  constants,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  addressFromPublicKey,
  bytesEqual,
  bytesToHex,
  publicKeyFromSecret,
  Signer,
  sha256,
  utf8ToBytes,
} from '@autoledger/crypto';
import { type NamedKey, namedKeyFromSecret } from '@autoledger/crypto/keyfile';
import {
  initGenesisState,
  type KVOp,
  type KVRange,
  type KVSnapshot,
  type KVStore,
  MemoryKV,
  parseGenesis,
} from '@autoledger/state';
import { LevelKV, type LevelOptions } from '../packages/node/src/level-kv.ts';
import { orderIndexKeys, prefixEnd } from '../packages/state/src/indexes.ts';
import {
  type Account,
  accountCodec,
  countersCodec,
  type HistoryEntry,
  historyCodec,
  keys,
  type Order,
  orderCodec,
  type Vehicle,
  vehicleCodec,
} from '../packages/state/src/records.ts';
import { encodeRootRef, hashOf, SparseMerkleTree } from '../packages/state/src/smt.ts';
import { BulkTreeBuilder } from '../packages/state/src/smt-bulk.ts';
import { RECORD_KEY_PREFIX } from '../packages/state/src/snapshot-state.ts';
import { recordStoreKey } from '../packages/state/src/state-view.ts';
import { TreeEntrySorter } from './tree-entry-sorter.ts';
import { type BenchAccount, benchVin } from './workload.ts';

export const SCALE_CHAIN_ID = 'bench-scale';
export const SCALE_GENESIS_TIME = 1_795_000_000_000;
/**
 * 2: the genesis names four validators with derived node keys; service accounts; query fixtures.
 * 3: the same state in tables of 16 KiB blocks (leveldb.blockKb), whose indexes are 4× smaller.
 */
const FORMAT_VERSION = 3;
/** The state's metadata key of its head (ledger.ts): the loader moves the root it holds. */
const HEAD_KEY = new Uint8Array([0x53, 0x6d, ...utf8ToBytes('head')]);
const TREE_PREFIX = new Uint8Array([0x53, 0x74]);
/** Accounts that sign the benchmark's transfers (real keys, funded at genesis). */
export const SENDER_COUNT = 200;
/**
 * Service accounts that sign its odometer readings: each reads the vehicles of one residue
 * class (index mod SERVICE_COUNT), so a vehicle's readings all come from one account, in nonce
 * order, and never go down whatever order the network commits the accounts' transactions in.
 * Enough of them that a saturating run stays under the mempool's 1,000 per sender.
 */
export const SERVICE_COUNT = 128;
/** The four validators of the built state's genesis, named and given roles as in a devnet. */
export const SCALE_VALIDATORS = [
  { name: 'dealer-1', role: 'dealer' },
  { name: 'dealer-2', role: 'dealer' },
  { name: 'insurer-1', role: 'insurer' },
  { name: 'regulator-1', role: 'regulator' },
] as const;
/** Query fixtures, in every state: vehicles owned by the senders, the first with a long history. */
export const FIXTURE_VEHICLES = 1_000;
export const DEEP_HISTORY = 300;
/** Settled orders on the fixture vehicles, sold by the dealer: order_list's load. */
export const FIXTURE_ORDERS = 100_000;
/** Of the fixture orders, every REFUNDED_EVERY-th is refunded, the others completed. */
const REFUNDED_EVERY = 10;
const VEHICLES_PER_BATCH = 20_000;
/** Files the builder keeps beside the store; not LevelDB's, not copied into a node's data directory. */
const BUILDER_FILES = new Set(['READY', 'genesis.json', 'LOCK']);
/** The tree entries kept aside while loading (a subdirectory, gone once the tree is built). */
const TREE_ENTRIES_DIR = 'tree-entries';
const textEncoder = new TextEncoder();

export interface ScaleState {
  dir: string;
  vehicles: number;
  historyPerVehicle: number;
  stateKeys: number;
  stateRoot: string;
  /** Bulk load time of the build (the cached build's time when it was reused; see reused). */
  loadSeconds: number;
  reused: boolean;
  diskBytes: number;
  /** The genesis document the state was initialised from, as a node reads it from genesis.json. */
  genesis: Record<string, unknown>;
  senders: BenchAccount[];
  /** The first of services (the micro benchmark signs with it alone). */
  service: BenchAccount;
  services: BenchAccount[];
  dealer: BenchAccount;
  /** The population's vehicles and accounts, by index (0 to vehicles - 1). */
  vin(index: number): string;
  address(index: number): string;
  /** The query fixtures' vehicles (0 to FIXTURE_VEHICLES - 1); fixtureVin(0) has DEEP_HISTORY entries. */
  fixtureVin(index: number): string;
  /** The odometer reading every population vehicle was built with (fixture vehicles too, but the deep one). */
  builtOdometerKm: number;
}

export function scaleStateRoot(): string {
  return process.env.AUTOLEDGER_BENCH_STATE_DIR ?? join(homedir(), '.cache', 'autoledger', 'bench-state');
}

export function scaleStateDir(vehicles: number, historyPerVehicle: number): string {
  return join(scaleStateRoot(), `v${FORMAT_VERSION}-${vehicles}v-${historyPerVehicle}h`);
}

/** An account whose key is derived from its name: the same on every machine and every run. */
export function benchKey(name: string, roles: string[]): BenchAccount {
  const secretKey = sha256(utf8ToBytes(`autoledger bench scale key ${name}`));
  const publicKey = publicKeyFromSecret(secretKey);
  return { name, roles, publicKey, address: addressFromPublicKey(publicKey), signer: new Signer(secretKey), nonce: 0 };
}

/** The node keys of SCALE_VALIDATORS, the same on every machine: the built genesis names them. */
export function scaleValidatorKeys(): NamedKey[] {
  return SCALE_VALIDATORS.map(({ name }) =>
    namedKeyFromSecret(name, sha256(utf8ToBytes(`autoledger bench scale validator ${name}`))),
  );
}

/** The population's accounts have no keys: nobody signs for them, they receive transfers. */
function populationAddress(index: number): string {
  return addressFromPublicKey(sha256(utf8ToBytes(`autoledger bench population ${index}`)));
}

/** Apparent size of the files in a directory (not recursive: a LevelDB directory is flat). */
export function diskBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const stat = statSync(join(dir, name));
    if (stat.isFile()) total += stat.size;
  }
  return total;
}

/** A genesis naming SCALE_VALIDATORS (derived keys) and `accounts`, each funded. */
export function genesisDocument(accounts: BenchAccount[], chainId = SCALE_CHAIN_ID): Record<string, unknown> {
  const validatorKeys = scaleValidatorKeys();
  return {
    chainId,
    genesisTime: SCALE_GENESIS_TIME,
    params: {},
    validators: SCALE_VALIDATORS.map((validator, index) => ({
      name: validator.name,
      role: validator.role,
      publicKey: bytesToHex((validatorKeys[index] as NamedKey).publicKey),
      power: 1,
    })),
    members: accounts.map((account) => ({
      name: account.name,
      roles: account.roles,
      publicKey: bytesToHex(account.publicKey),
      balance: '1000000000000',
    })),
  };
}

/** Opens (building first if needed) the state of `vehicles` vehicles with `historyPerVehicle` entries each. */
export async function openScaleState(options: {
  vehicles: number;
  historyPerVehicle: number;
  level?: Partial<LevelOptions>;
  log: (line: string) => void;
}): Promise<{ state: ScaleState; kv: LevelKV }> {
  const { vehicles, historyPerVehicle, log } = options;
  const dir = scaleStateDir(vehicles, historyPerVehicle);
  const ready = join(dir, 'READY');
  const senders = Array.from({ length: SENDER_COUNT }, (_, i) => benchKey(`sender-${i}`, ['person']));
  const services = Array.from({ length: SERVICE_COUNT }, (_, i) =>
    benchKey(i === 0 ? 'service' : `service-${i}`, ['service']),
  );
  const dealer = benchKey('dealer', ['dealer']);
  const genesisJson = genesisDocument([...senders, ...services, dealer]);
  const builtOdometerKm = 1_000 + historyPerVehicle * 1_000;
  const describe = (
    kv: LevelKV,
    meta: { stateKeys: number; stateRoot: string; loadSeconds: number },
    reused: boolean,
  ) => ({
    kv,
    state: {
      dir,
      vehicles,
      historyPerVehicle,
      ...meta,
      reused,
      diskBytes: diskBytes(dir),
      genesis: genesisJson,
      senders,
      service: services[0] as BenchAccount,
      services,
      dealer,
      vin: (index: number) => benchVin(99, index),
      address: populationAddress,
      fixtureVin: (index: number) => benchVin(98, index),
      builtOdometerKm,
    },
  });
  if (existsSync(ready)) {
    const meta = JSON.parse(readFileSync(ready, 'utf8'));
    log(`scale state: reusing ${dir} (${meta.stateKeys.toLocaleString('en')} keys, built in ${meta.loadSeconds} s)`);
    return describe(await LevelKV.open(dir, options.level), meta, true);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`scale state: building ${vehicles.toLocaleString('en')} vehicles × ${historyPerVehicle} entries in ${dir}`);
  const started = performance.now();
  const kv = await LevelKV.open(dir, options.level);
  const parsed = parseGenesis(genesisJson);
  if (!parsed.ok) throw new Error(parsed.message);
  const genesis = parsed.genesis;
  await initGenesisState(kv, genesis);
  writeFileSync(join(dir, 'genesis.json'), `${JSON.stringify(genesisJson, null, 2)}\n`);
  const headBytes = await kv.get(HEAD_KEY);
  if (headBytes === undefined) throw new Error('genesis wrote no head');
  const head = JSON.parse(new TextDecoder().decode(headBytes)) as { height: number; time: number; root: string };
  const tree = new SparseMerkleTree(kv, TREE_PREFIX, 2);
  // The tree is built once, bottom-up, at the end (smt-bulk.ts): every record's entry is kept
  // aside as it is written (tree-entry-sorter.ts), those initGenesisState wrote first (its
  // small tree is dropped: the build writes every position afresh). The counters record is
  // written again below, so its genesis entry is left out here: the sorter takes each key once.
  const treeEntries = new TreeEntrySorter(join(dir, TREE_ENTRIES_DIR));
  const countersKey = recordStoreKey(keys.counters);
  let stateKeys = 0;
  let ops: KVOp[] = [];
  for await (const [key, value] of kv.iterate({ gte: RECORD_KEY_PREFIX, lt: prefixEnd(RECORD_KEY_PREFIX) })) {
    if (bytesEqual(key, countersKey)) continue;
    treeEntries.add(sha256(key.subarray(RECORD_KEY_PREFIX.length)), sha256(value));
    stateKeys++;
  }
  for await (const [key] of kv.iterate({ gte: TREE_PREFIX, lt: prefixEnd(TREE_PREFIX) }))
    ops.push({ type: 'del', key: key.slice() });
  await kv.batch(ops);
  ops = [];
  let written = 0;
  const put = (key: string, bytes: Uint8Array) => {
    // recordStoreKey(key), with the key's bytes encoded once for both uses.
    const storeKey = new Uint8Array(RECORD_KEY_PREFIX.length + key.length * 3);
    storeKey.set(RECORD_KEY_PREFIX);
    const { written: keyLength } = textEncoder.encodeInto(key, storeKey.subarray(RECORD_KEY_PREFIX.length));
    const recordKey = storeKey.subarray(0, RECORD_KEY_PREFIX.length + (keyLength as number));
    ops.push({ type: 'put', key: recordKey, value: bytes });
    treeEntries.add(sha256(recordKey.subarray(RECORD_KEY_PREFIX.length)), sha256(bytes));
    written++;
  };
  const flush = async () => {
    await kv.batch(ops);
    stateKeys += written;
    ops = [];
    written = 0;
  };
  const history = (index: number, actor: BenchAccount): HistoryEntry =>
    index === 0
      ? {
          kind: 'vehicle.register',
          height: 0,
          time: SCALE_GENESIS_TIME,
          actor: dealer.address,
          actorRole: 'dealer',
          txHash: null,
          details: { make: 'Skoda', model: 'Octavia', year: 2010, odometerKm: 1_000 },
        }
      : {
          kind: 'vehicle.odometer',
          height: 0,
          time: SCALE_GENESIS_TIME,
          actor: actor.address,
          actorRole: 'service',
          txHash: null,
          details: { km: 1_000 + index * 1_000 },
        };
  const putVehicle = (vin: string, owner: string, year: number, entries: number, service: BenchAccount) => {
    const vehicle: Vehicle = {
      vin,
      make: 'Skoda',
      model: 'Octavia',
      year,
      owner,
      odometerKm: 1_000 + entries * 1_000,
      brands: [],
      stolen: false,
      lien: null,
      activeOrder: null,
      historyCount: entries,
      registeredHeight: 0,
    };
    put(keys.vehicle(vin), vehicleCodec.encode(vehicle));
    for (let entry = 0; entry < entries; entry++)
      put(keys.history(vin, entry), historyCodec.encode(history(entry, service)));
  };

  // The query fixtures: vehicles of the senders, and settled orders on them with their indexes.
  for (let index = 0; index < FIXTURE_VEHICLES; index++) {
    const owner = senders[index % SENDER_COUNT] as BenchAccount;
    const entries = index === 0 ? DEEP_HISTORY : historyPerVehicle;
    putVehicle(benchVin(98, index), owner.address, 2000 + (index % 25), entries, services[0] as BenchAccount);
  }
  for (let number = 1; number <= FIXTURE_ORDERS; number++) {
    const refunded = number % REFUNDED_EVERY === 0;
    const time = SCALE_GENESIS_TIME - (FIXTURE_ORDERS - number) * 60_000;
    const order: Order = {
      orderId: `ord-${number}`,
      vin: benchVin(98, number % FIXTURE_VEHICLES),
      buyer: (senders[number % SENDER_COUNT] as BenchAccount).address,
      seller: dealer.address,
      price: 1_000_000n,
      deliverBy: time + 86_400_000,
      confirmWindowMs: 86_400_000,
      status: refunded ? 'refunded' : 'completed',
      createdAt: time,
      acceptedAt: refunded ? null : time + 1_000,
      deliveredAt: refunded ? null : time + 2_000,
      disputedAt: null,
      disputedBy: null,
      disputeReasonHash: null,
      settledAt: time + 3_000,
      settlement: refunded ? 'rejected' : 'confirmed',
      buyerReviewed: false,
      sellerReviewed: false,
    };
    put(keys.order(order.orderId), orderCodec.encode(order));
    for (const key of orderIndexKeys(order, genesis.params.deliveryGraceMs))
      ops.push({ type: 'put', key, value: new Uint8Array(0) });
    if (number % 20_000 === 0) await flush();
  }
  put(keys.counters, countersCodec.encode({ orders: FIXTURE_ORDERS, policies: 0, claims: 0 }));
  await flush();
  log(
    `  query fixtures: ${FIXTURE_VEHICLES.toLocaleString('en')} vehicles, ${FIXTURE_ORDERS.toLocaleString('en')} orders, ${Math.round((performance.now() - started) / 1000)} s`,
  );

  for (let start = 0; start < vehicles; start += VEHICLES_PER_BATCH) {
    const end = Math.min(vehicles, start + VEHICLES_PER_BATCH);
    for (let index = start; index < end; index++) {
      const address = populationAddress(index);
      const account: Account = {
        address,
        roles: ['person'],
        name: `person-${index}`,
        balance: 0n,
        nonce: 0,
        frozen: false,
        kycHash: null,
        reputationCount: 0,
        reputationSum: 0,
        registeredHeight: 0,
      };
      put(keys.account(address), accountCodec.encode(account));
      putVehicle(
        benchVin(99, index),
        address,
        2000 + (index % 25),
        historyPerVehicle,
        services[index % SERVICE_COUNT] as BenchAccount,
      );
    }
    await flush();
    if ((end / VEHICLES_PER_BATCH) % 10 === 0 || end === vehicles) {
      log(`  ${end.toLocaleString('en')} vehicles, ${Math.round((performance.now() - started) / 1000)} s`);
    }
  }
  const building = performance.now();
  const builder = new BulkTreeBuilder(tree);
  for (const { keyHash, valueHash } of treeEntries.sorted()) {
    for (const op of builder.add(keyHash, valueHash)) ops.push(op);
    if (ops.length >= VEHICLES_PER_BATCH) {
      await kv.batch(ops);
      ops = [];
    }
  }
  const { root, ops: lastOps } = builder.finish();
  await kv.batch([...ops, ...lastOps]);
  const entries = builder.entries;
  if (entries !== stateKeys) throw new Error(`the tree holds ${entries} entries, ${stateKeys} records were written`);
  log(`  tree built in ${Math.round((performance.now() - building) / 1000)} s`);
  await kv.put(
    HEAD_KEY,
    utf8ToBytes(JSON.stringify({ height: 0, time: head.time, root: bytesToHex(encodeRootRef(root)) })),
  );
  // Everything into LevelDB's lower levels now, once: a store left with its bulk load in level
  // 0 would be compacted by every node that opens a copy of it, all at the start of the run.
  const compacting = performance.now();
  await (kv.db as unknown as { compactRange(start: Uint8Array, end: Uint8Array): Promise<void> }).compactRange(
    new Uint8Array([0x00]),
    new Uint8Array(64).fill(0xff),
  );
  log(`  compacted in ${Math.round((performance.now() - compacting) / 1000)} s`);
  const meta = {
    stateKeys,
    stateRoot: bytesToHex(hashOf(root)),
    loadSeconds: Math.round((performance.now() - started) / 100) / 10,
  };
  writeFileSync(ready, JSON.stringify(meta));
  log(`scale state: ${stateKeys.toLocaleString('en')} keys in ${meta.loadSeconds} s, root ${meta.stateRoot}`);
  return describe(kv, meta, false);
}

/**
 * Gives a node's data directory a copy of a built state (closed: LevelDB holds its lock).
 * LevelDB never changes a table file once written (compaction writes new ones and deletes the
 * old), so the tables, nearly all of the bytes, are hard-linked when the directories share a
 * file system (else cloned where the file system can, else copied); the files LevelDB does
 * rewrite or append to (MANIFEST, CURRENT, the write-ahead log) are copied.
 */
export function copyScaleState(
  from: string,
  to: string,
): { seconds: number; linkedFiles: number; copiedFiles: number; copiedBytes: number } {
  const started = performance.now();
  mkdirSync(to, { recursive: true });
  let linkedFiles = 0;
  let copiedFiles = 0;
  let copiedBytes = 0;
  for (const name of readdirSync(from)) {
    if (BUILDER_FILES.has(name)) continue;
    const source = join(from, name);
    const target = join(to, name);
    if (/\.(ldb|sst)$/.test(name)) {
      try {
        linkSync(source, target);
        linkedFiles++;
        continue;
      } catch {
        // another file system: copied below
      }
    }
    copyFileSync(source, target, constants.COPYFILE_FICLONE);
    copiedFiles++;
    copiedBytes += statSync(target).size;
  }
  return { seconds: Math.round((performance.now() - started) / 100) / 10, linkedFiles, copiedFiles, copiedBytes };
}

/**
 * A store whose writes stay in memory on top of a store that is only read: the benchmark
 * commits its blocks here, so the built state on disk is the same at every run.
 */
export class OverlayKV implements KVStore {
  readonly #base: KVStore;
  readonly #writes = new MemoryKV();
  /** Keys deleted in the overlay (hex). */
  readonly #deleted = new Set<string>();

  constructor(base: KVStore) {
    this.#base = base;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const own = await this.#writes.get(key);
    if (own !== undefined) return own;
    if (this.#deleted.has(bytesToHex(key))) return undefined;
    return this.#base.get(key);
  }

  async getMany(keysWanted: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    const out: (Uint8Array | undefined)[] = await this.#writes.getMany(keysWanted);
    const missing: number[] = [];
    for (const [i, key] of keysWanted.entries())
      if (out[i] === undefined && !this.#deleted.has(bytesToHex(key))) missing.push(i);
    if (missing.length > 0) {
      const base = this.#base.getMany
        ? await this.#base.getMany(missing.map((i) => keysWanted[i] as Uint8Array))
        : await Promise.all(missing.map((i) => this.#base.get(keysWanted[i] as Uint8Array)));
      for (const [j, i] of missing.entries()) out[i] = base[j];
    }
    return out;
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  async del(key: Uint8Array): Promise<void> {
    await this.batch([{ type: 'del', key }]);
  }

  async batch(ops: readonly KVOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.#deleted.delete(bytesToHex(op.key));
      else this.#deleted.add(bytesToHex(op.key));
    }
    await this.#writes.batch(ops);
  }

  async *iterate(range: KVRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    // Small ranges only in the benchmark (the deadline queue): merged in memory.
    const merged = new Map<string, [Uint8Array, Uint8Array]>();
    for await (const entry of this.#base.iterate({ ...range, limit: -1 })) {
      const hex = bytesToHex(entry[0]);
      if (!this.#deleted.has(hex)) merged.set(hex, entry);
    }
    for await (const entry of this.#writes.iterate({ ...range, limit: -1 })) merged.set(bytesToHex(entry[0]), entry);
    const sorted = [...merged.keys()].sort();
    if (range.reverse) sorted.reverse();
    const limit = range.limit === undefined || range.limit < 0 ? sorted.length : range.limit;
    for (const hex of sorted.slice(0, limit)) yield merged.get(hex) as [Uint8Array, Uint8Array];
  }

  snapshot(): KVSnapshot {
    throw new Error('the benchmark overlay takes no snapshots');
  }
}
