// The scale benchmark's state: N vehicles, each with H history entries, and N accounts,
// bulk-loaded straight into a LevelDB store (records and Merkle tree written in large
// batches, no transactions executed), identical on every machine and every run: everything
// is derived from the vehicle's index. Built once and kept in
//
//   $AUTOLEDGER_BENCH_STATE_DIR/v1-<N>v-<H>h     (default ~/.cache/autoledger/bench-state)
//
// with a READY file (keys, root, build time) written last; a directory without it is rebuilt.
// Benchmarks never write to it: their blocks commit into an in-memory layer (OverlayKV), so
// every run starts from the same state. Delete the directory to rebuild.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  addressFromPublicKey,
  bytesToHex,
  hexToBytes,
  publicKeyFromSecret,
  Signer,
  sha256,
  utf8ToBytes,
} from '@autoledger/crypto';
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
import {
  type Account,
  accountCodec,
  type HistoryEntry,
  historyCodec,
  keys,
  type Vehicle,
  vehicleCodec,
} from '../packages/state/src/records.ts';
import {
  type Child,
  decodeRootRef,
  encodeRootRef,
  SparseMerkleTree,
  TreeNodeCache,
} from '../packages/state/src/smt.ts';
import { recordStoreKey } from '../packages/state/src/state-view.ts';
import { type BenchAccount, benchVin } from './workload.ts';

export const SCALE_CHAIN_ID = 'bench-scale';
export const SCALE_GENESIS_TIME = 1_795_000_000_000;
const FORMAT_VERSION = 1;
/** The state's metadata key of its head (ledger.ts): the loader moves the root it holds. */
const HEAD_KEY = new Uint8Array([0x53, 0x6d, ...utf8ToBytes('head')]);
const TREE_PREFIX = new Uint8Array([0x53, 0x74]);
/** Accounts that sign the benchmark's transactions (real keys, funded at genesis). */
export const SENDER_COUNT = 200;
const VEHICLES_PER_BATCH = 20_000;

export interface ScaleState {
  dir: string;
  vehicles: number;
  historyPerVehicle: number;
  stateKeys: number;
  stateRoot: string;
  /** Bulk load time of the build (0 when it was reused... see reused). */
  loadSeconds: number;
  reused: boolean;
  diskBytes: number;
  senders: BenchAccount[];
  service: BenchAccount;
  vin(index: number): string;
  address(index: number): string;
}

export function scaleStateDir(vehicles: number, historyPerVehicle: number): string {
  const root = process.env.AUTOLEDGER_BENCH_STATE_DIR ?? join(homedir(), '.cache', 'autoledger', 'bench-state');
  return join(root, `v${FORMAT_VERSION}-${vehicles}v-${historyPerVehicle}h`);
}

function benchKey(name: string, roles: string[]): BenchAccount {
  const secretKey = sha256(utf8ToBytes(`autoledger bench scale key ${name}`));
  const publicKey = publicKeyFromSecret(secretKey);
  return { name, roles, publicKey, address: addressFromPublicKey(publicKey), signer: new Signer(secretKey), nonce: 0 };
}

/** The population's accounts have no keys: nobody signs for them, they receive transfers. */
function populationAddress(index: number): string {
  return addressFromPublicKey(sha256(utf8ToBytes(`autoledger bench population ${index}`)));
}

function diskBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}

