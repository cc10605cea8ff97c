// Hashing and proof checking for the state's sparse Merkle tree. Pure: an offline verifier
// needs nothing but this file and sha256.
//
// The tree is the binary Merkle tree over all 2^256 positions of sha256(key), compressed the
// usual way: an empty subtree hashes to 32 zero bytes, and a subtree that holds exactly one
// entry is replaced by that entry's leaf, so a leaf sits just below the point where its key's
// path leaves every other key's (about log2(n) levels deep for n entries).
//
//   leaf   = sha256(0x00 ‖ keyHash ‖ valueHash)     keyHash = sha256(key), valueHash = sha256(value)
//   branch = sha256(0x01 ‖ left ‖ right)
//   empty  = 0^32
//
// A proof for a key lists the sibling hashes along the key's path from the root down to the
// depth where the path ends. It ends either at the key's own leaf (inclusion), at an empty
// subtree, or at the leaf of another key that shares the path so far (both non-inclusion: the
// key would have to be in that subtree, and the subtree holds nothing else).

import { bytesEqual, bytesToHex, hexToBytes, isHex, sha256 } from '@autoledger/crypto';

export const HASH_LENGTH = 32;
export const EMPTY_HASH: Uint8Array = new Uint8Array(HASH_LENGTH);
/** Paths are bits of a sha256 hash; two distinct keys part within 256 levels. */
export const MAX_DEPTH = 256;

const LEAF_DOMAIN = 0x00;
const BRANCH_DOMAIN = 0x01;
const scratch = new Uint8Array(1 + 2 * HASH_LENGTH);

export function leafHash(keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  scratch[0] = LEAF_DOMAIN;
  scratch.set(keyHash, 1);
  scratch.set(valueHash, 1 + HASH_LENGTH);
  return sha256(scratch);
}

export function branchHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  scratch[0] = BRANCH_DOMAIN;
  scratch.set(left, 1);
  scratch.set(right, 1 + HASH_LENGTH);
  return sha256(scratch);
}

/** Bit `depth` of a path, most significant bit of byte 0 first. */
export function pathBit(path: Uint8Array, depth: number): number {
  return ((path[depth >> 3] as number) >> (7 - (depth & 7))) & 1;
}

/** How many leading bits two paths share. */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < HASH_LENGTH; i++) {
    const difference = (a[i] as number) ^ (b[i] as number);
    if (difference !== 0) return i * 8 + Math.clz32(difference) - 24;
  }
  return MAX_DEPTH;
}

export interface SmtProof {
  /** Depth at which the key's path ends: its leaf, an empty subtree or another key's leaf. */
  depth: number;
  /** Bit d (MSB first) is set when the sibling at depth d is not empty; ceil(depth/8) bytes. */
  bitmap: Uint8Array;
  /** The non-empty siblings, root side first. */
  siblings: Uint8Array[];
  /** For a non-inclusion proof that ends at another key's leaf: that leaf. */
  leaf?: { keyHash: Uint8Array; valueHash: Uint8Array };
}

export interface SmtProofJson {
  depth: number;
  bitmap: string;
  siblings: string[];
  leaf?: { keyHash: string; valueHash: string };
}

/**
 * Checks that `key` maps to `value` (or, with value null, that `key` is absent) in the tree
 * whose root hash is `root`. Never throws: malformed proofs are simply false.
 */
export function verifyProof(root: Uint8Array, key: Uint8Array, value: Uint8Array | null, proof: SmtProof): boolean {
  if (!isWellFormedProof(proof) || root.length !== HASH_LENGTH) return false;
  const keyHash = sha256(key);
  let node: Uint8Array;
  if (value !== null) {
    if (proof.leaf !== undefined) return false;
    node = leafHash(keyHash, sha256(value));
  } else if (proof.leaf !== undefined) {
    const other = proof.leaf.keyHash;
    if (bytesEqual(other, keyHash) || commonPrefixBits(other, keyHash) < proof.depth) return false;
    node = leafHash(other, proof.leaf.valueHash);
  } else {
    node = EMPTY_HASH;
  }
  let next = proof.siblings.length - 1;
  for (let depth = proof.depth - 1; depth >= 0; depth--) {
    const sibling = pathBit(proof.bitmap, depth) === 1 ? (proof.siblings[next--] as Uint8Array) : EMPTY_HASH;
    node = pathBit(keyHash, depth) === 0 ? branchHash(node, sibling) : branchHash(sibling, node);
  }
  return bytesEqual(node, root);
}

function isWellFormedProof(proof: SmtProof): boolean {
  if (typeof proof !== 'object' || proof === null) return false;
  const { depth, bitmap, siblings, leaf } = proof;
  if (!Number.isSafeInteger(depth) || depth < 0 || depth > MAX_DEPTH) return false;
  if (!(bitmap instanceof Uint8Array) || bitmap.length !== Math.ceil(depth / 8)) return false;
  if (!Array.isArray(siblings)) return false;
  let nonEmpty = 0;
  for (let d = 0; d < bitmap.length * 8; d++) {
    if (pathBit(bitmap, d) === 1) {
      if (d >= depth) return false; // bits past the depth must be clear: one proof, one encoding
      nonEmpty++;
    }
  }
  if (nonEmpty !== siblings.length) return false;
  if (!siblings.every((sibling) => sibling instanceof Uint8Array && sibling.length === HASH_LENGTH)) return false;
  if (leaf !== undefined) {
    if (typeof leaf !== 'object' || leaf === null) return false;
    if (!(leaf.keyHash instanceof Uint8Array) || leaf.keyHash.length !== HASH_LENGTH) return false;
    if (!(leaf.valueHash instanceof Uint8Array) || leaf.valueHash.length !== HASH_LENGTH) return false;
  }
  return true;
}

export function proofToJson(proof: SmtProof): SmtProofJson {
  const json: SmtProofJson = {
    depth: proof.depth,
    bitmap: bytesToHex(proof.bitmap),
    siblings: proof.siblings.map(bytesToHex),
  };
  if (proof.leaf !== undefined) {
    json.leaf = { keyHash: bytesToHex(proof.leaf.keyHash), valueHash: bytesToHex(proof.leaf.valueHash) };
  }
  return json;
}

/** Parses a proof from JSON; undefined when the shape is wrong (the caller reports it). */
export function proofFromJson(json: unknown): SmtProof | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const candidate = json as Partial<SmtProofJson>;
  if (!Number.isSafeInteger(candidate.depth) || typeof candidate.bitmap !== 'string') return undefined;
  if (!isHex(candidate.bitmap) || !Array.isArray(candidate.siblings)) return undefined;
  if (!candidate.siblings.every((sibling) => typeof sibling === 'string' && isHex(sibling, HASH_LENGTH))) {
    return undefined;
  }
  const proof: SmtProof = {
    depth: candidate.depth as number,
    bitmap: hexToBytes(candidate.bitmap),
    siblings: candidate.siblings.map((sibling) => hexToBytes(sibling)),
  };
  if (candidate.leaf !== undefined) {
    const { keyHash, valueHash } = candidate.leaf as { keyHash?: unknown; valueHash?: unknown };
    if (typeof keyHash !== 'string' || !isHex(keyHash, HASH_LENGTH)) return undefined;
    if (typeof valueHash !== 'string' || !isHex(valueHash, HASH_LENGTH)) return undefined;
    proof.leaf = { keyHash: hexToBytes(keyHash), valueHash: hexToBytes(valueHash) };
  }
  return proof;
}
