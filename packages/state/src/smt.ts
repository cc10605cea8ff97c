// The state's sparse Merkle tree on a KV store (hashing and proofs: smt-proof.ts).
//
// Nodes are stored by position — (level, path prefix) — not by hash, so a position holds at
// most one node at a time and a write replaces what it overwrites: the store never fills up
// with dead nodes. In memory the tree is persistent (copy on write): an update builds new
// nodes along the changed paths and shares everything else with the tree it started from, so
// several candidate blocks can each be applied to the same committed root.
//
// A block's writes are applied in one batch: the changed keys are sorted and the tree is
// rebuilt top-down once, so a node shared by many changed paths is hashed once per block. The
// levels near the root are kept in memory as objects (they are on every path; `cacheLevel`
// bounds them: 16^cacheLevel nodes at most); deeper nodes are dropped after use, kept in a
// byte-budgeted cache of their encodings (tree-cache.ts) and read back from it, or from the
// store, when next needed. Before an update runs, the nodes on its paths are read level by
// level, each level in one batched store read.

import { bytesEqual, bytesToHex } from '@autoledger/crypto';
import { BytePool } from './byte-pool.ts';
import { assert } from './errors.ts';
import { getMany, type KVOp, type KVStore } from './kv.ts';
import {
  EMPTY_HASH,
  HASH_LENGTH,
  internalHash,
  leafHash,
  MAX_LEVELS,
  nibbleAt,
  type ProofLevel,
  popcount16,
  RADIX,
  type SmtProof,
  slotBit,
} from './smt-proof.ts';
import { TreeNodeCache } from './tree-cache.ts';

export { TreeNodeCache };

export class Leaf {
  readonly keyHash: Uint8Array;
  readonly valueHash: Uint8Array;
  readonly hash: Uint8Array;
  constructor(keyHash: Uint8Array, valueHash: Uint8Array, hash?: Uint8Array) {
    this.keyHash = keyHash;
    this.valueHash = valueHash;
    this.hash = hash ?? leafHash(keyHash, valueHash);
  }
}

export class Internal {
  readonly hash: Uint8Array;
  readonly bitmap: number;
  /** Sixteen slots. A stub may be replaced by the node it stands for, once loaded; nothing else changes. */
  readonly children: Child[];
  constructor(hash: Uint8Array, bitmap: number, children: Child[]) {
    this.hash = hash;
    this.bitmap = bitmap;
    this.children = children;
  }
}

/** A node known by its hash and kind only; its content is in the store at its position. */
export class Stub {
  readonly hash: Uint8Array;
  readonly isLeaf: boolean;
  constructor(hash: Uint8Array, isLeaf: boolean) {
    this.hash = hash;
    this.isLeaf = isLeaf;
  }
}

export type TreeNode = Leaf | Internal;
export type Child = TreeNode | Stub | null;

export interface TreeUpdate {
  keyHash: Uint8Array;
  /** null deletes the key. */
  valueHash: Uint8Array | null;
}

export interface TreeUpdateResult {
  root: Child;
  /**
   * The store operations that turn the stored tree into the new one. Encoded on demand: a
   * block is executed (and voted on) before it commits, and a candidate that loses never
   * pays for encoding.
   */
  ops(): KVOp[];
  /** Nodes hashed by the update: its cost, for measurements. */
  nodesHashed: number;
}

/**
 * The store does not hold the node a tree expects: it was overwritten by a later commit while
 * this tree was being read. Queries retry on it; execution treats it as a bug.
 */
export class StaleTreeError extends Error {
  override readonly name = 'StaleTreeError';
}

export function hashOf(child: Child): Uint8Array {
  return child === null ? EMPTY_HASH : child.hash;
}

function isLeafRef(child: Child): boolean {
  return child instanceof Leaf || (child instanceof Stub && child.isLeaf);
}

/**
 * A copy of a byte range. Buffer (what sha256 and some stores return) overrides `slice` to
 * return a view, so copies go through Uint8Array's own method.
 */
function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}

/** Byte order of two 32-byte hashes (a JavaScript loop: they almost always differ in byte 0). */
function compareHashes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < HASH_LENGTH; i++) {
    const difference = (a[i] as number) - (b[i] as number);
    if (difference !== 0) return difference;
  }
  return 0;
}

// ---- storage encoding --------------------------------------------------------------------
//   leaf:     0x00 ‖ keyHash ‖ valueHash
//   internal: 0x01 ‖ bitmap (2 bytes) ‖ for each child in slot order: kind (1 leaf, 2 internal) ‖ hash

