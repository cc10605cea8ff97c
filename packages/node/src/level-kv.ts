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

export class LevelKV implements KVStore {
  readonly db: Level<Uint8Array, Uint8Array>;

  private constructor(db: Level<Uint8Array, Uint8Array>) {
    this.db = db;
  }

  static async open(path: string): Promise<LevelKV> {
    const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
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