function genesisFor(senders: BenchAccount[], service: BenchAccount, dealer: BenchAccount, regulator: BenchAccount) {
  const hex = (bytes: Uint8Array) => bytesToHex(bytes);
  const parsed = parseGenesis({
    chainId: SCALE_CHAIN_ID,
    genesisTime: SCALE_GENESIS_TIME,
    params: {},
    validators: [{ name: 'regulator', role: 'regulator', publicKey: hex(regulator.publicKey), power: 1 }],
    members: [...senders, service, dealer].map((account) => ({
      name: account.name,
      roles: account.roles,
      publicKey: hex(account.publicKey),
      balance: '1000000000000',
    })),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.genesis;
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
  const service = benchKey('service', ['service']);
  const dealer = benchKey('dealer', ['dealer']);
  const regulator = benchKey('regulator', ['regulator']);
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
      senders,
      service,
      vin: (index: number) => benchVin(99, index),
      address: populationAddress,
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
  await initGenesisState(kv, genesisFor(senders, service, dealer, regulator));
  const headBytes = await kv.get(HEAD_KEY);
  if (headBytes === undefined) throw new Error('genesis wrote no head');
  const head = JSON.parse(new TextDecoder().decode(headBytes)) as { height: number; time: number; root: string };
  let root: Child = decodeRootRef(hexToBytes(head.root));
  const tree = new SparseMerkleTree(kv, TREE_PREFIX, 2, new TreeNodeCache(256 * 1024 * 1024));
  let stateKeys = 3 + SENDER_COUNT + 3; // system records and genesis accounts
  for (let start = 0; start < vehicles; start += VEHICLES_PER_BATCH) {
    const end = Math.min(vehicles, start + VEHICLES_PER_BATCH);
    const ops: KVOp[] = [];
    const updates: { keyHash: Uint8Array; valueHash: Uint8Array }[] = [];
    const put = (key: string, bytes: Uint8Array) => {
      ops.push({ type: 'put', key: recordStoreKey(key), value: bytes });
      updates.push({ keyHash: sha256(utf8ToBytes(key)), valueHash: sha256(bytes) });
    };
    for (let index = start; index < end; index++) {
      const address = populationAddress(index);
      const vin = benchVin(99, index);
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
      const vehicle: Vehicle = {
        vin,
        make: 'Skoda',
        model: 'Octavia',
        year: 2000 + (index % 25),
        owner: address,
        odometerKm: 1_000 + historyPerVehicle * 1_000,
        brands: [],
        stolen: false,
        lien: null,
        activeOrder: null,
        historyCount: historyPerVehicle,
        registeredHeight: 0,
      };
      put(keys.vehicle(vin), vehicleCodec.encode(vehicle));
      for (let entry = 0; entry < historyPerVehicle; entry++) {
        const history: HistoryEntry =
          entry === 0
            ? {
                kind: 'vehicle.register',
                height: 0,
                time: SCALE_GENESIS_TIME,
                actor: dealer.address,
                actorRole: 'dealer',
                txHash: null,
                details: { make: vehicle.make, model: vehicle.model, year: vehicle.year, odometerKm: 1_000 },
              }
            : {
                kind: 'vehicle.odometer',
                height: 0,
                time: SCALE_GENESIS_TIME,
                actor: service.address,
                actorRole: 'service',
                txHash: null,
                details: { km: 1_000 + entry * 1_000 },
              };
        put(keys.history(vin, entry), historyCodec.encode(history));
      }
    }
    const result = await tree.update(root, updates);
    root = result.root;
    await kv.batch([...ops, ...result.ops()]);
    stateKeys += updates.length;
    if ((end / VEHICLES_PER_BATCH) % 10 === 0 || end === vehicles) {
      log(`  ${end.toLocaleString('en')} vehicles, ${Math.round((performance.now() - started) / 1000)} s`);
    }
  }
  await kv.put(
    HEAD_KEY,
    utf8ToBytes(JSON.stringify({ height: 0, time: head.time, root: bytesToHex(encodeRootRef(root)) })),
  );
  const meta = {
    stateKeys,
    stateRoot: bytesToHex(root === null ? new Uint8Array(32) : root.hash),
    loadSeconds: Math.round((performance.now() - started) / 100) / 10,
  };
  writeFileSync(ready, JSON.stringify(meta));
  log(`scale state: ${stateKeys.toLocaleString('en')} keys in ${meta.loadSeconds} s, root ${meta.stateRoot}`);
  return describe(kv, meta, false);
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
