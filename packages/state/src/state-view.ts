// Reading and writing records in layers: the committed state (store plus a cache), a block's
// writes on top of it, and one transaction's writes on top of those. A transaction that fails
// drops its layer, so a failure never leaves half of its writes behind; a block that is never
// committed drops its layer, so executing a block changes nothing until the node commits it.

import { utf8ToBytes } from '@autoledger/crypto';
import { getMany, type KVSnapshot, type KVStore } from './kv.ts';
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
  /** Length of the stored encoding, once the block's writes are encoded (sizes the cache entry). */
  encodedBytes?: number;
}

/**
 * A least-recently-used map bounded by an estimate of the bytes its entries hold (and, if
 * given, by a count). Map keeps insertion order, so the front is the least recently used.
 */
export class ByteBudgetLru<V> {
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly #entries = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;

  constructor(maxBytes: number, maxEntries = Number.POSITIVE_INFINITY) {
    this.maxBytes = maxBytes;
    this.maxEntries = maxEntries;
  }

  /** The estimated bytes held now (at most maxBytes). */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The value, marked as just used. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** The value, leaving its place in the order alone. */
  peek(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes || this.maxEntries < 1) return;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    while (this.#bytes > this.maxBytes || this.#entries.size > this.maxEntries) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, { value: V; bytes: number }];
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}

/**
 * What a cached record costs, estimated: the key (two bytes per character), the decoded
 * object (about three times its JSON text: property slots, strings, bigints) and the cache's
 * own entry. An estimate is enough: the budget bounds memory, it is not consensus.
 */
export function recordCacheBytes(key: string, encodedBytes: number): number {
  return 120 + 2 * key.length + 3 * encodedBytes;
}

/** Key prefixes inside the state's own prefix byte. */
export const STATE_PREFIX = 0x53; // 'S': every key the state reads or writes starts with it
export const RECORD_SPACE = 0x72; // 'r': records, by record key
export const TREE_SPACE = 0x74; // 't': Merkle tree nodes, by position
export const META_SPACE = 0x6d; // 'm': the committed height, time and root
export const INDEX_SPACE = 0x69; // 'i': order indexes for queries
export const DEADLINE_SPACE = 0x64; // 'd': orders by the time the state acts on them
export const STAGING_SPACE = 0x62; // 'b': tree entries staged by a bulk build (smt-bulk.ts), only while it runs

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
  readonly #cache: ByteBudgetLru<unknown>;
  /** Counts what commits remember, so that a read racing one does not cache what it replaced. */
  #generation = 0;

  /**
   * @param cacheBytes   the records cache's byte budget (estimated: recordCacheBytes)
   * @param cacheEntries and, if given, its most entries
   */
  constructor(kv: KVStore, cacheBytes: number, cacheEntries?: number) {
    this.#kv = kv;
    this.#cache = new ByteBudgetLru(cacheBytes, cacheEntries);
  }

  /** The cache's estimated size, for measurements. */
  get cacheBytes(): number {
    return this.#cache.bytes;
  }

  read<T>(key: string, codec: Codec<T>): T | null | Promise<T | null> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached as T | null;
    return this.#load(key, codec);
  }

  /** The cached record (null: cached absence), or undefined when it is not in the cache. */
  peek(key: string): unknown {
    return this.#cache.peek(key);
  }

  /**
   * Reads into the cache, in one batched store read, the records of `requests` it does not
   * hold: a block's transactions then execute on memory instead of awaiting one read at a
   * time. Only a warm-up: a record that fails to decode is left for execution to meet (and
   * refuse the block as it always did), and everything is dropped if a commit raced the read.
   */
  async prefetch(requests: readonly { key: string; codec: Codec<unknown> }[]): Promise<void> {
    const missing = new Map<string, Codec<unknown>>();
    for (const { key, codec } of requests) if (!this.#cache.has(key)) missing.set(key, codec);
    if (missing.size === 0) return;
    const generation = this.#generation;
    const wanted = [...missing];
    const values = await getMany(
      this.#kv,
      wanted.map(([key]) => recordStoreKey(key)),
    );
    if (generation !== this.#generation) return;
    for (const [i, [key, codec]] of wanted.entries()) {
      if (this.#cache.has(key)) continue;
      const bytes = values[i];
      let value: unknown = null;
      if (bytes !== undefined) {
        try {
          value = codec.decode(bytes);
        } catch {
          continue;
        }
      }
      this.#cache.set(key, value, recordCacheBytes(key, bytes?.length ?? 0));
    }
  }

  async #load<T>(key: string, codec: Codec<T>): Promise<T | null> {
    const generation = this.#generation;
    const bytes = await this.#kv.get(recordStoreKey(key));
    const value = bytes === undefined ? null : codec.decode(bytes);
    // A commit that landed while the store was read may have cached a newer value of this
    // key, and the store's answer may predate it: caching it would put the old value back,
    // and the next block would execute on it.
    if (generation === this.#generation) this.#cache.set(key, value, recordCacheBytes(key, bytes?.length ?? 0));
    return value;
  }

  /**
   * Caches a committed value (the node calls it for each record a commit wrote).
   * `encodedBytes` sizes it; unknown, a typical record's size is assumed.
   */
  remember(key: string, value: unknown, encodedBytes = 256): void {
    this.#generation++;
    this.#cache.set(key, value, recordCacheBytes(key, value === null ? 0 : encodedBytes));
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

  /**
   * `read` for many keys at once, the misses read from the snapshot concurrently: a page of a
   * long history costs one wait for the store instead of one per entry, which under load
   * (each await queued behind block work) is the difference between milliseconds and seconds.
   * The caller bounds how many keys it asks for at a time.
   */
  readMany<T>(keys: readonly string[], codec: Codec<T>): Promise<(T | null)[]> {
    return Promise.all(keys.map((key) => this.read(key, codec)));
  }
}
