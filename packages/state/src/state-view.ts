// Reading and writing records in layers: the committed state (store plus a cache), a block's
// writes on top of it, and one transaction's writes on top of those. A transaction that fails
// drops its layer, so a failure never leaves half of its writes behind; a block that is never
// committed drops its layer, so executing a block changes nothing until the node commits it.

import { utf8ToBytes } from '@autoledger/crypto';
import type { KVStore } from './kv.ts';
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

  async #load<T>(key: string, codec: Codec<T>): Promise<T | null> {
    const bytes = await this.#kv.get(recordStoreKey(key));
    const value = bytes === undefined ? null : codec.decode(bytes);
    this.remember(key, value);
    return value;
  }

  remember(key: string, value: unknown): void {
    this.#cache.delete(key);
    this.#cache.set(key, value);
    if (this.#cache.size > this.#limit) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }
}
