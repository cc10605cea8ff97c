// Reading and writing records in layers: the committed state (store plus a cache), a block's
// writes on top of it, and one transaction's writes on top of those. A transaction that fails
// drops its layer, so a failure never leaves half of its writes behind; a block that is never
// committed drops its layer, so executing a block changes nothing until the node commits it.

import { utf8ToBytes } from '@autoledger/crypto';
import type { KVSnapshot, KVStore } from './kv.ts';
import type { Codec } from './records.ts';

export interface RecordReader {
  /**
   * The record under `key`, or null when there is none — directly when it is in memory (the
   * common case: no promise to allocate), otherwise a promise. Callers await either.
   * Records are never mutated: copy, then write.
   */
  read<T>(key: string, codec: Codec<T>): T | null | Promise<T | null>;
}

export interface RecordWrite {
  /** null deletes the record. */
  value: unknown;
  codec: Codec<unknown>;
}

/** Key prefixes inside the state's own prefix byte. */
export const STATE_PREFIX = 0x53; // 'S': every key the state reads or writes starts with it
export const RECORD_SPACE = 0x72; // 'r': records, by record key
export const TREE_SPACE = 0x74; // 't': Merkle tree nodes, by position
export const META_SPACE = 0x6d; // 'm': the committed height, time and root
export const INDEX_SPACE = 0x69; // 'i': order indexes for queries
export const DEADLINE_SPACE = 0x64; // 'd': orders by the time the state acts on them

export function recordStoreKey(key: string): Uint8Array {
  const text = utf8ToBytes(key);
  const out = new Uint8Array(2 + text.length);
  out[0] = STATE_PREFIX;
  out[1] = RECORD_SPACE;
  out.set(text, 2);
  return out;
}

export class WriteLayer implements RecordReader {
  readonly writes = new Map<string, RecordWrite>();
  readonly #parent: RecordReader;

  constructor(parent: RecordReader) {
    this.#parent = parent;
  }

  read<T>(key: string, codec: Codec<T>): T | null | Promise<T | null> {
    const write = this.writes.get(key);
    if (write !== undefined) return write.value as T | null;
    return this.#parent.read(key, codec);
  }

  write<T>(key: string, codec: Codec<T>, value: T | null): void {
    this.writes.set(key, { value, codec: codec as Codec<unknown> });
  }

  mergeInto(target: WriteLayer): void {
    for (const [key, write] of this.writes) target.writes.set(key, write);
  }
}

/**
 * The committed records: read from the store through a bounded cache of decoded records
 * (hot accounts and vehicles are read by almost every block). Absence is cached too.
 */
export class CommittedRecords implements RecordReader {
  readonly #kv: KVStore;
  readonly #cache = new Map<string, unknown>();
  readonly #limit: number;
  /** Counts what commits remember, so that a read racing one does not cache what it replaced. */
  #generation = 0;

  constructor(kv: KVStore, cacheLimit: number) {
    this.#kv = kv;
    this.#limit = cacheLimit;
  }

  read<T>(key: string, codec: Codec<T>): T | null | Promise<T | null> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      // Move to the back: the cache evicts from the front (least recently used).
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached as T | null;
    }
    return this.#load(key, codec);
  }

  /** The cached record (null: cached absence), or undefined when it is not in the cache. */
  peek(key: string): unknown {
    return this.#cache.get(key);
  }

  async #load<T>(key: string, codec: Codec<T>): Promise<T | null> {
    const generation = this.#generation;
    const bytes = await this.#kv.get(recordStoreKey(key));
    const value = bytes === undefined ? null : codec.decode(bytes);
    // A commit that landed while the store was read may have cached a newer value of this
    // key, and the store's answer may predate it: caching it would put the old value back,
    // and the next block would execute on it.
    if (generation === this.#generation) this.#store(key, value);
    return value;
  }

  /** Caches a committed value (the node calls it for each record a commit wrote). */
  remember(key: string, value: unknown): void {
    this.#generation++;
    this.#store(key, value);
  }

  #store(key: string, value: unknown): void {
    this.#cache.delete(key);
    this.#cache.set(key, value);
    if (this.#cache.size > this.#limit) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }
}

/**
 * The committed records as they were when a store snapshot was taken. While no commit has
 * started since (`isCurrent`), the cache of committed records holds the same state and
 * answers first; otherwise, and on a miss, the snapshot does. Nothing read here is cached:
 * the snapshot may be older than the committed state.
 */
export class SnapshotRecords implements RecordReader {
  readonly #snapshot: KVSnapshot;
  readonly #committed: CommittedRecords;
  readonly #isCurrent: () => boolean;

  constructor(snapshot: KVSnapshot, committed: CommittedRecords, isCurrent: () => boolean) {
    this.#snapshot = snapshot;
    this.#committed = committed;
    this.#isCurrent = isCurrent;
  }

  read<T>(key: string, codec: Codec<T>): T | null | Promise<T | null> {
    if (this.#isCurrent()) {
      const cached = this.#committed.peek(key);
      if (cached !== undefined) return cached as T | null;
    }
    return this.#load(key, codec);
  }

  async #load<T>(key: string, codec: Codec<T>): Promise<T | null> {
    const bytes = await this.#snapshot.get(recordStoreKey(key));
    return bytes === undefined ? null : codec.decode(bytes);
  }
}