const KIND_LEAF = 1;
const KIND_INTERNAL = 2;

function encodedSize(node: TreeNode | null): number {
  if (node === null) return 0;
  return node instanceof Leaf ? 1 + 2 * HASH_LENGTH : 3 + popcount16(node.bitmap) * (1 + HASH_LENGTH);
}

/** A node's stored encoding, in `slab`. */
export function encodeNode(node: TreeNode, slab: BytePool): Uint8Array {
  if (node instanceof Leaf) {
    const bytes = slab.take(1 + 2 * HASH_LENGTH);
    bytes[0] = 0;
    bytes.set(node.keyHash, 1);
    bytes.set(node.valueHash, 1 + HASH_LENGTH);
    return bytes;
  }
  const bytes = slab.take(3 + popcount16(node.bitmap) * (1 + HASH_LENGTH));
  bytes[0] = 1;
  bytes[1] = node.bitmap >> 8;
  bytes[2] = node.bitmap & 0xff;
  let offset = 3;
  for (const child of node.children) {
    if (child === null) continue;
    bytes[offset] = isLeafRef(child) ? KIND_LEAF : KIND_INTERNAL;
    bytes.set(child.hash, offset + 1);
    offset += 1 + HASH_LENGTH;
  }
  return bytes;
}

/**
 * A node from the cache: its content was checked against its hash when it was cached, and a
 * hash names one content, so it is not hashed again (the cost a cache hit saves).
 */
function decodeTrusted(bytes: Uint8Array, expected: Stub): TreeNode {
  if (expected.isLeaf) {
    assert(bytes.length === 1 + 2 * HASH_LENGTH && bytes[0] === 0, 'a cached leaf');
    return new Leaf(
      copyBytes(bytes, 1, 1 + HASH_LENGTH),
      copyBytes(bytes, 1 + HASH_LENGTH, bytes.length),
      expected.hash,
    );
  }
  assert(bytes.length >= 3 && bytes[0] === 1, 'a cached internal node');
  const bitmap = ((bytes[1] as number) << 8) | (bytes[2] as number);
  const children: Child[] = new Array(RADIX).fill(null);
  let offset = 3;
  for (let slot = 0; slot < RADIX; slot++) {
    if ((bitmap & slotBit(slot)) === 0) continue;
    children[slot] = new Stub(copyBytes(bytes, offset + 1, offset + 1 + HASH_LENGTH), bytes[offset] === KIND_LEAF);
    offset += 1 + HASH_LENGTH;
  }
  return new Internal(expected.hash, bitmap, children);
}

function decodeNode(bytes: Uint8Array, expected: Stub): TreeNode {
  if (expected.isLeaf) {
    if (bytes.length !== 1 + 2 * HASH_LENGTH || bytes[0] !== 0) throw new StaleTreeError('expected a leaf');
    const leaf = new Leaf(copyBytes(bytes, 1, 1 + HASH_LENGTH), copyBytes(bytes, 1 + HASH_LENGTH, bytes.length));
    if (!bytesEqual(leaf.hash, expected.hash)) throw new StaleTreeError('leaf hash mismatch');
    return leaf;
  }
  if (bytes.length < 3 || bytes[0] !== 1) throw new StaleTreeError('expected an internal node');
  const bitmap = ((bytes[1] as number) << 8) | (bytes[2] as number);
  if (bytes.length !== 3 + popcount16(bitmap) * (1 + HASH_LENGTH)) throw new StaleTreeError('malformed internal node');
  const children: Child[] = new Array(RADIX).fill(null);
  const hashes: Uint8Array[] = [];
  let offset = 3;
  for (let slot = 0; slot < RADIX; slot++) {
    if ((bitmap & slotBit(slot)) === 0) continue;
    const kind = bytes[offset];
    if (kind !== KIND_LEAF && kind !== KIND_INTERNAL) throw new StaleTreeError('malformed child kind');
    const hash = copyBytes(bytes, offset + 1, offset + 1 + HASH_LENGTH);
    children[slot] = new Stub(hash, kind === KIND_LEAF);
    hashes.push(hash);
    offset += 1 + HASH_LENGTH;
  }
  const hash = internalHash(bitmap, hashes);
  if (!bytesEqual(hash, expected.hash)) throw new StaleTreeError('internal node hash mismatch');
  return new Internal(hash, bitmap, children);
}

