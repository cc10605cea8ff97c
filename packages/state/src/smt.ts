// The state's sparse Merkle tree on a KV store (hashing and proofs: smt-proof.ts).
//
// Nodes are stored by position — (depth, path prefix) — not by hash, so a position holds at
// most one node at a time and a write replaces what it overwrites: the store never fills up
// with dead nodes. In memory the tree is persistent (copy on write): an update builds new
// nodes along the changed paths and shares everything else with the tree it started from, so
// several candidate blocks can each be applied to the same committed root.
//
// A block's writes are applied in one batch: the changed keys are sorted and the tree is
// rebuilt top-down once, so a node shared by many changed paths is hashed once per block. The
// nodes near the root are kept in memory (they are on every path); nodes deeper than
// `cacheDepth` are dropped after use and read back from the store when next needed.

import { bytesEqual, bytesToHex, compareBytes } from '@autoledger/crypto';
import { assert } from './errors.ts';
import type { KVOp, KVStore } from './kv.ts';
import { branchHash, EMPTY_HASH, HASH_LENGTH, leafHash, MAX_DEPTH, pathBit, type SmtProof } from './smt-proof.ts';

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

export class Branch {
  readonly hash: Uint8Array;
  // Replaced only by an equal node (a stub by the node it stands for, once loaded).
  left: Child;
  right: Child;
  constructor(hash: Uint8Array, left: Child, right: Child) {
    this.hash = hash;
    this.left = left;
    this.right = right;
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

export type TreeNode = Leaf | Branch;
export type Child = TreeNode | Stub | null;

export interface TreeUpdate {
  keyHash: Uint8Array;
  /** null deletes the key. */
  valueHash: Uint8Array | null;
}

export interface TreeUpdateResult {
  root: Child;
  ops: KVOp[];
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

const TAG_EMPTY = 0;
const TAG_LEAF = 1;
const TAG_BRANCH = 2;

function tagOf(child: Child): number {
  if (child === null) return TAG_EMPTY;
  return isLeafRef(child) ? TAG_LEAF : TAG_BRANCH;
}

function encodeNode(node: TreeNode): Uint8Array {
  if (node instanceof Leaf) {
    const bytes = new Uint8Array(1 + 2 * HASH_LENGTH);
    bytes[0] = 0;
    bytes.set(node.keyHash, 1);
    bytes.set(node.valueHash, 1 + HASH_LENGTH);
    return bytes;
  }
  const leftLength = node.left === null ? 0 : HASH_LENGTH;
  const rightLength = node.right === null ? 0 : HASH_LENGTH;
  const bytes = new Uint8Array(3 + leftLength + rightLength);
  bytes[0] = 1;
  bytes[1] = tagOf(node.left);
  bytes[2] = tagOf(node.right);
  if (node.left !== null) bytes.set(node.left.hash, 3);
  if (node.right !== null) bytes.set(node.right.hash, 3 + leftLength);
  return bytes;
}

function decodeChild(tag: number, bytes: Uint8Array, offset: number): Child {
  if (tag === TAG_EMPTY) return null;
  const hash = copyBytes(bytes, offset, offset + HASH_LENGTH);
  if (hash.length !== HASH_LENGTH || (tag !== TAG_LEAF && tag !== TAG_BRANCH)) {
    throw new StaleTreeError('malformed tree node');
  }
  return new Stub(hash, tag === TAG_LEAF);
}

function decodeNode(bytes: Uint8Array, expected: Stub): TreeNode {
  if (expected.isLeaf) {
    if (bytes.length !== 1 + 2 * HASH_LENGTH || bytes[0] !== 0) throw new StaleTreeError('expected a leaf');
    const leaf = new Leaf(copyBytes(bytes, 1, 1 + HASH_LENGTH), copyBytes(bytes, 1 + HASH_LENGTH, bytes.length));
    if (!bytesEqual(leaf.hash, expected.hash)) throw new StaleTreeError('leaf hash mismatch');
    return leaf;
  }
  if (bytes.length < 3 || bytes[0] !== 1) throw new StaleTreeError('expected a branch');
  const left = decodeChild(bytes[1] as number, bytes, 3);
  const right = decodeChild(bytes[2] as number, bytes, left === null ? 3 : 3 + HASH_LENGTH);
  const length = 3 + (left === null ? 0 : HASH_LENGTH) + (right === null ? 0 : HASH_LENGTH);
  if (bytes.length !== length) throw new StaleTreeError('malformed branch');
  const hash = branchHash(hashOf(left), hashOf(right));
  if (!bytesEqual(hash, expected.hash)) throw new StaleTreeError('branch hash mismatch');
  return new Branch(hash, left, right);
}

/** The root as the state's metadata stores it: a tag and, unless empty, the hash. */
export function encodeRootRef(root: Child): Uint8Array {
  const bytes = new Uint8Array(root === null ? 1 : 1 + HASH_LENGTH);
  bytes[0] = tagOf(root);
  if (root !== null) bytes.set(root.hash, 1);
  return bytes;
}

export function decodeRootRef(bytes: Uint8Array): Child {
  return decodeChild(bytes[0] as number, bytes, 1);
}

/** `path` with bit `depth` set to `bit`: the path of a node's child on side `bit`. */
function withBit(path: Uint8Array, depth: number, bit: number): Uint8Array {
  const copy = new Uint8Array(path);
  const mask = 1 << (7 - (depth & 7));
  const index = depth >> 3;
  copy[index] = bit === 1 ? (copy[index] as number) | mask : (copy[index] as number) & ~mask;
  return copy;
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
  readonly #cacheDepth: number;

  /**
   * @param prefix   key prefix of every node in the store
   * @param cacheDepth nodes at depth ≤ cacheDepth stay in memory once loaded
   */
  constructor(kv: KVStore, prefix: Uint8Array, cacheDepth: number) {
    this.#kv = kv;
    this.#prefix = prefix;
    this.#cacheDepth = cacheDepth;
  }

  /** The store key of the node at `depth` on `path`: prefix ‖ depth ‖ the first `depth` bits. */
  positionKey(depth: number, path: Uint8Array): Uint8Array {
    assert(depth < MAX_DEPTH, 'tree depth fits in a byte');
    const prefixLength = this.#prefix.length;
    const pathBytes = (depth + 7) >> 3;
    const key = new Uint8Array(prefixLength + 1 + pathBytes);
    key.set(this.#prefix, 0);
    key[prefixLength] = depth;
    key.set(path.subarray(0, pathBytes), prefixLength + 1);
    if ((depth & 7) !== 0) key[key.length - 1] = (key[key.length - 1] as number) & (0xff << (8 - (depth & 7)));
    return key;
  }

  async #load(stub: Stub, depth: number, path: Uint8Array): Promise<TreeNode> {
    const bytes = await this.#kv.get(this.positionKey(depth, path));
    if (bytes === undefined) throw new StaleTreeError(`no tree node at depth ${depth}`);
    return decodeNode(bytes, stub);
  }

  /** Loads a stub root (after open) so the top of the tree is in memory. */
  async loadRoot(root: Child): Promise<Child> {
    if (!(root instanceof Stub)) return root;
    return this.#load(root, 0, new Uint8Array(HASH_LENGTH));
  }

  /** Keeps a node in its parent only when it is shallow enough to stay cached. */
  #attach(child: Child, depth: number): Child {
    if (depth <= this.#cacheDepth || child === null || child instanceof Stub) return child;
    return new Stub(child.hash, child instanceof Leaf);
  }

  /**
   * Applies a batch of writes (unique keys) to the tree rooted at `root`, returning the new
   * root and the store operations that turn the stored tree into it. `root` is left as it was.
   */
  async update(root: Child, updates: readonly TreeUpdate[]): Promise<TreeUpdateResult> {
    const sorted = [...updates].sort((a, b) => compareBytes(a.keyHash, b.keyHash));
    for (let i = 1; i < sorted.length; i++) {
      assert(!bytesEqual((sorted[i - 1] as TreeUpdate).keyHash, (sorted[i] as TreeUpdate).keyHash), 'unique keys');
    }
    const loaded = new Map<string, TreeNode>();
    for (const update of sorted) await this.#prefetch(root, update, loaded);
    const session = new UpdateSession(this, sorted, loaded, (child, depth) => this.#attach(child, depth));
    const newRoot = session.apply(root, 0, 0, sorted.length);
    return { root: newRoot, ops: [...session.ops.values()], nodesHashed: session.nodesHashed };
  }

  /**
   * Loads every stored node the update of one key reads: the nodes on its path and, for a
   * deletion, the leaves beside the path (one of them may move up into the freed place).
   */
  async #prefetch(root: Child, update: TreeUpdate, loaded: Map<string, TreeNode>): Promise<void> {
    const path = update.keyHash;
    let parent: Branch | null = null;
    let child = root;
    for (let depth = 0; child !== null; depth++) {
      const node: TreeNode = child instanceof Stub ? await this.#resolve(child, depth, path, parent, loaded) : child;
      if (node instanceof Leaf) return;
      const bit = pathBit(path, depth);
      const sibling = bit === 1 ? node.left : node.right;
      if (update.valueHash === null && sibling instanceof Stub && sibling.isLeaf) {
        await this.#resolve(sibling, depth + 1, withBit(path, depth, 1 - bit), node, loaded);
      }
      parent = node;
      child = bit === 1 ? node.right : node.left;
    }
  }

  async #resolve(
    stub: Stub,
    depth: number,
    path: Uint8Array,
    parent: Branch | null,
    loaded: Map<string, TreeNode>,
  ): Promise<TreeNode> {
    const positionHex = bytesToHex(this.positionKey(depth, path));
    let node = loaded.get(positionHex);
    if (node === undefined) {
      node = await this.#load(stub, depth, path);
      loaded.set(positionHex, node);
    }
    this.#remember(parent, stub, node, depth);
    return node;
  }

  #remember(parent: Branch | null, stub: Stub, node: TreeNode, depth: number): void {
    if (parent === null || depth > this.#cacheDepth) return;
    if (parent.left === stub) parent.left = node;
    else if (parent.right === stub) parent.right = node;
  }

  /**
   * A proof for `keyHash` against `root`, and the key's value hash when it is present.
   * Reads the store for nodes not in memory.
   */
  async prove(root: Child, keyHash: Uint8Array): Promise<{ proof: SmtProof; valueHash: Uint8Array | null }> {
    const bitmap = new Uint8Array(HASH_LENGTH);
    const siblings: Uint8Array[] = [];
    let parent: Branch | null = null;
    let child = root;
    let depth = 0;
    let valueHash: Uint8Array | null = null;
    let otherLeaf: Leaf | undefined;
    while (child !== null) {
      let node: TreeNode;
      if (child instanceof Stub) {
        node = await this.#load(child, depth, keyHash);
        this.#remember(parent, child, node, depth);
      } else {
        node = child;
      }
      if (node instanceof Leaf) {
        if (bytesEqual(node.keyHash, keyHash)) valueHash = node.valueHash;
        else otherLeaf = node;
        break;
      }
      const bit = pathBit(keyHash, depth);
      const sibling = bit === 1 ? node.left : node.right;
      if (sibling !== null) {
        bitmap[depth >> 3] = (bitmap[depth >> 3] as number) | (1 << (7 - (depth & 7)));
        siblings.push(sibling.hash);
      }
      parent = node;
      child = bit === 1 ? node.right : node.left;
      depth++;
    }
    const proof: SmtProof = { depth, bitmap: copyBytes(bitmap, 0, (depth + 7) >> 3), siblings };
    if (otherLeaf !== undefined) proof.leaf = { keyHash: otherLeaf.keyHash, valueHash: otherLeaf.valueHash };
    return { proof, valueHash };
  }
}

/** One synchronous pass over the sorted updates, once every node it reads is loaded. */
class UpdateSession {
  readonly ops = new Map<string, KVOp>();
  nodesHashed = 0;
  readonly #tree: SparseMerkleTree;
  readonly #updates: readonly TreeUpdate[];
  readonly #loaded: Map<string, TreeNode>;
  readonly #attach: (child: Child, depth: number) => Child;

  constructor(
    tree: SparseMerkleTree,
    updates: readonly TreeUpdate[],
    loaded: Map<string, TreeNode>,
    attach: (child: Child, depth: number) => Child,
  ) {
    this.#tree = tree;
    this.#updates = updates;
    this.#loaded = loaded;
    this.#attach = attach;
  }

  #node(child: Stub | TreeNode, depth: number, path: Uint8Array): TreeNode {
    if (!(child instanceof Stub)) return child;
    const node = this.#loaded.get(bytesToHex(this.#tree.positionKey(depth, path)));
    assert(node !== undefined, 'the prefetch loaded every node the update reads');
    return node;
  }

  #put(depth: number, path: Uint8Array, node: TreeNode): void {
    const key = this.#tree.positionKey(depth, path);
    this.ops.set(bytesToHex(key), { type: 'put', key, value: encodeNode(node) });
  }

