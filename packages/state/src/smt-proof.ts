// Hashing and proof checking for the state's sparse Merkle tree. Pure: an offline verifier
// needs nothing but this file and sha256.
//
// The tree is a radix-16 sparse Merkle tree over the 2^256 paths sha256(key), read four bits
// (a nibble) per level, and path-compressed: a subtree holding exactly one entry is replaced
// by that entry's leaf, so a leaf sits at the first level where its path parts from every
// other key's — about log16(n) levels deep for n entries — and an empty subtree is simply
// absent from its parent.
//
//   leaf     = sha256(0x00 ‖ keyHash ‖ valueHash)        keyHash = sha256(key), valueHash = sha256(value)
//   internal = sha256(0x01 ‖ bitmap ‖ child hashes)       bitmap: 16 bits, bit 15 - i set when child i
//                                                          exists; hashes of the existing children in order
//   empty tree = 0^32
//
// Radix 16 rather than 2 makes every write hash and store a quarter as many nodes, at the
// price of longer proofs (up to 15 sibling hashes per level).
//
// A proof for a key lists, for each internal node on the key's path from the root, its bitmap
// and the hashes of its other children. The path ends at the key's own leaf (inclusion), at
// an empty slot, or at the leaf of another key that shares the path so far (both
// non-inclusion: the key could only be in that slot, and the slot holds nothing else).

import { bytesEqual, bytesToHex, hexToBytes, isHex, sha256 } from '@autoledger/crypto';

export const HASH_LENGTH = 32;
export const EMPTY_HASH: Uint8Array = new Uint8Array(HASH_LENGTH);
export const RADIX = 16;
/** A path has 64 nibbles: two distinct keys part within 64 levels. */
export const MAX_LEVELS = 64;

const LEAF_DOMAIN = 0x00;
const INTERNAL_DOMAIN = 0x01;
const leafScratch = new Uint8Array(1 + 2 * HASH_LENGTH);
const internalScratch = new Uint8Array(3 + RADIX * HASH_LENGTH);

export function leafHash(keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  leafScratch[0] = LEAF_DOMAIN;
  leafScratch.set(keyHash, 1);
  leafScratch.set(valueHash, 1 + HASH_LENGTH);
  return sha256(leafScratch);
}

/** The hash of an internal node from its bitmap and its children's hashes, in slot order. */
export function internalHash(bitmap: number, childHashes: readonly Uint8Array[]): Uint8Array {
  internalScratch[0] = INTERNAL_DOMAIN;
  internalScratch[1] = bitmap >> 8;
  internalScratch[2] = bitmap & 0xff;
  let offset = 3;
  for (const hash of childHashes) {
    internalScratch.set(hash, offset);
    offset += HASH_LENGTH;
  }
  return sha256(internalScratch.subarray(0, offset));
}

/** Nibble `level` of a path: the child slot the path takes at that level. */
export function nibbleAt(path: Uint8Array, level: number): number {
  const byte = path[level >> 1] as number;
  return (level & 1) === 0 ? byte >> 4 : byte & 0x0f;
}

/** The bitmap bit of slot `slot` (slot 0 is the most significant bit). */
export function slotBit(slot: number): number {
  return 0x8000 >> slot;
}

export function popcount16(bitmap: number): number {
  let count = 0;
  for (let bits = bitmap; bits !== 0; bits &= bits - 1) count++;
  return count;
}

/** How many leading nibbles two paths share. */
export function commonPrefixNibbles(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < HASH_LENGTH; i++) {
    const difference = (a[i] as number) ^ (b[i] as number);
    if (difference !== 0) return 2 * i + (difference >= 0x10 ? 0 : 1);
  }
  return MAX_LEVELS;
}

export interface ProofLevel {
  /** The internal node's bitmap. */
  bitmap: number;
  /** Hashes of its children other than the one on the key's path (all of them at an empty slot), in slot order. */
  siblings: Uint8Array[];
}

export interface SmtProof {
  /** One entry per internal node on the key's path, root first. */
  levels: ProofLevel[];
  /** For a non-inclusion proof that ends at another key's leaf: that leaf. */
  leaf?: { keyHash: Uint8Array; valueHash: Uint8Array };
}

export interface SmtProofJson {
  levels: { bitmap: number; siblings: string[] }[];
  leaf?: { keyHash: string; valueHash: string };
}

/**
 * Checks that `key` maps to `value` (or, with value null, that `key` is absent) in the tree
 * whose root hash is `root`. Never throws: a malformed proof is simply false.
 */
