// A byte-budgeted cache of Merkle tree nodes, by hash, in one preallocated byte array.
//
// Before it, every node read stayed in memory as JavaScript objects (a node, an array of
// sixteen children, a stub and a 32-byte array per child hash): about 600 bytes per key at
// 10^6 keys, never evicted. Here a node costs its stored encoding plus 34 bytes, and the
// cache never holds more than its budget however large the state grows.
//
// Layout: the arena is SEGMENTS equal segments (each allocated when first filled, so a small
// state costs little), filled one after the other as a log; when the log comes back round to a segment, the segment is reused and everything in
// it is forgotten at once (its generation changes, so index entries pointing into it read as
// stale). A node read while its segment is in the older half of the log is copied to the
// current one (a second chance), so hot nodes — the top of the tree, hot accounts' paths —
// stay while cold ones age out: CLOCK-like eviction by segment, with no per-entry metadata.
//
// The cache is content-addressed: a hash names one node content forever, so an entry is
// never wrong, whichever state version (block candidate, snapshot, committed head) read or
// wrote it. What it holds changes only speed, never a result: the determinism test runs
// ledgers with tiny and large budgets side by side and compares their roots.
//
//   entry: length of encoding (2 bytes) ‖ hash (32 bytes) ‖ encoding

const HASH_LENGTH = 32;
const ENTRY_HEADER = 2 + HASH_LENGTH;
const SEGMENTS = 16;
/** Average entry size assumed to size the index (a leaf is 99 bytes, a full internal node 565). */
const INDEX_BYTES_PER_SLOT = 64;

function hashSlot(hash: Uint8Array): number {
  // Node hashes are sha256 outputs: any four bytes are uniform.
  return (
    (((hash[0] as number) << 24) | ((hash[1] as number) << 16) | ((hash[2] as number) << 8) | (hash[3] as number)) >>> 0
  );
}

export class TreeNodeCache {
  readonly capacityBytes: number;
  /** The arena, segment by segment; a segment not yet used is empty. */
  readonly #segments: Uint8Array[] = [];
  readonly #segmentBytes: number;
  /** Generation of each segment; bumped when the segment is reused. */
  readonly #segmentGeneration = new Uint32Array(SEGMENTS);
  /** Two-way set-associative index: offset + 1 of the entry (0: empty) and its generation. */
  readonly #offsets: Int32Array;
  readonly #generations: Uint32Array;
  /** Set when an entry is read: of two live ways, the one not read since it was written goes first. */
  readonly #referenced: Uint8Array;
  readonly #mask: number;
  #segment = 0;
  #head = 0;
  hits = 0;
  misses = 0;

  /** @param budgetBytes the most this cache allocates, index included (0: caches nothing) */
  constructor(budgetBytes: number) {
    const slots = budgetBytes <= 0 ? 0 : 2 ** Math.max(1, Math.floor(Math.log2(budgetBytes / INDEX_BYTES_PER_SLOT)));
    const indexBytes = slots * 9;
    // A segment must hold the largest node (565 bytes) or the cache holds nothing.
    const segmentBytes = Math.floor(Math.max(0, budgetBytes - indexBytes) / SEGMENTS);
    this.#segmentBytes = segmentBytes >= 1024 ? segmentBytes : 0;
    for (let i = 0; i < SEGMENTS; i++) this.#segments.push(new Uint8Array(0));
    this.#offsets = new Int32Array(this.#segmentBytes === 0 ? 0 : slots);
    this.#generations = new Uint32Array(this.#offsets.length);
    this.#referenced = new Uint8Array(this.#offsets.length);
    this.#mask = Math.max(0, this.#offsets.length - 1) & ~1;
    this.capacityBytes = this.#segmentBytes * SEGMENTS + this.#offsets.length * 9;
  }

