// The narrow storage interface the state machine runs on, and an in-memory implementation.
// The node supplies a level-backed store with the same contract; both pass the shared suite
// in test/unit/kv/kv-suite.ts.

export type KVOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

export interface KVRange {
  gte?: Uint8Array;
  lt?: Uint8Array;
  reverse?: boolean;
  limit?: number;
}

export interface KVStore {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /**
   * Several keys in one read (LevelDB: one call into the native side, keys looked up
   * together), answers in the order asked. Optional: callers fall back to parallel gets.
   */
  getMany?(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  del(key: Uint8Array): Promise<void>;
  /** Applies every operation or none; a later operation on the same key wins. */
  batch(ops: readonly KVOp[]): Promise<void>;
  /** Entries with gte ≤ key < lt in byte-lexicographic order (descending when reversed). */
  iterate(range: KVRange): AsyncIterable<[Uint8Array, Uint8Array]>;
  /**
   * A read-only view of the store as it is now, taken synchronously: writes that complete
   * after this call are not seen through it. Close it when done; an open snapshot holds on to
   * the data it sees.
   */
  snapshot(): KVSnapshot;
}

export interface KVSnapshot {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  iterate(range: KVRange): AsyncIterable<[Uint8Array, Uint8Array]>;
  close(): Promise<void>;
}

// Keys are kept as strings of one character per byte (code units 0-255): JavaScript compares
// strings by code unit, so their order is the bytes' lexicographic order, a shorter string
// first when it is a prefix.
const CHUNK_SPLIT = 1024;

function keyToString(key: Uint8Array): string {
  let text = '';
  for (let i = 0; i < key.length; i++) text += String.fromCharCode(key[i] as number);
  return text;
}

function stringToKey(text: string): Uint8Array {
  const key = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) key[i] = text.charCodeAt(i);
  return key;
}

/**
 * A sorted set of strings as a list of sorted chunks: insertion and deletion cost
 * O(√n)-ish memory moves instead of O(n), and range scans start with two binary searches.
 */
class SortedKeys {
  #chunks: string[][] = [];

  clone(): SortedKeys {
    const copy = new SortedKeys();
    copy.#chunks = this.#chunks.map((chunk) => chunk.slice());
    return copy;
  }

