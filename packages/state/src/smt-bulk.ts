// Building a whole Merkle tree at once from its entries, bottom-up, each node written once.
//
// A restore (snapshot-state.ts) or a bulk load (bench/state-builder.ts) used to feed the
// records to `SparseMerkleTree.update` twenty thousand at a time. Record keys hash to random
// paths, so every batch touched nodes all over the tree and rewrote them: each of the ~10^6
// deep nodes of a 10^6-record state was read back and rewritten tens of times, and the tree was
// most of the time of a restore (82–226 s for 10^6 records on this project's 2-core machines).
//
// Here the entries are first staged in the store itself, keyed by key hash (the store sorts
// them, in bounded memory whatever the state's size), then read back in hash order. In that
// order the tree can be built in one pass holding only the open path (at most 64 levels of 16
// children): an entry's leaf level is one more than the longest prefix it shares with either
// neighbour, and a node is complete as soon as an entry leaves its prefix. The tree is the
// same, node for node and position for position, as the one `update` builds from the same
// entries (tested against it).

import { bytesToHex } from '@autoledger/crypto';
import { BytePool } from './byte-pool.ts';
import { assert } from './errors.ts';
import type { KVOp, KVStore } from './kv.ts';
import { type Child, encodeNode, Internal, Leaf, type SparseMerkleTree, Stub } from './smt.ts';
import { commonPrefixNibbles, HASH_LENGTH, internalHash, nibbleAt, RADIX, slotBit } from './smt-proof.ts';
import { STAGING_SPACE, STATE_PREFIX } from './state-view.ts';

/** Staged entries: staging prefix ‖ key hash → value hash. */
const STAGING_PREFIX = new Uint8Array([STATE_PREFIX, STAGING_SPACE]);
const STAGING_END = new Uint8Array([STATE_PREFIX, STAGING_SPACE + 1]);

/** The store operation that stages one tree entry for `buildStagedTree`. */
export function stagingPut(keyHash: Uint8Array, valueHash: Uint8Array): KVOp {
  const key = new Uint8Array(STAGING_PREFIX.length + HASH_LENGTH);
  key.set(STAGING_PREFIX, 0);
  key.set(keyHash, STAGING_PREFIX.length);
  return { type: 'put', key, value: valueHash };
}

interface OpenNode {
  /** A path through the node (the key hash of the entry that opened it). */
  path: Uint8Array;
  children: Child[];
}

/**
 * Builds a tree from entries given in strictly increasing key-hash order. `add` and `finish`
 * return the store operations that write the nodes completed so far (each position once).
 */
export class BulkTreeBuilder {
  readonly #tree: SparseMerkleTree;
  readonly #open: OpenNode[] = [];
  #previous: { keyHash: Uint8Array; valueHash: Uint8Array } | undefined;
  /** Nibbles the previous entry shares with the one before it (-1: it is the first). */
  #previousShared = -1;
  #ops: KVOp[] = [];
  #slab = new BytePool(256 * 1024);
  #entries = 0;

  /** `tree`: where the nodes go (its store prefix); its store is not touched here. */
  constructor(tree: SparseMerkleTree) {
    this.#tree = tree;
  }

  get entries(): number {
    return this.#entries;
  }

  /** Adds the next entry; returns the writes of the nodes it completes. */
  add(keyHash: Uint8Array, valueHash: Uint8Array): KVOp[] {
    assert(keyHash.length === HASH_LENGTH && valueHash.length === HASH_LENGTH, 'entries are 32-byte hashes');
    const previous = this.#previous;
    if (previous === undefined) {
      this.#entries++;
      this.#previous = { keyHash, valueHash };
      return [];
    }
    const shared = commonPrefixNibbles(previous.keyHash, keyHash);
    // Checked before anything changes: a refused entry leaves the builder as it was.
    assert(
      shared < HASH_LENGTH * 2 && nibbleAt(previous.keyHash, shared) < nibbleAt(keyHash, shared),
      'entries in strictly increasing key-hash order',
    );
    this.#entries++;
    this.#previous = { keyHash, valueHash };
    // The previous entry's neighbours are both known now: its leaf goes one level below the
    // longer prefix it shares with them.
    this.#placeLeaf(previous, Math.max(this.#previousShared, shared) + 1);
    // Every open node deeper than the prefix the two entries share holds no later entry.
    this.#closeDownTo(shared);
    this.#previousShared = shared;
    return this.#take();
  }