  /** Index position whose entry holds `hash` and is live, or -1. */
  #find(hash: Uint8Array): number {
    if (this.#offsets.length === 0) return -1;
    const base = hashSlot(hash) & this.#mask;
    for (let way = 0; way < 2; way++) {
      const position = base + way;
      const offset = (this.#offsets[position] as number) - 1;
      if (offset < 0) continue;
      const segment = Math.floor(offset / this.#segmentBytes);
      if (this.#segmentGeneration[segment] !== this.#generations[position]) continue;
      const bytes = this.#segments[segment] as Uint8Array;
      const start = offset - segment * this.#segmentBytes + 2;
      let equal = true;
      for (let i = 0; i < HASH_LENGTH; i++) {
        if (bytes[start + i] !== hash[i]) {
          equal = false;
          break;
        }
      }
      if (equal) return position;
    }
    return -1;
  }

  /**
   * The encoding of the node with this hash, as a view of the arena valid until the next
   * `put` (copy what must outlive it), or undefined.
   */
  get(hash: Uint8Array): Uint8Array | undefined {
    const position = this.#find(hash);
    if (position < 0) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#referenced[position] = 1;
    const offset = (this.#offsets[position] as number) - 1;
    const segment = Math.floor(offset / this.#segmentBytes);
    const bytes = this.#segments[segment] as Uint8Array;
    const start = offset - segment * this.#segmentBytes;
    const length = ((bytes[start] as number) << 8) | (bytes[start + 1] as number);
    const encoding = bytes.subarray(start + ENTRY_HEADER, start + ENTRY_HEADER + length);
    // Older than half the log: give it a second chance in the current segment.
    if ((this.#segment - segment + SEGMENTS) % SEGMENTS >= SEGMENTS / 2) {
      const copy = encoding.slice();
      const moved = this.#append(hash, copy, position);
      return moved < 0 ? copy : this.#view(moved);
    }
    return encoding;
  }

  /** Remembers a node's encoding (copied); a node already present is left where it is. */
  put(hash: Uint8Array, encoding: Uint8Array): void {
    if (this.#offsets.length === 0 || this.#find(hash) >= 0) return;
    this.#append(hash, encoding);
  }

  /** Appends an entry and indexes it; its offset, or -1 when it cannot fit. */
  #append(hash: Uint8Array, encoding: Uint8Array, existing = -1): number {
    const size = ENTRY_HEADER + encoding.length;
    if (size > this.#segmentBytes || encoding.length > 0xffff) return -1;
    if (this.#head + size > this.#segmentBytes) {
      // Next segment: everything it held is forgotten at once.
      this.#segment = (this.#segment + 1) % SEGMENTS;
      this.#segmentGeneration[this.#segment] = ((this.#segmentGeneration[this.#segment] as number) + 1) >>> 0;
      this.#head = 0;
    }
    let bytes = this.#segments[this.#segment] as Uint8Array;
    if (bytes.length === 0) {
      bytes = new Uint8Array(this.#segmentBytes);
      this.#segments[this.#segment] = bytes;
    }
    const offset = this.#segment * this.#segmentBytes + this.#head;
    bytes[this.#head] = encoding.length >> 8;
    bytes[this.#head + 1] = encoding.length & 0xff;
    bytes.set(hash, this.#head + 2);
    bytes.set(encoding, this.#head + ENTRY_HEADER);
    this.#head += size;
    // A moved entry keeps its way; otherwise an empty or stale way, else the one not read
    // since it was written, else the older.
    const base = hashSlot(hash) & this.#mask;
    let position = existing;
    if (position < 0) {
      const live0 = this.#isLive(base);
      const live1 = this.#isLive(base + 1);
      if (!live0) position = base;
      else if (!live1) position = base + 1;
      else if (this.#referenced[base] !== this.#referenced[base + 1])
        position = this.#referenced[base] ? base + 1 : base;
      else position = this.#age(base + 1) > this.#age(base) ? base + 1 : base;
      this.#referenced[position] = 0;
    }
    this.#offsets[position] = offset + 1;
    this.#generations[position] = this.#segmentGeneration[this.#segment] as number;
    return offset;
  }

  /** The encoding of the entry at `offset`. */
  #view(offset: number): Uint8Array {
    const segment = Math.floor(offset / this.#segmentBytes);
    const bytes = this.#segments[segment] as Uint8Array;
    const start = offset - segment * this.#segmentBytes;
    const length = ((bytes[start] as number) << 8) | (bytes[start + 1] as number);
    return bytes.subarray(start + ENTRY_HEADER, start + ENTRY_HEADER + length);
  }

  /** Bytes allocated now (segments filled so far and the index); at most capacityBytes. */
  get allocatedBytes(): number {
    let total = this.#offsets.length * 9;
    for (const segment of this.#segments) total += segment.length;
    return total;
  }

  #isLive(position: number): boolean {
    const offset = (this.#offsets[position] as number) - 1;
    if (offset < 0) return false;
    return this.#segmentGeneration[Math.floor(offset / this.#segmentBytes)] === this.#generations[position];
  }

  /** How many segments ago an index entry was written. */
  #age(position: number): number {
    const offset = (this.#offsets[position] as number) - 1;
    return (this.#segment - Math.floor(offset / this.#segmentBytes) + SEGMENTS) % SEGMENTS;
  }
}