  /** Index of the first chunk whose last key is ≥ key (chunks.length when none). */
  #chunkFor(key: string): number {
    let low = 0;
    let high = this.#chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.#chunks[middle] as string[];
      if ((chunk[chunk.length - 1] as string) < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  insert(key: string): void {
    if (this.#chunks.length === 0) {
      this.#chunks.push([key]);
      return;
    }
    const chunkIndex = Math.min(this.#chunkFor(key), this.#chunks.length - 1);
    const chunk = this.#chunks[chunkIndex] as string[];
    const position = lowerBound(chunk, key);
    if (chunk[position] === key) return;
    chunk.splice(position, 0, key);
    if (chunk.length > CHUNK_SPLIT) this.#chunks.splice(chunkIndex + 1, 0, chunk.splice(CHUNK_SPLIT / 2));
  }

  remove(key: string): void {
    const chunkIndex = this.#chunkFor(key);
    const chunk = this.#chunks[chunkIndex];
    if (chunk === undefined) return;
    const position = lowerBound(chunk, key);
    if (chunk[position] !== key) return;
    chunk.splice(position, 1);
    if (chunk.length === 0) this.#chunks.splice(chunkIndex, 1);
  }

  /** Keys in [gte, lt), ascending or descending, at most `limit` of them. */
  range(gte: string | undefined, lt: string | undefined, reverse: boolean, limit: number): string[] {
    const out: string[] = [];
    if (limit <= 0) return out;
    if (!reverse) {
      let chunkIndex = gte === undefined ? 0 : this.#chunkFor(gte);
      let position = gte === undefined ? 0 : lowerBound(this.#chunks[chunkIndex] ?? [], gte);
      for (; chunkIndex < this.#chunks.length; chunkIndex++, position = 0) {
        const chunk = this.#chunks[chunkIndex] as string[];
        for (; position < chunk.length; position++) {
          const key = chunk[position] as string;
          if (lt !== undefined && key >= lt) return out;
          out.push(key);
          if (out.length >= limit) return out;
        }
      }
      return out;
    }
    let chunkIndex = this.#chunks.length - 1;
    let position = (this.#chunks[chunkIndex]?.length ?? 0) - 1;
    if (lt !== undefined) {
      const found = this.#chunkFor(lt);
      if (found < this.#chunks.length) {
        chunkIndex = found;
        position = lowerBound(this.#chunks[found] as string[], lt) - 1;
      }
    }
    while (chunkIndex >= 0) {
      const chunk = this.#chunks[chunkIndex] as string[];
      for (; position >= 0; position--) {
        const key = chunk[position] as string;
        if (gte !== undefined && key < gte) return out;
        out.push(key);
        if (out.length >= limit) return out;
      }
      chunkIndex--;
      position = (this.#chunks[chunkIndex]?.length ?? 0) - 1;
    }
    return out;
  }
}

function lowerBound(sorted: readonly string[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as string) < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

function checkBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}

interface MemoryData {
  values: Map<string, Uint8Array>;
  keys: SortedKeys;
}

function readRange(data: MemoryData, range: KVRange): [Uint8Array, Uint8Array][] {
  const gte = range.gte === undefined ? undefined : keyToString(range.gte);
  const lt = range.lt === undefined ? undefined : keyToString(range.lt);
  const limit = range.limit === undefined || range.limit < 0 ? Number.POSITIVE_INFINITY : range.limit;
  return data.keys
    .range(gte, lt, range.reverse ?? false, limit)
    .map((key) => [stringToKey(key), data.values.get(key) as Uint8Array]);
}

/**
 * A MemoryKV snapshot reads the live data until the store is first written after it was
 * taken; that write gives it a copy of the data as it was (copy on first write), so a
 * snapshot costs nothing while nothing is written and one copy when something is.
 */
class MemorySnapshot implements KVSnapshot {
  #data: MemoryData | undefined;
  readonly #store: MemoryKV;
  readonly #live: MemoryData;

  constructor(store: MemoryKV, live: MemoryData) {
    this.#store = store;
    this.#live = live;
  }

  get frozen(): boolean {
    return this.#data !== undefined;
  }

  freeze(copy: MemoryData): void {
    this.#data = copy;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    checkBytes(key, 'key');
    return (this.#data ?? this.#live).values.get(keyToString(key));
  }

  async *iterate(range: KVRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    yield* readRange(this.#data ?? this.#live, range);
  }

  async close(): Promise<void> {
    this.#store.release(this);
  }
}

/**
 * An in-memory KVStore for tests, simulations and measurements. Values are copied on write so
 * that a caller reusing a buffer cannot change stored data; iteration returns a snapshot of the
 * range taken when it starts.
 */
export class MemoryKV implements KVStore {
  readonly #data: MemoryData = { values: new Map(), keys: new SortedKeys() };
  readonly #snapshots = new Set<MemorySnapshot>();

  get size(): number {
    return this.#data.values.size;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    checkBytes(key, 'key');
    return this.#data.values.get(keyToString(key));
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return keys.map((key) => {
      checkBytes(key, 'key');
      return this.#data.values.get(keyToString(key));
    });
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    this.#apply([{ type: 'put', key, value }]);
  }

  async del(key: Uint8Array): Promise<void> {
    this.#apply([{ type: 'del', key }]);
  }

  async batch(ops: readonly KVOp[]): Promise<void> {
    this.#apply(ops);
  }

  snapshot(): KVSnapshot {
    const snapshot = new MemorySnapshot(this, this.#data);
    this.#snapshots.add(snapshot);
    return snapshot;
  }

  /** Forgets a closed snapshot. */
  release(snapshot: MemorySnapshot): void {
    this.#snapshots.delete(snapshot);
  }

  #apply(ops: readonly KVOp[]): void {
    // Validate everything first so that a bad operation leaves the store untouched.
    for (const op of ops) {
      checkBytes(op?.key, 'key');
      if (op.type === 'put') checkBytes(op.value, 'value');
      else if (op.type !== 'del') throw new TypeError(`unknown batch operation ${String((op as KVOp).type)}`);
    }
    // Open snapshots that still read the live data get one shared copy of it first. Stored
    // values are never changed in place, so the copy shares them.
    let copy: MemoryData | undefined;
    for (const snapshot of this.#snapshots) {
      if (snapshot.frozen) continue;
      copy ??= { values: new Map(this.#data.values), keys: this.#data.keys.clone() };
      snapshot.freeze(copy);
    }
    const { values, keys } = this.#data;
    for (const op of ops) {
      const key = keyToString(op.key);
      if (op.type === 'put') {
        if (!values.has(key)) keys.insert(key);
        values.set(key, new Uint8Array(op.value));
      } else if (values.delete(key)) {
        keys.remove(key);
      }
    }
  }

  async *iterate(range: KVRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    yield* readRange(this.#data, range);
  }
}

/** Reads several keys: in one call when the store can, otherwise all at once in parallel. */
export function getMany(kv: KVStore, keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
  if (keys.length === 0) return Promise.resolve([]);
  return kv.getMany !== undefined ? kv.getMany(keys) : Promise.all(keys.map((key) => kv.get(key)));
}
