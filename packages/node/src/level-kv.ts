// The KV store on level (LevelDB). One database holds everything a node keeps: the state
// machine's keys under its own prefix and the chain's (blocks, certificates, receipts, the
// transaction index, consensus persistence) under others, so that a commit is ONE atomic batch.

import type { KVOp, KVRange, KVSnapshot, KVStore } from '@autoledger/state';
import { Level } from 'level';

/** level hands out Buffers; callers get plain Uint8Array views (no copy), as from MemoryKV. */
function view(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkOps(ops: readonly KVOp[]): void {
  for (const op of ops) {
    const valid =
      op.key instanceof Uint8Array && (op.type === 'del' || (op.type === 'put' && op.value instanceof Uint8Array));
    if (!valid) throw new TypeError('a batch operation needs a Uint8Array key (and value)');
  }
}

/**
 * LevelDB tuning (config `leveldb`). LevelDB's own defaults (8 MiB block cache, 4 MiB write
 * buffer, 2 MiB files, 4 KiB blocks, 1,000 open files) are sized for a small embedded store.
 *
 * What bounds LevelDB's own memory at scale is its table cache, not the block cache: every open
 * table holds its index (one entry per data block) and its bloom filter (10 bits per key) in
 * memory, outside the block cache and outside any budget of ours. Measured at 10^7 vehicles
 * (120 M keys, 2,535 tables of 8 MB): with LevelDB's 4 KiB blocks a heap profile found ~190 KB of
 * index a table, and with 1,000 open tables (LevelDB's table cache holds maxOpenFiles − 10) tables
 * were evicted and reopened on almost every read: executeBlock 2.9× slower than with all of them
 * open. With 16 KiB blocks the indexes took 35 MB and the filters 167 MB for all the tables, about
 * 10 KB per MB of table: the open-table limit bounds LevelDB's memory at roughly maxOpenFiles ×
 * maxFileMb × 10 KB at this block size (smaller blocks, larger indexes). The first 1,000 tables
 * LevelDB opens are memory-mapped instead (file pages the kernel can reclaim, though they count
 * in RSS). Descriptors are LevelDB's own business: it keeps at most a fifth of the process's limit
 * open for tables and opens the others per read, whatever maxOpenFiles says.
 */
export interface LevelOptions {
  /** Block cache: decompressed data blocks kept in memory, outside the JS heap. */
  blockCacheMb: number;
  /** Memtable size before it is written out as a table; two can exist at once. */
  writeBufferMb: number;
  /** Target size of a table file. */
  maxFileMb: number;
  /** Tables kept open with their index and filter in memory (LevelDB clamps it to 74–50,000 and keeps 10 fewer). */
  maxOpenFiles: number;
  /** Size of a table's data block, the unit of a read: the index holds one entry per block. */
  blockKb: number;
}

export const DEFAULT_LEVEL_OPTIONS: LevelOptions = {
  blockCacheMb: 64,
  writeBufferMb: 16,
  maxFileMb: 8,
  maxOpenFiles: 4000,
  blockKb: 16,
};

const MB = 1024 * 1024;

export class LevelKV implements KVStore {
  readonly db: Level<Uint8Array, Uint8Array>;

  private constructor(db: Level<Uint8Array, Uint8Array>) {
    this.db = db;
  }

  static async open(path: string, options: Partial<LevelOptions> = {}): Promise<LevelKV> {
    const tuning = { ...DEFAULT_LEVEL_OPTIONS, ...options };
    const db = new Level<Uint8Array, Uint8Array>(path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      cacheSize: tuning.blockCacheMb * MB,
      writeBufferSize: tuning.writeBufferMb * MB,
      maxFileSize: tuning.maxFileMb * MB,
      maxOpenFiles: tuning.maxOpenFiles,
      blockSize: tuning.blockKb * 1024,
    });
    await db.open();
    return new LevelKV(db);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const value = await this.db.get(key);
    return value === undefined ? undefined : view(value);
  }

  /** One call into LevelDB for all the keys (level's getMany), answers in the order asked. */
  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await this.db.getMany(keys as Uint8Array[]);
    return values.map((value) => (value === undefined ? undefined : view(value)));
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.db.put(key, value);
  }

  async del(key: Uint8Array): Promise<void> {
    await this.db.del(key);
  }

  async batch(ops: readonly KVOp[]): Promise<void> {
    checkOps(ops);
    await this.db.batch(ops as KVOp[]);
  }

  /**
   * A batch that is on disk (fsync) when the promise resolves: used where a crash must not
   * lose the write, such as a validator's record of what it signed before the message leaves.
   */
  async batchDurable(ops: readonly KVOp[]): Promise<void> {
    checkOps(ops);
    await this.db.batch(ops as KVOp[], { sync: true });
  }

  async *iterate(range: KVRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    yield* this.#iterate(range, undefined);
  }

  async *#iterate(range: KVRange, snapshot: LevelSnapshot | undefined): AsyncIterable<[Uint8Array, Uint8Array]> {
    const options: KVRange & { snapshot?: LevelSnapshot } = {
      reverse: range.reverse ?? false,
      limit: range.limit ?? -1,
    };
    if (range.gte !== undefined) options.gte = range.gte;
    if (range.lt !== undefined) options.lt = range.lt;
    if (snapshot !== undefined) options.snapshot = snapshot;
    for await (const [key, value] of this.db.iterator(options)) yield [view(key), view(value)];
  }

  /** LevelDB's own snapshot (classic-level's explicit snapshots): created synchronously. */
  snapshot(): KVSnapshot {
    const snapshot = this.db.snapshot();
    return {
      get: async (key) => {
        const value = await this.db.get(key, { snapshot });
        return value === undefined ? undefined : view(value);
      },
      iterate: (range) => this.#iterate(range, snapshot),
      close: () => snapshot.close(),
    };
  }
}

type LevelSnapshot = ReturnType<Level<Uint8Array, Uint8Array>['snapshot']>;