  /** The node stored at this position moves or goes; a put later in the pass may refill it. */
  #vacate(depth: number, path: Uint8Array): void {
    const key = this.#tree.positionKey(depth, path);
    this.ops.set(bytesToHex(key), { type: 'del', key });
  }

  /** First index in [low, high) whose key has bit `depth` set (keys are sorted). */
  #split<T extends { keyHash: Uint8Array }>(items: readonly T[], low: number, high: number, depth: number): number {
    let lo = low;
    let hi = high;
    while (lo < hi) {
      const middle = (lo + hi) >>> 1;
      if (pathBit((items[middle] as T).keyHash, depth) === 0) lo = middle + 1;
      else hi = middle;
    }
    return lo;
  }

  apply(child: Child, depth: number, low: number, high: number): Child {
    if (low === high) return child;
    const path = (this.#updates[low] as TreeUpdate).keyHash;
    if (child === null) {
      const entries = this.#entries(low, high, undefined);
      return this.#build(depth, entries, 0, entries.length);
    }
    const node = this.#node(child, depth, path);
    if (node instanceof Leaf) {
      this.#vacate(depth, node.keyHash);
      const entries = this.#entries(low, high, node);
      return this.#build(depth, entries, 0, entries.length);
    }
    const middle = this.#split(this.#updates, low, high, depth);
    const left = this.apply(node.left, depth + 1, low, middle);
    const right = this.apply(node.right, depth + 1, middle, high);
    if (bytesEqual(hashOf(left), hashOf(node.left)) && bytesEqual(hashOf(right), hashOf(node.right))) return child;
    this.#vacate(depth, path);
    return this.#combine(depth, left, right, path);
  }

  /** The live entries of updates [low, high) merged with an existing leaf, in key order. */
  #entries(low: number, high: number, existing: Leaf | undefined): Entry[] {
    const entries: Entry[] = [];
    let pending = existing;
    for (let i = low; i < high; i++) {
      const update = this.#updates[i] as TreeUpdate;
      if (pending !== undefined) {
        const order = compareBytes(pending.keyHash, update.keyHash);
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

  #build(depth: number, entries: readonly Entry[], low: number, high: number): Child {
    if (low === high) return null;
    if (high - low === 1) {
      const entry = entries[low] as Entry;
      let leaf = entry.leaf;
      if (leaf === undefined) {
        leaf = new Leaf(entry.keyHash, entry.valueHash);
        this.nodesHashed++;
      }
      this.#put(depth, leaf.keyHash, leaf);
      return leaf;
    }
    const middle = this.#split(entries, low, high, depth);
    const left = this.#build(depth + 1, entries, low, middle);
    const right = this.#build(depth + 1, entries, middle, high);
    return this.#branch(depth, left, right, (entries[low] as Entry).keyHash);
  }

  #combine(depth: number, left: Child, right: Child, path: Uint8Array): Child {
    if (left === null && right === null) return null;
    const only = left === null ? right : right === null ? left : undefined;
    if (only !== undefined && only !== null && isLeafRef(only)) {
      // A lone leaf takes its parent's place: a subtree with one entry is that entry's leaf.
      const leaf = this.#node(only, depth + 1, withBit(path, depth, left === null ? 1 : 0)) as Leaf;
      this.#vacate(depth + 1, leaf.keyHash);
      this.#put(depth, leaf.keyHash, leaf);
      return leaf;
    }
    return this.#branch(depth, left, right, path);
  }

  #branch(depth: number, left: Child, right: Child, path: Uint8Array): Branch {
    const branch = new Branch(
      branchHash(hashOf(left), hashOf(right)),
      this.#attach(left, depth + 1),
      this.#attach(right, depth + 1),
    );
    this.nodesHashed++;
    this.#put(depth, path, branch);
    return branch;
  }
}
