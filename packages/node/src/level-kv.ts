// The KV store on level (LevelDB). One database holds everything a node keeps: the state
// machine's keys under its own prefix and the chain's (blocks, certificates, receipts, the
// transaction index, consensus persistence) under others, so that a commit is ONE atomic batch.

import { Level } from 'level';

export type KVOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };
export interface KVRange {
  gte?: Uint8Array;
  lt?: Uint8Array;
  reverse?: boolean;
  limit?: number;
}

export class LevelKV {
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
    return (await this.db.get(key)) ?? undefined;
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.db.put(key, value);
  }

  async del(key: Uint8Array): Promise<void> {
    await this.db.del(key);
  }

  async batch(ops: readonly KVOp[]): Promise<void> {
    await this.db.batch(ops as KVOp[]);
  }

  /**
   * A batch that is on disk (fsync) when the promise resolves: used where a crash must not
   * lose the write, such as a validator's record of what it signed before the message leaves.
   */
  async batchDurable(ops: readonly KVOp[]): Promise<void> {
    await this.db.batch(ops as KVOp[], { sync: true });
  }

  async *iterate(range: KVRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    const options: KVRange = { reverse: range.reverse ?? false, limit: range.limit ?? -1 };
    if (range.gte !== undefined) options.gte = range.gte;
    if (range.lt !== undefined) options.lt = range.lt;
    for await (const [key, value] of this.db.iterator(options)) yield [key, value];
  }
}
