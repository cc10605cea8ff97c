// A chain on a real level store in a temp dir, seen through a store that counts what the
// state reads: the queries' tests assert on how much a query reads, and when a read gives up.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DecodedTx,
  decodeTx,
  encodeTxBody,
  initGenesisState,
  type KVOp,
  type KVRange,
  type KVSnapshot,
  type KVStore,
  Ledger,
  type LedgerOptions,
  signTx,
} from '@autoledger/state';
import { LevelKV } from '../../../../packages/node/src/level-kv.ts';
import { CHAIN_ID, DAY, testGenesis, testKey, VINS } from './chain.ts';

const INDEX_PREFIX = [0x53, 0x69]; // 'S' 'i': the order indexes

function isIndexKey(key: Uint8Array): boolean {
  return key[0] === INDEX_PREFIX[0] && key[1] === INDEX_PREFIX[1];
}

/** A KVStore over LevelKV that counts gets and index keys read, live or through snapshots. */
export class CountingKV implements KVStore {
  readonly level: LevelKV;
  gets = 0;
  indexKeysRead = 0;
  /** Called on every get (live or snapshot), after counting it. */
  onGet: (() => void) | undefined;

  constructor(level: LevelKV) {
    this.level = level;
  }

  #counted(read: Promise<Uint8Array | undefined>): Promise<Uint8Array | undefined> {
    this.gets++;
    this.onGet?.();
    return read;
  }

  async *#countIndexKeys(entries: AsyncIterable<[Uint8Array, Uint8Array]>): AsyncIterable<[Uint8Array, Uint8Array]> {
    for await (const entry of entries) {
      if (isIndexKey(entry[0])) this.indexKeysRead++;
      yield entry;
    }
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#counted(this.level.get(key));
  }
  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.level.put(key, value);
  }
  del(key: Uint8Array): Promise<void> {
    return this.level.del(key);
  }
  batch(ops: readonly KVOp[]): Promise<void> {
    return this.level.batch(ops);
  }
  iterate(range: KVRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    return this.#countIndexKeys(this.level.iterate(range));
  }
  snapshot(): KVSnapshot {
    const snapshot = this.level.snapshot();
    return {
      get: (key) => this.#counted(snapshot.get(key)),
      iterate: (range) => this.#countIndexKeys(snapshot.iterate(range)),
      close: () => snapshot.close(),
    };
  }

  resetCounts(): void {
    this.gets = 0;
    this.indexKeysRead = 0;
  }
}

export const PRICE = '100';

export class LevelChain {
  readonly kv: CountingKV;
  readonly ledger: Ledger;
  readonly dir: string;
  readonly #nonces = new Map<string, number>();
  time: number;
  #odometerKm = new Map<string, number>();

  private constructor(dir: string, kv: CountingKV, ledger: Ledger) {
    this.dir = dir;
    this.kv = kv;
    this.ledger = ledger;
    this.time = ledger.time;
  }

  static async create(options: LedgerOptions = {}): Promise<LevelChain> {
    const dir = mkdtempSync(join(tmpdir(), 'autoledger-queries-'));
    const kv = new CountingKV(await LevelKV.open(dir));
    await initGenesisState(kv, testGenesis());
    return new LevelChain(dir, kv, await Ledger.open(kv, options));
  }

  async close(): Promise<void> {
    await this.kv.level.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  address(name: string): string {
    return testKey(name).address;
  }

  tx(name: string, kind: string, fields: Record<string, unknown>): DecodedTx {
    const key = testKey(name);
    const nonce = this.#nonces.get(name) ?? 0;
    this.#nonces.set(name, nonce + 1);
    const decoded = decodeTx(
      signTx(encodeTxBody({ chainId: CHAIN_ID, nonce, kind, fields }, key.publicKey), key.signer),
    );
    if (!decoded.ok) throw new Error(`test transaction does not decode: ${decoded.code}`);
    return decoded.tx;
  }

  /** Executes and commits one block; every receipt must be ok. Returns the receipts. */
  async block(txs: DecodedTx[]) {
    const time = this.time + 1_000;
    const execution = await this.ledger.executeBlock({ height: this.ledger.height + 1, time, txs });
    if (!execution.ok) throw new Error(`block refused: ${execution.code} ${execution.message}`);
    for (const receipt of execution.receipts)
      if (receipt.code !== 'ok') throw new Error(`transaction failed: ${receipt.code} ${receipt.error}`);
    await this.kv.batch(this.ledger.beginCommit(execution));
    this.ledger.finishCommit(execution);
    this.time = time;
    return execution.receipts;
  }

  registerTx(vin: string, owner = 'alice'): DecodedTx {
    this.#odometerKm.set(vin, 1);
    return this.tx('dealer', 'vehicle.register', {
      vin,
      make: 'Honda',
      model: 'Accord',
      year: 2003,
      owner: this.address(owner),
      odometerKm: 1,
    });
  }

  /** A reading above the last one: appends a history entry to `vin`. */
  odometerTx(vin: string): DecodedTx {
    const km = (this.#odometerKm.get(vin) ?? 1) + 1;
    this.#odometerKm.set(vin, km);
    return this.tx('service', 'vehicle.odometer', { vin, km });
  }

  orderTx(buyer: string, vin: string, seller = 'alice'): DecodedTx {
    return this.tx(buyer, 'order.create', {
      vin,
      seller: this.address(seller),
      price: PRICE,
      deliverBy: this.time + 7 * DAY,
      confirmWindowMs: 2 * DAY,
    });
  }

  /** Creates orders (one block per `perBlock`) and returns their ids in order. */
  async createOrders(specs: readonly { buyer: string; vin: string }[], perBlock = 50): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < specs.length; i += perBlock) {
      const receipts = await this.block(specs.slice(i, i + perBlock).map(({ buyer, vin }) => this.orderTx(buyer, vin)));
      for (const receipt of receipts) ids.push(receipt.orderId as string);
    }
    return ids;
  }
}

export { VINS };
