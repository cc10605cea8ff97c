// Sorting the scale state's tree entries (key hash, value hash) by key hash outside LevelDB.
//
// The bulk tree build needs its entries in key-hash order. The builder used to stage them in
// the state's own store (smt-bulk.ts `stagingPut`): one more LevelDB put per record while
// loading, then a read and a delete per record while building, and LevelDB compacting all of
// it, staged entries and their tombstones, through the same levels as the records. At 10^7
// vehicles that is 1.2·10^8 entries. Here each entry is appended to one of 256 files chosen by
// the first byte of its key hash (sequential writes through 64 KiB buffers); at the end each
// file, about 1/256 of the entries (30 MB at 10^7 vehicles), is read back and sorted in memory
// on its own, in file order, which is key-hash order. Memory: the buffers (16 MiB) and one file.

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const HASH_LENGTH = 32;
const ENTRY_LENGTH = 2 * HASH_LENGTH;
const BUCKETS = 256;
const BUFFER_ENTRIES = 1024;
/** Entries of one bucket are sorted by bytes 1–4 of the key hash packed above their index. */
const INDEX_BITS = 21;
const INDEX_SCALE = 2 ** INDEX_BITS;

export class TreeEntrySorter {
  readonly #dir: string;
  readonly #fds: number[] = [];
  readonly #buffers: Uint8Array[] = [];
  readonly #filled = new Uint32Array(BUCKETS);
  #entries = 0;
  #sorting = false;

  /** `dir` is created, and removed by `sorted()` once it has yielded everything (or by `remove()`). */
  constructor(dir: string) {
    this.#dir = dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      this.#fds.push(openSync(join(dir, bucket.toString(16).padStart(2, '0')), 'w+'));
      this.#buffers.push(new Uint8Array(BUFFER_ENTRIES * ENTRY_LENGTH));
    }
  }

  get entries(): number {
    return this.#entries;
  }

  add(keyHash: Uint8Array, valueHash: Uint8Array): void {
    if (this.#sorting) throw new Error('the sorter is being read');
    if (keyHash.length !== HASH_LENGTH || valueHash.length !== HASH_LENGTH)
      throw new Error('entries are 32-byte hashes');
    const bucket = keyHash[0] as number;
    const buffer = this.#buffers[bucket] as Uint8Array;
    const at = (this.#filled[bucket] as number) * ENTRY_LENGTH;
    buffer.set(keyHash, at);
    buffer.set(valueHash, at + HASH_LENGTH);
    this.#entries++;
    if (++(this.#filled[bucket] as number) === BUFFER_ENTRIES) this.#flush(bucket);
  }

  /**
   * Every entry added, in strictly increasing key-hash order (a key hash added twice is an
   * error). The yielded arrays are views of one bucket's bytes: keep them, never write them.
   */
  *sorted(): Generator<{ keyHash: Uint8Array; valueHash: Uint8Array }> {
    this.#sorting = true;
    try {
      for (let bucket = 0; bucket < BUCKETS; bucket++) {
        this.#flush(bucket);
        closeSync(this.#fds[bucket] as number);
        this.#fds[bucket] = -1;
        const path = join(this.#dir, bucket.toString(16).padStart(2, '0'));
        const bytes = new Uint8Array(readFileSync(path));
        rmSync(path);
        for (const index of sortBucket(bytes)) {
          const at = index * ENTRY_LENGTH;
          yield {
            keyHash: bytes.subarray(at, at + HASH_LENGTH),
            valueHash: bytes.subarray(at + HASH_LENGTH, at + ENTRY_LENGTH),
          };
        }
      }
    } finally {
      this.remove();
    }
  }

  /** Closes and deletes the files (what `sorted()` has not read is lost). */
  remove(): void {
    for (const [bucket, fd] of this.#fds.entries()) {
      if (fd >= 0) closeSync(fd);
      this.#fds[bucket] = -1;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #flush(bucket: number): void {
    const filled = this.#filled[bucket] as number;
    if (filled === 0) return;
    const bytes = (this.#buffers[bucket] as Uint8Array).subarray(0, filled * ENTRY_LENGTH);
    let written = 0;
    while (written < bytes.length) written += writeSync(this.#fds[bucket] as number, bytes, written);
    this.#filled[bucket] = 0;
  }
}

/**
 * The order of a bucket's entries by key hash (all share the first byte). A numeric sort of
 * (bytes 1–4 as a number) · 2^21 + index, exact in a double, does nearly all of it natively;
 * runs with equal bytes 1–4 (a few dozen pairs in half a million entries) are then ordered by
 * the rest of the hash.
 */
export function sortBucket(bytes: Uint8Array): Uint32Array {
  const count = bytes.length / ENTRY_LENGTH;
  if (!Number.isInteger(count)) throw new Error('a bucket holds whole entries');
  if (count > INDEX_SCALE) throw new Error(`a bucket of ${count} entries: more than ${INDEX_SCALE}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const packed = new Float64Array(count);
  for (let index = 0; index < count; index++)
    packed[index] = view.getUint32(index * ENTRY_LENGTH + 1) * INDEX_SCALE + index;
  packed.sort();
  const order = new Uint32Array(count);
  for (let index = 0; index < count; index++) order[index] = (packed[index] as number) % INDEX_SCALE;
  let runStart = 0;
  for (let position = 1; position <= count; position++) {
    const ended =
      position === count ||
      Math.floor((packed[position] as number) / INDEX_SCALE) !== Math.floor((packed[runStart] as number) / INDEX_SCALE);
    if (!ended) continue;
    if (position - runStart > 1) {
      const run = Array.from(order.subarray(runStart, position)).sort((a, b) => compareKeyHash(bytes, a, b));
      order.set(run, runStart);
    }
    runStart = position;
  }
  for (let position = 1; position < count; position++) {
    if (compareKeyHash(bytes, order[position - 1] as number, order[position] as number) === 0)
      throw new Error('a key hash added twice');
  }
  return order;
}

function compareKeyHash(bytes: Uint8Array, a: number, b: number): number {
  const left = a * ENTRY_LENGTH;
  const right = b * ENTRY_LENGTH;
  for (let offset = 0; offset < HASH_LENGTH; offset++) {
    const difference = (bytes[left + offset] as number) - (bytes[right + offset] as number);
    if (difference !== 0) return difference;
  }
  return 0;
}