/** The root as the state's metadata stores it: a kind byte (0 empty) and, unless empty, the hash. */
export function encodeRootRef(root: Child): Uint8Array {
  const bytes = new Uint8Array(root === null ? 1 : 1 + HASH_LENGTH);
  bytes[0] = root === null ? 0 : isLeafRef(root) ? KIND_LEAF : KIND_INTERNAL;
  if (root !== null) bytes.set(root.hash, 1);
  return bytes;
}

export function decodeRootRef(bytes: Uint8Array): Child {
  if (bytes[0] === 0) return null;
  return new Stub(copyBytes(bytes, 1, 1 + HASH_LENGTH), bytes[0] === KIND_LEAF);
}

/** `path` with nibble `level` set to `slot`: the path of a node's child in that slot. */
function withNibble(path: Uint8Array, level: number, slot: number): Uint8Array {
  const copy = new Uint8Array(path);
  const index = level >> 1;
  const byte = copy[index] as number;
  copy[index] = (level & 1) === 0 ? (byte & 0x0f) | (slot << 4) : (byte & 0xf0) | slot;
  return copy;
}

/**
 * A compact identity of a position for in-memory maps: a number while the prefix fits in
 * 40 bits (ten levels, any realistic tree), a string beyond.
 */
function positionId(level: number, path: Uint8Array): number | string {
  if (level > 10) {
    const full = bytesToHex(path.subarray(0, (level + 1) >> 1));
    return `${level}:${(level & 1) === 0 ? full : full.slice(0, -1)}`;
  }
  const first40 =
    ((((path[0] as number) << 24) | ((path[1] as number) << 16) | ((path[2] as number) << 8) | (path[3] as number)) >>>
      0) *
      256 +
    (path[4] as number);
  // Dividing an integer below 2^40 by a power of two and flooring is exact in a double.
  return Math.floor(first40 / 16 ** (10 - level)) * 256 + level;
}

/** A stub the synchronous update pass needs but the prefetch did not load (rare: a collapse). */
class MissingNode extends Error {
  readonly stub: Stub;
  readonly level: number;
  readonly path: Uint8Array;
  constructor(stub: Stub, level: number, path: Uint8Array) {
    super('a tree node the update needs is not loaded');
    this.stub = stub;
    this.level = level;
    this.path = path;
  }
}

interface Entry {
  keyHash: Uint8Array;
  valueHash: Uint8Array;
  /** The existing leaf when the entry is one, so it is not hashed again. */
  leaf?: Leaf;
}

export class SparseMerkleTree {
  readonly #kv: KVStore;
  readonly #prefix: Uint8Array;
  readonly #cacheLevel: number;
  readonly #nodeCache: TreeNodeCache;

  /**
   * @param prefix     key prefix of every node in the store
   * @param cacheLevel nodes at level ≤ cacheLevel stay in memory once read (the root is level 0)
   * @param nodeCache  deeper nodes' encodings, by hash (shared by every tree of one store)
   */
  constructor(kv: KVStore, prefix: Uint8Array, cacheLevel: number, nodeCache = new TreeNodeCache(0)) {
    this.#kv = kv;
    this.#prefix = prefix;
    this.#cacheLevel = cacheLevel;
    this.#nodeCache = nodeCache;
  }

  /** The store key of the node at `level` on `path`: prefix ‖ level ‖ the first `level` nibbles. */
  positionKey(level: number, path: Uint8Array, slab?: BytePool): Uint8Array {
    assert(level <= MAX_LEVELS, 'a path has 64 nibbles');
    const prefixLength = this.#prefix.length;
    const pathBytes = (level + 1) >> 1;
    const length = prefixLength + 1 + pathBytes;
    const key = slab === undefined ? new Uint8Array(length) : slab.take(length);
    key.set(this.#prefix, 0);
    key[prefixLength] = level;
    for (let i = 0; i < pathBytes; i++) key[prefixLength + 1 + i] = path[i] as number;
    if ((level & 1) === 1) key[length - 1] = (key[length - 1] as number) & 0xf0;
    return key;
  }

  /** The node a stub stands for, if the node cache holds it. */
  #cached(stub: Stub): TreeNode | undefined {
    const bytes = this.#nodeCache.get(stub.hash);
    return bytes === undefined ? undefined : decodeTrusted(bytes, stub);
  }