  /** Ends the tree: the root (a stub, or null for no entries) and the last writes. */
  finish(): { root: Child; ops: KVOp[] } {
    const last = this.#previous;
    if (last === undefined) return { root: null, ops: [] };
    const level = this.#previousShared + 1;
    if (level === 0) {
      const leaf = this.#writeLeaf(last, 0);
      return { root: new Stub(leaf.hash, true), ops: this.#take() };
    }
    this.#placeLeaf(last, level);
    this.#closeDownTo(0);
    const root = this.#writeInternal(0, this.#open.pop() as OpenNode);
    return { root: new Stub(root.hash, false), ops: this.#take() };
  }

  #take(): KVOp[] {
    const ops = this.#ops;
    this.#ops = [];
    return ops;
  }

  #placeLeaf(entry: { keyHash: Uint8Array; valueHash: Uint8Array }, level: number): void {
    // The open nodes are those on this entry's path; open the ones down to the leaf's parent.
    while (this.#open.length < level) this.#open.push({ path: entry.keyHash, children: new Array(RADIX).fill(null) });
    const leaf = this.#writeLeaf(entry, level);
    (this.#open[level - 1] as OpenNode).children[nibbleAt(entry.keyHash, level - 1)] = new Stub(leaf.hash, true);
  }

  /** Completes the open nodes deeper than `level`, each into its parent's slot. */
  #closeDownTo(level: number): void {
    while (this.#open.length - 1 > level) {
      const depth = this.#open.length - 1;
      const node = this.#writeInternal(depth, this.#open.pop() as OpenNode);
      (this.#open[depth - 1] as OpenNode).children[nibbleAt(node.path, depth - 1)] = new Stub(node.hash, false);
    }
  }

  #writeLeaf(entry: { keyHash: Uint8Array; valueHash: Uint8Array }, level: number): Leaf {
    const leaf = new Leaf(entry.keyHash, entry.valueHash);
    this.#ops.push({
      type: 'put',
      key: this.#tree.positionKey(level, entry.keyHash, this.#slab),
      value: encodeNode(leaf, this.#slab),
    });
    return leaf;
  }

  #writeInternal(level: number, open: OpenNode): { hash: Uint8Array; path: Uint8Array } {
    let bitmap = 0;
    const hashes: Uint8Array[] = [];
    for (let slot = 0; slot < RADIX; slot++) {
      const child = open.children[slot] as Child;
      if (child === null) continue;
      bitmap |= slotBit(slot);
      hashes.push(child.hash);
    }
    // Only nodes with two entries or more beneath are ever opened.
    assert(bitmap !== 0, 'an internal node has children');
    const node = new Internal(internalHash(bitmap, hashes), bitmap, open.children);
    this.#ops.push({
      type: 'put',
      key: this.#tree.positionKey(level, open.path, this.#slab),
      value: encodeNode(node, this.#slab),
    });
    return { hash: node.hash, path: open.path };
  }
}

/**
 * Builds the tree of every entry staged with `stagingPut` into `tree`'s place in `kv` (which
 * must hold no tree nodes) and removes the staged entries. Memory stays bounded by
 * `batchOps` whatever the number of entries. Returns the root and the entry count.
 */
export async function buildStagedTree(
  kv: KVStore,
  tree: SparseMerkleTree,
  options: { batchOps?: number } = {},
): Promise<{ root: Child; entries: number }> {
  const batchOps = options.batchOps ?? 20_000;
  const builder = new BulkTreeBuilder(tree);
  let ops: KVOp[] = [];
  // Both stores iterate what the range held when the iteration began, so the staged entries
  // can be deleted as they are read.
  for await (const [key, valueHash] of kv.iterate({ gte: STAGING_PREFIX, lt: STAGING_END })) {
    if (key.length !== STAGING_PREFIX.length + HASH_LENGTH || valueHash.length !== HASH_LENGTH) {
      throw new Error(`a malformed staged tree entry ${bytesToHex(key)}`);
    }
    const keyHash = key.slice(STAGING_PREFIX.length);
    for (const op of builder.add(keyHash, valueHash.slice())) ops.push(op);
    ops.push({ type: 'del', key: key.slice() });
    if (ops.length >= batchOps) {
      await kv.batch(ops);
      ops = [];
    }
  }
  const { root, ops: last } = builder.finish();
  await kv.batch([...ops, ...last]);
  return { root, entries: builder.entries };
}