export function verifyProof(root: Uint8Array, key: Uint8Array, value: Uint8Array | null, proof: SmtProof): boolean {
  if (!(root instanceof Uint8Array) || root.length !== HASH_LENGTH || !isWellFormedProof(proof)) return false;
  const keyHash = sha256(key);
  const depth = proof.levels.length;
  // The hash of what sits in the key's slot of the deepest level; null for an empty slot.
  let node: Uint8Array | null;
  if (value !== null) {
    if (proof.leaf !== undefined) return false;
    node = leafHash(keyHash, sha256(value));
  } else if (proof.leaf !== undefined) {
    const other = proof.leaf.keyHash;
    if (bytesEqual(other, keyHash) || commonPrefixNibbles(other, keyHash) < depth) return false;
    node = leafHash(other, proof.leaf.valueHash);
  } else {
    node = null;
  }
  for (let level = depth - 1; level >= 0; level--) {
    const { bitmap, siblings } = proof.levels[level] as ProofLevel;
    const slot = nibbleAt(keyHash, level);
    const occupied = (bitmap & slotBit(slot)) !== 0;
    let children: Uint8Array[];
    if (node === null) {
      if (occupied || siblings.length !== popcount16(bitmap)) return false;
      children = siblings;
    } else {
      if (!occupied || siblings.length !== popcount16(bitmap) - 1) return false;
      const rank = popcount16(bitmap & ~(0xffff >> slot)); // occupied slots before this one
      children = [...siblings.slice(0, rank), node, ...siblings.slice(rank)];
    }
    node = internalHash(bitmap, children);
  }
  return bytesEqual(node ?? EMPTY_HASH, root);
}

function isWellFormedProof(proof: SmtProof): boolean {
  if (typeof proof !== 'object' || proof === null || !Array.isArray(proof.levels)) return false;
  if (proof.levels.length > MAX_LEVELS) return false;
  for (const level of proof.levels) {
    if (typeof level !== 'object' || level === null) return false;
    if (!Number.isInteger(level.bitmap) || level.bitmap <= 0 || level.bitmap > 0xffff) return false;
    if (!Array.isArray(level.siblings)) return false;
    if (!level.siblings.every((sibling) => sibling instanceof Uint8Array && sibling.length === HASH_LENGTH))
      return false;
  }
  const { leaf } = proof;
  if (leaf !== undefined) {
    if (typeof leaf !== 'object' || leaf === null) return false;
    if (!(leaf.keyHash instanceof Uint8Array) || leaf.keyHash.length !== HASH_LENGTH) return false;
    if (!(leaf.valueHash instanceof Uint8Array) || leaf.valueHash.length !== HASH_LENGTH) return false;
  }
  return true;
}

export function proofToJson(proof: SmtProof): SmtProofJson {
  const json: SmtProofJson = {
    levels: proof.levels.map((level) => ({ bitmap: level.bitmap, siblings: level.siblings.map(bytesToHex) })),
  };
  if (proof.leaf !== undefined) {
    json.leaf = { keyHash: bytesToHex(proof.leaf.keyHash), valueHash: bytesToHex(proof.leaf.valueHash) };
  }
  return json;
}

const isHash = (value: unknown): value is string => typeof value === 'string' && isHex(value, HASH_LENGTH);

/** Parses a proof from JSON; undefined when the shape is wrong (the caller reports it). */
export function proofFromJson(json: unknown): SmtProof | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const candidate = json as Partial<SmtProofJson>;
  if (!Array.isArray(candidate.levels) || candidate.levels.length > MAX_LEVELS) return undefined;
  const levels: ProofLevel[] = [];
  for (const level of candidate.levels as unknown[]) {
    if (typeof level !== 'object' || level === null) return undefined;
    const { bitmap, siblings } = level as { bitmap?: unknown; siblings?: unknown };
    if (!Number.isInteger(bitmap) || !Array.isArray(siblings) || !siblings.every(isHash)) return undefined;
    levels.push({ bitmap: bitmap as number, siblings: siblings.map((sibling) => hexToBytes(sibling)) });
  }
  const proof: SmtProof = { levels };
  if (candidate.leaf !== undefined) {
    const { keyHash, valueHash } = candidate.leaf as { keyHash?: unknown; valueHash?: unknown };
    if (!isHash(keyHash) || !isHash(valueHash)) return undefined;
    proof.leaf = { keyHash: hexToBytes(keyHash), valueHash: hexToBytes(valueHash) };
  }
  return proof;
}