  /** Decodes and checks a node read from the store, and caches it. */
  #fromStore(bytes: Uint8Array | undefined, stub: Stub, level: number): TreeNode {
    if (bytes === undefined) throw new StaleTreeError(`no tree node at level ${level}`);
    const node = decodeNode(bytes, stub);
    this.#nodeCache.put(node.hash, bytes);
    return node;
  }

  async #load(stub: Stub, level: number, path: Uint8Array): Promise<TreeNode> {
    const cached = this.#cached(stub);
    if (cached !== undefined) return cached;
    return this.#fromStore(await this.#kv.get(this.positionKey(level, path)), stub, level);
  }

  /** Loads a stub root (after open) so the top of the tree is in memory. */
  async loadRoot(root: Child): Promise<Child> {
    if (!(root instanceof Stub)) return root;
    return this.#load(root, 0, new Uint8Array(HASH_LENGTH));
  }

  /** Keeps a child in its parent only when it is shallow enough to stay cached. */
  attach(child: Child, level: number): Child {
    if (level <= this.#cacheLevel || child === null || child instanceof Stub) return child;
    return new Stub(child.hash, child instanceof Leaf);
  }

  #remember(parent: Internal | null, slot: number, stub: Stub, node: TreeNode, level: number): void {
    if (parent !== null && level <= this.#cacheLevel && parent.children[slot] === stub) parent.children[slot] = node;
  }

  /**
   * Applies a batch of writes (unique keys) to the tree rooted at `root`, returning the new
   * root and the store operations that turn the stored tree into it. `root` is left as it was.
   */
  async update(root: Child, updates: readonly TreeUpdate[]): Promise<TreeUpdateResult> {
    const sorted = [...updates].sort((a, b) => compareHashes(a.keyHash, b.keyHash));
    for (let i = 1; i < sorted.length; i++) {
      assert(
        compareHashes((sorted[i - 1] as TreeUpdate).keyHash, (sorted[i] as TreeUpdate).keyHash) < 0,
        'unique keys',
      );
    }
    const loaded = new Map<number | string, TreeNode>();
    await this.#prefetch(root, sorted, loaded);
    for (;;) {
      const session = new UpdateSession(this, sorted, loaded);
      let newRoot: Child;
      try {
        newRoot = session.apply(root, 0, 0, sorted.length);
      } catch (error) {
        // A deletion left a lone leaf that was not loaded: load it and run the pass again.
        if (!(error instanceof MissingNode)) throw error;
        loaded.set(positionId(error.level, error.path), await this.#load(error.stub, error.level, error.path));
        continue;
      }
      const ops = () => {
        const out: KVOp[] = [];
        let size = 0;
        for (const { level, node } of session.writes)
          size += this.#prefix.length + 1 + ((level + 1) >> 1) + encodedSize(node);
        // One buffer for the whole batch, sized exactly.
        const slab = new BytePool(size);
        for (const { level, path, node } of session.writes) {
          const key = this.positionKey(level, path, slab);
          if (node === null) {
            out.push({ type: 'del', key });
            continue;
          }
          const value = encodeNode(node, slab);
          out.push({ type: 'put', key, value });
          // The next blocks touching these paths read the new nodes: keep them at hand. The
          // cache is by hash, so a candidate block that loses leaves nothing wrong behind.
          if (level > this.#cacheLevel) this.#nodeCache.put(node.hash, value);
        }
        return out;
      };
      return { root: newRoot, ops, nodesHashed: session.nodesHashed };
    }
  }

  /**
   * Loads the stored nodes on the sorted keys' paths, keeping shallow ones in their parents.
   * All paths descend together, one level per round: what memory and the node cache cannot
   * answer at a level is read from the store in one batch (each position once), so a block's
   * tree reads cost about one store round trip per level, not one per node.
   */
  async #prefetch(root: Child, sorted: readonly TreeUpdate[], loaded: Map<number | string, TreeNode>): Promise<void> {
    interface Walk {
      path: Uint8Array;
      parent: Internal | null;
      child: Child;
      level: number;
    }
    let walks: Walk[] = sorted.map((update) => ({ path: update.keyHash, parent: null, child: root, level: 0 }));
    while (walks.length > 0) {
      const waiting = new Map<number | string, { stub: Stub; level: number; path: Uint8Array; walks: Walk[] }>();
      for (const walk of walks) {
        while (walk.child !== null) {
          const { child, level, path } = walk;
          let node: TreeNode;
          if (child instanceof Stub) {
            const id = positionId(level, path);
            const found = loaded.get(id) ?? this.#cached(child);
            if (found === undefined) {
              const read = waiting.get(id);
              if (read === undefined) waiting.set(id, { stub: child, level, path, walks: [walk] });
              else read.walks.push(walk);
              break;
            }
            loaded.set(id, found);
            this.#remember(walk.parent, nibbleAt(path, level - 1), child, found, level);
            node = found;
          } else {
            node = child;
          }
          if (node instanceof Leaf) {
            walk.child = null;
            break;
          }
          walk.parent = node;
          walk.child = node.children[nibbleAt(path, level)] as Child;
          walk.level = level + 1;
        }
      }
      const reads = [...waiting.values()];
      const values = await getMany(
        this.#kv,
        reads.map(({ level, path }) => this.positionKey(level, path)),
      );
      walks = [];
      for (const [i, read] of reads.entries()) {
        const node = this.#fromStore(values[i], read.stub, read.level);
        loaded.set(positionId(read.level, read.path), node);
        // Each waiting walk finds the node in `loaded` on the next round and continues.
        for (const walk of read.walks) walks.push(walk);
      }
    }
  }

  /** The node a stub stands for, if the update has loaded it. */
  loadedNode(loaded: Map<number | string, TreeNode>, stub: Stub, level: number, path: Uint8Array): TreeNode {
    const node = loaded.get(positionId(level, path));
    if (node === undefined) throw new MissingNode(stub, level, path);
    return node;
  }

  /**
   * A proof for `keyHash` against `root`, and the key's value hash when it is present.
   * Reads the store for nodes not in memory.
   */
  async prove(root: Child, keyHash: Uint8Array): Promise<{ proof: SmtProof; valueHash: Uint8Array | null }> {
    const levels: ProofLevel[] = [];
    let parent: Internal | null = null;
    let child = root;
    let valueHash: Uint8Array | null = null;
    let otherLeaf: Leaf | undefined;
    for (let level = 0; child !== null; level++) {
      let node: TreeNode;
      if (child instanceof Stub) {
        node = await this.#load(child, level, keyHash);
        this.#remember(parent, nibbleAt(keyHash, level - 1), child, node, level);
      } else {
        node = child;
      }
      if (node instanceof Leaf) {
        if (bytesEqual(node.keyHash, keyHash)) valueHash = node.valueHash;
        else otherLeaf = node;
        break;
      }
      const slot = nibbleAt(keyHash, level);
      const siblings: Uint8Array[] = [];
      for (let other = 0; other < RADIX; other++) {
        const sibling = node.children[other] as Child;
        if (other !== slot && sibling !== null) siblings.push(sibling.hash);
      }
      levels.push({ bitmap: node.bitmap, siblings });
      parent = node;
      child = node.children[slot] as Child;
    }
    const proof: SmtProof = { levels };
    if (otherLeaf !== undefined) proof.leaf = { keyHash: otherLeaf.keyHash, valueHash: otherLeaf.valueHash };
    return { proof, valueHash };
  }
}

/**
 * One synchronous pass over the sorted updates, once the nodes it reads are loaded. It
 * records, in order, what each position it touches holds afterwards (null: nothing). A
 * position can be recorded twice — a leaf placed and then moved up in the same pass — and the
 * store applies a batch in order, so the later record wins.
 */
class UpdateSession {
  readonly writes: { level: number; path: Uint8Array; node: TreeNode | null }[] = [];
  nodesHashed = 0;
  readonly #tree: SparseMerkleTree;
  readonly #updates: readonly TreeUpdate[];
  readonly #loaded: Map<number | string, TreeNode>;

  constructor(tree: SparseMerkleTree, updates: readonly TreeUpdate[], loaded: Map<number | string, TreeNode>) {
    this.#tree = tree;
    this.#updates = updates;
    this.#loaded = loaded;
  }

  #node(child: Stub | TreeNode, level: number, path: Uint8Array): TreeNode {
    return child instanceof Stub ? this.#tree.loadedNode(this.#loaded, child, level, path) : child;
  }

  #place(level: number, path: Uint8Array, node: TreeNode | null): void {
    this.writes.push({ level, path, node });
  }

  /** The new content of the position (level, path of updates[low]) after updates [low, high). */
  apply(child: Child, level: number, low: number, high: number): Child {
    if (low === high) return child;
    const path = (this.#updates[low] as TreeUpdate).keyHash;
    if (child === null) {
      const entries = this.#entries(low, high, undefined);
      return this.#build(level, entries, 0, entries.length);
    }
    const node = this.#node(child, level, path);
    if (node instanceof Leaf) {
      const entries = this.#entries(low, high, node);
      const built = this.#build(level, entries, 0, entries.length);
      if (built === null) this.#place(level, path, null);
      return built;
    }
    const children = node.children.slice();
    let changed = false;
    for (let start = low; start < high; ) {
      const slot = nibbleAt((this.#updates[start] as TreeUpdate).keyHash, level);
      let end = start + 1;
      while (end < high && nibbleAt((this.#updates[end] as TreeUpdate).keyHash, level) === slot) end++;
      const before = children[slot] as Child;
      const after = this.apply(before, level + 1, start, end);
      if (after !== before && !bytesEqual(hashOf(after), hashOf(before))) {
        children[slot] = after;
        changed = true;
      }
      start = end;
    }
    if (!changed) return child;
    const result = this.#finish(level, children, path);
    if (result === null) this.#place(level, path, null);
    return result;
  }

  /** The live entries of updates [low, high) merged with an existing leaf, in key order. */
  #entries(low: number, high: number, existing: Leaf | undefined): Entry[] {
    const entries: Entry[] = [];
    let pending = existing;
    for (let i = low; i < high; i++) {
      const update = this.#updates[i] as TreeUpdate;
      if (pending !== undefined) {
        const order = compareHashes(pending.keyHash, update.keyHash);
        if (order === 0)
          pending = undefined; // overwritten or deleted by this update
        else if (order < 0) {
          entries.push({ keyHash: pending.keyHash, valueHash: pending.valueHash, leaf: pending });
          pending = undefined;
        }
      }
      if (update.valueHash !== null) entries.push({ keyHash: update.keyHash, valueHash: update.valueHash });
    }
    if (pending !== undefined) entries.push({ keyHash: pending.keyHash, valueHash: pending.valueHash, leaf: pending });
    return entries;
  }

  /** The subtree at `level` holding exactly entries [low, high). */
  #build(level: number, entries: readonly Entry[], low: number, high: number): Child {
    if (low === high) return null;
    if (high - low === 1) {
      const entry = entries[low] as Entry;
      let leaf = entry.leaf;
      if (leaf === undefined) {
        leaf = new Leaf(entry.keyHash, entry.valueHash);
        this.nodesHashed++;
      }
      this.#place(level, leaf.keyHash, leaf);
      return leaf;
    }
    const children: Child[] = new Array(RADIX).fill(null);
    for (let start = low; start < high; ) {
      const slot = nibbleAt((entries[start] as Entry).keyHash, level);
      let end = start + 1;
      while (end < high && nibbleAt((entries[end] as Entry).keyHash, level) === slot) end++;
      children[slot] = this.#build(level + 1, entries, start, end);
      start = end;
    }
    return this.#internal(level, children, (entries[low] as Entry).keyHash);
  }

  /**
   * The node for a position whose children changed: nothing when none is left, the lone
   * leaf itself when only a leaf is left (a subtree with one entry is that entry's leaf),
   * otherwise an internal node.
   */
  #finish(level: number, children: Child[], path: Uint8Array): Child {
    let count = 0;
    let lastSlot = -1;
    for (let slot = 0; slot < RADIX; slot++) {
      if (children[slot] !== null) {
        count++;
        lastSlot = slot;
      }
    }
    if (count === 0) return null;
    const only = children[lastSlot] as Child;
    if (count === 1 && isLeafRef(only)) {
      const leaf = this.#node(only as Stub | TreeNode, level + 1, withNibble(path, level, lastSlot)) as Leaf;
      this.#place(level + 1, leaf.keyHash, null);
      this.#place(level, leaf.keyHash, leaf);
      return leaf;
    }
    return this.#internal(level, children, path);
  }

  #internal(level: number, children: Child[], path: Uint8Array): Internal {
    let bitmap = 0;
    const hashes: Uint8Array[] = [];
    for (let slot = 0; slot < RADIX; slot++) {
      const child = children[slot] as Child;
      if (child === null) continue;
      bitmap |= slotBit(slot);
      hashes.push(child.hash);
      children[slot] = this.#tree.attach(child, level + 1);
    }
    const node = new Internal(internalHash(bitmap, hashes), bitmap, children);
    this.nodesHashed++;
    this.#place(level, path, node);
    return node;
  }
}
